"""What the grading kernel does before it runs a submission.

Why it exists: nbgrader scores a test cell zero when the cell writes anything to standard
error, not only when it raises. TensorFlow writes start-up lines there from native code, and
Keras and NumPy warn there on perfectly right answers (for example ``input_shape=`` on a layer),
so a right answer could lose its points for noise. In the kernel nbgrader starts for grading,
:func:`prepare` therefore sends native standard error to ``/dev/null`` and Python's
``sys.stderr`` (warnings included) to standard output. A test cell then fails only by raising,
which is what its author meant. Learners' own kernels are never touched.
"""

from __future__ import annotations

import os
import sys
import warnings


def prepare() -> None:
    """Make standard error harmless to grade cells (see the module docstring)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = sys.stdout
    warnings.simplefilter("ignore")
