"""The grader proven both ways, through the class-grading command.

One class is graded once (two workers): right answers in several styles get full marks on
their cell, typical wrong answers lose that cell's points and only those, and broken
submissions (blank, endless, edited, deleted or duplicated tests, corrupt, exiting) neither crash nor stop the others.
"""

from __future__ import annotations

import csv
import re
from html import unescape
from pathlib import Path

import nbformat
import pytest

import answers
from conftest import ROOT
from course_grading import grade

DATA_NB = "04_data_and_preprocessing.ipynb"
MODEL_NB = "05_building_the_model.ipynb"
#: Every notebook of the course (the blank student hands in all of them).
COURSE = sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _student_version(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / name, as_version=4)


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _answer(notebook: nbformat.NotebookNode, grade_id: str, source: str) -> None:
    cells = [c for c in notebook.cells if _grade_id(c) == grade_id]
    assert len(cells) == 1, grade_id
    cells[0].source = source.strip("\n")


def _save(root: Path, student: str, name: str, notebook: nbformat.NotebookNode) -> None:
    (root / student).mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, root / student / name)


def _data_notebook(one_hot_source: str) -> nbformat.NotebookNode:
    notebook = _student_version(DATA_NB)
    _answer(notebook, "normalize", answers.NORMALIZE_RIGHT)
    _answer(notebook, "one_hot", one_hot_source)
    return notebook


def _model_notebook(build_source: str) -> nbformat.NotebookNode:
    notebook = _student_version(MODEL_NB)
    _answer(notebook, "build_model", build_source)
    return notebook


#: The styles graded here, a few of each kind. Every style of every exercise is proven against
#: its hidden test in tests/test_hidden_tests.py, and two right and two wrong styles of every
#: exercise go through the grading command in tests/test_grader_verdicts.py; this class proves
#: the command's bookkeeping (a cell's points, only that cell's) at a cost CI can afford.
ONE_HOT_RIGHT = ("indexing", "to_categorical", "loop")
ONE_HOT_WRONG = ("shifted_by_one", "integer_dtype", "transposed")
MODEL_RIGHT = ("sequential_input", "legacy_input_shape_tf_nn")
MODEL_WRONG = ("hidden_256_units", "mse_loss", "not_compiled")


def make_class(root: Path) -> None:
    for prefix, name, make, sources, styles in (
            ("onehot-right", DATA_NB, _data_notebook, answers.ONE_HOT_RIGHT, ONE_HOT_RIGHT),
            ("onehot-wrong", DATA_NB, _data_notebook, answers.ONE_HOT_WRONG, ONE_HOT_WRONG),
            ("model-right", MODEL_NB, _model_notebook, answers.BUILD_MODEL_RIGHT, MODEL_RIGHT),
            ("model-wrong", MODEL_NB, _model_notebook, answers.BUILD_MODEL_WRONG, MODEL_WRONG)):
        for style in styles:
            _save(root, f"{prefix}-{style}", name, make(sources[style]))
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        _save(root, "blank", path.name, nbformat.read(path, as_version=4))
    _save(root, "endless", DATA_NB, _data_notebook(answers.INFINITE_LOOP))
    _save(root, "exits", DATA_NB, _data_notebook(answers.KERNEL_EXIT))
    edited = _model_notebook(answers.BUILD_MODEL_WRONG["hidden_256_units"])
    _answer(edited, "test_build_model", answers.TEST_CELL_EDITED)
    _save(root, "edited-test", MODEL_NB, edited)
    deleted = _data_notebook(answers.ONE_HOT_RIGHT["eye"])
    deleted.cells = [c for c in deleted.cells if _grade_id(c) != "test_one_hot"]
    _save(root, "deleted-test", DATA_NB, deleted)
    for name, source, test_source in (("duplicated-right", answers.ONE_HOT_RIGHT["eye"], None),
                                      ("duplicated-wrong", answers.ONE_HOT_WRONG["transposed"],
                                       answers.TEST_CELL_EDITED)):
        notebook = _data_notebook(source)
        index = [_grade_id(c) for c in notebook.cells].index("test_one_hot")
        copy = nbformat.from_dict(notebook.cells[index])
        copy.id = "copied-test-cell"
        copy.source = test_source or copy.source
        notebook.cells.insert(index, copy)  # the copy stands before the original
        _save(root, name, DATA_NB, notebook)
    (root / "corrupt").mkdir()
    (root / "corrupt" / DATA_NB).write_text('{"cells": [')
    (root / "corrupt" / "notes.ipynb").write_text("{}")
    # The roster `python -m course_grading.lms collect` writes beside the folders.
    (root / "students.csv").write_text("student_id,name,source\nblank,Blank Page,blank\n")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions = tmp_path_factory.mktemp("submissions")
    output = tmp_path_factory.mktemp("graded")
    make_class(submissions)
    code = grade.main([str(submissions), "--output", str(output), "--jobs", "2",
                       "--timeout", "60", "--quiet"])
    assert code == 1  # some files are listed in problems.csv (corrupt, exits, endless, ...)
    with (output / "grades.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    with (output / "problems.csv").open() as handle:
        problems = list(csv.DictReader(handle))
    scores = {(r["student_id"], r["notebook"], r["grade_id"]): (float(r["score"]),
                                                                float(r["max_score"]))
              for r in rows}
    return {"rows": rows, "scores": scores, "problems": problems, "output": output}


def _cell(graded, student, notebook, grade_id):
    return graded["scores"][(student, notebook, grade_id)]


def test_csv_header_and_rows(graded):
    with (graded["output"] / "grades.csv").open() as handle:
        assert handle.readline().strip() == "student_id,notebook,grade_id,score,max_score"
    assert {r["grade_id"] for r in graded["rows"] if r["notebook"] == DATA_NB} == {
        "test_normalize", "test_one_hot"}


@pytest.mark.parametrize("style", ONE_HOT_RIGHT)
def test_right_one_hot_gets_full_marks(graded, style):
    score, most = _cell(graded, f"onehot-right-{style}", DATA_NB, "test_one_hot")
    assert score == most > 0


@pytest.mark.parametrize("style", ONE_HOT_WRONG)
def test_wrong_one_hot_loses_that_cell_only(graded, style):
    student = f"onehot-wrong-{style}"
    assert _cell(graded, student, DATA_NB, "test_one_hot")[0] == 0
    score, most = _cell(graded, student, DATA_NB, "test_normalize")
    assert score == most > 0


@pytest.mark.parametrize("style", MODEL_RIGHT)
def test_right_model_gets_full_marks(graded, style):
    score, most = _cell(graded, f"model-right-{style}", MODEL_NB, "test_build_model")
    assert score == most > 0


@pytest.mark.parametrize("style", MODEL_WRONG)
def test_wrong_model_loses_its_points(graded, style):
    assert _cell(graded, f"model-wrong-{style}", MODEL_NB, "test_build_model")[0] == 0


def test_blank_student_version_scores_zero_everywhere(graded):
    blank = [r for r in graded["rows"] if r["student_id"] == "blank"]
    assert len({r["notebook"] for r in blank}) == len(COURSE)
    assert all(float(r["score"]) == 0 for r in blank)


def test_every_test_cell_of_the_course_is_graded_with_its_points(graded):
    # Right answers to every exercise get full marks in tests/test_grader_verdicts.py; here the
    # blank student's rows carry every test cell of the masters, with the masters' points.
    points = {}
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and cell.cell_type == "code":
                points[(path.name, meta["grade_id"])] = float(meta["points"])
    blank = {(r["notebook"], r["grade_id"]): float(r["max_score"])
             for r in graded["rows"] if r["student_id"] == "blank"}
    assert blank == points


def test_infinite_loop_times_out_and_the_rest_is_graded(graded):
    assert _cell(graded, "endless", DATA_NB, "test_one_hot")[0] == 0
    reported = {(p["student_id"], p["notebook"]): p["problem"] for p in graded["problems"]}
    assert "ran longer than 60 s" in reported[("endless", DATA_NB)]
    score, most = _cell(graded, "endless", DATA_NB, "test_normalize")
    assert score == most > 0


def test_edited_test_cell_is_restored(graded):
    # The student replaced the test with `pass`; nbgrader restores it, and it catches the bug.
    assert _cell(graded, "edited-test", MODEL_NB, "test_build_model")[0] == 0


def test_deleted_test_cell_scores_zero(graded):
    # A deleted test cannot pass, even under a right answer: nbgrader scores it zero.
    assert _cell(graded, "deleted-test", DATA_NB, "test_one_hot") == (0.0, 2.0)
    score, most = _cell(graded, "deleted-test", DATA_NB, "test_normalize")
    assert score == most > 0


def test_duplicated_test_cells_are_graded_once(graded):
    assert _cell(graded, "duplicated-right", DATA_NB, "test_one_hot") == (2.0, 2.0)
    # A copy edited to `pass` does not rescue a wrong answer: the original test still runs.
    assert _cell(graded, "duplicated-wrong", DATA_NB, "test_one_hot") == (0.0, 2.0)
    for student in ("duplicated-right", "duplicated-wrong"):
        assert _cell(graded, student, DATA_NB, "test_normalize") == (1.0, 1.0)


def test_kernel_exit_is_reported_not_zeroed(graded):
    # nbgrader cannot finish a notebook whose kernel dies: it is reported, never silently zeroed.
    reported = {(p["student_id"], p["notebook"]): p["problem"] for p in graded["problems"]}
    assert "kernel died" in reported[("exits", DATA_NB)]
    assert ("exits", DATA_NB, "test_one_hot") not in graded["scores"]


def test_corrupt_and_foreign_files_are_reported(graded):
    reported = {(p["student_id"], p["notebook"]): p["problem"] for p in graded["problems"]}
    assert "not valid JSON" in reported[("corrupt", DATA_NB)]
    assert "not a notebook of this course" in reported[("corrupt", "notes.ipynb")]
    assert not [p for p in graded["problems"] if p["notebook"] == "students.csv"]


def test_feedback_without_hidden_tests(graded):
    feedback = graded["output"] / "feedback" / "onehot-wrong-shifted_by_one" / \
        DATA_NB.replace(".ipynb", ".html")
    html = unescape(re.sub(r"<[^>]+>", "", feedback.read_text()))  # the text a student reads
    assert "one_hot" in html and "np.eye(num_classes)[(labels + 1) % num_classes]" in html
    assert "HIDDEN TESTS" not in html and "_expected_one_hot" not in html
    assert "Incorrect" in html or "AssertionError" in html
    blank = graded["output"] / "feedback" / "blank"
    assert len(list(blank.glob("*.html"))) == len(COURSE)


def test_demonstrations_are_left_out_of_grading(graded):
    """A master's demonstrations (tagged ``skip-when-grading``: 06's and 07's trainings) do not
    run while grading: the feedback shows the note where their output would be, once per such
    cell, and the notebooks' exercises are still graded."""
    from course_grading.preprocessors import SKIP_WHEN_GRADING, SKIPPED_NOTE

    note = SKIPPED_NOTE.strip()
    for name in COURSE:
        master = nbformat.read(ROOT / "solutions" / name, as_version=4)
        tagged = sum(SKIP_WHEN_GRADING in cell.metadata.get("tags", []) for cell in master.cells)
        feedback = graded["output"] / "feedback" / "blank" / name.replace(".ipynb", ".html")
        html = unescape(re.sub(r"<[^>]+>", "", feedback.read_text()))
        assert html.count(note) == tagged, name
    assert sum(SKIP_WHEN_GRADING in cell.metadata.get("tags", [])
               for cell in nbformat.read(ROOT / "solutions" / "08_experiments.ipynb",
                                         as_version=4).cells) >= 4


def test_unusable_input_is_a_clear_error(tmp_path, capsys):
    assert grade.main([str(tmp_path), "--output", str(tmp_path / "out"), "--quiet"]) == 2
    assert "no gradable notebooks" in capsys.readouterr().err
    assert grade.main([str(tmp_path / "missing"), "--output", str(tmp_path / "o"),
                       "--quiet"]) == 2
