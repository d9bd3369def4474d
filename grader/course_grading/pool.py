"""The job pool: every job in a child process of its own, a few at a time.

Why it exists: a notebook can crash its kernel, exhaust memory or hang; running each job in a
child process (forked from a worker that imported nbgrader once) turns any of that into a
problem row for that file alone. Whatever happens, :func:`run_in_child` returns rows for its
file, and :func:`stop_workers` leaves no process of multiprocessing's behind.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import threading
from dataclasses import asdict
from pathlib import Path

from course_grading.discovery import Job, UsageError
from course_grading.flags import Flag
from course_grading.job import Options, _log_name, grade_job
from course_grading.records import CellGrade, Problem


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
WORKER_PRELOAD = ["course_grading.job", "course_grading.pool", "course_grading.verify",
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


#: The job processes running now, so that an interrupted run can end them (see kill_jobs).
_LIVE: set = set()
_LOCK = threading.Lock()


def kill_jobs() -> None:
    """End every job process still running (Ctrl-C, SIGTERM): their sandboxes go with them
    (bubblewrap's ``--die-with-parent``), and the threads waiting on them return at once."""
    with _LOCK:
        for child in list(_LIVE):
            child.kill()


def _job_in_child(job: Job, number: int, template: Path, work: Path, output: Path,
                  options: Options, slots: queue.Queue, flags: list[Flag] | None = None,
                  workers=None, environ: dict[str, str] | None = None,
                  ) -> tuple[list[CellGrade], list[Problem]]:
    """Run one job in a child process; whatever happens to it, return rows for its file.

    The job's flags, if any, are appended to ``flags``. ``workers`` is the multiprocessing
    context that starts the process (default :func:`_workers`); ``environ`` the job's
    environment (default: this process's, as it is now).
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
            "stderr": str(stderr), "environ": dict(os.environ if environ is None else environ),
            "cwd": os.getcwd()}))
        child = (workers or _workers()).Process(target=run_job, args=(str(request),), daemon=True)
        with _LOCK:
            child.start()
            _LIVE.add(child)
        # A generous wall-clock limit for the whole notebook on top of nbgrader's per-cell one.
        limit = options.timeout * 10 + 300
        child.join(limit)
        with _LOCK:
            _LIVE.discard(child)
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
