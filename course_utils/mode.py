"""Which mode the course runs in: a learner's full run, or nbgrader's autograding.

nbgrader sets ``NBGRADER_EXECUTION`` in the kernel it grades with. In that mode the course
serves a fixed, smaller slice of the data so that grading a whole submission takes seconds;
the same notebook run by a learner uses the full data.
"""

from __future__ import annotations

import os

#: The environment variable nbgrader sets while it autogrades or validates.
GRADING_ENV_VAR = "NBGRADER_EXECUTION"


def grading_mode() -> bool:
    """Return True while nbgrader is executing the notebook (autograde or validate)."""
    return bool(os.environ.get(GRADING_ENV_VAR))
