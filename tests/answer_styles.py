"""Right and wrong answers to every exercise, in the styles learners write them.

Each answer is the full source of the exercise's solution cell. The notebook's set-up has
already imported ``np`` (and ``keras`` in the notebooks that use it), so the sources may use
them. A wrong answer comes with a fragment of the message that must explain it.

The same styles are proven three ways: through the visible checks (tests/test_checks.py),
through each master's hidden test cell (tests/test_hidden_tests.py) and, a few of them,
through the class-grading command (tests/test_grader_verdicts.py).
"""

from __future__ import annotations

import answers

#: exercise name -> notebook holding it.
NOTEBOOKS = {
    "neuron": "01_neurons.ipynb",
    "dense_forward": "02_layers.ipynb",
    "relu": "03_activations.ipynb",
    "sigmoid": "03_activations.ipynb",
    "softmax": "03_activations.ipynb",
    "normalize": "04_data_and_preprocessing.ipynb",
    "one_hot": "04_data_and_preprocessing.ipynb",
    "cross_entropy": "05_building_the_model.ipynb",
    "build_model": "05_building_the_model.ipynb",
    "gradient_step": "06_gradient_descent.ipynb",
    "largest_stable_rate": "06_gradient_descent.ipynb",
    "steps_per_epoch": "07_training.ipynb",
    "early_stopping_epochs": "08_experiments.ipynb",
    "accuracy": "09_evaluating.ipynb",
    "predict_digit": "10_predicting.ipynb",
    "dataset_megabytes": "11_going_further.ipynb",
}

RIGHT: dict[str, dict[str, str]] = {
    "neuron": {
        "dot_maximum": '''
def neuron(inputs, weights, bias):
    y_sum = np.dot(inputs, weights) + bias
    return np.maximum(0.0, y_sum)
''',
        "matmul_builtin_max": '''
def neuron(inputs, weights, bias):
    return max(0, inputs @ weights + bias)
''',
        "loop": '''
def neuron(inputs, weights, bias):
    total = bias
    for i, w in zip(inputs, weights):
        total += i * w
    return total if total > 0 else 0.0
''',
        "sum_of_products": '''
def neuron(inputs, weights, bias):
    return np.maximum(0, np.sum(inputs * weights) + bias)
''',
    },
    "dense_forward": {
        "matmul": '''
def dense_forward(x, weights, bias):
    return np.maximum(0.0, x @ weights + bias)
''',
        "dot_where": '''
def dense_forward(x, weights, bias):
    z = np.dot(x, weights) + bias
    return np.where(z > 0, z, 0)
''',
        "row_loop": '''
def dense_forward(x, weights, bias):
    rows = []
    for row in x:
        rows.append(np.maximum(0, row @ weights + bias))
    return np.array(rows)
''',
        "einsum_clip": '''
def dense_forward(x, weights, bias):
    return np.clip(np.einsum("bn,nu->bu", x, weights) + bias, 0, None)
''',
    },
    "relu": {
        "maximum": "\ndef relu(x):\n    return np.maximum(0, x)\n",
        "where": "\ndef relu(x):\n    return np.where(x > 0, x, 0.0)\n",
        "mask": "\ndef relu(x):\n    return x * (x > 0)\n",
        "in_place": "\ndef relu(x):\n    x[x < 0] = 0\n    return x\n",
    },
    "sigmoid": {
        "numpy": "\ndef sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n",
        "tanh": "\ndef sigmoid(x):\n    return 0.5 * (1 + np.tanh(x / 2))\n",
        # Notebook 3 imports no Keras: a learner who uses it imports it.
        "keras_ops": '''
import keras

def sigmoid(x):
    return keras.ops.convert_to_numpy(keras.activations.sigmoid(x))
''',
        "exp_ratio": "\ndef sigmoid(x):\n    e = np.exp(x)\n    return e / (1 + e)\n",
    },
    "softmax": {
        "stable": '''
def softmax(x):
    x = np.asarray(x, dtype=float)
    shifted = x - x.max(axis=-1, keepdims=True)
    exps = np.exp(shifted)
    return exps / exps.sum(axis=-1, keepdims=True)
''',
        "keras_ops": '''
import keras

def softmax(x):
    return keras.ops.convert_to_numpy(keras.activations.softmax(np.asarray(x), axis=-1))
''',
        "logsumexp": '''
def softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    log_z = m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))
    return np.exp(x - log_z)
''',
    },
    "normalize": {
        "astype_divide": '\ndef normalize(images):\n    return images.astype("float32") / 255\n',
        "divide_then_cast": "\ndef normalize(images):\n"
                            "    return (images / 255.0).astype(np.float32)\n",
        "np_divide_dtype": '''
def normalize(images):
    return np.divide(images, 255, dtype=np.float32)
''',
        "copy_in_place": '''
def normalize(images):
    out = np.array(images, dtype=np.float32)
    out /= 255
    return out
''',
    },
    "one_hot": answers.ONE_HOT_RIGHT,
    "cross_entropy": {
        "clip": '''
def cross_entropy(labels, probabilities):
    p_true = np.sum(labels * probabilities, axis=-1)
    return float(np.mean(-np.log(np.clip(p_true, 1e-7, 1.0))))
''',
        "add_epsilon_all_classes": '''
def cross_entropy(labels, probabilities):
    return np.mean(-np.sum(labels * np.log(probabilities + 1e-12), axis=1))
''',
        "keras_loss": '''
def cross_entropy(labels, probabilities):
    loss = keras.losses.CategoricalCrossentropy()
    return float(loss(labels, probabilities))
''',
        "argmax_index_maximum": '''
def cross_entropy(labels, probabilities):
    rows = np.arange(len(labels))
    p = probabilities[rows, np.argmax(labels, axis=1)]
    return -np.mean(np.log(np.maximum(p, 1e-15)))
''',
        "float32_tiny_floor": '''
def cross_entropy(labels, probabilities):
    p = np.maximum(np.sum(labels * probabilities, axis=-1), np.finfo(np.float32).tiny)
    return np.mean(-np.log(p))
''',
        "loop_with_if": '''
import math

def cross_entropy(labels, probabilities):
    total = 0.0
    for t, p in zip(labels, probabilities):
        q = float(np.dot(t, p))
        total += -math.log(q) if q > 1e-9 else -math.log(1e-9)
    return total / len(labels)
''',
    },
    "largest_stable_rate": {
        "hessian_eigenvalue": '''
def largest_stable_rate(x, y):
    n = len(y)
    features = np.hstack([x, np.ones((n, 1))])
    hessian = 2 * features.T @ features / n
    return 2 / np.max(np.linalg.eigvalsh(hessian))
''',
        "logspace_sweep": '''
def gradient_step(w, b, x, y, learning_rate):
    errors = x @ w + b - y
    return w - learning_rate * 2 * x.T @ errors / len(y), b - learning_rate * 2 * np.mean(errors)

def largest_stable_rate(x, y):
    best = 0.0
    for rate in np.logspace(-6, 1, 200):
        w, b = np.zeros(1), 0.0
        start = np.mean((x @ w + b - y) ** 2)
        with np.errstate(all="ignore"):
            for _ in range(200):
                w, b = gradient_step(w, b, x, y, rate)
            end = np.mean((x @ w + b - y) ** 2)
        if np.isfinite(end) and end <= start:
            best = rate
    return best
''',
        "doubling_then_bisection": '''
def gradient_step(w, b, x, y, learning_rate):
    errors = x @ w + b - y
    grad_w = 2 * x.T @ errors / len(y)
    grad_b = 2 * np.mean(errors)
    return w - learning_rate * grad_w, b - learning_rate * grad_b

def comes_down(x, y, rate, steps=200):
    w, b = np.zeros(1), 0.0
    start = np.mean((x @ w + b - y) ** 2)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            w, b = gradient_step(w, b, x, y, rate)
        end = np.mean((x @ w + b - y) ** 2)
    return bool(np.isfinite(end)) and end <= start

def largest_stable_rate(x, y):
    low, high = 0.0, 1e-8
    while comes_down(x, y, high):
        low, high = high, 2 * high
    while high - low > 0.001 * high:
        middle = (low + high) / 2
        if comes_down(x, y, middle):
            low = middle
        else:
            high = middle
    return low
''',
        "two_by_two_formula": '''
import math

def largest_stable_rate(x, y):
    x = x[:, 0]
    a, c, d = 2 * np.mean(x * x), 2 * np.mean(x), 2.0
    largest = (a + d) / 2 + math.sqrt(((a - d) / 2) ** 2 + c * c)
    return float(2 / largest)
''',
        "keras_sgd_sweep": '''
def largest_stable_rate(x, y):
    x32, y32 = x[:, 0].astype("float32"), np.asarray(y, "float32").reshape(-1)
    found = 0.0
    for rate in np.geomspace(1e-6, 2.0, 160):
        w, b = np.float32(0), np.float32(0)
        start = np.mean((w * x32 + b - y32) ** 2)
        with np.errstate(all="ignore"):
            for _ in range(300):
                e = w * x32 + b - y32
                w, b = w - rate * 2 * np.mean(e * x32), b - rate * 2 * np.mean(e)
            end = np.mean((w * x32 + b - y32) ** 2)
        if np.isfinite(end) and end < start:
            found = float(rate)
    return found
''',
    },
    "build_model": {
        **answers.BUILD_MODEL_RIGHT,
        "seed_tutorial_no_input": '''
from tensorflow import keras
from tensorflow.keras import layers

def build_model():
    model = keras.Sequential([layers.Flatten(), layers.Dense(units=512, activation='relu'),
                              layers.Dense(units=10, activation='softmax')])
    model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
    return model
''',
        "tf_keras_objects": '''
import tensorflow as tf

def build_model():
    model = tf.keras.models.Sequential()
    model.add(tf.keras.layers.Flatten())
    model.add(tf.keras.layers.Dense(512, activation=tf.nn.relu))
    model.add(tf.keras.layers.Dense(10, activation=tf.nn.softmax))
    model.compile(optimizer=tf.keras.optimizers.Adam(),
                  loss=tf.keras.losses.CategoricalCrossentropy(), metrics=["acc"])
    return model
''',
    },
    "gradient_step": {
        "matrix": '''
def gradient_step(w, b, x, y, learning_rate):
    errors = x @ w + b - y
    grad_w = 2 * x.T @ errors / len(y)
    grad_b = 2 * np.mean(errors)
    return w - learning_rate * grad_w, b - learning_rate * grad_b
''',
        "in_place_list": '''
def gradient_step(w, b, x, y, learning_rate):
    n = x.shape[0]
    errors = np.dot(x, w) + b - y
    w -= learning_rate * (2 / n) * np.dot(errors, x)
    b -= learning_rate * (2 / n) * errors.sum()
    return [w, b]
''',
        "loop": '''
def gradient_step(w, b, x, y, learning_rate):
    grad_w = np.zeros_like(w)
    grad_b = 0.0
    for xi, yi in zip(x, y):
        error = sum(wj * xj for wj, xj in zip(w, xi)) + b - yi
        grad_w += 2 * error * xi / len(y)
        grad_b += 2 * error / len(y)
    return w - learning_rate * grad_w, b - learning_rate * grad_b
''',
        "gradient_tape": '''
import tensorflow as tf

def gradient_step(w, b, x, y, learning_rate):
    w_var, b_var = tf.Variable(w), tf.Variable(b, dtype=tf.float64)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((tf.linalg.matvec(x, w_var) + b_var - y) ** 2)
    grad_w, grad_b = tape.gradient(loss, [w_var, b_var])
    return w - learning_rate * grad_w.numpy(), float(b - learning_rate * grad_b.numpy())
''',
        "float32": '''
def gradient_step(w, b, x, y, learning_rate):
    x, w, y = x.astype("float32"), w.astype("float32"), y.astype("float32")
    errors = x @ w + np.float32(b) - y
    rate = np.float32(learning_rate)
    return w - rate * 2 * x.T @ errors / len(y), b - rate * 2 * errors.mean()
''',
        "broadcast_mean": '''
def gradient_step(w, b, x, y, learning_rate):
    errors = (x * w).sum(axis=1) + b - y
    new_w = w - learning_rate * np.mean(2 * errors[:, None] * x, axis=0)
    new_b = b - learning_rate * np.mean(2 * errors)
    return new_w, new_b
''',
    },
    "steps_per_epoch": {
        "ceil": "\nimport math\n\ndef steps_per_epoch(num_examples, batch_size):\n"
                "    return math.ceil(num_examples / batch_size)\n",
        "negative_floor": "\ndef steps_per_epoch(num_examples, batch_size):\n"
                          "    return -(-num_examples // batch_size)\n",
        "add_then_floor": "\ndef steps_per_epoch(num_examples, batch_size):\n"
                          "    return (num_examples + batch_size - 1) // batch_size\n",
        "divmod": '''
def steps_per_epoch(num_examples, batch_size):
    full, rest = divmod(num_examples, batch_size)
    return full + (1 if rest else 0)
''',
        "int_of_np_ceil": "\ndef steps_per_epoch(num_examples, batch_size):\n"
                          "    return int(np.ceil(num_examples / batch_size))\n",
    },
    "early_stopping_epochs": {
        "loop_wait": '''
def early_stopping_epochs(val_losses, patience):
    best, best_epoch, wait = None, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if best is None or loss < best:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch
''',
        "argmin_of_prefix": '''
def early_stopping_epochs(val_losses, patience):
    for epoch in range(len(val_losses)):
        best = int(np.argmin(val_losses[:epoch + 1]))   # the first of equal minima
        if epoch - best >= patience:
            return epoch + 1, best + 1
    return len(val_losses), int(np.argmin(val_losses)) + 1
''',
        "keras_callback_replay": '''
class _Weights:
    stop_training = False
    epoch = 0
    restored = None

    def get_weights(self):
        return [self.epoch]

    def set_weights(self, weights):
        self.restored = weights[0]


def early_stopping_epochs(val_losses, patience):
    model = _Weights()
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                             restore_best_weights=True)
    callback.set_model(model)
    callback.on_train_begin()
    ran = 0
    for epoch, loss in enumerate(val_losses):
        model.epoch = epoch
        callback.on_epoch_end(epoch, {"val_loss": loss})
        ran = epoch + 1
        if model.stop_training:
            break
    callback.on_train_end()
    return ran, model.restored + 1
''',
        "since_best_counter": '''
def early_stopping_epochs(val_losses, patience):
    best_index = 0
    for index, loss in enumerate(val_losses):
        if loss < val_losses[best_index]:
            best_index = index
        elif index - best_index == patience:
            return index + 1, best_index + 1
    return len(val_losses), best_index + 1
''',
    },
    "accuracy": {
        "argmax_mean": '''
def accuracy(probabilities, labels):
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels)))
''',
        "count_over_len": '''
def accuracy(probabilities, labels):
    right = (probabilities.argmax(axis=-1) == labels).sum()
    return right / len(labels)
''',
        "loop": '''
def accuracy(probabilities, labels):
    right = 0
    for row, label in zip(probabilities, labels):
        if np.argmax(row) == label:
            right += 1
    return right / len(labels)
''',
    },
    "predict_digit": {
        "predict_newaxis": '''
def predict_digit(model, image):
    probabilities = model.predict(image[np.newaxis], verbose=0)
    return int(np.argmax(probabilities[0]))
''',
        "call_expand_dims": '''
import keras

def predict_digit(model, image):
    out = model(np.expand_dims(image, 0), training=False)
    return int(np.argmax(keras.ops.convert_to_numpy(out)))
''',
        "reshape_item": '''
def predict_digit(model, image):
    return model.predict(image.reshape(1, 28, 28), verbose=0).argmax(axis=1)[0].item()
''',
    },
    "dataset_megabytes": {
        "itemsize": "\ndef dataset_megabytes(num_images, dtype):\n"
                    "    return num_images * 28 * 28 * np.dtype(dtype).itemsize / 1e6\n",
        "nbytes_of_empty": "\ndef dataset_megabytes(num_images, dtype):\n"
                           "    images = np.empty((num_images, 28, 28), dtype=dtype)\n"
                           "    return images.nbytes / 10**6\n",
        "bits": '''
def dataset_megabytes(num_images, dtype):
    bits = np.dtype(dtype).itemsize * 8
    return num_images * 784 * bits / 8 / 1_000_000
''',
    },
}

_BM = answers.BUILD_MODEL_WRONG

#: exercise -> style -> (source, a fragment the failure message must contain).
WRONG: dict[str, dict[str, tuple[str, str]]] = {
    "neuron": {
        "no_relu": ("\ndef neuron(inputs, weights, bias):\n"
                    "    return np.dot(inputs, weights) + bias\n", "expected 0"),
        "no_bias": ("\ndef neuron(inputs, weights, bias):\n"
                    "    return np.maximum(0, np.dot(inputs, weights))\n", "expected"),
        "no_sum": ("\ndef neuron(inputs, weights, bias):\n"
                   "    return np.maximum(0, inputs * weights + bias)\n", "shape (3,)"),
        "relu_per_input": ("\ndef neuron(inputs, weights, bias):\n"
                           "    return np.sum(np.maximum(0, inputs * weights)) + bias\n",
                           "returned 7"),
        "no_return": ("\ndef neuron(inputs, weights, bias):\n"
                      "    y = np.maximum(0, np.dot(inputs, weights) + bias)\n",
                      "returned None. Is a `return` statement missing"),
    },
    "dense_forward": {
        "no_relu": ("\ndef dense_forward(x, weights, bias):\n    return x @ weights + bias\n",
                    "differ"),
        "no_bias": ("\ndef dense_forward(x, weights, bias):\n"
                    "    return np.maximum(0, x @ weights)\n", "differ"),
        "transposed_weights": ("\ndef dense_forward(x, weights, bias):\n"
                               "    return np.maximum(0, x @ weights.T + bias)\n", "raised"),
        "tensor": ("\ndef dense_forward(x, weights, bias):\n"
                   "    return keras.activations.relu(x @ weights + bias)\n", "tensor"),
        "no_return": ("\ndef dense_forward(x, weights, bias):\n"
                      "    out = np.maximum(0, x @ weights + bias)\n", "returned None"),
    },
    "relu": {
        "abs": ("\ndef relu(x):\n    return np.abs(x)\n", "differ"),
        "min": ("\ndef relu(x):\n    return np.minimum(0, x)\n", "differ"),
        "builtin_max": ("\ndef relu(x):\n    return max(0, x)\n", "raised ValueError"),
        "list": ("\ndef relu(x):\n    return [max(0.0, v) for v in np.ravel(x)]\n",
                 "Python list"),
        "no_return": ("\ndef relu(x):\n    np.maximum(0, x)\n", "returned None"),
    },
    "sigmoid": {
        "sign_flipped": ("\ndef sigmoid(x):\n    return 1 / (1 + np.exp(x))\n", "differ"),
        "wrong_for_negatives": ("\ndef sigmoid(x):\n    return 1 / (1 + np.exp(-np.abs(x)))\n",
                                "differ"),
        "exp_over_exp": ("\ndef sigmoid(x):\n    return np.exp(-x) / (1 + np.exp(-x))\n",
                         "differ"),
        "tensor": ("\nimport keras\n\ndef sigmoid(x):\n    return keras.activations.sigmoid(x)\n",
                   "tensor"),
    },
    "softmax": {
        "overflows": ("\ndef softmax(x):\n    e = np.exp(x)\n"
                      "    return e / e.sum(axis=-1, keepdims=True)\n", "nan"),
        "sums_everything": ("\ndef softmax(x):\n    e = np.exp(x - np.max(x))\n"
                            "    return e / e.sum()\n", "differ"),
        "first_axis": ("\ndef softmax(x):\n    e = np.exp(x - np.max(x, axis=0))\n"
                       "    return e / e.sum(axis=0)\n", "differ"),
        "no_exp": ("\ndef softmax(x):\n    return x / np.sum(x, axis=-1, keepdims=True)\n",
                   "differ"),
    },
    "normalize": {
        "own_max": ('\ndef normalize(images):\n'
                    '    return (images / images.max()).astype("float32")\n', "differ"),
        "min_max": ('\ndef normalize(images):\n'
                    '    lo, hi = images.min(), images.max()\n'
                    '    return ((images - lo) / (hi - lo)).astype("float32")\n', "differ"),
        "float64": ("\ndef normalize(images):\n    return images / 255\n", "float32"),
        "by_256": ('\ndef normalize(images):\n    return images.astype("float32") / 256\n',
                   "differ"),
        "no_return": ('\ndef normalize(images):\n    images.astype("float32") / 255\n',
                      "returned None"),
    },
    "one_hot": {
        "classes_from_max_label": (answers.ONE_HOT_WRONG["classes_from_max_label"], "shape"),
        "shifted_by_one": (answers.ONE_HOT_WRONG["shifted_by_one"], "differ"),
        "integer_dtype": (answers.ONE_HOT_WRONG["integer_dtype"], "floats"),
        "always_ten_classes": (answers.ONE_HOT_WRONG["always_ten_classes"], "shape"),
        "transposed": (answers.ONE_HOT_WRONG["transposed"], "shape"),
        "tensor": ('''
import tensorflow as tf

def one_hot(labels, num_classes=10):
    return tf.one_hot(np.asarray(labels), depth=num_classes)
''', "tensor"),
    },
    "cross_entropy": {
        "log_of_zero": ("\ndef cross_entropy(labels, probabilities):\n"
                        "    return np.mean(-np.sum(labels * np.log(probabilities), axis=-1))\n",
                        "log(0)"),
        "sum_not_mean": ("\ndef cross_entropy(labels, probabilities):\n"
                         "    p = np.clip(np.sum(labels * probabilities, axis=-1), 1e-7, 1)\n"
                         "    return float(np.sum(-np.log(p)))\n", "sum over the examples"),
        "big_floor": ("\ndef cross_entropy(labels, probabilities):\n"
                      "    p = np.clip(np.sum(labels * probabilities, axis=-1), 0.01, 1)\n"
                      "    return float(np.mean(-np.log(p)))\n", "expected"),
        "drops_zeros": ("\ndef cross_entropy(labels, probabilities):\n"
                        "    p = np.sum(labels * probabilities, axis=-1)\n"
                        "    return float(np.mean(-np.log(p[p > 0])))\n", "worst mistake"),
        "infinity_made_huge": ("\ndef cross_entropy(labels, probabilities):\n"
                               "    p = np.sum(labels * probabilities, axis=-1)\n"
                               "    return float(np.mean(np.nan_to_num(-np.log(p))))\n",
                               "more than any floor"),
        "no_minus": ("\ndef cross_entropy(labels, probabilities):\n"
                     "    p = np.clip(np.sum(labels * probabilities, axis=-1), 1e-7, 1)\n"
                     "    return float(np.mean(np.log(p)))\n", "never negative"),
        "per_example": ("\ndef cross_entropy(labels, probabilities):\n"
                        "    p = np.clip(np.sum(labels * probabilities, axis=-1), 1e-7, 1)\n"
                        "    return -np.log(p)\n", "one number per example"),
        "log_of_every_class": ("\ndef cross_entropy(labels, probabilities):\n"
                               "    p = np.clip(probabilities, 1e-7, 1)\n"
                               "    return float(np.mean(-np.sum(np.log(p), axis=-1)))\n",
                               "expected"),
    },
    "build_model": {
        "hidden_256_units": (_BM["hidden_256_units"], "256 units"),
        "sigmoid_output": (_BM["sigmoid_output"], "softmax"),
        "mse_loss": (_BM["mse_loss"], "loss"),
        "sgd_optimizer": (_BM["sgd_optimizer"], "Adam"),
        "not_compiled": (_BM["not_compiled"], "not compiled"),
        "extra_hidden_layer": (_BM["extra_hidden_layer"], "3 Dense"),
        "no_hidden_layer": (_BM["no_hidden_layer"], "1 Dense"),
        "no_flatten": (_BM["no_flatten"], "Flatten"),
        "sparse_loss": (_BM["sparse_loss"], "loss"),
        "from_logits": ('''
def build_model():
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                  optimizer="adam", metrics=["accuracy"])
    return model
''', "loss"),
        "same_model_every_call": ('''
_model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                           keras.layers.Dense(512, activation="relu"),
                           keras.layers.Dense(10, activation="softmax")])
_model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

def build_model():
    return _model
''', "same model"),
        "no_return": ('''
def build_model():
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
''', "returned None"),
    },
    "gradient_step": {
        "uphill": ('''
def gradient_step(w, b, x, y, learning_rate):
    errors = x @ w + b - y
    return (w + learning_rate * 2 * x.T @ errors / len(y),
            b + learning_rate * 2 * np.mean(errors))
''', "uphill"),
        "no_factor_two": ('''
def gradient_step(w, b, x, y, learning_rate):
    errors = x @ w + b - y
    return w - learning_rate * x.T @ errors / len(y), b - learning_rate * np.mean(errors)
''', "half as long"),
        "sum_not_mean": ('''
def gradient_step(w, b, x, y, learning_rate):
    errors = x @ w + b - y
    return w - learning_rate * 2 * x.T @ errors, b - learning_rate * 2 * np.sum(errors)
''', "times too long"),
        "returns_gradient": ('''
def gradient_step(w, b, x, y, learning_rate):
    errors = x @ w + b - y
    return 2 * x.T @ errors / len(y), 2 * np.mean(errors)
''', "gradient itself"),
        "bias_from_new_weights": ('''
def gradient_step(w, b, x, y, learning_rate):
    errors = x @ w + b - y
    w = w - learning_rate * 2 * x.T @ errors / len(y)
    errors = x @ w + b - y
    b = b - learning_rate * 2 * np.mean(errors)
    return w, b
''', "the new bias"),
        "bias_not_updated": ('''
def gradient_step(w, b, x, y, learning_rate):
    errors = x @ w + b - y
    return w - learning_rate * 2 * x.T @ errors / len(y), b
''', "the new bias"),
        "only_weights": ('''
def gradient_step(w, b, x, y, learning_rate):
    errors = x @ w + b - y
    return w - learning_rate * 2 * x.T @ errors / len(y)
''', "expected two values"),
        "no_return": ('''
def gradient_step(w, b, x, y, learning_rate):
    errors = x @ w + b - y
    w = w - learning_rate * 2 * x.T @ errors / len(y)
    b = b - learning_rate * 2 * np.mean(errors)
''', "returned None"),
    },
    "largest_stable_rate": {
        "one_over_eigenvalue": ("""
def largest_stable_rate(x, y):
    features = np.hstack([x, np.ones((len(y), 1))])
    return 1 / np.max(np.linalg.eigvalsh(2 * features.T @ features / len(y)))
""", "too cautious"),
        "weight_only": ("""
def largest_stable_rate(x, y):
    return 2 / (2 * np.mean(x[:, 0] ** 2))
""", "diverges"),
        "notebook_value": ("""
def largest_stable_rate(x, y):
    return 0.146
""", "notebook 6's line"),
        "overflow_only": ("""
def largest_stable_rate(x, y):
    best = 0.0
    for rate in np.logspace(-6, 1, 200):
        w, b = np.zeros(1), 0.0
        with np.errstate(all="ignore"):
            for _ in range(20):
                e = x @ w + b - y
                w, b = w - rate * 2 * x.T @ e / len(y), b - rate * 2 * np.mean(e)
        if np.all(np.isfinite(w)) and np.isfinite(b):
            best = rate
    return best
""", "diverges"),
        "coarse_grid": ("""
def largest_stable_rate(x, y):
    best = 0.0
    for rate in [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0]:
        w, b = np.zeros(1), 0.0
        start = np.mean((x @ w + b - y) ** 2)
        with np.errstate(all="ignore"):
            for _ in range(200):
                e = x @ w + b - y
                w, b = w - rate * 2 * x.T @ e / len(y), b - rate * 2 * np.mean(e)
            end = np.mean((x @ w + b - y) ** 2)
        if np.isfinite(end) and end <= start:
            best = rate
    return best
""", "too cautious"),
        "grid_too_high": ("""
def largest_stable_rate(x, y):
    best = 0.0
    for rate in np.logspace(-2, 1, 100):
        w, b = np.zeros(1), 0.0
        start = np.mean((x @ w + b - y) ** 2)
        with np.errstate(all="ignore"):
            for _ in range(200):
                e = x @ w + b - y
                w, b = w - rate * 2 * x.T @ e / len(y), b - rate * 2 * np.mean(e)
            end = np.mean((x @ w + b - y) ** 2)
        if np.isfinite(end) and end <= start:
            best = rate
    return best
""", "a learning rate is positive"),
        "every_stable_rate": ("""
def largest_stable_rate(x, y):
    rates = np.logspace(-6, 1, 50)
    features = np.hstack([x, np.ones((len(y), 1))])
    top = np.max(np.linalg.eigvalsh(2 * features.T @ features / len(y)))
    return rates[rates < 2 / top]
""", "array of shape"),
        "nan_when_all_blow_up": ("""
def largest_stable_rate(x, y):
    rates = np.logspace(-1, 1, 50)
    losses = []
    for rate in rates:
        w, b = np.zeros(1), 0.0
        with np.errstate(all="ignore"):
            for _ in range(100):
                e = x @ w + b - y
                w, b = w - rate * 2 * x.T @ e / len(y), b - rate * 2 * np.mean(e)
            losses.append(np.mean((x @ w + b - y) ** 2))
    losses = np.array(losses)
    return float(np.nanmax(np.where(losses < losses[0] * 10, rates, np.nan)))
""", "expected"),
        "no_return": ("""
def largest_stable_rate(x, y):
    features = np.hstack([x, np.ones((len(y), 1))])
    rate = 2 / np.max(np.linalg.eigvalsh(2 * features.T @ features / len(y)))
""", "returned None"),
    },
    "steps_per_epoch": {
        "floor": ("\ndef steps_per_epoch(num_examples, batch_size):\n"
                  "    return num_examples // batch_size\n", "expected 4"),
        "true_division": ("\ndef steps_per_epoch(num_examples, batch_size):\n"
                          "    return num_examples / batch_size\n", "float"),
        "floor_plus_one": ("\ndef steps_per_epoch(num_examples, batch_size):\n"
                           "    return num_examples // batch_size + 1\n", "expected"),
        "round": ("\ndef steps_per_epoch(num_examples, batch_size):\n"
                  "    return round(num_examples / batch_size)\n", "expected"),
        # Near misses of rounding up: right on most sizes, wrong when the last batch is
        # a small fraction of a large one (60000 in batches of 59999: 2), or when the
        # examples divide evenly.
        "near_ceil": ("\ndef steps_per_epoch(num_examples, batch_size):\n"
                      "    return int(num_examples / batch_size + 0.999)\n", "expected 2"),
        "int_plus_one": ("\ndef steps_per_epoch(num_examples, batch_size):\n"
                         "    return int(num_examples / batch_size) + 1\n", "expected"),
        "half_up": ("\ndef steps_per_epoch(num_examples, batch_size):\n"
                    "    return int(num_examples / batch_size + 0.5)\n", "expected 4"),
        "ceil_plus_tiny": ("\nimport math\n\ndef steps_per_epoch(num_examples, batch_size):\n"
                           "    return math.ceil(num_examples / batch_size + 1e-9)\n",
                           "expected"),
    },
    "early_stopping_epochs": {
        "ties_improve": ("""
def early_stopping_epochs(val_losses, patience):
    best, best_epoch, wait = None, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if best is None or loss <= best:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch
""", "are equal"),
        "counts_from_zero": ("""
def early_stopping_epochs(val_losses, patience):
    best, best_epoch, wait = None, 0, 0
    for epoch, loss in enumerate(val_losses):
        if best is None or loss < best:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return len(val_losses) - 1, best_epoch
""", "count epochs from 1"),
        "last_weights_when_never_stopped": ("""
def early_stopping_epochs(val_losses, patience):
    best, best_epoch, wait = None, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if best is None or loss < best:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return len(val_losses), len(val_losses)
""", "still puts back"),
        "one_epoch_too_patient": ("""
def early_stopping_epochs(val_losses, patience):
    best, best_epoch, wait = None, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if best is None or loss < best:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait > patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch
""", "One epoch too many"),
        "restores_the_last_epoch": ("""
def early_stopping_epochs(val_losses, patience):
    best, wait = None, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if best is None or loss < best:
            best, wait = loss, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, epoch
    return len(val_losses), len(val_losses)
""", "last epoch trained"),
        "floats": ("""
def early_stopping_epochs(val_losses, patience):
    best = int(np.argmin(val_losses))
    return float(min(best + 1 + patience, len(val_losses))), float(best + 1)
""", "stopped_after"),
        "no_return": ("""
def early_stopping_epochs(val_losses, patience):
    best = int(np.argmin(val_losses))
    result = (min(best + 1 + patience, len(val_losses)), best + 1)
""", "returned None"),
    },
    "accuracy": {
        "count_not_fraction": ("\ndef accuracy(probabilities, labels):\n"
                               "    return np.sum(np.argmax(probabilities, axis=1) == labels)\n",
                               "returned 2"),
        "wrong_axis": ("\ndef accuracy(probabilities, labels):\n"
                       "    return np.mean(np.argmax(probabilities, axis=0)[:len(labels)] "
                       "== labels)\n", "raised ValueError"),
        "error_rate": ("\ndef accuracy(probabilities, labels):\n"
                       "    return 1 - np.mean(np.argmax(probabilities, axis=1) == labels)\n",
                       "expected"),
        "no_return": ("\ndef accuracy(probabilities, labels):\n"
                      "    np.mean(np.argmax(probabilities, axis=1) == labels)\n",
                      "returned None"),
    },
    "predict_digit": {
        "numpy_integer": ("\ndef predict_digit(model, image):\n"
                          "    return np.argmax(model.predict(image[np.newaxis], verbose=0))\n",
                          "plain Python int"),
        "probabilities": ("\ndef predict_digit(model, image):\n"
                          "    return model.predict(image[np.newaxis], verbose=0)\n", "array"),
        "max_probability": ("\ndef predict_digit(model, image):\n"
                            "    return float(np.max(model.predict(image[np.newaxis], "
                            "verbose=0)))\n", "plain Python int"),
        "off_by_one": ("\ndef predict_digit(model, image):\n"
                       "    p = model.predict(image[np.newaxis], verbose=0)\n"
                       "    return int(np.argmax(p[0])) + 1\n", "most probable class"),
        "no_batch": ("\ndef predict_digit(model, image):\n"
                     "    return int(np.argmax(model.predict(image, verbose=0)[0]))\n",
                     "predict_digit(model"),
    },
    "dataset_megabytes": {
        "mebibytes": ("\ndef dataset_megabytes(num_images, dtype):\n"
                      "    return num_images * 784 * np.dtype(dtype).itemsize / 2**20\n",
                      "expected 47.04"),
        "bits": ("\ndef dataset_megabytes(num_images, dtype):\n"
                 "    return num_images * 784 * np.dtype(dtype).itemsize * 8 / 1e6\n",
                 "expected 47.04"),
        "ignores_dtype": ("\ndef dataset_megabytes(num_images, dtype):\n"
                          "    return num_images * 784 / 1e6\n", "expected 188.16"),
        "no_return": ("\ndef dataset_megabytes(num_images, dtype):\n"
                      "    size = num_images * 784 * np.dtype(dtype).itemsize / 1e6\n",
                      "returned None"),
    },
}


def namespace() -> dict:
    """A namespace like a notebook's after its set-up cell: np, math and keras imported."""
    import math

    import keras
    import numpy as np

    return {"np": np, "math": math, "keras": keras, "__name__": "__main__"}


def define(exercise: str, source: str, names: dict | None = None):
    """Run an answer's source in ``names`` (a fresh notebook-like namespace by default) and
    return the function it defines."""
    names = namespace() if names is None else names
    exec(compile(source, f"<answer {exercise}>", "exec"), names)
    return names[exercise]
