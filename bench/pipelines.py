"""How much memory each way of feeding MNIST to the course's model takes.

Usage: python bench/pipelines.py VARIANT [--epochs N]

Trains the reference model (seed 0, batch 32) in this process and prints its resident memory
after each epoch and the process's peak. Run each variant in its own process to compare them:

- ``float64``: NumPy ``x / 255`` arrays (the seed tutorial);
- ``float32``: NumPy ``float32`` arrays (what notebook 7 first did);
- ``shuffle-images``: a ``tf.data`` pipeline over the ``uint8`` images with ``shuffle(60000)``;
- ``batches``: ``course_utils.data.batches``, what the course uses: one ``uint8`` tensor,
  shuffled indices, each batch normalised on the fly.
"""

from __future__ import annotations

import argparse
import resource

import psutil

from course_utils import data, models
from course_utils.setup import setup

VARIANTS = ("float64", "float32", "shuffle-images", "batches")


def peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    setup(0)
    import keras
    import tensorflow as tf

    (x_train, y_train), _ = data.load_mnist(verbose=False)
    print(f"{args.variant}: TensorFlow and data loaded, peak {peak_mb()} MB", flush=True)
    model = models.build_reference_model()
    process = psutil.Process()

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            rss = process.memory_info().rss / 2**20
            print(f"  epoch {epoch + 1}: resident {rss:.0f} MB, peak {peak_mb()} MB", flush=True)

    fit = {"epochs": args.epochs, "verbose": 0, "callbacks": [Report()]}
    if args.variant in ("float64", "float32"):
        images = x_train / 255.0 if args.variant == "float64" else data.normalize_images(x_train)
        model.fit(images, data.one_hot_labels(y_train), batch_size=32, **fit)
    elif args.variant == "shuffle-images":
        dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train.astype("int32")))
        dataset = dataset.shuffle(len(x_train), seed=0).batch(32).map(
            lambda x, y: (tf.cast(x, tf.float32) / 255.0, tf.one_hot(y, 10)))
        model.fit(dataset, **fit)
    else:
        model.fit(data.batches(x_train, y_train, 32, shuffle=True), **fit)
    print(f"{args.variant}: peak {peak_mb()} MB after {args.epochs} epochs")


if __name__ == "__main__":
    main()
