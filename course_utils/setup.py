"""One call at the top of every notebook: a fixed seed and a quiet TensorFlow.

Why it exists: a notebook is only reproducible if Python, NumPy and TensorFlow are seeded
before any model is built, and only readable if TensorFlow's start-up lines (oneDNN, CUDA
probing) do not fill the output. Those lines are written by TensorFlow's C++ runtime straight
to the process's standard error before any Python setting can reach them, so ``setup`` imports
TensorFlow once with that stream pointed at ``/dev/null`` and then restores it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator

#: The seed every notebook uses unless told otherwise.
DEFAULT_SEED = 0


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration of the block.

    Python exceptions still propagate normally; only bytes written to the stream by native
    code (and Python writes to ``sys.stderr``) during the block are dropped.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow() -> None:
    """Import TensorFlow without its start-up chatter on standard error.

    Also hides one Keras warning that is wrong for the course's data pipeline (see below).

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` (hide info and warning lines from TensorFlow's C++ code)
    unless the user chose a level, then imports TensorFlow and initialises its devices with
    native standard error silenced, since the first lines are printed before TensorFlow reads
    that variable. Calling it again does nothing more.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Keras warns that fit's default shuffle=True is ignored for a tf.data.Dataset; the
    # course's datasets (data.batches) shuffle themselves, so the warning is only noise.
    warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed",
                            category=UserWarning)
    if "tensorflow" in sys.modules and getattr(quiet_tensorflow, "_done", False):
        return
    with _native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_logical_devices()  # device discovery logs its CUDA probing here
    quiet_tensorflow._done = True  # type: ignore[attr-defined]


def seed_everything(seed: int = DEFAULT_SEED, *, tensorflow: bool = True,
                    deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy and (unless told not to) TensorFlow with one number.

    ``keras.utils.set_random_seed`` seeds all three. On a CPU that alone makes the course's
    training repeat bit for bit on one machine, even while the machine is busy: measured by
    ``bench/determinism.py`` (the training notebook run twice at once beside a CPU hog gave
    identical weights). TensorFlow's op determinism (``deterministic=True``) guarantees the
    same for ops that would not otherwise repeat, at no measured cost here; it is off by
    default because in TensorFlow 2.21 it makes the first ``model.predict`` of a session print
    a spurious "NodeDef mentions attribute use_unbounded_threadpool" error on standard error,
    which a learner would take for a fault. A different processor or TensorFlow build can
    still round differently: the course checks what its runs promise (thresholds), never
    their last digits. Call it again before each model you want to reproduce.

    Args:
        seed: any non-negative integer.
        tensorflow: also import and seed TensorFlow (notebooks that only use NumPy skip it
            and start in a fraction of the time and memory).
        deterministic: also switch on TensorFlow's op determinism (it stays on for the rest
            of the process; the default leaves the setting as it is).
    """
    if tensorflow:
        quiet_tensorflow()
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        if deterministic:
            tf.config.experimental.enable_op_determinism()
    else:
        import random

        import numpy as np

        random.seed(seed)
        np.random.seed(seed)


def setup(seed: int = DEFAULT_SEED, *, tensorflow: bool = True,
          deterministic: bool = False) -> None:
    """Prepare a notebook: quiet TensorFlow, seed everything with ``seed``, and (in a learner's
    kernel, never while grading) let Run All go on past unfinished exercises
    (:func:`course_utils.runall.keep_going`).

    Args:
        seed: the seed for Python, NumPy and TensorFlow (default 0).
        tensorflow: set False in notebooks that use only NumPy.
        deterministic: switch on TensorFlow's op determinism too (see ``seed_everything``).
    """
    from course_utils.runall import keep_going

    keep_going()
    seed_everything(seed, tensorflow=tensorflow, deterministic=deterministic)
