"""notebooks/ is what the build makes from solutions/, leaks nothing, and runs.

The leak check does not trust nbgrader's output: it looks for the masters' solution and
hidden-test lines in the student versions itself.
"""

from __future__ import annotations

import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from course_grading import build

MARKERS = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS")
STUDENT = sorted((ROOT / "notebooks").glob("*.ipynb"))
MASTERS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _regions(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """Split a cell's lines into those inside begin/end regions and those outside."""
    inside, outside, depth = [], [], False
    for line in source.splitlines():
        if begin in line:
            depth = True
        elif end in line:
            depth = False
        elif line.strip():
            (inside if depth else outside).append(line.strip())
    return inside, outside


def _secret_lines(master: nbformat.NotebookNode) -> set[str]:
    """Lines that stand only inside solution or hidden-test regions of the master."""
    secret, public = set(), set()
    for cell in master.cells:
        for begin, end in (("BEGIN SOLUTION", "END SOLUTION"),
                           ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")):
            inside, outside = _regions(cell.source, begin, end)
            secret.update(inside)
        _, visible = _regions(re.sub(r"(?s)### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "",
                                     cell.source), "BEGIN SOLUTION", "END SOLUTION")
        public.update(visible)
    return secret - public


def test_every_master_has_a_student_version():
    assert [p.name for p in STUDENT] == [p.name for p in MASTERS]
    assert len(MASTERS) >= 9


def test_notebooks_match_a_fresh_build():
    assert build.differences() == []


@pytest.mark.parametrize("master_path", MASTERS, ids=lambda p: p.stem)
def test_no_solution_or_hidden_test_reaches_the_student_version(master_path):
    master = nbformat.read(master_path, as_version=4)
    student = nbformat.read(ROOT / "notebooks" / master_path.name, as_version=4)
    secret = _secret_lines(master)
    assert secret, "the master has no solution or hidden-test lines to check"
    for cell in student.cells:
        assert not MARKERS.search(cell.source), f"marker left in cell {cell.get('id')}"
        leaked = {line.strip() for line in cell.source.splitlines()} & secret
        assert not leaked, f"cell {cell.get('id')} carries master-only lines: {leaked}"
        if cell.cell_type == "code":
            assert cell.outputs == [], "student versions must carry no outputs"


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.stem)
def test_student_version_runs_up_to_its_exercises(path, tmp_path, monkeypatch):
    """Every cell runs; only the exercises' effects fail, and only as a missing answer would.

    Test cells must fail with NotAttempted (the checks' "not written yet"); a cell that uses
    an exercise function may fail only with its stub's NotImplementedError.

    Runs in grading mode (the small data slice): what is checked here is that no cell of the
    student version is broken, not the accuracy the full data gives.
    """
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    expected, failed = set(), {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            expected.add(meta["grade_id"])
        for output in cell.outputs:
            assert not (output.output_type == "stream" and output.name == "stderr"), \
                f"stderr output in {path.name}: {output.text[:300]}"
            if output.output_type == "error":
                failed[meta.get("grade_id", cell.get("id"))] = output.ename
    assert expected, f"{path.name} has no graded exercise"
    assert {name: failed.get(name) for name in expected} == dict.fromkeys(expected, "NotAttempted")
    others = {cell: ename for cell, ename in failed.items() if cell not in expected}
    assert set(others.values()) <= {"NotImplementedError"}, f"broken cells: {others}"
