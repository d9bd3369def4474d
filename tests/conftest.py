"""Shared fixtures: headless matplotlib, and the full MNIST found as a learner finds it."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
#: Read once at start-up, so tests that unset MNIST_PATH can still find the file.
_MNIST_PATH = os.environ.get("MNIST_PATH")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="session")
def full_mnist():
    """The full MNIST, found the way a learner's notebook finds it: the course's own loader.

    That is the file named by MNIST_PATH (CI stages one beside the checkout), else Keras's
    cache in ~/.keras/datasets, downloading it when online. The loader falls back to its
    small shipped sample when both fail; a test that needs the full set then fails here, with
    the loader's reason and the fix, instead of testing the sample.
    """
    from course_utils import data

    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        arrays = data.load_mnist(_MNIST_PATH or None)
    (x_train, _), (x_test, _) = arrays
    if (len(x_train), len(x_test)) != (60000, 10000):
        pytest.fail(f"this test needs the full MNIST (60,000 + 10,000 images), and the course's "
                    f"loader found {len(x_train):,} + {len(x_test):,}. It said: "
                    f"{said.getvalue().strip()} Fix: set MNIST_PATH to a Keras-format "
                    f"mnist.npz, or go online once so Keras can download and cache it "
                    f"(README.md, section 'Running the tests').")
    return arrays


@pytest.fixture(scope="session")
def mnist_file(full_mnist, tmp_path_factory) -> Path:
    """A Keras-format ``mnist.npz`` holding the full MNIST, for code that reads a file itself.

    The grader and the reference model read MNIST_PATH in another process; they get the file
    CI staged when there is one, else the arrays of ``full_mnist`` written out once.
    """
    if _MNIST_PATH:
        return Path(_MNIST_PATH).resolve()
    (x_train, y_train), (x_test, y_test) = full_mnist
    path = tmp_path_factory.mktemp("mnist") / "mnist.npz"
    import numpy as np

    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path
