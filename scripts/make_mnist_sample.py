"""Write the small MNIST sample shipped inside ``course_utils`` and check what was written.

Usage: python scripts/make_mnist_sample.py PATH/TO/mnist.npz

The sample holds the first 6,000 training and the first 1,000 test images of the real MNIST,
in the original order, compressed. It is what the course falls back to when neither a named
file nor Keras can supply the full data. The script reads the file back and compares every
array with the source before it reports success.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

TRAIN, TEST = 6000, 1000
TARGET = Path(__file__).resolve().parents[1] / "course_utils" / "_data" / "mnist_sample.npz"


def main(source: str) -> int:
    with np.load(source, allow_pickle=False) as npz:
        full = {key: npz[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    if full["x_train"].shape != (60000, 28, 28) or full["x_test"].shape != (10000, 28, 28):
        print(f"{source} is not the full MNIST", file=sys.stderr)
        return 1
    sample = {
        "x_train": full["x_train"][:TRAIN], "y_train": full["y_train"][:TRAIN],
        "x_test": full["x_test"][:TEST], "y_test": full["y_test"][:TEST],
    }
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(TARGET, **sample)
    with np.load(TARGET, allow_pickle=False) as written:
        for key, expected in sample.items():
            got = written[key]
            if got.dtype != np.uint8 or not np.array_equal(got, expected):
                print(f"{TARGET}: {key} does not match the source", file=sys.stderr)
                return 1
    digest = hashlib.sha256(TARGET.read_bytes()).hexdigest()
    print(f"wrote {TARGET} ({TARGET.stat().st_size:,} bytes, sha256 {digest}); "
          f"{TRAIN} training and {TEST} test images verified against {source}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
