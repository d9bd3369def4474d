"""A submission's nbgrader metadata decides nothing: graded through the command as an
instructor would, a pasted cell, a test of the student's own, a renamed test cell, a solution
cell marked graded and a test cell claiming more points each give the notebook its normal rows
in grades.csv (the master's cells, the master's points), and none lands in problems.csv.

The rule itself (course_grading.preprocessors.use_master_metadata) is tested on its own in
tests/test_preprocessors.py.
"""

from __future__ import annotations

import copy
import csv

import nbformat
import pytest

from conftest import ROOT
from course_grading import grade, sandbox
from test_grader_isolation import NEURONS, RIGHT_NEURON, _save

LAYERS = "02_layers.ipynb"
RIGHT_DENSE = "def dense_forward(x, weights, bias):\n    return np.maximum(0, x @ weights + bias)"
WRONG_NEURON = "def neuron(inputs, weights, bias):\n    return 0.0"


def _cell(notebook: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in notebook.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _answered(name: str, grade_id: str, source: str) -> nbformat.NotebookNode:
    """The student version of ``name`` with ``source`` in the solution cell ``grade_id``."""
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    _cell(notebook, grade_id).source = source.strip("\n")
    return notebook


def _class() -> dict[str, tuple[str, nbformat.NotebookNode]]:
    """Student -> (file name, notebook)."""
    students = {"control": (LAYERS, _answered(LAYERS, "dense_forward", RIGHT_DENSE))}

    # A right answer of notebook 1 pasted, metadata and all, into notebook 2 (JupyterLab's
    # copy and paste keeps it), above that notebook's own right answer.
    pasted = _answered(LAYERS, "dense_forward", RIGHT_DENSE)
    neuron = copy.deepcopy(_cell(_answered(NEURONS, "neuron", RIGHT_NEURON), "neuron"))
    neuron.id = "pasted-from-01"
    pasted.cells.insert(pasted.cells.index(_cell(pasted, "dense_forward")), neuron)
    students["pasted"] = (LAYERS, pasted)

    bonus = _answered(NEURONS, "neuron", RIGHT_NEURON)
    extra = nbformat.v4.new_code_cell("print('bonus')")
    extra.metadata["nbgrader"] = {"grade": True, "grade_id": "test_bonus", "points": 50,
                                  "locked": True, "solution": False, "schema_version": 3}
    bonus.cells.append(extra)
    students["bonus"] = (NEURONS, bonus)

    renamed = _answered(NEURONS, "neuron", RIGHT_NEURON)
    _cell(renamed, "test_neuron").metadata["nbgrader"]["grade_id"] = "test_neuron_renamed"
    students["renamed"] = (NEURONS, renamed)

    graded = _answered(NEURONS, "neuron", WRONG_NEURON)
    _cell(graded, "neuron").metadata["nbgrader"].update(grade=True, points=100)
    students["solution-graded"] = (NEURONS, graded)

    points = _answered(NEURONS, "neuron", RIGHT_NEURON)
    _cell(points, "test_neuron").metadata["nbgrader"]["points"] = 100
    students["points"] = (NEURONS, points)
    return students


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    available, why = sandbox.availability()
    if not available:  # never a skip: CI installs bubblewrap (.ci/run), so this is a failure
        pytest.fail(f"the grading sandbox cannot run here ({why})")
    submissions = tmp_path_factory.mktemp("submissions")
    output = tmp_path_factory.mktemp("graded")
    for student, (name, notebook) in _class().items():
        _save(submissions / student, name, notebook)
    code = grade.main([str(submissions), "--output", str(output), "--jobs", "1", "--quiet"])
    with (output / "grades.csv").open() as handle:
        rows: dict[str, list] = {}
        for row in csv.DictReader(handle):
            rows.setdefault(row["student_id"], []).append(
                (row["notebook"], row["grade_id"], float(row["score"]), float(row["max_score"])))
    with (output / "problems.csv").open() as handle:
        problems = {r["student_id"]: r["problem"] for r in csv.DictReader(handle)}
    return {"code": code, "rows": rows, "problems": problems}


@pytest.mark.parametrize("student, rows", [
    ("control", [(LAYERS, "test_dense_forward", 1.0, 1.0)]),
    ("pasted", [(LAYERS, "test_dense_forward", 1.0, 1.0)]),
    ("bonus", [(NEURONS, "test_neuron", 1.0, 1.0)]),
    # The test cell is gone (it runs as the student's own code): 0, as for a deleted one.
    ("renamed", [(NEURONS, "test_neuron", 0.0, 1.0)]),
    ("solution-graded", [(NEURONS, "test_neuron", 0.0, 1.0)]),
    ("points", [(NEURONS, "test_neuron", 1.0, 1.0)]),
])
def test_the_notebook_is_graded_from_the_masters_cells(graded, student, rows):
    assert student not in graded["problems"], graded["problems"].get(student)
    assert graded["rows"].get(student) == rows


def test_nothing_lands_in_problems(graded):
    assert graded["problems"] == {}
    assert graded["code"] == 0
