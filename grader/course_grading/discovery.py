"""Finding what a class handed in: every submitted file becomes a job, a problem, or is ignored.

Why it exists: students and LMS downloads hand in files under every spelling (``04_DATA.IPYNB``,
``(1)`` copies, ``.ipynb.txt``), in odd folders, beside checkpoints; the grader must account
for each file before it grades anything.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from course_grading.records import Problem


@dataclass(frozen=True)
class Job:
    """One submitted notebook to grade on its own."""

    student_id: str
    """The student's folder name, as it is."""
    internal_id: str
    """The id nbgrader sees: safe for its globs (``s0001``)."""
    notebook: str
    """The course's name of the notebook."""
    path: str
    """The submitted file."""


@dataclass(frozen=True)
class Collected:
    """What was found under the submissions folder."""

    jobs: list[Job]
    """Notebooks to grade."""
    problems: list[Problem]
    """Files that will not be graded, with the reason."""
    ignored: list[str]
    """Hidden files and folders and notebook checkpoints that were left out."""


class UsageError(Exception):
    """The arguments or the submissions cannot be used at all (the message says why)."""


def course_notebooks(solutions: Path) -> list[str]:
    """The notebook file names of the course, from the masters."""
    return sorted(p.name for p in solutions.glob("[0-9][0-9]_*.ipynb"))


_LMS_NAME = re.compile(r"^(?P<stem>.+?)(?:\s*\(\d+\))?\.ipynb(?:\.txt)?$", re.IGNORECASE)


def match_notebook(file_name: str, known: list[str]) -> str | None:
    """The course notebook a submitted file name stands for, or None.

    Accepts the spellings of LMS downloads: any letter case, a `` (1)`` copy suffix, and a
    ``.txt`` added after ``.ipynb``.
    """
    found = _LMS_NAME.match(file_name.strip())
    if not found:
        return None
    stem = found["stem"].strip().lower()
    return next((name for name in known if name[:-len(".ipynb")].lower() == stem), None)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


#: The roster ``course_grading.lms collect`` writes beside the student folders.
ROSTER = "students.csv"


def collect(submissions: Path, known: list[str]) -> Collected:
    """Find every file under ``submissions``: each becomes a job, a problem, or is ignored."""
    if not submissions.is_dir():
        raise UsageError(f"{submissions} is not a folder of student folders.")
    jobs: list[Job] = []
    problems: list[Problem] = []
    ignored: list[str] = []
    folders = []
    for path in sorted(submissions.iterdir()):
        if path.name.startswith(".") or path.name == ROSTER:
            ignored.append(path.name)  # hidden, or the names that `lms collect` wrote
        elif path.is_symlink():
            problems.append(Problem("", path.name, NOT_REGULAR))
        elif path.is_dir():
            folders.append(path)
        else:
            problems.append(Problem("", path.name, "not inside a student folder"))
    for number, folder in enumerate(folders, start=1):
        internal = f"s{number:04d}"
        chosen: dict[str, Path] = {}
        for path in _files(folder):
            relative = path.relative_to(folder)
            if _hidden(relative):
                ignored.append(str(path.relative_to(submissions)))
                continue
            name = str(relative)
            if path.is_symlink() or not path.is_file():
                problems.append(Problem(folder.name, name, NOT_REGULAR))
                continue
            if path.stat().st_size > MAX_NOTEBOOK_BYTES:
                problems.append(Problem(folder.name, name, f"larger than "
                                        f"{MAX_NOTEBOOK_BYTES // 2**20} MB: not read (clear its "
                                        f"outputs and hand it in again)"))
                continue
            if len(relative.parts) > 1:
                problems.append(Problem(folder.name, name, "inside a subfolder: put course "
                                        "notebooks directly in the student's folder"))
                continue
            notebook = match_notebook(path.name, known)
            if notebook is None:
                problems.append(Problem(folder.name, name, "not a notebook of this course "
                                        "(check the file name)"))
                continue
            reason = _unreadable(path)
            if reason:
                problems.append(Problem(folder.name, name, reason))
                continue
            if notebook in chosen:
                # Two files are the same notebook: grade the newest (a later LMS download).
                older, newer = sorted([chosen[notebook], path], key=lambda p: p.stat().st_mtime)
                chosen[notebook] = newer
                problems.append(Problem(folder.name, older.name, f"another file of this student "
                                        f"is also {notebook}: graded {newer.name} instead"))
            else:
                chosen[notebook] = path
        jobs += [Job(folder.name, internal, notebook, str(path))
                 for notebook, path in sorted(chosen.items())]
    return Collected(jobs, problems, ignored)


#: Said of a link, a FIFO, a device or a socket among the submissions: never opened.
NOT_REGULAR = "not a regular file (a link, FIFO or device): not read"
#: Largest submitted notebook the grader opens (a course notebook with outputs is ~1 MB).
MAX_NOTEBOOK_BYTES = 50 * 2**20


def _files(folder: Path) -> list[Path]:
    """Everything below ``folder`` but folders, without following a link to a folder."""
    found = []
    for root, folders, files in os.walk(folder, followlinks=False):
        found += [Path(root) / name for name in files]
        # A link to a folder is listed (and refused), never entered.
        found += [Path(root) / name for name in folders if (Path(root) / name).is_symlink()]
    return sorted(found)


def _unreadable(path: Path) -> str | None:
    import nbformat
    from nbformat.reader import NotJSONError

    try:
        notebook = nbformat.read(path, as_version=4)
    except (NotJSONError, json.JSONDecodeError, UnicodeDecodeError) as error:
        return f"not valid JSON ({textwrap.shorten(str(error), 120, placeholder=' ...')})"
    except Exception as error:  # nbformat raises several types for wrong structure
        return f"not a readable notebook ({type(error).__name__}: {str(error)[:200]})"
    if not any(cell.cell_type == "code" for cell in notebook.cells):
        return "the notebook has no code cells"
    return None
