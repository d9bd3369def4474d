"""The rows a grading run writes: one per graded test cell, one per file with a problem.

Why it exists: the command, each job, the LMS files and the class report all read and write
these rows; they are typed records (one dataclass each, a docstring on every field) so that a
CSV column never drifts from the code that fills it.
"""

from __future__ import annotations

import csv
from dataclasses import astuple, dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class CellGrade:
    """One autograded test cell of one student's notebook: a row of ``grades.csv``."""

    student_id: str
    """The student's folder name in the submissions directory, exactly as it is."""
    notebook: str
    """The course's name of the notebook, for example ``04_data_and_preprocessing.ipynb``."""
    grade_id: str
    """nbgrader's id of the test cell, ``test_<exercise>``."""
    score: float
    """Points given by the autograder (0 when the cell failed, timed out or was missing)."""
    max_score: float
    """Points the cell is worth."""


@dataclass(frozen=True)
class Problem:
    """A submitted file that could not be graded, or was graded with trouble."""

    student_id: str
    """The student's folder name (empty for a file outside any student folder)."""
    notebook: str
    """The file name as submitted (its path below the student's folder)."""
    problem: str
    """What is wrong, in one line."""


def write_csv(path: Path, kind: type, rows: list) -> None:
    """Write ``rows`` (records of dataclass ``kind``) to ``path``, a header first."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields(kind)])
        writer.writerows(astuple(row) for row in rows)
