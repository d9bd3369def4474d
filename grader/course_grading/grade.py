"""Grade a whole class with nbgrader, one notebook at a time, into one CSV and feedback.

Usage::

    python -m course_grading SUBMISSIONS_DIR --output OUT_DIR [--jobs N] [--timeout S]
        [--sandbox | --no-sandbox] [--memory-mb MB] [--max-processes N]

``SUBMISSIONS_DIR`` holds one folder per student, ``<student_id>/<notebook>.ipynb``, with the
file names of ``notebooks/`` (any subset; spellings of LMS downloads such as
``04_DATA_AND_PREPROCESSING.IPYNB``, ``04_data_and_preprocessing (1).ipynb`` or
``04_data_and_preprocessing.ipynb.txt`` are recognised). The command writes:

- ``OUT_DIR/grades.csv``: ``student_id,notebook,grade_id,score,max_score``, one row per
  autograded test cell of every graded notebook (``notebook`` is the course's name for it);
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
``course_grading.sandbox``). Students get safe internal ids (``s0001``), because nbgrader
globs and strips ids; the CSVs keep the folder names.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, astuple, dataclass, fields
from pathlib import Path

from course_grading import sandbox as sandboxing
from course_grading.flags import Flag
from course_grading.settings import (ASSIGNMENT, DEFAULT_TIMEOUT, configure,
                                           use_sandbox_kernel)

ROOT = Path(__file__).resolve().parents[2]
#: The environment variable naming the grader's reference model (see course_utils.models).
REFERENCE_MODEL_ENV = "COURSE_REFERENCE_MODEL"
#: Test images whose predictions re-check ``predict_digit`` (the grading slice's size).
GRADING_IMAGES = 1000


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
class Options:
    """How every job is graded."""

    timeout: int = DEFAULT_TIMEOUT
    """Seconds a cell may run."""
    sandbox: bool = True
    """Run the kernel in the bubblewrap sandbox."""
    memory_mb: int = sandboxing.DEFAULT_MEMORY_MB
    """Memory cap of a sandboxed kernel, in MiB."""
    max_processes: int = sandboxing.DEFAULT_MAX_PROCESSES
    """Process cap of a sandboxed kernel."""
    reference_model: str | None = None
    """The grader's trained reference model for this run (notebooks 08 to 10), if any."""


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


# --- finding the submissions -----------------------------------------------------------------

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
        elif path.is_dir():
            folders.append(path)
        else:
            problems.append(Problem("", path.name, "not inside a student folder"))
    for number, folder in enumerate(folders, start=1):
        internal = f"s{number:04d}"
        chosen: dict[str, Path] = {}
        for path in sorted(p for p in folder.rglob("*") if not p.is_dir()):
            relative = path.relative_to(folder)
            if _hidden(relative):
                ignored.append(str(path.relative_to(submissions)))
                continue
            name = str(relative)
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


# --- one job, in a child process of its own ----------------------------------------------------

def grade_job(job: Job, template: Path, work: Path, output: Path, options: Options,
              slot: int = 0) -> tuple[list[CellGrade], list[Problem], list[Flag]]:
    """Autograde one submitted notebook in a fresh copy of the course directory.

    Runs in the child process of :func:`run_job`. The sandboxed kernel's working folder is a
    fresh tmpfs of its own; nbgrader's files (the restored notebook with its hidden tests, the
    gradebook, the masters) live in ``course``, outside the sandbox's view.
    """
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    course = work / "course"
    shutil.copytree(template, course)
    submitted = course / "submitted" / job.internal_id / ASSIGNMENT
    submitted.mkdir(parents=True)
    shutil.copy2(job.path, submitted / job.notebook)
    config = configure(Config(), course, timeout=options.timeout)
    if options.reference_model and not options.sandbox:
        os.environ[REFERENCE_MODEL_ENV] = options.reference_model  # this job's process only
    if options.sandbox:
        # The kernel's working folder is a fresh tmpfs inside the sandbox; only its runtime
        # folder (connection file, sockets) is on this disk, made here and locked once the
        # kernel has opened its sockets (see course_grading.sandbox).
        runtime = sandboxing.prepare_runtime(work / "runtime", slot)
        spec = _sandbox_spec(options, runtime, slot)
        os.environ["JUPYTER_PATH"] = str(sandboxing.write_kernelspec(spec, work / "jupyter"))
        use_sandbox_kernel(config, sandboxing.KERNEL_NAME, runtime)
    api = NbGraderAPI(config=config)
    started = time.perf_counter()
    result = api.autograde(ASSIGNMENT, job.internal_id, force=True)
    log = (f"== autograde ({time.perf_counter() - started:.2f} s) ==\n{result.get('log', '')}\n"
           f"{result.get('error', '')}\n")
    autograded = course / "autograded" / job.internal_id / ASSIGNMENT / job.notebook
    grades: list[CellGrade] = []
    problems: list[Problem] = []
    flags: list[Flag] = []
    name = Path(job.path).name
    if not autograded.is_file():
        cause = ("the kernel died while running it (does it call exit(), crash Python or run "
                 "out of memory?)" if "DeadKernelError" in log else "nbgrader could not grade it")
        problems.append(Problem(job.student_id, name, f"{cause}; see {_log_name(job)}"))
    else:
        trouble = _trouble(autograded, log, options)
        if trouble:
            problems.append(Problem(job.student_id, name, f"graded, but {trouble}"))
        master = course / "source" / ASSIGNMENT / job.notebook
        started = time.perf_counter()
        found_flags, disagreements, failure = _flag_and_verify(job, master, course, options,
                                                               slot, work)
        if failure:
            problems.append(Problem(job.student_id, name, failure))
        # bench/run.py reads this line: the re-check's cost per notebook.
        log += f"== {RECHECK_LOG} ({time.perf_counter() - started:.2f} s) ==\n"
        flags += found_flags
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            submission = gradebook.find_submission_notebook(Path(job.notebook).stem, ASSIGNMENT,
                                                            job.internal_id)
            for grade in sorted(submission.grades, key=lambda g: g.name):
                if grade.cell_type != "code":
                    continue
                if grade.name in disagreements and grade.score:
                    # The mark is what the grader confirmed, not what the kernel claimed.
                    grade.manual_score = 0.0
                    gradebook.db.commit()
                grades.append(CellGrade(job.student_id, job.notebook, grade.name,
                                        float(grade.score), float(grade.max_score)))
        feedback = api.generate_feedback(ASSIGNMENT, job.internal_id, force=True)
        log += f"== feedback ==\n{feedback.get('log', '')}\n{feedback.get('error', '')}\n"
        html = course / "feedback" / job.internal_id / ASSIGNMENT / \
            job.notebook.replace(".ipynb", ".html")
        if html.is_file():
            leaked = feedback_leaks(html.read_text(errors="replace"), master)
            if leaked:
                problems.append(Problem(job.student_id, name, "feedback withheld: it would "
                                        f"have shown hidden-test lines ({len(leaked)})"))
            else:
                target = output / "feedback" / job.student_id
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(html, target / html.name)
    log_file = output / _log_name(job)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text(log)
    return grades, problems, flags


def _flag_and_verify(job: Job, master_path: Path, course: Path, options: Options, slot: int,
                     work: Path) -> tuple[list[Flag], set[str], str | None]:
    """Read the student's code for flags, and confirm each passed exercise outside the kernel.

    Returns the flags, the names of the test cells whose in-notebook pass the grader did not
    confirm (those score zero), and, when the re-check itself failed, the reason for
    ``problems.csv``. It fails closed: whatever goes wrong (the grader's kernel cannot start,
    the student's code stops the re-check, the result is unreadable, an error of the
    grader's own), no pass of this notebook is confirmed.
    """
    import nbformat
    from nbgrader.api import Gradebook

    from course_grading import flags as flagging
    from course_grading import verify

    name = Path(job.path).name
    submitted = nbformat.read(job.path, as_version=4)
    master = nbformat.read(master_path, as_version=4)
    found = flagging.scan(submitted, master, student_id=job.student_id, name=name)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(Path(job.notebook).stem, ASSIGNMENT,
                                                        job.internal_id)
        passed = [g.name[len("test_"):] for g in submission.grades
                  if g.cell_type == "code" and g.name.startswith("test_") and g.score]
    if not passed:
        return found, set(), None
    every = {f"test_{exercise}" for exercise in passed}
    reference = options.reference_model
    try:
        images = None
        if "predict_digit" in passed:
            from course_utils.data import load_mnist

            (_, _), (images, _) = load_mnist(verbose=False)
            images = images[:GRADING_IMAGES]
        verdicts = verify.verify(
            submitted, master, passed, _executor(options, work, slot),
            reference_model_path=Path(reference) if reference else None, images=images)
    except verify.RecheckError as error:
        who = "grader" if error.grader_fault else "student's code"
        found.append(Flag(job.student_id, name, "-", f"not confirmed ({who}): {error.reason}"))
        return found, every, (f"no mark confirmed: the re-check outside the notebook failed "
                              f"({'fault of the grading machine' if error.grader_fault else 'caused by the student' + chr(39) + 's code'}): "
                              f"{error.reason}")
    except Exception as error:  # noqa: BLE001 - an error of the grader's own: fail closed
        reason = f"{type(error).__name__}: {str(error)[:200]}"
        found.append(Flag(job.student_id, name, "-", f"not confirmed (grader): {reason}"))
        return found, every, (f"no mark confirmed: the re-check outside the notebook failed "
                              f"(fault of the grader: {reason}); fix it and grade again")
    wrong = set()
    for verdict in verdicts:
        if not verdict.ok:
            wrong.add(f"test_{verdict.exercise}")
            found.append(Flag(job.student_id, name, verdict.exercise,
                              f"passed its test in the notebook but not when the grader called "
                              f"{verdict.exercise} outside it on new inputs (scored 0): "
                              f"{verdict.message}"))
    # An exercise the re-check did not answer for is not confirmed either.
    wrong |= every - {f"test_{v.exercise}" for v in verdicts}
    return found, wrong, None


#: The log's name for the re-check outside the kernel (read by bench/run.py).
RECHECK_LOG = "flags and re-check outside the kernel"


def _sandbox_spec(options: Options, runtime: Path, slot: int) -> sandboxing.SandboxSpec:
    reference = Path(options.reference_model) if options.reference_model else None
    return sandboxing.SandboxSpec(runtime, options.memory_mb, options.max_processes, slot,
                                  reference)


def _executor(options: Options, work: Path, slot: int):
    """Run a notebook in a fresh kernel: the sandboxed one, in a runtime folder made for it
    (never one a kernel has seen), when grading is sandboxed."""

    def execute(notebook):
        from course_grading.verify import run_notebook

        if options.sandbox:
            runtime = sandboxing.prepare_runtime(work / f"recheck-{time.monotonic_ns()}", slot)
            spec = _sandbox_spec(options, runtime, slot)
            folder = sandboxing.write_kernelspec(spec, runtime.parent / f"{runtime.name}-spec")
            manager = sandboxing.SandboxKernelManager(
                kernel_name=sandboxing.KERNEL_NAME, transport="ipc", ip=str(runtime / "k"),
                connection_file=str(runtime / "kernel.json"),
                kernel_spec_manager=_spec_manager(folder))
            return run_notebook(notebook, manager, options.timeout)
        from jupyter_client.manager import AsyncKernelManager

        with tempfile.TemporaryDirectory(prefix="nn-python-recheck-") as cwd:
            return run_notebook(notebook, AsyncKernelManager(kernel_name="python3"),
                                options.timeout, cwd=cwd)

    return execute


def _spec_manager(folder: Path):
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager(kernel_dirs=[str(folder / "kernels")])


def feedback_leaks(html_text: str, master_path: Path) -> list[str]:
    """Hidden-test lines of the master that a feedback page would show (none, normally)."""
    import html as html_module

    import nbformat

    from course_grading.preprocessors import hidden_test_lines, quoted_lines

    master = nbformat.read(master_path, as_version=4)
    text = html_module.unescape(re.sub(r"<[^>]+>", "", html_text))
    return quoted_lines(text, hidden_test_lines(master.cells))


def _log_name(job: Job) -> str:
    return f"logs/{job.student_id}/{job.notebook.replace('.ipynb', '.log')}"


def _trouble(autograded: Path, log: str, options: Options) -> str | None:
    """A cell that timed out or ran out of memory, in one line (None when neither)."""
    import nbformat

    names = {output.get("ename") for cell in nbformat.read(autograded, as_version=4).cells
             if cell.cell_type == "code" for output in cell.get("outputs", [])
             if output.get("output_type") == "error"}
    if "Timeout waiting for execute reply" in log or "CellTimeoutError" in names:
        return f"a cell ran longer than {options.timeout} s and was stopped (scored as failed)"
    if "MemoryError" in names:
        cap = f" (the cap is {options.memory_mb} MB)" if options.sandbox else ""
        return f"a cell ran out of memory{cap} (scored as failed)"
    return None


def run_job(request: str) -> int:
    """Entry point of the child process: grade the job described in the JSON file ``request``.

    Writes ``<request>.result.json`` with the rows; the parent reads it.
    """
    spec = json.loads(Path(request).read_text())
    # A forked worker starts with the fork server's environment, folder and streams: take the
    # grading command's own, as a fresh process would.
    os.environ.clear()
    os.environ.update(spec["environ"])
    os.chdir(spec["cwd"])
    log_stream = open(spec["stderr"], "a", buffering=1)  # noqa: SIM115 - lives as long as the job
    os.dup2(log_stream.fileno(), 2)
    sys.stderr = log_stream
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
    grades, problems, flags = grade_job(
        Job(**spec["job"]), Path(spec["template"]), Path(spec["work"]), Path(spec["output"]),
        Options(**spec["options"]), spec["slot"])
    Path(request + ".result.json").write_text(json.dumps(
        {"grades": [asdict(g) for g in grades], "problems": [asdict(p) for p in problems],
         "flags": [asdict(f) for f in flags]}))
    return 0


#: Modules every grading job needs, imported once by the fork server instead of once per job.
WORKER_PRELOAD = ["course_grading.grade", "course_grading.verify",
                  "course_grading.flags", "nbgrader.apps", "nbgrader.api", "nbclient",
                  "jupyter_client.manager", "nbformat"]


#: How each job's process starts: ``forkserver`` (the default) or ``spawn``, a fresh
#: interpreter per job, kept for ``bench/run.py`` to measure what the fork server saves.
WORKER_START_ENV = "COURSE_GRADER_WORKERS"


def _workers():
    """The multiprocessing context that starts each job's process.

    A fork server imports nbgrader and the grader once (2.3 to 3.7 s per job when each job was
    a fresh interpreter); each job is then a fork of it: still a process of its own, so a job
    that crashes costs its notebook only, but without paying the imports again. The fork
    server holds no student data and no threads of the grading command, and each job takes the
    command's environment and folder from its request (:func:`run_job`).
    """
    import multiprocessing

    method = os.environ.get(WORKER_START_ENV) or "forkserver"
    if method not in ("forkserver", "spawn"):
        raise UsageError(f"{WORKER_START_ENV}={method}: use forkserver or spawn")
    if method not in multiprocessing.get_all_start_methods():  # no fork server on Windows
        method = "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(WORKER_PRELOAD)
    return context


def _job_in_child(job: Job, number: int, template: Path, work: Path, output: Path,
                  options: Options, slots: queue.Queue, flags: list[Flag] | None = None,
                  workers=None) -> tuple[list[CellGrade], list[Problem]]:
    """Run one job in a child process; whatever happens to it, return rows for its file.

    The job's flags, if any, are appended to ``flags``. ``workers`` is the multiprocessing
    context that starts the process (default :func:`_workers`).
    """
    job_dir = work / f"job-{number:05d}"
    job_dir.mkdir()
    request = job_dir / "request.json"
    stderr = output / "logs" / job.student_id / job.notebook.replace(".ipynb", ".stderr")
    stderr.parent.mkdir(parents=True, exist_ok=True)
    slot = slots.get()
    try:
        request.write_text(json.dumps({
            "job": asdict(job), "template": str(template), "work": str(job_dir / "w"),
            "output": str(output), "options": asdict(options), "slot": slot,
            "stderr": str(stderr), "environ": dict(os.environ), "cwd": os.getcwd()}))
        child = (workers or _workers()).Process(target=run_job, args=(str(request),), daemon=True)
        child.start()
        # A generous wall-clock limit for the whole notebook on top of nbgrader's per-cell one.
        limit = options.timeout * 10 + 300
        child.join(limit)
        if child.exitcode is None:
            child.kill()
            child.join()
            reason = f"still running after {limit} s"
        else:
            reason = f"exit status {child.exitcode}"
        result = Path(str(request) + ".result.json")
        if result.is_file():
            data = json.loads(result.read_text())
            if flags is not None:
                flags += [Flag(**row) for row in data.get("flags", [])]
            return ([CellGrade(**row) for row in data["grades"]],
                    [Problem(**row) for row in data["problems"]])
        return [], [Problem(job.student_id, Path(job.path).name,
                            f"grading this notebook failed ({reason}); see {_log_name(job)} "
                            f"and its .stderr")]
    finally:
        slots.put(slot)
        shutil.rmtree(job_dir, ignore_errors=True)


# --- the whole class -------------------------------------------------------------------------

def _provide_reference_model(jobs: list[Job], work: Path) -> str | None:
    """Train the grader's reference model once for the run, for the notebooks that need it.

    Saved under ``work`` (readable by every grading kernel, and named to them by
    ``COURSE_REFERENCE_MODEL``), so the evaluating and predicting notebooks are graded on the
    same model whatever the student's training notebook did, and none retrains it. A model
    named by ``COURSE_REFERENCE_MODEL`` in the grader's own environment is used instead.
    """
    if os.environ.get(REFERENCE_MODEL_ENV):
        return os.environ[REFERENCE_MODEL_ENV]
    if not any(job.notebook.startswith(("08_", "09_", "10_")) for job in jobs):
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


def stop_workers() -> None:
    """End the fork server and multiprocessing's resource tracker, if this run started them.

    Both would otherwise outlive the command (they are daemons of multiprocessing, made to
    serve a long-lived program); a grading run leaves no process behind.
    """
    from multiprocessing import forkserver, resource_tracker

    for server in (forkserver._forkserver, resource_tracker._resource_tracker):
        stop = getattr(server, "_stop", None)  # stable since Python 3.8/3.9; private
        if stop is not None:
            try:
                stop()
            except Exception:  # noqa: BLE001 - already gone
                pass


def grade_class(submissions: Path, output: Path, *, jobs: int = 1,
                timeout: int = DEFAULT_TIMEOUT, solutions: Path = ROOT / "solutions",
                progress: bool = True, use_sandbox: bool | None = None,
                memory_mb: int = sandboxing.DEFAULT_MEMORY_MB,
                max_processes: int = sandboxing.DEFAULT_MAX_PROCESSES,
                ) -> tuple[list[CellGrade], list[Problem]]:
    """Grade every submitted notebook in ``submissions``; write CSVs and feedback to ``output``.

    ``use_sandbox``: True or None (the default) require the sandbox (UsageError, before any
    student is graded, when it cannot run here); False runs kernels unisolated, on purpose.
    """
    from tqdm import tqdm

    from course_grading.build import nbgrader_environment

    known = course_notebooks(solutions)
    if not known:
        raise UsageError(f"--solutions {solutions}: no master notebooks (NN_name.ipynb) there; "
                         f"give the folder of the course's masters.")
    found = collect(submissions, known)
    if found.ignored:
        print(f"Ignored {len(found.ignored)} hidden or checkpoint file(s) and folder(s) "
              f"(names starting with '.', such as .ipynb_checkpoints).")
    if not found.jobs:
        raise UsageError(
            f"no gradable notebooks in {submissions}: expected <student_id>/<notebook>.ipynb "
            f"with the names of the course's notebooks ({', '.join(known[:2])}, ...).")
    isolated = use_sandbox is not False
    if isolated:
        available, why = sandboxing.availability()
        if not available:
            raise UsageError(f"no sandbox: {why}. Grading runs student code, so it needs one; "
                             f"--no-sandbox grades without it, on a machine you can lose")
    else:
        print("WARNING: grading WITHOUT a sandbox (--no-sandbox): student code runs with your "
              "rights and can read and write your files and use the network.", file=sys.stderr)
    output.mkdir(parents=True, exist_ok=True)
    for stale in ("feedback", "logs"):
        shutil.rmtree(output / stale, ignore_errors=True)
    grades: list[CellGrade] = []
    problems = list(found.problems)
    slots: queue.Queue = queue.Queue()
    for slot in range(max(1, jobs)):
        slots.put(slot)
    flags: list[Flag] = []
    workers = _workers()
    try:
        with tempfile.TemporaryDirectory(prefix="nn-python-grade-") as work, \
                nbgrader_environment():
            work_dir = Path(work)
            if os.geteuid() == 0:
                work_dir.chmod(0o711)  # the kernels' users reach their own folders below
            options = Options(timeout, isolated, memory_mb, max_processes)
            if isolated:
                _preflight(options, work_dir)
            template = work_dir / "template"
            make_template(solutions, template)
            options = Options(timeout, isolated, memory_mb, max_processes,
                              _provide_reference_model(found.jobs, work_dir))
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, \
                    tqdm(total=len(found.jobs), unit="notebook", desc="grading",
                         disable=not progress, file=sys.stderr) as bar:
                futures = [pool.submit(_job_in_child, job, number, template, work_dir,
                                       output, options, slots, flags, workers)
                           for number, job in enumerate(found.jobs)]
                for future in as_completed(futures):
                    job_grades, job_problems = future.result()
                    grades += job_grades
                    problems += job_problems
                    bar.update(1)
    finally:
        stop_workers()
    grades.sort(key=lambda g: (g.student_id, g.notebook, g.grade_id))
    problems.sort(key=lambda p: (p.student_id, p.notebook))
    _write_csv(output / "grades.csv", CellGrade, grades)
    _write_csv(output / "problems.csv", Problem, problems)
    flags.sort(key=lambda f: (f.student_id, f.notebook, f.cell))
    _write_csv(output / "flags.csv", Flag, flags)
    return grades, problems


def _write_csv(path: Path, kind: type, rows: list) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields(kind)])
        writer.writerows(astuple(row) for row in rows)


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
        grades, problems = grade_class(
            args.submissions, args.output, jobs=args.jobs, timeout=args.timeout,
            solutions=args.solutions, progress=not args.quiet, use_sandbox=args.sandbox,
            memory_mb=args.memory_mb, max_processes=args.max_processes)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    graded = {(g.student_id, g.notebook) for g in grades}
    students = {g.student_id for g in grades}
    print(f"Graded {len(graded)} notebooks of {len(students)} students into "
          f"{args.output / 'grades.csv'}.")
    if problems:
        print(f"{len(problems)} file(s) listed in {args.output / 'problems.csv'}.")
    return exit_status(grades, problems)


if __name__ == "__main__":
    sys.exit(main())
