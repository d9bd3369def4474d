"""One job: one student's notebook autograded by nbgrader, re-checked outside the kernel.

Why it exists: every (student, notebook) pair is graded on its own, in a fresh copy of the
course directory, so that whatever one notebook does costs that notebook only. This module is
what runs in the job's own process (see :mod:`course_grading.pool`): nbgrader's autograde in
the sandbox, the flags, the re-check that confirms each passed exercise outside the student's
kernel (failing closed), and the feedback without hidden tests.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from course_grading import sandbox as sandboxing
from course_grading.discovery import Job
from course_grading.flags import Flag
from course_grading.records import CellGrade, Problem
from course_grading.settings import ASSIGNMENT, DEFAULT_TIMEOUT, configure, use_sandbox_kernel
from course_utils.models import REFERENCE_MODEL_ENV

#: Test images whose predictions re-check ``predict_digit`` (the grading slice's size).
GRADING_IMAGES = 1000


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
    """The grader's trained reference model for this run (notebooks 09 to 11), if any."""


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
        _write_messages(autograded, output / _log_name(job).replace(".log", MESSAGES_SUFFIX))
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
        cause = ("fault of the grading machine: fix it and grade again" if error.grader_fault
                 else "caused by the student's code")
        return (found + _unconfirmed(job, name, passed, f"{cause}: {error.reason}"), every,
                f"no mark confirmed: the re-check outside the notebook failed ({cause}): "
                f"{error.reason}")
    except Exception as error:  # noqa: BLE001 - an error of the grader's own: fail closed
        reason = (f"fault of the grader ({type(error).__name__}: {str(error)[:200]}): fix it "
                  f"and grade again")
        return (found + _unconfirmed(job, name, passed, reason), every,
                f"no mark confirmed: the re-check outside the notebook failed ({reason})")
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


def _unconfirmed(job: Job, name: str, passed: list[str], reason: str) -> list[Flag]:
    """One flag per exercise whose in-notebook pass the failed re-check leaves unconfirmed."""
    return [Flag(job.student_id, name, exercise, f"passed its test in the notebook but was not "
                 f"confirmed outside it (scored 0): the re-check failed, {reason}")
            for exercise in passed]


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


#: Beside each log: the failure message of each failed test cell, for the class report.
MESSAGES_SUFFIX = ".messages.json"


def _write_messages(autograded: Path, target: Path) -> None:
    """Each failed test cell's message (``AssertionError: Incorrect: ...``, first line), by
    grade id, as the autograded notebook shows it: the contract's own words."""
    import json

    import nbformat

    messages = {}
    for cell in nbformat.read(autograded, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first = (str(output.get("evalue", "")).strip().splitlines() or [""])[0]
                messages[meta["grade_id"]] = f"{output.get('ename', 'Error')}: {first}"[:300]
                break
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(messages))


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
