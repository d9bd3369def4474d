"""Grading on a real Dask cluster gives the local run's verdicts, and survives a lost worker.

A real ``dask scheduler`` and two ``dask worker`` processes (each in a temporary folder of its
own, one thread each, on 127.0.0.1), started and stopped here, grade a small class of the cheap
NumPy notebooks through ``python -m course_grading --scheduler``; the same class is graded by
the local pool, and every output is compared. Then one worker is killed while it grades a
notebook, and every job still finishes on the other; a worker without a working sandbox stops
the run before anything is graded.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

import answers
from course_grading import grade, sandbox
from test_grader_isolation import DATA_NB, NEURONS, RIGHT_NEURON, _notebook, _save


def _read(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _stop(process: subprocess.Popen) -> None:
    """End a process and everything it started (its own session), then reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def _start(command: list[str], cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    """Start a process in a session of its own (so it and its children can be killed)."""
    with log.open("w") as handle:  # the child keeps its own copy of the file
        return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=handle,
                                start_new_session=True)


@contextmanager
def dask_cluster(folder: Path, workers: int = 2, worker_env: dict | None = None,
                 allowed_failures: int = 1):
    """A scheduler and ``workers`` workers on 127.0.0.1, each a process session of its own.

    The scheduler runs a lost worker's jobs again ``allowed_failures`` times (once, as in
    deploy/kubernetes/); the workers are not daemonic, so they can start each job's process.
    Yields the scheduler's address and the workers' processes and folders.
    """
    dask = str(Path(sys.executable).parent / "dask")
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures),
           "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    processes: list[subprocess.Popen] = []
    folders: list[Path] = []
    try:
        (folder / "scheduler").mkdir(parents=True)
        address_file = folder / "scheduler" / "scheduler.json"
        processes.append(_start(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(address_file)], folder / "scheduler", env,
            folder / "scheduler" / "log"))
        deadline = time.monotonic() + 120
        while not address_file.is_file() and time.monotonic() < deadline:
            assert processes[0].poll() is None, (folder / "scheduler" / "log").read_text()
            time.sleep(0.2)
        address = json.loads(address_file.read_text())["address"]
        for number in range(workers):
            # Short, as a worker's temporary folder must be (cluster.MAX_TMPDIR): its kernels'
            # socket files are below it.
            home = Path(tempfile.mkdtemp(prefix=f"nnpg-w{number}-", dir="/tmp"))
            folders.append(home)
            processes.append(_start(
                [dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                 "--no-dashboard", "--local-directory", str(home), "--name", f"w{number}"],
                home, {**env, "TMPDIR": str(home), **(worker_env or {})},
                folder / f"worker-{number}.log"))
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=180)
        yield {"address": address, "workers": processes[1:], "folders": folders}
    finally:
        for process in reversed(processes):
            _stop(process)
        for home in folders:
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One small class graded by the local pool and on a two-worker cluster."""
    available, why = sandbox.availability()
    if not available:  # never a skip: CI installs bubblewrap (.ci/run)
        pytest.fail(f"the grading sandbox cannot run here ({why})")
    submissions = tmp_path_factory.mktemp("class")
    _save(submissions / "ada", NEURONS, _notebook(NEURONS, RIGHT_NEURON))
    _save(submissions / "ada", DATA_NB, _notebook(DATA_NB, answers.ONE_HOT_RIGHT["indexing"]))
    _save(submissions / "ben", NEURONS, _notebook(NEURONS, "def neuron(i, w, b):\n    return 0"))
    _save(submissions / "ben", DATA_NB, _notebook(DATA_NB, answers.KERNEL_EXIT))
    _save(submissions / "cy", "01_NEURONS (1).ipynb", _notebook(NEURONS, RIGHT_NEURON))
    local = tmp_path_factory.mktemp("local")
    local_code = grade.main([str(submissions), "--output", str(local), "--jobs", "2",
                             "--timeout", "60", "--quiet"])
    remote = tmp_path_factory.mktemp("remote")
    with dask_cluster(tmp_path_factory.mktemp("cluster")) as cluster:
        remote_code = grade.main([str(submissions), "--output", str(remote), "--timeout", "60",
                                  "--quiet", "--scheduler", cluster["address"]])
        # The workers took their run folders away at the end of the run.
        leftovers = [path for home in cluster["folders"]
                     for path in home.glob("nn-python-grade-*")]
    return {"submissions": submissions, "local": local, "remote": remote,
            "local_code": local_code, "remote_code": remote_code, "leftovers": leftovers}


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_the_cluster_gives_the_local_runs_grades_row_for_row(graded):
    local = _read(graded["local"] / "grades.csv")
    assert _read(graded["remote"] / "grades.csv") == local
    scores = {(r["student_id"], r["notebook"], r["grade_id"]): float(r["score"]) for r in local}
    # The class is not all zeros or all marks, so equal files mean something.
    assert scores[("ada", NEURONS, "test_neuron")] == 1.0
    assert scores[("cy", NEURONS, "test_neuron")] == 1.0
    assert scores[("ben", NEURONS, "test_neuron")] == 0.0


def test_the_same_problems_flags_feedback_and_logs(graded):
    for name in ("problems.csv", "flags.csv"):
        assert _read(graded["remote"] / name) == _read(graded["local"] / name), name
    problems = {(p["student_id"], p["notebook"]) for p in _read(graded["remote"] / "problems.csv")}
    assert problems == {("ben", DATA_NB)}  # the crash cost that notebook only
    assert _files(graded["remote"]) == _files(graded["local"])
    assert "feedback/ada/01_neurons.html" in _files(graded["remote"])
    feedback = (graded["remote"] / "feedback" / "ada" / "01_neurons.html").read_text()
    assert "neuron" in feedback


def test_exit_status_and_no_run_folders_left_on_the_workers(graded):
    assert graded["local_code"] == graded["remote_code"] == 1  # ben's crash is listed
    assert graded["leftovers"] == []


def _grade_killing_worker_0(submissions: Path, output: Path, cluster: dict) -> tuple[int, str]:
    """Grade on ``cluster``, killing worker 0 (all its processes) as its first job starts.

    Returns the exit status and the killed job's folder name, after checking that the worker
    died mid-job (the job's folder is still there: it never finished on that worker).
    """
    victim, home = cluster["workers"][0], cluster["folders"][0]
    killed = {}
    stop = threading.Event()

    def kill_at_first_job() -> None:
        while not stop.is_set():
            started = list(home.glob("nn-python-grade-*/job-*"))
            if started:
                os.killpg(victim.pid, signal.SIGKILL)
                killed["job"] = started[0].name
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_at_first_job)
    watcher.start()
    try:
        code = grade.main([str(submissions), "--output", str(output), "--timeout", "60",
                           "--quiet", "--scheduler", cluster["address"]])
    finally:
        stop.set()
        watcher.join()
    assert victim.wait(timeout=30) is not None
    assert killed, "worker 0 never started a job: nothing was killed"
    assert list(home.glob(f"nn-python-grade-*/{killed['job']}"))
    return code, killed["job"]


def test_a_worker_killed_mid_job_costs_nothing(graded, tmp_path):
    """Worker 0 is killed while it grades a notebook; Dask runs that job again on worker 1."""
    output = tmp_path / "graded"
    with dask_cluster(tmp_path / "cluster") as cluster:
        code, _ = _grade_killing_worker_0(graded["submissions"], output, cluster)
    assert code == graded["local_code"]
    assert _read(output / "grades.csv") == _read(graded["local"] / "grades.csv")
    assert _read(output / "problems.csv") == _read(graded["local"] / "problems.csv")


def test_a_job_lost_more_often_than_allowed_is_listed_with_the_reason(tmp_path):
    """With no second run allowed (``allowed-failures`` 0), the killed worker's job is listed
    in problems.csv as lost, and the other notebook is graded on the other worker."""
    submissions = tmp_path / "class"
    _save(submissions / "ada", NEURONS, _notebook(NEURONS, RIGHT_NEURON))
    _save(submissions / "ben", NEURONS, _notebook(NEURONS, RIGHT_NEURON))
    output = tmp_path / "graded"
    with dask_cluster(tmp_path / "cluster", allowed_failures=0) as cluster:
        code, _ = _grade_killing_worker_0(submissions, output, cluster)
    problems = _read(output / "problems.csv")
    grades = _read(output / "grades.csv")
    # The killed worker's job (and any other job it held) is listed, every other one graded.
    assert problems, "the job on the killed worker was not listed"
    for problem in problems:
        assert problem["notebook"] == NEURONS
        assert "not graded: the cluster lost the worker grading it 1 time(s)" in problem["problem"]
    assert all(row["score"] == "1.0" for row in grades)
    assert sorted([p["student_id"] for p in problems] + [g["student_id"] for g in grades]) == \
        ["ada", "ben"]
    assert code == (1 if grades else 2)


def test_a_worker_without_a_sandbox_stops_the_run_with_exit_2(graded, tmp_path, capsys):
    # This worker finds no bubblewrap on its PATH (only the Python environment's own bin/).
    bare = {"PATH": str(Path(sys.executable).parent)}
    output = tmp_path / "graded"
    with dask_cluster(tmp_path / "cluster", workers=1, worker_env=bare) as cluster:
        code = grade.main([str(graded["submissions"]), "--output", str(output), "--quiet",
                           "--scheduler", cluster["address"]])
    assert code == 2
    error = capsys.readouterr().err
    assert "bubblewrap" in error and "worker tcp://127.0.0.1:" in error
    assert not (output / "grades.csv").exists()


def test_no_scheduler_there_is_a_usage_error(tmp_path, monkeypatch, capsys):
    from course_grading import cluster

    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 2)
    _save(tmp_path / "class" / "ada", NEURONS, _notebook(NEURONS, RIGHT_NEURON))
    code = grade.main([str(tmp_path / "class"), "--output", str(tmp_path / "out"), "--quiet",
                       "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2
    assert "no Dask scheduler answers there" in capsys.readouterr().err
