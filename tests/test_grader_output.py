"""A kernel's output is kept within a budget while autograding: a cell that floods its output
costs neither the grader's memory nor the marks of the notebook's right answers.

Graded through the command as an instructor would (one job, the sandbox on), with the grading
process tree's memory sampled while it runs; the preprocessor's rules are tested on their own
in tests/test_preprocessors.py, and the kernel client's short queue here.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from course_grading import sandbox
from course_grading.preprocessors import OUTPUT_CUT_NOTE
from test_grader_isolation import NEURONS, RIGHT_NEURON, _notebook, _save

#: Prints 1,500 lines of a megabyte each, flushing each: 1.5 GB for the grader to receive.
FLOOD = ("import sys\n_line = 'x' * 10**6\nfor _ in range(1500):\n    print(_line)\n"
         "    sys.stdout.flush()")
#: A generous bound on the grading process tree's memory (the job kept every line: 2.1 GB).
MAX_TREE_RSS = 2**30


def _flooding() -> nbformat.NotebookNode:
    """Notebook 01 with the right answer, and a flooding cell of the student's own right after
    it, before the test cell."""
    notebook = _notebook(NEURONS, RIGHT_NEURON)
    answer = next(i for i, c in enumerate(notebook.cells)
                  if c.metadata.get("nbgrader", {}).get("grade_id") == "neuron")
    notebook.cells.insert(answer + 1, nbformat.v4.new_code_cell(FLOOD))
    return notebook


def _tree_rss(root: psutil.Process) -> int:
    """The resident memory of ``root`` and every process below it, in bytes."""
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total


@pytest.fixture(scope="module")
def flooded(tmp_path_factory):
    available, why = sandbox.availability()
    if not available:  # never a skip: CI installs bubblewrap (.ci/run), so this is a failure
        pytest.fail(f"the grading sandbox cannot run here ({why})")
    submissions = tmp_path_factory.mktemp("submissions")
    output = tmp_path_factory.mktemp("graded")
    _save(submissions / "flood", NEURONS, _flooding())
    command = psutil.Popen(
        [sys.executable, "-m", "course_grading", str(submissions), "--output", str(output),
         "--jobs", "1", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(command))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, stderr = command.communicate(timeout=900)
    finally:
        done.set()
        sampler.join()
    with (output / "grades.csv").open() as handle:
        scores = {(r["student_id"], r["grade_id"]): float(r["score"])
                  for r in csv.DictReader(handle)}
    with (output / "problems.csv").open() as handle:
        problems = {r["student_id"]: r["problem"] for r in csv.DictReader(handle)}
    return {"code": command.returncode, "stderr": stderr, "peak": peak[0], "scores": scores,
            "problems": problems, "output": output}


def test_the_right_answer_beside_a_flooding_cell_keeps_its_marks(flooded):
    assert flooded["scores"].get(("flood", "test_neuron")) == 1.0, flooded["problems"]
    assert "flood" not in flooded["problems"]
    assert flooded["code"] == 0, flooded["stderr"][-2000:]


def test_the_grading_process_trees_memory_stays_bounded(flooded):
    assert 0 < flooded["peak"] < MAX_TREE_RSS, f"peak RSS {flooded['peak'] / 2**20:.0f} MiB"


def test_the_feedback_says_the_output_was_cut(flooded):
    page = (flooded["output"] / "feedback" / "flood" / "01_neurons.html").read_text()
    assert OUTPUT_CUT_NOTE.strip()[:40] in page
    assert len(page) < 32 * 2**20


def _growth_while_unread(client_class) -> int:
    """How much this process's memory grows while a kernel prints 200 lines of a megabyte
    that this process does not read yet (as when the grader falls behind a flood)."""
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    async def run() -> int:
        manager = AsyncKernelManager(kernel_name="python3")
        manager.client_factory = client_class
        await manager.start_kernel()
        client = manager.client()
        try:
            client.start_channels()
            await client.wait_for_ready(timeout=60)
            before = psutil.Process().memory_info().rss
            client.execute("import sys\n_line = 'x' * 10**6\nfor _ in range(200):\n"
                           "    print(_line)\n    sys.stdout.flush()")
            await client.get_shell_msg(timeout=120)  # the cell is done; nothing read from IOPub
            await asyncio.sleep(1)
            return psutil.Process().memory_info().rss - before
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)

    return asyncio.run(run())


def test_a_flood_the_grader_has_not_read_yet_waits_in_the_kernel():
    # ZeroMQ's default receiving queue takes up to 1,000 messages of any size into the
    # grader's memory (200 MB here); the bounded client's takes a few.
    assert _growth_while_unread(sandbox.BoundedKernelClient) < 64 * 2**20
