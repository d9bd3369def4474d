"""Grade a whole class with nbgrader, one notebook at a time, into one CSV and feedback.

Usage::

    python -m course_grading SUBMISSIONS_DIR --output OUT_DIR [--jobs N] [--timeout S]
        [--sandbox | --no-sandbox] [--memory-mb MB] [--max-processes N]
        [--student ID ...] [--notebook NAME ...] [--due [NOTEBOOK=]WHEN ...]
        [--extensions CSV] [--late-penalty PERCENT] [--late-cap PERCENT]
        [--late-cutoff DAYS] [--overrides CSV]
        [--scheduler tcp://HOST:8786]

``SUBMISSIONS_DIR`` holds one folder per student, ``<student_id>/<notebook>.ipynb``, with the
file names of ``notebooks/`` (any subset; spellings of LMS downloads such as
``04_DATA_AND_PREPROCESSING.IPYNB``, ``04_data_and_preprocessing (1).ipynb`` or
``04_data_and_preprocessing.ipynb.txt`` are recognised). The command writes:

- ``OUT_DIR/grades.csv``: ``student_id,notebook,grade_id,score,max_score``, one row per
  autograded test cell of every graded notebook (``notebook`` is the course's name for it),
  with the term's rules applied (overrides, a ``late_penalty`` row per late notebook: see
  ``course_grading.term``); the autograder's own rows are in ``OUT_DIR/autograded.csv``;
- ``OUT_DIR/flags.csv``: code an instructor should look at (``course_grading.flags``);
- ``OUT_DIR/late.csv``, ``OUT_DIR/overrides_applied.csv``: late notebooks, overrides applied;
- ``OUT_DIR/report.html``: the class report (``course_grading.report``);
- ``OUT_DIR/feedback/<student_id>/<notebook>.html``: nbgrader's feedback, without hidden tests;
- ``OUT_DIR/problems.csv``: ``student_id,notebook,problem``, every submitted file that could not
  be graded or was graded with trouble (a kernel that died, a cell that timed out or ran out of
  memory), with the reason;
- ``OUT_DIR/logs/<student_id>/<notebook>.log``: nbgrader's log for each graded file.

Exit status: 0 when every submitted file was graded without trouble, 1 when some files are
listed in ``problems.csv``, 2 when nothing could be graded or the arguments are wrong.

Why it exists: nbgrader grades one student's whole assignment in one course directory, and
0.9 drops the student's every notebook when one of them kills its kernel. Here every
(student, notebook) pair is its own job: a fresh copy of the course directory (masters and
gradebook), nbgrader's own autograde and feedback on that one notebook, run in a child process
of its own (forked from a worker that imported nbgrader once), so a kernel that dies, a
timeout, a memory blow-up or even a crashed job costs that notebook only. Student code runs in a bubblewrap sandbox by default (see
``course_grading.sandbox``). With ``--scheduler`` the same jobs run on a Dask cluster's
workers instead, each graded there exactly so (``course_grading.cluster``). Students get safe internal ids (``s0001``), because nbgrader
globs and strips ids; the CSVs keep the folder names.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from course_grading import sandbox as sandboxing
from course_grading.discovery import (Job, UsageError, collect, course_notebooks,
                                      match_notebook)
from course_grading.flags import Flag
from course_grading.job import Options, _sandbox_spec, grade_job
from course_grading.pool import _job_in_child, _workers, kill_jobs, stop_workers
from course_grading.records import CellGrade, Problem, write_csv
from course_grading.report import write_report
from course_grading.term import (AUTOGRADED, Term, TermError, add_term_options, cell_points,
                                 check_overrides, finalize, merge, term_from_args)
from course_grading.settings import DEFAULT_TIMEOUT
from course_utils.models import REFERENCE_MODEL_ENV

ROOT = Path(__file__).resolve().parents[2]


# --- the whole class -------------------------------------------------------------------------

#: The notebooks that load the model notebook 7 trains (evaluating, predicting, going further):
#: they are graded on the grader's reference model instead.
NOTEBOOKS_ON_THE_TRAINED_MODEL = ("09_", "10_", "11_")


def _provide_reference_model(jobs: list[Job], work: Path) -> str | None:
    """Train the grader's reference model once for the run, for the notebooks that need it.

    Saved under ``work`` (readable by every grading kernel, and named to them by
    ``COURSE_REFERENCE_MODEL``), so the evaluating and predicting notebooks are graded on the
    same model whatever the student's training notebook did, and none retrains it. A model
    named by ``COURSE_REFERENCE_MODEL`` in the grader's own environment is used instead.
    """
    if os.environ.get(REFERENCE_MODEL_ENV):
        return os.environ[REFERENCE_MODEL_ENV]
    if not any(job.notebook.startswith(NOTEBOOKS_ON_THE_TRAINED_MODEL) for job in jobs):
        return None
    path = work / "reference_model.keras"
    script = ("import sys; from course_utils import models; "
              "models.train_reference_model().save(sys.argv[1])")
    subprocess.run([sys.executable, "-I", "-c", script, str(path)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    path.chmod(0o644)
    return str(path)


def make_template(solutions: Path, root: Path) -> None:
    """A course directory with the masters and their gradebook, made once and copied."""
    from course_grading.build import generate

    generate(solutions, root)


def grade_job_in_process(job: Job, output: Path, options: Options | None = None,
                         solutions: Path = ROOT / "solutions"
                         ) -> tuple[list[CellGrade], list[Problem], list[Flag]]:
    """Grade one job in this process, with a course directory of its own (for tests and
    debugging; the command runs every job in a child process instead)."""
    from course_grading.build import nbgrader_environment

    options = options or Options(sandbox=sandboxing.availability()[0])
    with tempfile.TemporaryDirectory(prefix="nn-python-grade-") as work, \
            nbgrader_environment():
        work_dir = Path(work)
        if os.geteuid() == 0:
            work_dir.chmod(0o711)
        make_template(solutions, work_dir / "template")
        return grade_job(job, work_dir / "template", work_dir / "job", output, options)


def _preflight(options: Options, work: Path) -> None:
    """Start one sandbox as grading will, before any student is graded (UsageError if not)."""
    runtime = sandboxing.prepare_runtime(work / "preflight", 0)
    problem = sandboxing.preflight(_sandbox_spec(options, runtime, 0))
    if problem:
        raise UsageError(f"the grading sandbox does not work here: {problem}")


def _grade_here(jobs: list[Job], template: Path, work_dir: Path, output: Path,
                options: Options, parallel: int, progress: bool, grades: list[CellGrade],
                problems: list[Problem], flags: list[Flag], workers) -> None:
    """The local pool: ``parallel`` jobs at a time, each in a child process of its own."""
    from tqdm import tqdm

    slots: queue.Queue = queue.Queue()
    for slot in range(max(1, parallel)):
        slots.put(slot)
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool, \
            tqdm(total=len(jobs), unit="notebook", desc="grading",
                 disable=not progress, file=sys.stderr) as bar:
        futures = [pool.submit(_job_in_child, job, number, template, work_dir,
                               output, options, slots, flags, workers)
                   for number, job in enumerate(jobs)]
        try:
            for future in as_completed(futures):
                job_grades, job_problems = future.result()
                grades += job_grades
                problems += job_problems
                bar.update(1)
        except BaseException:  # Ctrl-C, SIGTERM, an error: end every job first
            kill_jobs()
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def grade_class(submissions: Path, output: Path, *, jobs: int = 1,
                timeout: int = DEFAULT_TIMEOUT, solutions: Path = ROOT / "solutions",
                progress: bool = True, use_sandbox: bool | None = None,
                memory_mb: int = sandboxing.DEFAULT_MEMORY_MB,
                max_processes: int = sandboxing.DEFAULT_MAX_PROCESSES,
                students: list[str] | None = None, notebooks: list[str] | None = None,
                term: Term | None = None,
                scheduler: str | None = None,
                ) -> tuple[list[CellGrade], list[Problem]]:
    """Grade every submitted notebook in ``submissions``; write CSVs and feedback to ``output``.

    ``use_sandbox``: True or None (the default) require the sandbox (UsageError, before any
    student is graded, when it cannot run here); False runs kernels unisolated, on purpose.
    ``students`` / ``notebooks``: grade only these (a regrade); when ``output`` holds an
    earlier run, its rows and feedback for everyone else are kept and the CSVs merged.
    ``term``: due dates, extensions, late policy and overrides (:mod:`course_grading.term`;
    default: the settings kept in ``output`` by an earlier run). Returns the rows of this
    run's grading (before the term's rules).
    ``scheduler``: the address of a Dask scheduler (``tcp://HOST:8786``) to grade on its
    cluster instead of this machine (see :mod:`course_grading.cluster`); each of its workers
    must then have a working sandbox, and ``jobs`` does not apply.
    """
    from tqdm import tqdm

    from course_grading.build import nbgrader_environment

    known = course_notebooks(solutions)
    if not known:
        raise UsageError(f"--solutions {solutions}: no master notebooks (NN_name.ipynb) there; "
                         f"give the folder of the course's masters.")
    found = collect(submissions, known)
    chosen = _chosen(found, students, notebooks, known)
    if chosen is not None:
        found = chosen
    if found.ignored:
        print(f"Ignored {len(found.ignored)} hidden or checkpoint file(s) and folder(s) "
              f"(names starting with '.', such as .ipynb_checkpoints).")
    if not found.jobs:
        raise UsageError(
            f"no gradable notebooks in {submissions}: expected <student_id>/<notebook>.ipynb "
            f"with the names of the course's notebooks ({', '.join(known[:2])}, ...).")
    isolated = use_sandbox is not False
    if isolated:
        # On a cluster each worker checks its own sandbox (course_grading.cluster).
        available, why = sandboxing.availability() if scheduler is None else (True, "")
        if not available:
            raise UsageError(f"no sandbox: {why}. Grading runs student code, so it needs one; "
                             f"--no-sandbox grades without it, on a machine you can lose")
    else:
        print("WARNING: grading WITHOUT a sandbox (--no-sandbox): student code runs with your "
              "rights and can read and write your files and use the network.", file=sys.stderr)
    output.mkdir(parents=True, exist_ok=True)
    regrade = chosen is not None and (output / AUTOGRADED).is_file()
    pairs = {(job.student_id, job.notebook) for job in found.jobs}
    pairs |= {(p.student_id, match_notebook(p.notebook, known) or p.notebook)
              for p in found.problems}
    if regrade:  # only the regraded notebooks' feedback and logs go
        for student, notebook in pairs:
            stem = notebook[:-len(".ipynb")]
            for stale in (output / "feedback" / student / f"{stem}.html",
                          *(output / "logs" / student).glob(f"{stem}.*")):
                stale.unlink(missing_ok=True)
    else:
        for stale in ("feedback", "logs"):
            shutil.rmtree(output / stale, ignore_errors=True)
    grades: list[CellGrade] = []
    problems = list(found.problems)
    flags: list[Flag] = []
    workers = _workers() if scheduler is None else None
    try:
        with tempfile.TemporaryDirectory(prefix="nn-python-grade-") as work, \
                nbgrader_environment():
            work_dir = Path(work)
            if os.geteuid() == 0:
                work_dir.chmod(0o711)  # the kernels' users reach their own folders below
            options = Options(timeout, isolated, memory_mb, max_processes)
            if isolated and scheduler is None:
                _preflight(options, work_dir)
            template = work_dir / "template"
            make_template(solutions, template)
            options = Options(timeout, isolated, memory_mb, max_processes,
                              _provide_reference_model(found.jobs, work_dir))
            if scheduler is not None:
                from course_grading.cluster import grade_on_cluster

                with tqdm(total=len(found.jobs), unit="notebook", desc="grading",
                          disable=not progress, file=sys.stderr) as bar:
                    job_grades, job_problems, job_flags = grade_on_cluster(
                        scheduler, found.jobs, template, options.reference_model, options,
                        output, lambda: bar.update(1))
                grades += job_grades
                problems += job_problems
                flags += job_flags
            else:
                _grade_here(found.jobs, template, work_dir, output, options, jobs, progress,
                            grades, problems, flags, workers)
    finally:
        stop_workers()
    graded_now, problems_now = list(grades), list(problems)
    if regrade:
        grades, problems, flags = merge(output, pairs, grades, problems, flags, known)
    grades.sort(key=lambda g: (g.student_id, g.notebook, g.grade_id))
    problems.sort(key=lambda p: (p.student_id, p.notebook))
    write_csv(output / AUTOGRADED, CellGrade, grades)
    write_csv(output / "problems.csv", Problem, problems)
    flags.sort(key=lambda f: (f.student_id, f.notebook, f.cell))
    write_csv(output / "flags.csv", Flag, flags)
    term = (term or Term.load(output)).updated(submissions=submissions)
    finalize(output, term, known, cell_points(solutions))
    term.save(output)
    try:
        write_report(output, solutions, submissions)
    except Exception as error:  # noqa: BLE001 - the report is a reading aid: grades stand
        print(f"warning: the class report could not be written ({type(error).__name__}: "
              f"{str(error)[:200]}); grades.csv and the other files are complete",
              file=sys.stderr)
    return graded_now, problems_now


def _chosen(found, students: list[str] | None, notebooks: list[str] | None,  # noqa: ANN001
            known: list[str]):
    """``found`` narrowed to the students and notebooks asked for (None: no narrowing)."""
    if not students and not notebooks:
        return None
    from course_grading.discovery import Collected

    wanted = None
    if notebooks:
        wanted = set()
        for name in notebooks:
            match = match_notebook(name if name.lower().endswith(".ipynb") else f"{name}.ipynb",
                                   known)
            if match is None:
                raise UsageError(f"--notebook {name}: not a notebook of this course")
            wanted.add(match)
    present = {job.student_id for job in found.jobs} | {p.student_id for p in found.problems}
    absent = sorted(set(students or []) - present)
    if absent:
        raise UsageError(f"--student {', '.join(absent)}: no such folder in the submissions")

    def keep(student: str, notebook: str | None) -> bool:
        return (not students or student in students) and \
            (wanted is None or notebook is None or notebook in wanted)

    return Collected([j for j in found.jobs if keep(j.student_id, j.notebook)],
                     [p for p in found.problems
                      if keep(p.student_id, match_notebook(p.notebook, known))],
                     found.ignored)


def exit_status(grades: list[CellGrade], problems: list[Problem]) -> int:
    """0 when every file was graded without trouble, 1 with some problems, 2 nothing graded."""
    if not grades:
        return 2
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    """The command: parse arguments, grade, report; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m course_grading",
        description="Autograde a class's notebooks with nbgrader into grades.csv and feedback. "
                    "Exit status: 0 all graded, 1 some files in problems.csv, 2 nothing graded "
                    "or wrong arguments.")
    parser.add_argument("submissions", type=Path,
                        help="folder of <student_id>/<notebook>.ipynb submissions")
    parser.add_argument("--output", type=Path, required=True,
                        help="folder for grades.csv, problems.csv, feedback/ and logs/")
    parser.add_argument("--jobs", type=int, default=1,
                        help="notebooks graded in parallel (default 1)")
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                        help=f"seconds a cell may run (default {DEFAULT_TIMEOUT})")
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions",
                        help="folder of master notebooks (default: the course's solutions/)")
    parser.add_argument("--sandbox", action=argparse.BooleanOptionalAction, default=None,
                        help="run student code in a bubblewrap sandbox (default: on, and "
                             "grading refuses to start without a working one; --no-sandbox "
                             "grades unisolated, on purpose)")
    parser.add_argument("--memory-mb", type=int, default=sandboxing.DEFAULT_MEMORY_MB,
                        help=f"memory cap of a sandboxed kernel in MiB "
                             f"(default {sandboxing.DEFAULT_MEMORY_MB})")
    parser.add_argument("--max-processes", type=int, default=sandboxing.DEFAULT_MAX_PROCESSES,
                        help=f"process and thread cap of a sandboxed kernel "
                             f"(default {sandboxing.DEFAULT_MAX_PROCESSES})")
    parser.add_argument("--student", action="append", metavar="ID",
                        help="grade only this student's folder (repeat for more): a regrade "
                             "into an existing --output keeps everyone else's grades, "
                             "problems, flags and feedback and merges the CSVs")
    parser.add_argument("--notebook", action="append", metavar="NAME",
                        help="grade only this notebook (01_neurons or 01_neurons.ipynb; "
                             "repeat for more), alone or with --student")
    add_term_options(parser)
    parser.add_argument("--scheduler", metavar="tcp://HOST:8786",
                        help="grade on the Dask cluster of this scheduler instead of this "
                             "machine (needs dask[distributed]; each worker runs the same "
                             "sandbox; --jobs does not apply)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    try:
        args = parser.parse_args(argv)
        if min(args.jobs, args.timeout, args.memory_mb, args.max_processes) < 1:
            parser.error("--jobs, --timeout, --memory-mb and --max-processes must be at least 1")
    except SystemExit as stop:  # argparse's own usage errors exit 2; --help exits 0
        return int(stop.code or 0)
    import signal

    def terminate(signum, frame):  # noqa: ANN001 - signal's handler signature
        raise SystemExit(128 + signum)  # unwinds through grade_class's clean-up

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        known = course_notebooks(args.solutions)
        term = term_from_args(args, Term.load(args.output), known)
        check_overrides(term, known, cell_points(args.solutions))  # before any grading
        grades, problems = grade_class(
            args.submissions, args.output, jobs=args.jobs, timeout=args.timeout,
            solutions=args.solutions, progress=not args.quiet, use_sandbox=args.sandbox,
            memory_mb=args.memory_mb, max_processes=args.max_processes,
            students=args.student, notebooks=args.notebook, term=term,
            scheduler=args.scheduler)
    except (UsageError, TermError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written; every job and sandbox was ended",
              file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    graded = {(g.student_id, g.notebook) for g in grades}
    students = {g.student_id for g in grades}
    print(f"Graded {len(graded)} notebooks of {len(students)} students into "
          f"{args.output / 'grades.csv'}.")
    if problems:
        print(f"{len(problems)} file(s) listed in {args.output / 'problems.csv'}.")
    print(f"Class report: {args.output / 'report.html'}.")
    return exit_status(grades, problems)


if __name__ == "__main__":
    sys.exit(main())
