"""Every notebook's verdicts through the class-grading command, as an instructor runs it.

A small class: two students answer every exercise of every notebook right (in different
styles, the seed tutorial's model without an Input among them), two answer them wrong (a
missing return among them). Graded once with ``python -m course_utils.grading``: the right
ones get full marks on every cell, the wrong ones nothing, and the feedback says why.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import nbformat
import pytest

import answer_styles
from conftest import ROOT

#: student -> exercise -> style (right students take RIGHT styles, wrong ones WRONG styles).
CLASS = {
    "right-a": {"neuron": "dot_maximum", "dense_forward": "matmul", "relu": "in_place",
                "sigmoid": "numpy", "softmax": "stable", "normalize": "astype_divide",
                "one_hot": "eye", "build_model": "seed_tutorial_no_input",
                "steps_per_epoch": "ceil", "accuracy": "argmax_mean",
                "predict_digit": "predict_newaxis", "dataset_megabytes": "itemsize"},
    "right-b": {"neuron": "matmul_builtin_max", "dense_forward": "row_loop", "relu": "where",
                "sigmoid": "tanh", "softmax": "logsumexp", "normalize": "np_divide_dtype",
                "one_hot": "to_categorical", "build_model": "functional_objects",
                "steps_per_epoch": "divmod", "accuracy": "loop",
                "predict_digit": "reshape_item", "dataset_megabytes": "bits"},
    "wrong-a": {"neuron": "no_relu", "dense_forward": "no_bias", "relu": "abs",
                "sigmoid": "wrong_for_negatives", "softmax": "overflows",
                "normalize": "own_max", "one_hot": "integer_dtype",
                "build_model": "sigmoid_output", "steps_per_epoch": "floor",
                "accuracy": "count_not_fraction", "predict_digit": "numpy_integer",
                "dataset_megabytes": "mebibytes"},
    "wrong-b": {"neuron": "no_return", "dense_forward": "tensor", "relu": "builtin_max",
                "sigmoid": "sign_flipped", "softmax": "first_axis", "normalize": "float64",
                "one_hot": "classes_from_max_label", "build_model": "from_logits",
                "steps_per_epoch": "true_division", "accuracy": "error_rate",
                "predict_digit": "off_by_one", "dataset_megabytes": "no_return"},
}


def _source(student: str, exercise: str) -> str:
    style = CLASS[student][exercise]
    if student.startswith("right"):
        return answer_styles.RIGHT[exercise][style]
    return answer_styles.WRONG[exercise][style][0]


def _make_class(root: Path) -> None:
    for student in CLASS:
        for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            for cell in notebook.cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id in CLASS[student]:
                    cell.source = _source(student, grade_id).strip("\n")
            (root / student).mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, root / student / path.name)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions = tmp_path_factory.mktemp("submissions")
    output = tmp_path_factory.mktemp("graded")
    _make_class(submissions)
    env = {**os.environ,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-m", "course_utils.grading", str(submissions), "--output",
         str(output), "--jobs", "2", "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    with (output / "grades.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return {"rows": rows, "output": output}


@pytest.mark.parametrize("student", ["right-a", "right-b"])
def test_right_answers_get_full_marks_in_every_notebook(graded, student):
    rows = [r for r in graded["rows"] if r["student_id"] == student]
    assert len({r["notebook"] for r in rows}) == 9
    assert len(rows) == 12  # one test cell per exercise
    lost = [(r["grade_id"], r["score"], r["max_score"]) for r in rows
            if float(r["score"]) != float(r["max_score"])]
    assert lost == []


@pytest.mark.parametrize("student", ["wrong-a", "wrong-b"])
def test_wrong_answers_get_nothing(graded, student):
    rows = [r for r in graded["rows"] if r["student_id"] == student]
    assert len(rows) == 12
    earned = [(r["grade_id"], r["score"]) for r in rows if float(r["score"]) != 0]
    assert earned == []


def _feedback_text(graded, student: str, notebook: str) -> str:
    page = graded["output"] / "feedback" / student / notebook.replace(".ipynb", ".html")
    return unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_feedback_says_what_is_wrong_in_one_line(graded):
    text = _feedback_text(graded, "wrong-b", "01_neurons.ipynb")
    test_cell = re.split(r"In\s\[", text.split("Grade cell: test_neuron")[1])[0]
    assert "returned None. Is a `return` statement missing at the end of neuron?" in test_cell
    assert "TypeError" not in test_cell  # not a crash inside the course's checks
    assert "exercises.py" not in text and "checks.py" not in text
    text = _feedback_text(graded, "wrong-a", "04_data_and_preprocessing.ipynb")
    assert "normalize(" in text and "values differ" in text
    text = _feedback_text(graded, "wrong-b", "05_building_the_model.ipynb")
    assert "the loss is" in text


def test_right_feedback_shows_the_tick(graded):
    text = _feedback_text(graded, "right-a", "05_building_the_model.ipynb")
    assert "\N{CHECK MARK} build_model returns the compiled reference model" in text
