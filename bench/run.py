"""Measure what learners and instructors wait for, and what Binder's 2 GB must hold.

Usage::

    python bench/run.py [--json PATH] [--only PHASE[,PHASE...]] [--seeds N] [--students N]
                        [--repeats N] [--notebooks GLOB] [--noop-jobs N] [--sandbox-cost]
                        [--fork-server-cost] [--quick]

Phases (all by default):

- ``notebooks``: every notebook in solutions/, top to bottom with the data the loader finds
  (set MNIST_PATH to the full mnist.npz): wall time and peak resident memory of its kernel
  process (sampled every 50 ms), and the sum over the course;
- ``recipes``: the seed recipe against the course's faster recipe, each over ``--seeds``
  seeds in a fresh process: seconds of ``fit``, peak memory, test accuracy; the speed-up;
- ``startup``: seconds from starting a kernel to ``import tensorflow`` done, and the cost of
  ``import course_utils`` (which must not import TensorFlow), medians of ``--repeats``;
- ``grading``: seconds per graded notebook with ``python -m course_grading`` on a generated
  class of ``--students`` full-course submissions, side by side: the local pool at ``--jobs 1``
  and ``--jobs 2``, and ``--scheduler`` on a Dask cluster on this machine with one worker and
  with two (the difference between one worker and ``--jobs 1`` is what Dask adds per job); then
  ``--noop-jobs`` stand-in jobs that grade nothing through the same path to the cluster (the
  scheduler's cost per job). Behind options: ``--sandbox-cost`` (also ``--jobs 1
  --no-sandbox``: the sandbox's cost per notebook is the difference) and
  ``--fork-server-cost`` (also ``--jobs 1`` with each job in a fresh interpreter instead of a
  fork of the grader's preloaded worker, which is what the fork server saves);
- ``binder``: peak memory of a Jupyter server plus the training and evaluating notebooks'
  kernels running at the same time, against Binder's 2 GB.

It prints a table and writes the same figures as JSON. Times are medians where a phase
repeats; ratios come from runs made side by side in this one invocation. ``--quick`` runs a
tiny setting (for the test suite's smoke test): it proves the benchmark works, not the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("notebooks", "recipes", "startup", "grading", "binder")
BINDER_LIMIT_MB = 2048


class PeakMemory:
    """Sample the resident memory of some processes (and their children) in a thread."""

    def __init__(self, pids: list[int] | None = None, interval: float = 0.05) -> None:
        self.pids = list(pids or [])
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_mb(self) -> float:
        total = 0
        for pid in list(self.pids):
            try:
                process = psutil.Process(pid)
                for member in [process, *process.children(recursive=True)]:
                    total += member.memory_info().rss
            except psutil.Error:
                continue
        return total / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._tree_mb())
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _kernel_pid(client) -> int:
    return client.km.provisioner.process.pid


def run_notebook(path: Path, workdir: Path, timeout: int = 1800,
                 sampler: PeakMemory | None = None) -> dict:
    """Execute one notebook in ``workdir``; return its wall time and kernel's peak memory."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    peak = PeakMemory()
    with client.setup_kernel():
        peak.pids.append(_kernel_pid(client))
        if sampler is not None:
            sampler.pids.append(_kernel_pid(client))
        with peak:
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
    return {"notebook": path.name, "seconds": round(time.perf_counter() - start, 1),
            "peak_mb": round(peak.peak_mb)}


def phase_notebooks(args: argparse.Namespace, workdir: Path) -> dict:
    rows = []
    for path in sorted((ROOT / "solutions").glob(args.notebooks)):
        rows.append(run_notebook(path, workdir))
        print(f"  {rows[-1]['notebook']:34} {rows[-1]['seconds']:7.1f} s "
              f"{rows[-1]['peak_mb']:6d} MB", flush=True)
    return {"notebooks": rows,
            "total_seconds": round(sum(r["seconds"] for r in rows), 1),
            "max_peak_mb": max((r["peak_mb"] for r in rows), default=0)}


def phase_recipes(args: argparse.Namespace) -> dict:
    runs = []
    for seed in range(args.seeds):
        for recipe in ("seed", "fast"):
            result = subprocess.run([sys.executable, str(ROOT / "bench" / "recipe.py"), recipe,
                                     str(seed)] + (["--quick"] if args.quick else []),
                                    capture_output=True, text=True, check=True)
            runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
            print(f"  {recipe:5} seed {seed}: {runs[-1]}", flush=True)
    summary = {}
    for recipe in ("seed", "fast"):
        mine = [r for r in runs if r["recipe"] == recipe]
        summary[recipe] = {
            "median_fit_seconds": statistics.median(r["fit_seconds"] for r in mine),
            "median_peak_mb": statistics.median(r["peak_mb"] for r in mine),
            "test_accuracies": [r["test_accuracy"] for r in mine],
        }
    summary["speedup"] = round(summary["seed"]["median_fit_seconds"]
                               / summary["fast"]["median_fit_seconds"], 2)
    return {"runs": runs, **summary}


def phase_startup(args: argparse.Namespace) -> dict:
    from jupyter_client.manager import start_new_kernel

    tf_seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        manager, client = start_new_kernel(kernel_name="python3", stderr=subprocess.DEVNULL)
        try:
            reply = client.execute_interactive(
                "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'; import tensorflow",
                timeout=300, output_hook=lambda msg: None)
            assert reply["content"]["status"] == "ok", reply["content"]
            tf_seconds.append(time.perf_counter() - start)
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    import_seconds, imported_tf = [], False
    for _ in range(args.repeats):
        code = ("import sys, time; t = time.perf_counter(); import course_utils, "
                "course_utils.data, course_utils.plots, course_utils.checks; "
                "print(time.perf_counter() - t, 'tensorflow' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
        import_seconds.append(float(out[0]))
        imported_tf |= out[1] == "True"
    return {"kernel_to_tensorflow_seconds": round(statistics.median(tf_seconds), 2),
            "import_course_utils_seconds": round(statistics.median(import_seconds), 3),
            "course_utils_imports_tensorflow": imported_tf}


def make_class(folder: Path, students: int, notebooks: str, root: Path = ROOT) -> int:
    """Full-course submissions: every master of ``root``, outputs cleared, under student-NN/."""
    import nbformat

    count = 0
    for index in range(students):
        target = folder / f"student-{index:02d}"
        target.mkdir(parents=True)
        for path in sorted((root / "solutions").glob(notebooks)):
            notebook = nbformat.read(path, as_version=4)
            for cell in notebook.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            nbformat.write(notebook, target / path.name)
            count += 1
    return count


def phase_grading(args: argparse.Namespace, workdir: Path) -> dict:
    """Grade one class at --jobs 1 and 2 (sandbox as default), and at --jobs 1 unsandboxed."""
    from course_grading.sandbox import availability

    submissions = workdir / "class"
    count = make_class(submissions, args.students, args.notebooks)
    result = {"students": args.students, "notebooks": count,
              "sandbox_available": availability()[0]}
    from course_grading.pool import WORKER_START_ENV

    # (key, local jobs or Dask workers, extra arguments, how each job's process starts)
    runs = [("jobs1", 1, [], "forkserver"), ("jobs2", 2, [], "forkserver"),
            ("dask1", 1, ["--scheduler"], "forkserver"),
            ("dask2", 2, ["--scheduler"], "forkserver")]
    if args.sandbox_cost:
        runs.append(("jobs1_no_sandbox", 1, ["--no-sandbox"], "forkserver"))
    if args.fork_server_cost:
        runs.append(("jobs1_fresh_interpreter", 1, [], "spawn"))
    if args.local_only:
        runs = [run for run in runs if "--scheduler" not in run[2]]
    base = args.baseline.resolve() if args.baseline else None
    if base:
        # Before and after in one run, alternated (before, after, before, after) so that a
        # change of the machine's load falls on both: the baseline checkout grades a class made
        # from its own masters with its own grader, imported ahead of this checkout's.
        # The baseline may cut the course into another number of notebooks (a notebook split
        # in two): per-notebook figures divide by each side's own count, and the whole
        # course's time is compared too.
        count_base = make_class(workdir / "class-baseline", args.students, args.notebooks, base)
        result["baseline_notebooks"] = count_base
        runs = [("baseline_jobs1", 1, [], "forkserver"), runs[0],
                ("baseline_jobs1_again", 1, [], "forkserver"),
                ("jobs1_again", 1, [], "forkserver")] + runs[1:]
    for key, jobs, extra, start_method in runs:
        root, env = ROOT, {**os.environ, WORKER_START_ENV: start_method}
        graded_class = submissions
        if key.startswith("baseline"):
            root, graded_class = base, workdir / "class-baseline"
            env["PYTHONPATH"] = os.pathsep.join([str(base), str(base / "grader")])
        with _dask_cluster(jobs) if extra == ["--scheduler"] else _no_cluster() as address:
            command = [sys.executable, "-m", "course_grading", str(graded_class),
                       "--output", str(workdir / f"graded-{key}"), "--quiet"]
            command += ["--scheduler", address] if address else ["--jobs", str(jobs), *extra]
            start = time.perf_counter()
            done = subprocess.run(command, cwd=root, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env)
            seconds = time.perf_counter() - start
        if done.returncode not in (0, 1):  # 1: some notebooks listed in problems.csv
            raise RuntimeError(f"grading failed (exit status {done.returncode})")
        problems = (workdir / f"graded-{key}" / "problems.csv").read_text().count("\n") - 1
        result[f"{key}_seconds"] = round(seconds, 1)
        graded = count_base if key.startswith("baseline") else count
        result[f"{key}_seconds_per_notebook"] = round(seconds / graded, 2)
        result[f"{key}_problems"] = problems
        print(f"  {key} ({start_method}): {seconds:.1f} s for {graded} notebooks, "
              f"{problems} problem(s)", flush=True)
        if key == "jobs1":
            result.update(_phase_seconds(workdir / f"graded-{key}" / "logs"))
        if key.startswith("baseline") or key.startswith("jobs1_again"):
            result[f"{key}_per_notebook_by_notebook"] = _notebook_seconds(
                workdir / f"graded-{key}" / "logs")
    if base:
        for key in ("baseline_jobs1", "jobs1"):
            result[f"{key}_mean_seconds_per_notebook"] = round(statistics.mean(
                [result[f"{key}_seconds_per_notebook"],
                 result[f"{key}_again_seconds_per_notebook"]]), 2)
        result["baseline"] = str(base)
        for key in ("baseline_jobs1", "jobs1"):
            result[f"{key}_mean_seconds_per_student"] = round(statistics.mean(
                [result[f"{key}_seconds"], result[f"{key}_again_seconds"]]) / args.students, 1)
        result["after_over_before"] = round(result["jobs1_mean_seconds_per_notebook"]
                                            / result["baseline_jobs1_mean_seconds_per_notebook"],
                                            2)
    result["throughput_ratio"] = round(result["jobs1_seconds"] / result["jobs2_seconds"], 2)
    if not args.local_only:
        # Dask against the local pool, one worker against one job at a time: what Dask adds.
        result["dask_overhead_seconds_per_notebook"] = round(
            result["dask1_seconds_per_notebook"] - result["jobs1_seconds_per_notebook"], 2)
        result["dask_throughput_ratio"] = round(result["dask1_seconds"]
                                                / result["dask2_seconds"], 2)
        result["dask2_vs_jobs2_ratio"] = round(result["dask2_seconds"] / result["jobs2_seconds"],
                                               2)
        result["noop"] = _noop_jobs(args.noop_jobs, workdir)
    if "jobs1_no_sandbox_seconds" in result:
        result["sandbox_seconds_per_notebook"] = round(
            result["jobs1_seconds_per_notebook"]
            - result["jobs1_no_sandbox_seconds_per_notebook"], 2)
    if "jobs1_fresh_interpreter_seconds" in result:
        result["fork_server_saves_seconds_per_notebook"] = round(
            result["jobs1_fresh_interpreter_seconds_per_notebook"]
            - result["jobs1_seconds_per_notebook"], 2)
    return result


@contextmanager
def _no_cluster():
    yield None


@contextmanager
def _dask_cluster(workers: int):
    """A Dask cluster on this machine: a scheduler and ``workers`` worker processes of one
    thread each (``distributed.LocalCluster``), set as deploy/kubernetes/ sets its pods."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.worker.daemon": False,
                          "distributed.scheduler.allowed-failures": 1}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                         host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _noop_jobs(count: int, workdir: Path) -> dict:
    """``count`` stand-in jobs that grade nothing, through the grading command's own path to
    the cluster (``course_grading.cluster.grade_on_cluster``), on two workers: the scheduler's
    cost per job, and where it starts to matter."""
    import nbformat

    from course_grading.cluster import grade_on_cluster, noop_job
    from course_grading.discovery import Job
    from course_grading.job import Options

    notebook = workdir / "noop" / "01_neurons.ipynb"
    notebook.parent.mkdir(parents=True)
    nbformat.write(nbformat.read(ROOT / "notebooks" / "01_neurons.ipynb", as_version=4),
                   notebook)
    template = workdir / "noop" / "template"
    (template / "source").mkdir(parents=True)
    jobs = [Job(f"student-{n:05d}", f"s{n:05d}", notebook.name, str(notebook))
            for n in range(count)]
    with _dask_cluster(2) as address:
        start = time.perf_counter()
        grade_on_cluster(address, jobs, template, None, Options(sandbox=False),
                         workdir / "noop" / "out", task=noop_job)
        seconds = time.perf_counter() - start
    print(f"  {count} no-op jobs on 2 workers: {seconds:.1f} s", flush=True)
    return {"jobs": count, "seconds": round(seconds, 1),
            "ms_per_job": round(seconds / count * 1000, 2)}


def _phase_seconds(logs: Path) -> dict:
    """Median seconds per notebook of nbgrader's autograde and of the grader's re-check.

    Both are timed by the grading command in the same run and written to each notebook's
    log, so their ratio is measured side by side on the same notebooks.
    """
    from course_grading.job import RECHECK_LOG

    autograde, recheck = [], []
    for log in sorted(logs.glob("*/*.log")):
        text = log.read_text()
        if match := re.search(r"== autograde \(([\d.]+) s\) ==", text):
            autograde.append(float(match.group(1)))
        if match := re.search(re.escape(RECHECK_LOG) + r" \(([\d.]+) s\)", text):
            recheck.append(float(match.group(1)))
    if not recheck:
        return {}
    return {"autograde_median_seconds": round(statistics.median(autograde), 2),
            "recheck_median_seconds": round(statistics.median(recheck), 2),
            "recheck_share_of_notebook": round(sum(recheck) / (sum(autograde) + sum(recheck)),
                                               2)}


def _notebook_seconds(logs: Path) -> dict:
    """Autograde plus re-check seconds of each notebook (summed over students), from the logs."""
    from course_grading.job import RECHECK_LOG

    seconds: dict = {}
    for log in sorted(logs.glob("*/*.log")):
        text = log.read_text()
        total = sum(float(m) for m in re.findall(r"== autograde \(([\d.]+) s\) ==", text))
        total += sum(float(m) for m in re.findall(re.escape(RECHECK_LOG) + r" \(([\d.]+) s\)",
                                                  text))
        seconds[log.stem] = round(seconds.get(log.stem, 0.0) + total, 2)
    return seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def phase_binder(args: argparse.Namespace, workdir: Path) -> dict:
    """A Jupyter server and two notebook kernels at once, their memory summed."""
    names = ("07_training.ipynb", "09_evaluating.ipynb") if not args.quick else \
        ("01_neurons.ipynb", "02_layers.ipynb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={_free_port()}",
         "--ServerApp.token=bench", "--ServerApp.ip=127.0.0.1", f"--notebook-dir={workdir}"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)
        if server.poll() is not None:
            raise RuntimeError("the Jupyter server did not start")
        # The server's process tree plus each notebook's kernel (added as it starts).
        with PeakMemory([server.pid]) as total:
            threads, results = [], {}
            for name in names:
                def work(name: str = name) -> None:
                    try:
                        results[name] = run_notebook(ROOT / "solutions" / name, workdir,
                                                     sampler=total)
                    except Exception as error:  # re-raised below, in the main thread
                        results[name] = error

                threads.append(threading.Thread(target=work))
                threads[-1].start()
            for thread in threads:
                thread.join()
        failures = [r for r in results.values() if isinstance(r, Exception)]
        if failures:
            raise failures[0]
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"notebooks": list(names), "peak_mb": round(total.peak_mb),
            "limit_mb": BINDER_LIMIT_MB, "fits": total.peak_mb < BINDER_LIMIT_MB,
            "per_notebook": list(results.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--only", default=",".join(PHASES), help="comma-separated phases")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per training recipe")
    parser.add_argument("--students", type=int, default=1,
                        help="students in the graded class (full-course submissions)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the start-up timings")
    parser.add_argument("--notebooks", default="[0-9][0-9]_*.ipynb",
                        help="which solution notebooks (a glob)")
    parser.add_argument("--noop-jobs", type=int, default=10_000,
                        help="stand-in jobs sent through the Dask path (grading phase)")
    parser.add_argument("--sandbox-cost", action="store_true",
                        help="grading phase: also grade at --jobs 1 --no-sandbox")
    parser.add_argument("--fork-server-cost", action="store_true",
                        help="grading phase: also grade with a fresh interpreter per job")
    parser.add_argument("--baseline", type=Path,
                        help="grading phase: also grade, before and after alternated, with the "
                             "checkout in this folder (e.g. a git worktree of an older commit)")
    parser.add_argument("--local-only", action="store_true",
                        help="grading phase: the local pool only (no Dask runs, no no-op jobs)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny setting for the smoke test (NumPy-only notebooks, one "
                             "seed of a one-epoch recipe, one student)")
    args = parser.parse_args(argv)
    phases = [p for p in args.only.split(",") if p]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    if args.quick:
        args.seeds, args.students, args.repeats, args.noop_jobs = 1, 1, 1, 200
        args.notebooks = "01_*.ipynb"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    report: dict = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, "
                               f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
                    "python": platform.python_version(),
                    "mnist_path": os.environ.get("MNIST_PATH"),
                    "command": "python bench/run.py " + " ".join(argv or sys.argv[1:])}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nn-python-bench-") as tmp:
        workdir = Path(tmp)
        for phase in phases:
            print(f"== {phase}", flush=True)
            if phase == "notebooks":
                report[phase] = phase_notebooks(args, workdir)
            elif phase == "recipes":
                report[phase] = phase_recipes(args)
            elif phase == "startup":
                report[phase] = phase_startup(args)
            elif phase == "grading":
                report[phase] = phase_grading(args, workdir)
            elif phase == "binder":
                # After the notebooks phase the evaluating notebook loads the trained model
                # from workdir/outputs; run alone, it trains one alongside the training notebook.
                report[phase] = phase_binder(args, workdir)
    report["bench_seconds"] = round(time.perf_counter() - started, 1)
    print()
    print(format_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


def format_table(report: dict) -> str:
    """The report as a Markdown table, as pasted into bench/README.md."""
    lines = [f"Measured {report['date']} on {report['machine']}, Python {report['python']}.",
             f"Command: `{report['command'].strip()}`", "",
             "| measure | value |", "|---|---|"]
    if "notebooks" in report:
        for row in report["notebooks"]["notebooks"]:
            lines.append(f"| {row['notebook']} | {row['seconds']:.1f} s, peak {row['peak_mb']} MB |")
        lines.append(f"| **whole course** | **{report['notebooks']['total_seconds']:.0f} s**, "
                     f"largest kernel {report['notebooks']['max_peak_mb']} MB |")
    if "recipes" in report:
        r = report["recipes"]
        for name, label in (("seed", "seed recipe (float64, batch 32, 10 epochs)"),
                            ("fast", "fast recipe (uint8 + Rescaling, batch 128, 7 epochs)")):
            lines.append(f"| {label} | fit {r[name]['median_fit_seconds']:.1f} s (median), peak "
                         f"{r[name]['median_peak_mb']:.0f} MB, test accuracy "
                         f"{', '.join(f'{a:.4f}' for a in r[name]['test_accuracies'])} |")
        lines.append(f"| speed-up of the fast recipe | {r['speedup']:.2f}x |")
    if "startup" in report:
        s = report["startup"]
        lines.append(f"| kernel start to `import tensorflow` done | "
                     f"{s['kernel_to_tensorflow_seconds']:.1f} s (median) |")
        lines.append(f"| `import course_utils` | {s['import_course_utils_seconds'] * 1000:.0f} ms, "
                     f"imports TensorFlow: {s['course_utils_imports_tensorflow']} |")
    if "grading" in report:
        g = report["grading"]
        lines.append(f"| grading {g['notebooks']} notebooks ({g['students']} students), --jobs 1 | "
                     f"{g['jobs1_seconds']:.0f} s, {g['jobs1_seconds_per_notebook']:.1f} s per notebook |")
        if "baseline" in g:
            lines.append(f"| the same class at --jobs 1, before ({g['baseline']}) and after, "
                         f"alternated twice | before {g['baseline_jobs1_seconds_per_notebook']:.1f}"
                         f" and {g['baseline_jobs1_again_seconds_per_notebook']:.1f} s per "
                         f"notebook, after {g['jobs1_seconds_per_notebook']:.1f} and "
                         f"{g['jobs1_again_seconds_per_notebook']:.1f} s; after/before "
                         f"x{g['after_over_before']:.2f} |")
            lines.append(f"| the whole course per student at --jobs 1 (mean of two), before "
                         f"({g['baseline_notebooks']} notebooks) and after ({g['notebooks']}) | "
                         f"before {g['baseline_jobs1_mean_seconds_per_student']:.0f} s, after "
                         f"{g['jobs1_mean_seconds_per_student']:.0f} s |")
        lines.append(f"| same, --jobs 2 | {g['jobs2_seconds']:.0f} s, "
                     f"{g['jobs2_seconds_per_notebook']:.1f} s per notebook, throughput "
                     f"x{g['throughput_ratio']:.2f} |")
        if "dask1_seconds" in g:
            lines.append(f"| same on Dask, one worker | {g['dask1_seconds']:.0f} s, "
                         f"{g['dask1_seconds_per_notebook']:.1f} s per notebook; Dask adds "
                         f"{g['dask_overhead_seconds_per_notebook']:+.2f} s per notebook "
                         f"against --jobs 1 |")
            lines.append(f"| same on Dask, two workers | {g['dask2_seconds']:.0f} s, "
                         f"{g['dask2_seconds_per_notebook']:.1f} s per notebook, throughput "
                         f"x{g['dask_throughput_ratio']:.2f} against one worker; "
                         f"{g['dask2_vs_jobs2_ratio']:.2f}x the time of --jobs 2 |")
            n = g["noop"]
            lines.append(f"| {n['jobs']:,} no-op jobs through the same path, two workers | "
                         f"{n['seconds']:.0f} s, {n['ms_per_job']:.1f} ms per job |")
        if "jobs1_no_sandbox_seconds" in g:
            lines.append(f"| same as --jobs 1 with --no-sandbox | "
                         f"{g['jobs1_no_sandbox_seconds']:.0f} s, "
                         f"{g['jobs1_no_sandbox_seconds_per_notebook']:.1f} s per notebook; the "
                         f"sandbox costs {g['sandbox_seconds_per_notebook']:+.2f} s per "
                         f"notebook (sandbox available: {g['sandbox_available']}) |")
        if "jobs1_fresh_interpreter_seconds" in g:
            lines.append(f"| same as --jobs 1, each job a fresh interpreter (no fork server) | "
                         f"{g['jobs1_fresh_interpreter_seconds']:.0f} s, "
                         f"{g['jobs1_fresh_interpreter_seconds_per_notebook']:.1f} s per "
                         f"notebook; the fork server saves "
                         f"{g['fork_server_saves_seconds_per_notebook']:.2f} s per notebook |")
        if "recheck_median_seconds" in g:
            lines.append(f"| per notebook at --jobs 1: nbgrader's autograde / the re-check "
                         f"outside the kernel (medians) | {g['autograde_median_seconds']:.1f} s / "
                         f"{g['recheck_median_seconds']:.1f} s; the re-check is "
                         f"{g['recheck_share_of_notebook']:.0%} of grading time |")
    if "binder" in report:
        b = report["binder"]
        lines.append(f"| Binder fit: server + {' + '.join(b['notebooks'])} at once | peak "
                     f"{b['peak_mb']} MB of {b['limit_mb']} MB ({'fits' if b['fits'] else 'DOES NOT FIT'}) |")
    lines.append(f"| benchmark's own run time | {report['bench_seconds'] / 60:.1f} min |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
