"""The masters' test cells, hidden tests included, run as nbgrader runs them in grading mode.

For every exercise and every answer style of tests/answer_styles.py: the master's set-up cell
runs in a fresh namespace, then the answer's source, then the master's whole test cell (the
visible check and the hidden tests). A right answer gets through, a wrong one raises, so the
✓ the learner sees and the mark nbgrader gives agree.
"""

from __future__ import annotations

import numpy as np
import nbformat
import pytest

import answer_styles
from conftest import ROOT

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def _cells(notebook_name: str) -> tuple[str, dict[str, str]]:
    """The master's set-up cell and its test cells' sources by grade_id."""
    notebook = nbformat.read(ROOT / "solutions" / notebook_name, as_version=4)
    setup = next(c.source for c in notebook.cells if c.cell_type == "code")
    tests = {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook.cells
             if c.metadata.get("nbgrader", {}).get("grade", False)}
    return setup, tests


@pytest.fixture(scope="module")
def reference_path(tmp_path_factory):
    """A saved (untrained) reference model standing for the one the grader provides."""
    from course_utils import models
    from course_utils.setup import seed_everything

    seed_everything(0)
    path = tmp_path_factory.mktemp("reference") / "reference.keras"
    models.build_reference_model().save(path)
    return path


@pytest.fixture
def grading(monkeypatch, mnist_file, reference_path):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("MNIST_PATH", str(mnist_file))
    monkeypatch.setenv("COURSE_REFERENCE_MODEL", str(reference_path))


def _run_test_cell(exercise: str, source: str, reference_path) -> None:
    setup, tests = _cells(answer_styles.NOTEBOOKS[exercise])
    test_cell = tests[f"test_{exercise}"]
    assert HIDDEN_BEGIN in test_cell and HIDDEN_END in test_cell
    names: dict = {"__name__": "__main__"}
    exec(compile(setup, "<set-up cell>", "exec"), names)
    if exercise == "predict_digit":  # what 09's earlier cells define: a model and test images
        import keras

        names["model"] = keras.models.load_model(reference_path)
        names["x_test"] = np.random.default_rng(8).random((5, 28, 28)).astype("float32")
    answer_styles.define(exercise, source, names)
    exec(compile(test_cell, f"<test_{exercise}>", "exec"), names)


def _right():
    return [(e, s) for e, styles in answer_styles.RIGHT.items() for s in styles]


def _wrong():
    return [(e, s) for e, styles in answer_styles.WRONG.items() for s in styles]


@pytest.mark.parametrize("exercise, style", _right())
def test_right_style_gets_through_the_hidden_test(exercise, style, grading, reference_path,
                                                  capsys):
    _run_test_cell(exercise, answer_styles.RIGHT[exercise][style], reference_path)
    ticks = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("\N{CHECK MARK}")]
    assert len(ticks) == 2  # the visible check, then the hidden run of every case


@pytest.mark.parametrize("exercise, style", _wrong())
def test_wrong_style_fails_the_test_cell(exercise, style, grading, reference_path):
    source, fragment = answer_styles.WRONG[exercise][style]
    with np.errstate(all="ignore"), pytest.raises(AssertionError) as error:
        _run_test_cell(exercise, source, reference_path)
    assert fragment in str(error.value)


@pytest.mark.parametrize("exercise", ["normalize", "neuron", "steps_per_epoch", "gradient_step"])
def test_hidden_part_alone_rejects_what_slips_past_the_visible_cases(exercise, grading,
                                                                     reference_path):
    """An answer right on every visible case but wrong elsewhere fails the hidden part."""
    from course_utils import exercises

    visible = exercises.EXERCISES[exercise].visible_cases()
    table = {_key(case.args): case.expected for case in visible}

    def memorised(*args):
        key = _key(args)
        if key in table:
            expected = table[key]
            return expected.astype("float32") if exercise == "normalize" else expected
        if exercise == "gradient_step":
            return args[0], args[1]  # the weights unchanged
        return 0 if exercise == "steps_per_epoch" else np.float32(0)

    memorised.__name__ = exercise
    setup, tests = _cells(answer_styles.NOTEBOOKS[exercise])
    names: dict = {"__name__": "__main__", exercise: memorised}
    exec(compile(setup, "<set-up cell>", "exec"), names)
    visible_part, hidden_part = tests[f"test_{exercise}"].split(HIDDEN_BEGIN)
    exec(compile(visible_part, "<visible part>", "exec"), names)  # passes: it was memorised
    with pytest.raises(AssertionError):
        exec(compile(hidden_part, "<hidden part>", "exec"), names)


def _key(args) -> tuple:
    return tuple(a.tobytes() + str(a.shape).encode() if isinstance(a, np.ndarray) else repr(a)
                 for a in args)
