"""Answers in many styles, right and wrong, for proving the grader both ways.

Each answer is the full source of the exercise's solution cell as a learner would write it.
"""

NORMALIZE_RIGHT = '''
def normalize(images):
    return images.astype("float32") / 255
'''

ONE_HOT_RIGHT = {
    "indexing": '''
def one_hot(labels, num_classes=10):
    labels = np.asarray(labels)
    out = np.zeros((len(labels), num_classes))
    out[np.arange(len(labels)), labels] = 1
    return out
''',
    "eye": '''
def one_hot(labels, num_classes=10):
    return np.eye(num_classes, dtype="float32")[np.asarray(labels, dtype=int)]
''',
    "to_categorical": '''
import keras

def one_hot(labels, num_classes=10):
    return keras.utils.to_categorical(labels, num_classes=num_classes)
''',
    "tf_one_hot": '''
import tensorflow as tf

def one_hot(labels, num_classes=10):
    return tf.one_hot(np.asarray(labels, dtype="int32"), depth=num_classes).numpy()
''',
    "loop": '''
def one_hot(labels, num_classes=10):
    rows = []
    for label in labels:
        row = [0.0] * num_classes
        row[int(label)] = 1.0
        rows.append(row)
    return np.array(rows)
''',
}

ONE_HOT_WRONG = {
    "classes_from_max_label": '''
def one_hot(labels, num_classes=10):
    labels = np.asarray(labels, dtype=int)
    return np.eye(labels.max() + 1)[labels]
''',
    "shifted_by_one": '''
def one_hot(labels, num_classes=10):
    labels = np.asarray(labels, dtype=int)
    return np.eye(num_classes)[(labels + 1) % num_classes]
''',
    "integer_dtype": '''
def one_hot(labels, num_classes=10):
    return np.eye(num_classes, dtype=int)[np.asarray(labels, dtype=int)]
''',
    "always_ten_classes": '''
def one_hot(labels, num_classes=10):
    return np.eye(10, dtype="float32")[np.asarray(labels, dtype=int)]
''',
    "transposed": '''
def one_hot(labels, num_classes=10):
    return np.eye(num_classes, dtype="float32")[np.asarray(labels, dtype=int)].T
''',
    "labels_unchanged": '''
def one_hot(labels, num_classes=10):
    return np.asarray(labels, dtype="float32").reshape(-1, 1)
''',
}

_COMPILE = 'model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])'

BUILD_MODEL_RIGHT = {
    "sequential_input": f'''
def build_model():
    model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    {_COMPILE}
    return model
''',
    "functional_objects": '''
def build_model():
    inputs = keras.Input(shape=(28, 28))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(512, activation=keras.activations.relu)(x)
    outputs = keras.layers.Dense(10, activation=keras.activations.softmax)(x)
    model = keras.Model(inputs, outputs)
    model.compile(loss=keras.losses.CategoricalCrossentropy(),
                  optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  metrics=[keras.metrics.CategoricalAccuracy()])
    return model
''',
    "reshape_separate_activations": f'''
def build_model():
    model = keras.Sequential()
    model.add(keras.Input(shape=(28, 28)))
    model.add(keras.layers.Reshape((784,)))
    model.add(keras.layers.Dense(512))
    model.add(keras.layers.Activation("relu"))
    model.add(keras.layers.Dense(10))
    model.add(keras.layers.Softmax())
    {_COMPILE}
    return model
''',
    "legacy_input_shape_tf_nn": '''
import tensorflow as tf

def build_model():
    model = keras.Sequential([
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(512, activation=tf.nn.relu),
        keras.layers.Dense(10, activation=tf.nn.softmax),
    ])
    model.compile(optimizer="adam", loss=keras.losses.categorical_crossentropy,
                  metrics=["accuracy"])
    return model
''',
}


def _sequential(*layers: str, compile_line: str = _COMPILE) -> str:
    body = "".join(f"        {layer},\n" for layer in layers)
    return (f"\ndef build_model():\n    model = keras.Sequential([\n{body}    ])\n"
            f"    {compile_line}\n    return model\n")


_IN, _FLAT = "keras.Input(shape=(28, 28))", "keras.layers.Flatten()"
_HID, _OUT = 'keras.layers.Dense(512, activation="relu")', \
    'keras.layers.Dense(10, activation="softmax")'

BUILD_MODEL_WRONG = {
    "hidden_256_units": _sequential(_IN, _FLAT, 'keras.layers.Dense(256, activation="relu")',
                                    _OUT),
    "sigmoid_output": _sequential(_IN, _FLAT, _HID,
                                  'keras.layers.Dense(10, activation="sigmoid")'),
    "mse_loss": _sequential(_IN, _FLAT, _HID, _OUT, compile_line=(
        'model.compile(loss="mse", optimizer="adam", metrics=["accuracy"])')),
    "sgd_optimizer": _sequential(_IN, _FLAT, _HID, _OUT, compile_line=(
        'model.compile(loss="categorical_crossentropy", optimizer="sgd", '
        'metrics=["accuracy"])')),
    "not_compiled": _sequential(_IN, _FLAT, _HID, _OUT, compile_line="pass"),
    "extra_hidden_layer": _sequential(_IN, _FLAT, _HID,
                                      'keras.layers.Dense(128, activation="relu")', _OUT),
    "no_hidden_layer": _sequential(_IN, _FLAT, _OUT),
    "no_flatten": _sequential(_IN, _HID, _OUT),
    "sparse_loss": _sequential(_IN, _FLAT, _HID, _OUT, compile_line=(
        'model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", '
        'metrics=["accuracy"])')),
}

INFINITE_LOOP = '''
def one_hot(labels, num_classes=10):
    while True:
        pass
'''

KERNEL_EXIT = '''
import os
os._exit(1)

def one_hot(labels, num_classes=10):
    return np.eye(num_classes)[labels]
'''

TEST_CELL_EDITED = '''
# I made the test pass
pass
'''
