"""Train one recipe once in this process and print its figures as JSON (used by run.py).

Usage: python bench/recipe.py {seed,fast} SEED [--quick]

- seed: the seed tutorial's recipe: pixels /255 as float64 NumPy arrays, batch 32, 10 epochs.
- fast: the course's faster recipe (notebook 11): uint8 pixels scaled by a Rescaling layer
  inside the model, batch 128, 7 epochs.

``--quick`` trains one epoch on 6,000 images (for the smoke test only).

Peak memory is this process's maximum resident set size, TensorFlow's import included.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from course_utils import data
from course_utils.setup import setup


def main(recipe: str, seed: int, quick: bool = False) -> dict:
    setup(seed)
    import keras

    (x_train, y_train), (x_test, y_test) = data.load_mnist(verbose=False)
    if quick:
        x_train, y_train = x_train[:6000], y_train[:6000]
    y_train, y_test = data.one_hot_labels(y_train), data.one_hot_labels(y_test)
    layers = [keras.Input(shape=(28, 28))]
    if recipe == "seed":
        x_train, x_test = x_train / 255.0, x_test / 255.0  # float64, as the tutorial does
        epochs, batch_size = 10, 32
    elif recipe == "fast":
        layers.append(keras.layers.Rescaling(1 / 255))
        epochs, batch_size = 7, 128
    else:
        raise SystemExit(f"unknown recipe {recipe!r}")
    layers += [keras.layers.Flatten(), keras.layers.Dense(512, activation="relu"),
               keras.layers.Dense(10, activation="softmax")]
    model = keras.Sequential(layers)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    if quick:
        epochs = 1
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    seconds = time.perf_counter() - start
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"recipe": recipe, "seed": seed, "fit_seconds": round(seconds, 2),
            "test_accuracy": round(float(test_accuracy), 4), "peak_mb": round(peak_mb)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), quick="--quick" in sys.argv[3:])))
