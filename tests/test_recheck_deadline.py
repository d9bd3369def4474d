"""The re-check's deadline: every cell it runs gets the per-cell timeout (within a cap), and
when the deadline is what stopped it, the message says so."""

from __future__ import annotations

import re
import tempfile

import nbformat
import pytest

from conftest import ROOT
from course_grading import verify

RIGHT = "def neuron(inputs, weights, bias):\n    return max(0.0, float(np.dot(inputs, weights)) + bias)"


def _run(timeout: int):
    """An executor: a fresh, unsandboxed kernel with ``timeout`` seconds per cell."""
    from jupyter_client.manager import AsyncKernelManager

    def execute(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
        with tempfile.TemporaryDirectory() as cwd:
            return verify.run_notebook(notebook, AsyncKernelManager(kernel_name="python3"),
                                       timeout, cwd=cwd)

    return execute


def _neurons(extra: list[str]) -> tuple:
    """Notebook 01 with the right answer and ``extra`` cells of the student's own."""
    master = nbformat.read(ROOT / "solutions" / "01_neurons.ipynb", as_version=4)
    student = nbformat.read(ROOT / "notebooks" / "01_neurons.ipynb", as_version=4)
    for cell in student.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "neuron":
            cell.source = RIGHT
    student.cells += [nbformat.v4.new_code_cell(source) for source in extra]
    return student, master


def test_every_cell_gets_the_per_cell_timeout_within_a_cap():
    allowance = verify.RECHECK_ALLOWANCE
    assert verify.recheck_deadline(20, 5) == 5 * 20 + allowance
    assert verify.recheck_deadline(60, 100) == verify.MAX_RECHECK_CELLS_SECONDS + allowance
    # A per-cell timeout longer than the cap still gets one whole cell.
    assert verify.recheck_deadline(1800, 3) == 1800 + allowance


def test_a_right_answer_beside_slow_cells_of_the_students_own_is_confirmed():
    # Twelve cells of 3 s each, under the 4 s per-cell timeout: 36 s together, past the old
    # deadline of one timeout plus 30 s, which confirmed nothing of such a notebook.
    student, master = _neurons(["import time\ntime.sleep(3)  # my own experiment"] * 12)
    (verdict,) = verify.verify(student, master, ["neuron"], _run(4))
    assert verdict.ok, verdict.message


def test_a_recheck_stopped_by_its_deadline_says_so(monkeypatch):
    # A cell that ignores the per-cell interrupt runs until the deadline kills the kernel;
    # nbclient reports that as "DeadKernelError: Kernel died", which is not what happened.
    monkeypatch.setattr(verify, "RECHECK_ALLOWANCE", 3, raising=False)  # quick to reach
    # (One statement: the re-check runs each top-level statement as a cell of its own, and
    # ipykernel restores its interrupt handler before every cell.)
    student, master = _neurons(["import signal, time\n"
                                "def stubborn():\n"
                                "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                "    while True:\n        time.sleep(0.1)\n"
                                "stubborn()"])
    with pytest.raises(verify.RecheckError) as raised:
        verify.verify(student, master, ["neuron"], _run(2))
    assert not raised.value.grader_fault
    said = re.search(r"ran past its (\d+) s deadline", raised.value.reason)
    assert said and "DeadKernelError" not in raised.value.reason, raised.value.reason
    # Every cell the re-check ran counted: the imports, the answer and that cell (each
    # top-level statement its own cell), and the harness.
    cells = len(verify.verification_notebook(student, master, b"request").cells)
    assert cells >= 4
    assert int(said.group(1)) == verify.recheck_deadline(2, cells)
