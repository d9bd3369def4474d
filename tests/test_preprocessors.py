"""The configured nbgrader preprocessor: a copied graded cell no longer sinks a submission."""

from __future__ import annotations

import nbformat
from nbgrader.preprocessors import DeduplicateIds

from course_utils.grading.preprocessors import DeduplicateGradeIds


def _graded_cell(source: str, grade_id: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                 "grade_id": grade_id, "points": 2, "schema_version": 3}
    return cell


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("intro"),
                _graded_cell("assert False  # the student's copy", "test_one_hot"),
                nbformat.v4.new_code_cell("x = 1"),
                _graded_cell("assert True  # the original, further down", "test_one_hot"),
                _graded_cell("assert True", "test_normalize")]
    return nb


def test_earlier_copy_becomes_an_ordinary_cell_and_the_last_keeps_the_id():
    nb, _ = DeduplicateGradeIds().preprocess(_notebook(), {})
    assert "nbgrader" not in nb.cells[1].metadata
    assert nb.cells[1].source.startswith("assert False")
    assert nb.cells[3].metadata["nbgrader"]["grade_id"] == "test_one_hot"
    assert nb.cells[4].metadata["nbgrader"]["grade_id"] == "test_normalize"
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert ids == ["test_one_hot", "test_normalize"]


def test_nbgraders_own_class_leaves_the_empty_metadata_that_its_check_rejects():
    """Why the subclass exists: if nbgrader fixes this, the subclass can go."""
    nb, _ = DeduplicateIds().preprocess(_notebook(), {})
    assert nb.cells[1].metadata.get("nbgrader") == {}


def test_a_notebook_without_duplicates_is_unchanged():
    nb = _notebook()
    del nb.cells[1]
    before = nbformat.writes(nb)
    after, _ = DeduplicateGradeIds().preprocess(nb, {})
    assert nbformat.writes(after) == before
