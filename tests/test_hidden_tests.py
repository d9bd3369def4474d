"""The masters' test cells, hidden tests included, run as nbgrader runs them in grading mode.

For every exercise and every answer style of tests/answer_styles.py: the master's set-up cell
runs in a fresh namespace, then the answer's source, then the master's whole test cell (the
visible check and the hidden tests). A right answer gets through, a wrong one raises, so the
✓ the learner sees and the mark nbgrader gives agree. The hidden part holds no case and no
seed: the grader confirms each passing answer outside the kernel on the answer key's cases,
and an answer that only memorised the visible cases fails there.
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


@pytest.fixture
def grading(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")


def _run_test_cell(exercise: str, source: str) -> None:
    setup, tests = _cells(answer_styles.NOTEBOOKS[exercise])
    test_cell = tests[f"test_{exercise}"]
    assert HIDDEN_BEGIN in test_cell and HIDDEN_END in test_cell
    names: dict = {"__name__": "__main__"}
    exec(compile(setup, "<set-up cell>", "exec"), names)
    answer_styles.define(exercise, source, names)
    exec(compile(test_cell, f"<test_{exercise}>", "exec"), names)


def _right():
    return [(e, s) for e, styles in answer_styles.RIGHT.items() for s in styles]


def _wrong():
    return [(e, s) for e, styles in answer_styles.WRONG.items() for s in styles]


@pytest.mark.parametrize("exercise, style", _right())
def test_right_style_gets_through_the_hidden_test(exercise, style, grading, capsys):
    _run_test_cell(exercise, answer_styles.RIGHT[exercise][style])
    ticks = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("\N{CHECK MARK}")]
    assert len(ticks) == 2  # the visible check, then its second call in the hidden part


@pytest.mark.parametrize("exercise, style", _wrong())
def test_wrong_style_fails_the_test_cell(exercise, style, grading):
    source, fragment = answer_styles.WRONG[exercise][style]
    with np.errstate(all="ignore"), pytest.raises(AssertionError) as error:
        _run_test_cell(exercise, source)
    assert fragment in str(error.value)


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.stem)
def test_hidden_parts_call_the_check_again_and_hold_no_case_or_seed(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if not (cell.metadata.get("nbgrader", {}).get("grade") and
                grade_id.startswith("test_")):
            continue
        name = grade_id[len("test_"):]
        hidden = cell.source.split(HIDDEN_BEGIN)[1].split(HIDDEN_END)[0].strip().splitlines()
        assert len(hidden) == 2 and hidden[0].startswith("# The grader confirms"), hidden
        assert hidden[1] == f"checks.check_{name}({name})"
        visible = cell.source.split(HIDDEN_BEGIN)[0].splitlines()
        assert f"checks.check_{name}({name})" in visible
        assert "seed" not in cell.source and "secrets" not in cell.source


@pytest.mark.parametrize("exercise", ["normalize", "neuron", "steps_per_epoch", "gradient_step"])
def test_a_memorised_answer_passes_in_the_kernel_but_not_the_graders_cases(exercise, grading):
    """An answer right on every visible case but wrong elsewhere gets through the test cell in
    the kernel (which holds only the visible cases) and fails the answer key's cases, on which
    the grader confirms every mark outside the kernel."""
    from course_grading import answers
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
    exec(compile(tests[f"test_{exercise}"], "<test cell>", "exec"), names)  # memorised: passes
    with pytest.raises(exercises.Incorrect):
        exercises.judge(exercises.EXERCISES[exercise], memorised,
                        answers.all_cases(exercise, seed=123))


def _key(args) -> tuple:
    return tuple(a.tobytes() + str(a.shape).encode() if isinstance(a, np.ndarray) else repr(a)
                 for a in args)
