"""The classic recipe in one short file, with none of the course's helpers.

This is the whole path the notebooks take, written the way most Keras tutorials write it:
load MNIST, scale the pixels, one-hot the labels, build, compile, fit on the arrays, evaluate,
predict. Run it as it is::

    python scripts/classic_recipe.py

It downloads MNIST once through Keras (about 11 MB, cached in ``~/.keras/datasets``). On a
machine without internet, point ``MNIST_PATH`` at a Keras-format ``mnist.npz``. ``EPOCHS``
changes the number of epochs (10 by default: about 99.6% training and 98% test accuracy, and
a few minutes of training on a laptop's CPU). README.md maps each line to the notebook that
teaches it.
"""

import os

import numpy as np
import tensorflow as tf

EPOCHS = int(os.environ.get("EPOCHS", "10"))

# 1. The data: 60,000 training and 10,000 test images of 28x28 pixels, 0..255 (notebook 4).
if os.environ.get("MNIST_PATH"):
    with np.load(os.environ["MNIST_PATH"]) as files:
        (x_train, y_train) = files["x_train"], files["y_train"]
        (x_test, y_test) = files["x_test"], files["y_test"]
else:
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()

# 2. Pixels scaled to 0..1, labels one-hot: 5 -> [0 0 0 0 0 1 0 0 0 0] (notebook 4).
x_train, x_test = x_train / 255.0, x_test / 255.0
y_train = tf.keras.utils.to_categorical(y_train, 10)
y_test = tf.keras.utils.to_categorical(y_test, 10)

# 3. The model: 784 pixels -> 512 ReLU units -> 10 softmax probabilities (notebooks 1, 2, 3, 5).
model = tf.keras.Sequential([
    tf.keras.Input(shape=(28, 28)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(512, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

# 4. Training: EPOCHS passes over the training set in batches of 32 (notebook 7).
model.fit(x_train, y_train, epochs=EPOCHS, verbose=2)

# 5. Evaluation on the 10,000 test images the model never trained on (notebook 9).
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: {test_accuracy:.4f}")

# 6. Prediction: ten probabilities per image, the largest is the answer (notebook 10).
predictions = model.predict(x_test[:5], verbose=0)
print("predicted:", tf.argmax(predictions, axis=1).numpy(), "true:", y_test[:5].argmax(axis=1))
