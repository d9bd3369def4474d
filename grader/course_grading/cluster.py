"""Grading on a Dask cluster: one Dask task per (student, notebook) job, graded as locally.

Why it exists: one machine grades a class of 300 in hours; a cluster of workers grades it in
minutes. The engine is ``dask.distributed`` (its scheduler places the tasks, notices lost
workers and runs their tasks again); this module only says what one task does and turns what
comes back into the same rows and files as a local run. Dask is imported here only, and only
when ``--scheduler`` is given: the local pool needs no Dask installed.

What travels, and why through Dask rather than a shared filesystem:

- to every worker once per run, as data scattered with ``broadcast=True``: the course
  directory made from the masters (masters and their gradebook, a few hundred kB as a tar) and
  the reference model of notebooks 09 to 11 when the class has them (a few MB);
- with each task: the student's notebook as bytes (tens of kB) and the job's names;
- back from each task: the rows (``CellGrade``, ``Problem``, ``Flag``) as plain dicts and the
  job's output files (the feedback page, nbgrader's log, the job's standard error) as bytes,
  which the grading command writes under ``--output`` exactly where a local run writes them.

So a cluster needs no volume shared with the instructor, the masters never sit on a volume a
student's pod could mount, and each worker's files live in its own temporary folder, removed at
the end of the run. The data per job is small beside the seconds it takes to grade.

On the worker a task grades its job as the local pool does: in a child process of its own
forked from a preloaded fork server (:func:`course_grading.pool._job_in_child`), in the same
bubblewrap sandbox, so a notebook that crashes costs that notebook only. Every worker's
sandbox is started once before anything is graded (:func:`check_worker`), on the workers there
at the start through ``Client.run`` and on any worker that joins later by its first task.

A worker lost mid-job (its machine or pod gone) is Dask's business: the scheduler runs the
tasks that were on it again elsewhere, up to its ``distributed.scheduler.allowed-failures``
setting (1 in ``deploy/kubernetes/``: once), and then fails the task with ``KilledWorker``,
which becomes a row of ``problems.csv`` with the reason. Dask's ``retries`` is not used: it
re-runs tasks that *raised*, and a task here raises only for a fault of the grader or the
worker, which a second run would repeat.
"""

from __future__ import annotations

import fcntl
import io
import multiprocessing
import os
import queue
import shutil
import sys
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from itertools import islice
from pathlib import Path

from course_grading.discovery import Job, UsageError
from course_grading.flags import Flag
from course_grading.job import Options
from course_grading.records import CellGrade, Problem

#: Where the jobs of every worker on one machine take their sandbox slot (the kernel's user
#: id is a slot's): one lock file per slot, so two workers on one machine never run two
#: kernels as the same user at once. Machine-wide on purpose (not the worker's TMPDIR).
SLOT_LOCKS = Path("/tmp/nn-python-grader-slots")
#: Slots a machine offers, more than the jobs its workers run at once.
MAX_SLOTS = 64
#: The longest temporary folder a worker may grade in: a kernel's sockets are files below it
#: (``<tmp>/nn-python-grade-XXXXXXXX/job-00000/w/runtime/kernel-4-1``), and a socket's path
#: must fit in 107 bytes.
MAX_TMPDIR = 45
#: Jobs handed to the scheduler at once, at least (four per worker thread if more).
IN_FLIGHT = 256
#: Seconds to wait for the scheduler to answer, and for a first worker.
CONNECT_SECONDS = 30


class WorkerUnfit(Exception):
    """A worker cannot grade (no working sandbox, or it cannot start child processes)."""


# --- on the worker ---------------------------------------------------------------------------

_RUNS: dict[str, dict] = {}
_RUNS_LOCK = threading.Lock()
_CHECKED: dict[str, str | None] = {}


def check_worker(options: dict) -> str | None:
    """Whether this worker can grade as ``options`` say: None when it can, else why not.

    Runs once per worker process and setting (later calls answer from memory): a worker that
    is a daemonic process cannot start the job's own process, and a sandboxed run starts one
    sandbox as grading will (the local command's preflight).
    """
    key = repr(sorted(options.items()))
    if key in _CHECKED:
        return _CHECKED[key]
    problem = None
    if len(tempfile.gettempdir()) > MAX_TMPDIR:
        problem = (f"its temporary folder {tempfile.gettempdir()} is longer than {MAX_TMPDIR} "
                   f"characters, too long for the kernels' socket files: give the worker a "
                   f"shorter TMPDIR")
    elif multiprocessing.current_process().daemon:
        problem = ("this Dask worker is a daemonic process, which cannot start each job's own "
                   "process: start workers with DASK_DISTRIBUTED__WORKER__DAEMON=False (or "
                   "dask worker --no-nanny)")
    elif options["sandbox"]:
        from course_grading import sandbox as sandboxing
        from course_grading.grade import _preflight

        available, why = sandboxing.availability()
        if not available:
            problem = f"no sandbox: {why}"
        else:
            with tempfile.TemporaryDirectory(prefix="nn-python-preflight-") as work:
                if os.geteuid() == 0:
                    Path(work).chmod(0o711)
                try:
                    _preflight(Options(**options), Path(work))
                except UsageError as error:
                    problem = str(error)
    _CHECKED[key] = problem
    return problem


def _run_folder(run_id: str, template: bytes, model: bytes | None, model_name: str) -> dict:
    """This worker's folder for a run: the course directory unpacked, the model saved (once)."""
    with _RUNS_LOCK:
        if run_id not in _RUNS:
            work = Path(tempfile.mkdtemp(prefix="nn-python-grade-"))
            if os.geteuid() == 0:
                work.chmod(0o711)  # the kernels' users reach their own folders below
            with tarfile.open(fileobj=io.BytesIO(template), mode="r:gz") as archive:
                archive.extractall(work / "template", filter="data")
            path = None
            if model is not None:
                path = work / model_name
                path.write_bytes(model)
                path.chmod(0o644)
            _RUNS[run_id] = {"work": work, "template": work / "template", "model": path}
        return _RUNS[run_id]


@contextmanager
def _slot() -> Iterator[int]:
    """A sandbox slot no other job on this machine holds: the first free lock file's number."""
    SLOT_LOCKS.mkdir(exist_ok=True)
    with _RUNS_LOCK:
        if SLOT_LOCKS.stat().st_uid == os.geteuid():
            SLOT_LOCKS.chmod(0o1777)
    while True:
        for number in range(MAX_SLOTS):
            handle = open(SLOT_LOCKS / f"slot-{number}.lock", "a")  # noqa: SIM115
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            try:
                yield number
                return
            finally:
                handle.close()  # closing the file releases the lock
        threading.Event().wait(0.5)  # every slot busy: more jobs than MAX_SLOTS at once


def grade_remote(run_id: str, number: int, job: dict, notebook: bytes, template: bytes,
                 model: bytes | None, model_name: str, options: dict) -> dict:
    """The Dask task: grade one job on this worker, return its rows and output files.

    Raises :class:`WorkerUnfit` when this worker cannot grade (the command stops the run);
    whatever happens to the job itself comes back as rows, as in a local run.
    """
    from course_grading.pool import _job_in_child, _workers

    problem = check_worker(options)
    if problem:
        from distributed import get_worker

        raise WorkerUnfit(f"worker {get_worker().address}: {problem}")
    run = _run_folder(run_id, template, model, model_name)
    work = run["work"]
    inbox = work / f"in-{number:05d}"
    output = work / f"out-{number:05d}"
    inbox.mkdir()
    output.mkdir()
    try:
        # The file keeps the name it was handed in under: problems.csv names it.
        submitted = inbox / Path(job["path"]).name
        submitted.write_bytes(notebook)
        submitted.chmod(0o644)
        local = Job(**{**job, "path": str(submitted)})
        here = Options(**{**options, "reference_model":
                          str(run["model"]) if run["model"] else None})
        environ = dict(os.environ)
        # What build.nbgrader_environment does for the local command: nbgrader runs alembic.
        environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + environ.get("PATH", "")
        flags: list[Flag] = []
        with _slot() as slot:
            slots: queue.Queue = queue.Queue()
            slots.put(slot)
            grades, problems = _job_in_child(local, number, run["template"], work, output,
                                             here, slots, flags, _workers(), environ)
        files = {str(path.relative_to(output)): path.read_bytes()
                 for path in sorted(output.rglob("*")) if path.is_file()}
        return {"grades": [asdict(g) for g in grades], "problems": [asdict(p) for p in problems],
                "flags": [asdict(f) for f in flags], "files": files}
    finally:
        shutil.rmtree(inbox, ignore_errors=True)
        shutil.rmtree(output, ignore_errors=True)


def forget_run(run_id: str) -> None:
    """Remove this worker's folder for a run (called on every worker at the end)."""
    with _RUNS_LOCK:
        run = _RUNS.pop(run_id, None)
    if run:
        shutil.rmtree(run["work"], ignore_errors=True)


def noop_job(run_id: str, number: int, job: dict, notebook: bytes, template: bytes,
             model: bytes | None, model_name: str, options: dict) -> dict:
    """A stand-in for :func:`grade_remote` that grades nothing and returns no rows.

    ``bench/run.py`` sends thousands of these through :func:`grade_on_cluster`, the same
    code path as real jobs, to measure what the scheduler costs per job.
    """
    return {"grades": [], "problems": [], "flags": [], "files": {}}


# --- in the grading command ------------------------------------------------------------------

def _client(address: str):
    try:
        from distributed import Client
    except ImportError as error:
        raise UsageError(f"--scheduler needs Dask on this machine ({error}): "
                         f"pip install 'dask[distributed]' (requirements-grading.txt)") from None
    try:
        client = Client(address, timeout=f"{CONNECT_SECONDS}s")
    except (OSError, TimeoutError) as error:
        raise UsageError(f"--scheduler {address}: no Dask scheduler answers there ({error})"
                         ) from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except TimeoutError:
        client.close()
        raise UsageError(f"--scheduler {address}: the cluster has no workers (none joined in "
                         f"{CONNECT_SECONDS} s)") from None
    return client


def _pack(folder: Path) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as archive:
        archive.add(folder, arcname=".")
    return data.getvalue()


def lost_reason(error: BaseException) -> str:
    """The ``problems.csv`` reason for a task the cluster could not finish."""
    from distributed.scheduler import KilledWorker

    if isinstance(error, KilledWorker):
        runs = error.allowed_failures + 1
        return (f"not graded: the cluster lost the worker grading it {runs} time(s) (Dask's "
                f"KilledWorker; last on {error.last_worker.address}); grade it again")
    return f"not graded: the cluster failed this job ({type(error).__name__}: {str(error)[:200]})"


def grade_on_cluster(address: str, jobs: list[Job], template: Path,
                     reference_model: str | None, options: Options, output: Path,
                     finished: Callable[[], None] = lambda: None,
                     task: Callable[..., dict] = grade_remote,
                     ) -> tuple[list[CellGrade], list[Problem], list[Flag]]:
    """Grade ``jobs`` on the Dask cluster whose scheduler is at ``address``.

    ``template`` is the course directory made from the masters; its files and the reference
    model reach the workers through Dask, each notebook with its task. Writes every job's
    feedback and logs under ``output``; calls ``finished`` once per job done. Raises
    :class:`UsageError` when there is no cluster there or a worker cannot grade. ``task`` is
    what each job runs on its worker (:func:`noop_job` for the benchmark of the scheduler).
    """
    from distributed import as_completed

    settings = asdict(replace(options, reference_model=None))
    run_id = uuid.uuid4().hex
    grades: list[CellGrade] = []
    problems: list[Problem] = []
    flags: list[Flag] = []
    futures: dict = {}
    with _client(address) as client:
        try:
            unfit = {worker: why for worker, why
                     in client.run(check_worker, settings).items() if why}
            if unfit:
                raise UsageError("; ".join(f"worker {worker}: {why}"
                                           for worker, why in sorted(unfit.items())))
            blob = client.scatter(_pack(template), broadcast=True, hash=False)
            model = (client.scatter(Path(reference_model).read_bytes(), broadcast=True,
                                    hash=False) if reference_model else None)
            name = Path(reference_model).name if reference_model else ""

            def submit(number: int, job: Job):
                return client.submit(task, run_id, number, asdict(job),
                                     Path(job.path).read_bytes(), blob, model, name, settings,
                                     key=f"grade-{run_id[:8]}-{number:06d}", pure=False)

            # A bounded number of jobs in flight, topped up as they finish: the notebooks of
            # a large class are not all held by the scheduler at once.
            waiting = iter(enumerate(jobs))
            window = max(IN_FLIGHT, 4 * sum(client.nthreads().values()))
            futures = {submit(number, job): job for number, job in islice(waiting, window)}
            running = as_completed(list(futures))
            for future in running:
                job = futures.pop(future)
                for number, following in islice(waiting, 1):
                    successor = submit(number, following)
                    futures[successor] = following
                    running.add(successor)
                if future.status == "finished":
                    result = future.result()
                    grades += [CellGrade(**row) for row in result["grades"]]
                    problems += [Problem(**row) for row in result["problems"]]
                    flags += [Flag(**row) for row in result["flags"]]
                    for relative, data in result["files"].items():
                        target = output / relative
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(data)
                else:
                    error = future.exception()
                    if isinstance(error, WorkerUnfit):
                        raise UsageError(str(error))
                    problems.append(Problem(job.student_id, Path(job.path).name,
                                            lost_reason(error)))
                finished()
        except BaseException:  # Ctrl-C, SIGTERM, an unfit worker: nothing more is started
            if futures:
                client.cancel(list(futures))
            raise
        finally:
            try:
                client.run(forget_run, run_id)
            except Exception:  # noqa: BLE001 - a worker gone already took its folder with it
                pass
    return grades, problems, flags
