"""Shared fixtures: headless matplotlib, the real MNIST when the machine has it."""

from __future__ import annotations

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


@pytest.fixture
def mnist_file() -> Path:
    """The full MNIST file named by MNIST_PATH; tests that need it fail loudly without it."""
    path = _MNIST_PATH
    if not path or not Path(path).is_file():
        pytest.fail("MNIST_PATH must name the full mnist.npz for this test (see README, Tests)")
    return Path(path)
