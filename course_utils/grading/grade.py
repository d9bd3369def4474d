"""Grade a whole class with nbgrader, in parallel, into one CSV and per-student feedback.

Usage::

    python -m course_utils.grading SUBMISSIONS_DIR --output OUT_DIR [--jobs N] [--timeout S]

``SUBMISSIONS_DIR`` holds one folder per student, ``<student_id>/<notebook>.ipynb``, with the
file names of ``notebooks/`` (any subset). The command writes:

- ``OUT_DIR/grades.csv``: ``student_id,notebook,grade_id,score,max_score``, one row per
  autograded test cell of every graded notebook;
- ``OUT_DIR/feedback/<student_id>/<notebook>.html``: nbgrader's feedback, without hidden tests;
- ``OUT_DIR/problems.csv``: ``student_id,notebook,problem``, the files that could not be graded
  (not a notebook, not valid JSON, a kernel that died for good) and the files that are not
  part of the course;
- ``OUT_DIR/logs/<student_id>.log``: nbgrader's log for each student (and each worker's
  standard error beside them).

Why it exists: nbgrader grades one student at a time into one course directory whose SQLite
gradebook does not take concurrent writers. This command gives each worker process a course
directory of its own (made from the masters once, then copied), runs nbgrader's own autograde
and feedback there, and merges the per-worker gradebooks into one CSV. One student's broken
or endless notebook never stops the others: cells are interrupted after ``--timeout`` seconds
and score zero, as nbgrader scores any failing cell.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import textwrap
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import astuple, dataclass, fields
from multiprocessing import get_context
from pathlib import Path

from course_utils.grading.settings import ASSIGNMENT, DEFAULT_TIMEOUT, configure

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CellGrade:
    """One autograded test cell of one student's notebook: a row of ``grades.csv``."""

    student_id: str
    """The student's folder name in the submissions directory."""
    notebook: str
    """The notebook's file name, for example ``04_data_and_preprocessing.ipynb``."""
    grade_id: str
    """nbgrader's id of the test cell, ``test_<exercise>``."""
    score: float
    """Points given by the autograder (0 when the cell failed, timed out or was missing)."""
    max_score: float
    """Points the cell is worth."""


@dataclass(frozen=True)
class Problem:
    """A submitted file that could not be graded: a row of ``problems.csv``."""

    student_id: str
    """The student's folder name."""
    notebook: str
    """The file name as submitted."""
    problem: str
    """What is wrong, in one line."""


class UsageError(Exception):
    """The submissions cannot be used at all (the message says why)."""


# --- finding the submissions -----------------------------------------------------------------

def course_notebooks(solutions: Path) -> list[str]:
    """The notebook file names of the course, from the masters."""
    return sorted(p.name for p in solutions.glob("[0-9][0-9]_*.ipynb"))


def collect(submissions: Path, known: list[str]) -> tuple[dict[str, list[Path]], list[Problem]]:
    """Find each student's gradable notebooks, and the files that cannot be graded."""
    if not submissions.is_dir():
        raise UsageError(f"{submissions} is not a folder of student folders.")
    students: dict[str, list[Path]] = {}
    problems: list[Problem] = []
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir()):
        for path in sorted(folder.iterdir()):
            if path.suffix != ".ipynb":
                continue
            if path.name not in known:
                problems.append(Problem(folder.name, path.name,
                                        "not a notebook of this course (check the file name)"))
                continue
            reason = _unreadable(path)
            if reason:
                problems.append(Problem(folder.name, path.name, reason))
                continue
            students.setdefault(folder.name, []).append(path)
    if not students:
        raise UsageError(
            f"no gradable notebooks in {submissions}: expected <student_id>/<notebook>.ipynb "
            f"with the names of the course's notebooks ({', '.join(known[:2])}, ...).")
    return students, problems


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


# --- one worker ------------------------------------------------------------------------------

_WORKER: dict[str, object] = {}


def _init_worker(template: str, work: str, timeout: int, output: str) -> None:
    """Give this worker process a course directory of its own, copied from the template.

    The worker's standard error (nbgrader's database warnings, kernels' start-up lines) goes
    to ``logs/worker-<pid>.stderr`` so the instructor's terminal shows only the progress bar.
    """
    root = Path(work) / f"worker-{os.getpid()}"
    shutil.copytree(template, root)
    _WORKER.update(root=root, timeout=timeout)
    logs = Path(output) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stream = open(logs / f"worker-{os.getpid()}.stderr", "w", buffering=1)  # noqa: SIM115
    os.dup2(stream.fileno(), 2)
    sys.stderr = stream


def _api(root: Path, timeout: int):
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    return NbGraderAPI(config=configure(Config(), root, timeout=timeout))


def grade_student(student: str, notebooks: list[str], output: str
                  ) -> tuple[list[CellGrade], list[Problem]]:
    """Autograde one student's notebooks in this worker's course directory; write feedback."""
    from nbgrader.api import Gradebook

    root: Path = _WORKER["root"]  # type: ignore[assignment]
    api = _api(root, _WORKER["timeout"])  # type: ignore[arg-type]
    submitted = root / "submitted" / student / ASSIGNMENT
    submitted.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        shutil.copy2(path, submitted / Path(path).name)
    log_dir = Path(output) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    result = api.autograde(ASSIGNMENT, student, force=True)
    log = f"== autograde ==\n{result.get('log', '')}\n{result.get('error', '')}\n"
    grades: list[CellGrade] = []
    problems: list[Problem] = []
    autograded = root / "autograded" / student / ASSIGNMENT
    graded_names = [Path(p).name for p in notebooks
                    if (autograded / Path(p).name).is_file()]
    if graded_names:
        feedback = api.generate_feedback(ASSIGNMENT, student, force=True)
        log += f"== feedback ==\n{feedback.get('log', '')}\n{feedback.get('error', '')}\n"
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for name in sorted(Path(p).name for p in notebooks):
            if name not in graded_names:
                cause = ("the kernel died while running it (does it call exit() or crash "
                         "Python?)" if "DeadKernelError" in log else "nbgrader could not grade it")
                problems.append(Problem(student, name, f"{cause}; see logs/{student}.log"))
                continue
            submission = gradebook.find_submission_notebook(Path(name).stem, ASSIGNMENT,
                                                            student)
            for grade in sorted(submission.grades, key=lambda g: g.name):
                if grade.cell_type == "code":
                    grades.append(CellGrade(student, name, grade.name, float(grade.score),
                                            float(grade.max_score)))
    source = root / "feedback" / student / ASSIGNMENT
    for name in graded_names:
        html = source / name.replace(".ipynb", ".html")
        if html.is_file():
            target = Path(output) / "feedback" / student
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(html, target / html.name)
    (log_dir / f"{student}.log").write_text(log)
    shutil.rmtree(root / "submitted" / student, ignore_errors=True)
    return grades, problems


# --- the whole class -------------------------------------------------------------------------

def make_template(solutions: Path, root: Path) -> None:
    """A course directory with the masters and their gradebook, made once and copied."""
    from course_utils.grading.build import generate

    generate(solutions, root)


def grade_class(submissions: Path, output: Path, *, jobs: int = 1,
                timeout: int = DEFAULT_TIMEOUT, solutions: Path = ROOT / "solutions",
                progress: bool = True) -> tuple[list[CellGrade], list[Problem]]:
    """Grade every student in ``submissions``; write the CSVs and feedback into ``output``."""
    from tqdm import tqdm

    from course_utils.grading.build import nbgrader_environment

    students, problems = collect(submissions, course_notebooks(solutions))
    output.mkdir(parents=True, exist_ok=True)
    for stale in ("feedback", "logs"):
        shutil.rmtree(output / stale, ignore_errors=True)
    grades: list[CellGrade] = []
    total = sum(len(v) for v in students.values())
    with tempfile.TemporaryDirectory(prefix="nn-python-grade-") as work, nbgrader_environment():
        template = Path(work) / "template"
        make_template(solutions, template)
        with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=get_context("spawn"),
                                 initializer=_init_worker,
                                 initargs=(str(template), work, timeout, str(output))) as pool:
            futures = {pool.submit(grade_student, student, [str(p) for p in paths],
                                   str(output)): (student, paths)
                       for student, paths in students.items()}
            with tqdm(total=total, unit="notebook", desc="grading", disable=not progress,
                      file=sys.stderr) as bar:
                for future in as_completed(futures):
                    student, paths = futures[future]
                    try:
                        student_grades, student_problems = future.result()
                    except Exception as error:  # a worker crashed: report, keep going
                        student_grades = []
                        student_problems = [Problem(student, p.name, f"grading failed: "
                                            f"{type(error).__name__}: {error}") for p in paths]
                    grades += student_grades
                    problems += student_problems
                    bar.update(len(paths))
    grades.sort(key=lambda g: (g.student_id, g.notebook, g.grade_id))
    problems.sort(key=lambda p: (p.student_id, p.notebook))
    _write_csv(output / "grades.csv", CellGrade, grades)
    _write_csv(output / "problems.csv", Problem, problems)
    return grades, problems


def _write_csv(path: Path, kind: type, rows: list) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields(kind)])
        writer.writerows(astuple(row) for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grading",
        description="Autograde a class's notebooks with nbgrader into grades.csv and feedback.")
    parser.add_argument("submissions", type=Path,
                        help="folder of <student_id>/<notebook>.ipynb submissions")
    parser.add_argument("--output", type=Path, required=True,
                        help="folder for grades.csv, problems.csv, feedback/ and logs/")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes grading in parallel (default 1)")
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                        help=f"seconds a cell may run (default {DEFAULT_TIMEOUT})")
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions",
                        help="folder of master notebooks (default: the course's solutions/)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.timeout < 1:
        parser.error("--jobs and --timeout must be at least 1")
    try:
        grades, problems = grade_class(args.submissions, args.output, jobs=args.jobs,
                                       timeout=args.timeout, solutions=args.solutions,
                                       progress=not args.quiet)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    graded = {(g.student_id, g.notebook) for g in grades}
    students = {g.student_id for g in grades}
    print(f"Graded {len(graded)} notebooks of {len(students)} students into "
          f"{args.output / 'grades.csv'}.")
    if problems:
        print(f"{len(problems)} file(s) could not be graded: see {args.output / 'problems.csv'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
