"""Every notebook's verdicts through the class-grading command, as an instructor runs it.

A small class: two students answer every exercise of every notebook right (in different
styles, the seed tutorial's model without an Input among them), two answer them wrong (a
missing return among them). Graded once with ``python -m course_grading``: the right
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

#: The course's notebooks: every student hands in all of them.
COURSE = sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))

#: student -> exercise -> style (right students take RIGHT styles, wrong ones WRONG styles).
CLASS = {
    "right-a": {"neuron": "dot_maximum", "dense_forward": "matmul", "relu": "in_place",
                "sigmoid": "numpy", "softmax": "stable", "normalize": "astype_divide",
                "one_hot": "eye", "cross_entropy": "clip", "build_model": "seed_tutorial_no_input",
                "gradient_step": "gradient_tape", "largest_stable_rate": "doubling_then_bisection", "steps_per_epoch": "ceil", "early_stopping_epochs": "loop_wait", "accuracy": "argmax_mean",
                "predict_digit": "predict_newaxis", "dataset_megabytes": "itemsize"},
    "right-b": {"neuron": "matmul_builtin_max", "dense_forward": "row_loop", "relu": "where",
                "sigmoid": "tanh", "softmax": "logsumexp", "normalize": "np_divide_dtype",
                "one_hot": "to_categorical", "cross_entropy": "keras_loss", "build_model": "functional_objects",
                "gradient_step": "in_place_list", "largest_stable_rate": "hessian_eigenvalue", "steps_per_epoch": "divmod", "early_stopping_epochs": "argmin_of_prefix", "accuracy": "loop",
                "predict_digit": "reshape_item", "dataset_megabytes": "bits"},
    "wrong-a": {"neuron": "no_relu", "dense_forward": "no_bias", "relu": "abs",
                "sigmoid": "wrong_for_negatives", "softmax": "overflows",
                "normalize": "own_max", "one_hot": "integer_dtype",
                "cross_entropy": "log_of_zero", "build_model": "sigmoid_output", "gradient_step": "uphill", "largest_stable_rate": "weight_only",
                "steps_per_epoch": "floor", "early_stopping_epochs": "ties_improve",
                "accuracy": "count_not_fraction", "predict_digit": "numpy_integer",
                "dataset_megabytes": "mebibytes"},
    "wrong-b": {"neuron": "no_return", "dense_forward": "tensor", "relu": "builtin_max",
                "sigmoid": "sign_flipped", "softmax": "first_axis", "normalize": "float64",
                "one_hot": "classes_from_max_label", "cross_entropy": "sum_not_mean", "build_model": "from_logits",
                "gradient_step": "bias_from_new_weights", "largest_stable_rate": "notebook_value", "steps_per_epoch": "true_division", "early_stopping_epochs": "counts_from_zero", "accuracy": "error_rate",
                "predict_digit": "off_by_one", "dataset_megabytes": "no_return"},
}


#: Answers that are wrong but attack the test instead: each must earn nothing. Most of them
#: fool the test cell inside the student's kernel (see test_cheats_earn_nothing_and_are_flagged),
#: so only the grader's check outside the kernel stops them.
CHEATS = {
    "neuron": "from course_utils import checks\n"
              "checks.check_neuron = lambda *args, **kwargs: print('\N{CHECK MARK}')\n"
              "def neuron(inputs, weights, bias):\n    return 0.0",
    "one_hot": "get_ipython().set_custom_exc((Exception,), lambda *args, **kwargs: None)\n"
               "import numpy as np\n"
               "def one_hot(labels, num_classes=10):\n"
               "    return np.zeros((len(labels), num_classes), dtype='float32')",
    "relu": "import numpy as np\nnp.array_equal = lambda *a, **k: True\n"
            "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
            "def relu(x):\n    return x",
    # An input transformer that strips the check out of every later cell, the test included.
    "sigmoid": "get_ipython().input_transformers_cleanup.append(\n"
               "    lambda lines: [line for line in lines if 'check' not in line])\n"
               "def sigmoid(x):\n    return x",
    # A fake checker module put in sys.modules, then imported under the test cell's name.
    "softmax": "import sys, types, importlib\n"
               "_fake = types.ModuleType('course_utils.checks')\n"
               "_fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)\n"
               "sys.modules['course_utils.checks'] = _fake\n"
               "checks = importlib.import_module('course_utils.checks')\n"
               "def softmax(x):\n    return x",
    # A fake checker in builtins, found once the notebook's own name is gone.
    "normalize": "import builtins, types\n"
                 "builtins.checks = types.SimpleNamespace(\n"
                 "    check_normalize=lambda *args, **kwargs: None)\n"
                 "globals().pop('checks', None)\n"
                 "def normalize(images):\n    return images",
    # IPython's traceback display silenced (nbgrader's #1324 was this).
    "dense_forward": "get_ipython().showtraceback = lambda *args, **kwargs: None\n"
                     "def dense_forward(x, weights, bias):\n    return x",
    # A patched check that prints a number, which nbgrader reads as the cell's score.
    "accuracy": "from course_utils import checks\n"
                "checks.check_accuracy = lambda *args, **kwargs: display(2.0)\n"
                "def accuracy(probabilities, labels):\n    return 1.0",
    "steps_per_epoch": "class Liar(int):\n    def __eq__(self, other):\n        return True\n"
                       "    def __ne__(self, other):\n        return False\n"
                       "def steps_per_epoch(num_examples, batch_size):\n    return Liar(1)",
}


def _source(student: str, exercise: str) -> str:
    style = CLASS[student][exercise]
    if student.startswith("right"):
        return answer_styles.RIGHT[exercise][style]
    return answer_styles.WRONG[exercise][style][0]


def _make_class(root: Path) -> None:
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        cheated = False
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in CHEATS:
                cell.source, cheated = CHEATS[grade_id], True
        if cheated:
            (root / "cheat").mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, root / "cheat" / path.name)
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
        [sys.executable, "-m", "course_grading", str(submissions), "--output",
         str(output), "--jobs", "2", "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    with (output / "problems.csv").open() as handle:
        problems = list(csv.DictReader(handle))
    # Every file graded; the only problems are cheats that broke the re-check outside the
    # kernel (03's input transformer strips it), which fails closed and says so: exit 1.
    assert [(p["student_id"], p["notebook"]) for p in problems] == [
        ("cheat", "03_activations.ipynb")], problems
    assert "caused by the student's code" in problems[0]["problem"]
    assert result.returncode == 1, result.stderr[-3000:]
    with (output / "grades.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    with (output / "flags.csv").open() as handle:
        flags = list(csv.DictReader(handle))
    return {"rows": rows, "output": output, "flags": flags}


@pytest.mark.parametrize("student", ["right-a", "right-b"])
def test_right_answers_get_full_marks_in_every_notebook(graded, student):
    rows = [r for r in graded["rows"] if r["student_id"] == student]
    assert len({r["notebook"] for r in rows}) == len(COURSE)
    assert len(rows) == len(CLASS[student])  # one test cell per exercise
    lost = [(r["grade_id"], r["score"], r["max_score"]) for r in rows
            if float(r["score"]) != float(r["max_score"])]
    assert lost == []


@pytest.mark.parametrize("student", ["wrong-a", "wrong-b"])
def test_wrong_answers_get_nothing(graded, student):
    rows = [r for r in graded["rows"] if r["student_id"] == student]
    assert len(rows) == len(CLASS[student])
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


def test_cheats_earn_nothing_and_are_flagged(graded):
    rows = {r["grade_id"]: float(r["score"]) for r in graded["rows"]
            if r["student_id"] == "cheat"}
    assert set(rows) >= {f"test_{name}" for name in CHEATS}
    assert {name: rows[f"test_{name}"] for name in CHEATS} == {name: 0.0 for name in CHEATS}
    # Tampering is named for the instructor; the equality liar is simply wrong (0 points).
    flagged = {f["cell"] for f in graded["flags"] if f["student_id"] == "cheat"}
    assert flagged >= set(CHEATS) - {"steps_per_epoch"}, graded["flags"]
    # These fooled the test cell inside the student's kernel (a replaced checker, patched
    # numpy, an input transformer, a fake module in sys.modules, a fake checker in builtins,
    # a printed score): the grader's check outside the kernel is what took the points away,
    # and it says so.
    outside = {f["cell"] for f in graded["flags"] if f["student_id"] == "cheat"
               and "passed its test in the notebook" in f["finding"]}
    assert outside >= {"neuron", "relu", "sigmoid", "softmax", "normalize", "accuracy"}, \
        graded["flags"]


def test_right_and_wrong_answers_raise_no_flag(graded):
    assert [f for f in graded["flags"] if f["student_id"] != "cheat"] == []
