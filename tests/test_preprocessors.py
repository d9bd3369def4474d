"""The configured nbgrader preprocessors: the master's metadata for the submission's,
duplicated graded cells, outputs that quote hidden tests, demonstrations left out of grading,
a kernel's output kept within a budget."""

from __future__ import annotations

import nbformat
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import DeduplicateIds
from traitlets.config import Config

from course_grading.preprocessors import (
    HIDDEN_BEGIN,
    OUTPUT_CUT_NOTE,
    OUTPUT_OVERHEAD,
    SKIP_WHEN_GRADING,
    SKIPPED_NOTE,
    WITHHELD,
    BoundedExecute,
    DeduplicateGradeIds,
    SkipDemonstrations,
    WithholdHiddenTestOutputs,
    demonstration_sources,
    hidden_test_lines,
    mark_demonstrations,
    master_metadata,
    quoted_lines,
    use_master_metadata,
)
from course_grading.settings import configure


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


def _test_cell_with_hidden_part() -> nbformat.NotebookNode:
    cell = _graded_cell(
        "checks.check_one_hot(one_hot)\n"
        "### BEGIN HIDDEN TESTS\n"
        "for _labels, _k in _secret_cases():\n"
        "    assert np.array_equal(one_hot(_labels, _k), _reference(_labels, _k)), 'wrong'\n"
        "### END HIDDEN TESTS\n", "test_one_hot")
    return cell


def _withhold(cells: list) -> tuple[nbformat.NotebookNode, dict]:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return WithholdHiddenTestOutputs().preprocess(nb, {})


def test_outputs_quoting_hidden_tests_are_withheld_wherever_they_are():
    test_cell = _test_cell_with_hidden_part()
    # A long traceback (the student switched %xmode back) quotes the hidden line, coloured.
    test_cell.outputs = [nbformat.v4.new_output(
        "error", ename="AssertionError", evalue="wrong",
        traceback=["\x1b[0;31mAssertionError\x1b[0m", "      3 \x1b[38;5;28;01mfor\x1b[39;00m "
                   "_labels, _k \x1b[38;5;129;01min\x1b[39;00m _secret_cases():"])]
    printer = nbformat.v4.new_code_cell("print(open('restored.ipynb').read())")
    printer.outputs = [nbformat.v4.new_output(
        "stream", name="stdout",
        text='"### BEGIN HIDDEN TESTS\\n",\n"    assert   np.array_equal(one_hot(_labels, _k),'
             ' _reference(_labels, _k)), \'wrong\'"')]
    innocent = nbformat.v4.new_code_cell("print(one_hot([1]))")
    innocent.outputs = [nbformat.v4.new_output("stream", name="stdout", text="[[0. 1. 0.]]\n"),
                        nbformat.v4.new_output("error", ename="AssertionError",
                                               evalue="one_hot puts the 1s in the wrong places",
                                               traceback=["AssertionError: wrong"])]
    nb, resources = _withhold([printer, test_cell, innocent])
    assert nb.cells[0].outputs[0].text == WITHHELD
    assert nb.cells[1].outputs[0].output_type == "stream"
    assert nb.cells[1].outputs[0].text == WITHHELD
    assert nb.cells[2].outputs[0].text == "[[0. 1. 0.]]\n"
    assert nb.cells[2].outputs[1].evalue == "one_hot puts the 1s in the wrong places"
    assert resources["nn_python"]["withheld_outputs"] == 2
    # The hidden source itself is still there for ClearHiddenTests, which runs next.
    assert HIDDEN_BEGIN in nb.cells[1].source


def test_hidden_lines_skip_trivial_lines_and_fold_whitespace():
    cell = _graded_cell("x = 1\n### BEGIN HIDDEN TESTS\nelse:\n    assert  f(1)   == 2, 'f'\n"
                        "### END HIDDEN TESTS\nprint('visible part, long enough')", "test_f")
    assert hidden_test_lines([cell]) == {"assert f(1) == 2, 'f'"}
    assert quoted_lines("E   assert f(1) == 2, 'f'", {"assert f(1) == 2, 'f'"})
    assert not quoted_lines("visible part, long enough", hidden_test_lines([cell]))


def _demo_master() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    demo = nbformat.v4.new_code_cell("history = train(epochs=5)   # an experiment")
    demo.metadata["tags"] = [SKIP_WHEN_GRADING]
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), demo,
                _graded_cell("assert f(1) == 2", "test_f")]
    return nb


def _tags(cell) -> list:
    return list(cell.metadata.get("tags", []))


def test_only_the_masters_demonstrations_are_skipped_and_the_student_cannot_choose():
    sources = demonstration_sources(_demo_master())
    submission = nbformat.v4.new_notebook()
    same_demo = nbformat.v4.new_code_cell("history  =  train(epochs=5)   # an experiment")
    edited_demo = nbformat.v4.new_code_cell("history = train(epochs=50)")
    edited_demo.metadata["tags"] = [SKIP_WHEN_GRADING]           # tagged by the student
    test_cell = _graded_cell("history = train(epochs=5)   # an experiment", "test_f")
    test_cell.metadata["tags"] = [SKIP_WHEN_GRADING, "keep-me"]   # a test cell the student tagged
    solution = nbformat.v4.new_code_cell("history = train(epochs=5)   # an experiment")
    solution.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                     "grade_id": "f", "schema_version": 3}
    submission.cells = [same_demo, edited_demo, test_cell, solution]
    assert mark_demonstrations(submission, sources) == 1
    assert _tags(same_demo) == [SKIP_WHEN_GRADING]
    assert same_demo.outputs[0]["text"] == SKIPPED_NOTE
    assert _tags(edited_demo) == []           # an edited demonstration runs as edited
    assert _tags(test_cell) == ["keep-me"]    # a graded cell always runs
    assert _tags(solution) == []


def test_the_preprocessor_reads_the_master_from_the_course_source_folder(tmp_path):
    config = configure(Config(), tmp_path)
    master = tmp_path / "source" / "nn_python" / "06_x.ipynb"
    master.parent.mkdir(parents=True)
    nbformat.write(_demo_master(), master)
    submission = _demo_master()
    for cell in submission.cells:
        cell.metadata.pop("tags", None)       # the student removed the tag: it still applies
    resources = {"nbgrader": {"assignment": "nn_python", "notebook": "06_x"}}
    nb, _ = SkipDemonstrations(config=config).preprocess(submission, resources)
    assert [_tags(cell) for cell in nb.cells] == [[], [SKIP_WHEN_GRADING], []]
    # Without a master, nothing is skipped.
    resources["nbgrader"]["notebook"] = "07_missing"
    nb, _ = SkipDemonstrations(config=config).preprocess(_demo_master(), resources)
    assert [_tags(cell) for cell in nb.cells] == [[], [], []]


def test_nbgrader_is_configured_to_skip_exactly_that_tag():
    config = configure(Config())
    assert config.Execute.skip_cells_with_tag == SKIP_WHEN_GRADING
    assert config.Autograde.sanitize_preprocessors[-1] == \
        "course_grading.preprocessors.SkipDemonstrations"


def test_malformed_tags_neither_crash_the_rule_nor_skip_a_test_cell():
    """A submission's cell ``tags`` that is no list (a string, null, a number, an object),
    on a cell whose source is a master's demonstration: mark_demonstrations crashed
    (``'str' object has no attribute 'append'``), so nbgrader could not grade the notebook;
    a string tag holding the skip tag was split into letters. Every such cell ends with a
    list of tags, the skip tag only where the master decides, never on a test cell."""
    sources = demonstration_sources(_demo_master())
    demo_source = "history = train(epochs=5)   # an experiment"
    for bad in ("foo", "", None, 0, 5, {"skip-when-grading": 1}, SKIP_WHEN_GRADING):
        submission = nbformat.v4.new_notebook()
        demo = nbformat.v4.new_code_cell(demo_source)
        demo.metadata["tags"] = bad
        other = nbformat.v4.new_code_cell("x = 1")
        other.metadata["tags"] = bad
        test_cell = _graded_cell("assert f(1) == 2", "test_f")
        test_cell.metadata["tags"] = bad
        submission.cells = [demo, other, test_cell]
        assert mark_demonstrations(submission, sources) == 1, bad
        assert demo.metadata["tags"] == (["foo"] if bad == "foo" else []) + [SKIP_WHEN_GRADING]
        for cell in (other, test_cell):
            assert isinstance(cell.metadata["tags"], list), bad
            assert SKIP_WHEN_GRADING not in cell.metadata["tags"], bad


def _bounded_run(sources: list[str], cell_bytes: int, notebook_bytes: int):
    """``sources`` run by ``BoundedExecute`` in a fresh kernel with these budgets."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    execute = BoundedExecute(timeout=60, kernel_name="python3",
                             max_cell_output_bytes=cell_bytes,
                             max_notebook_output_bytes=notebook_bytes)
    return execute.preprocess(nb, {})[0]


def _kept(cell) -> int:
    return sum(len(output.get("text", "")) for output in cell.outputs
               if output.get("text") != OUTPUT_CUT_NOTE)


def test_output_past_the_budget_is_dropped_with_one_note_and_errors_still_count():
    flood = "import sys\nfor _ in range(200):\n    print('x' * 999)\n    sys.stdout.flush()\n"
    nb = _bounded_run([flood,                                        # past the cell's budget
                       flood + "raise ValueError('wrong answer')",  # past it, then fails
                       "print('small')",
                       flood * 3,                                    # past the notebook's
                       "print('after')\nassert False, 'a failed test'"],
                      cell_bytes=50_000, notebook_bytes=130_000)
    first, failing, small, last, test = nb.cells
    for cell in (first, failing):
        assert 0 < _kept(cell) <= 50_000
        assert [o.get("text") for o in cell.outputs].count(OUTPUT_CUT_NOTE) == 1
    errors = [o for o in failing.outputs if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "wrong answer")]
    assert small.outputs[0].text == "small\n"
    assert _kept(last) <= 130_000 - 100_000
    # Past the notebook's budget nothing more is printed, but an error is still an error.
    assert OUTPUT_CUT_NOTE in [o.get("text") for o in test.outputs]
    assert [o.ename for o in test.outputs if o.output_type == "error"] == ["AssertionError"]


def test_many_tiny_outputs_are_counted_at_what_they_cost():
    nb = _bounded_run(["import sys\nfor _ in range(5000):\n    print(1)\n    sys.stdout.flush()"],
                      cell_bytes=64 * OUTPUT_OVERHEAD, notebook_bytes=2**20)
    assert len(nb.cells[0].outputs) <= 64 + 1


def test_nbgrader_executes_with_the_bounded_preprocessor_and_keeps_its_other_steps():
    from nbgrader.converters import Autograde
    from traitlets.utils.importstring import import_item

    configured = [import_item(name) for name in
                  configure(Config()).Autograde.autograde_preprocessors]
    defaults = Autograde.class_traits()["autograde_preprocessors"].default()
    assert configured[0] is BoundedExecute and issubclass(BoundedExecute, defaults[0])
    assert configured[1:] == defaults[1:]


def test_an_update_of_many_displays_counts_once_for_each():
    # One update rewrites every output shown under its id: 200 of them times 20 kB would be
    # 4 MB written out of a message of 20 kB.
    nb = _bounded_run(["from IPython.display import display, update_display\n"
                       "display('small', display_id='one')\n"
                       "update_display('updated', display_id='one')\n"
                       "for _ in range(200):\n    display('a', display_id='many')\n"
                       "update_display('x' * 20_000, display_id='many')"],
                      cell_bytes=2**20, notebook_bytes=2**20)
    shown = [o.data["text/plain"] for o in nb.cells[0].outputs if "data" in o]
    assert shown[0] == "'updated'"
    assert shown[1:] == ["'a'"] * 200


def _solution_cell(source: str, grade_id: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                 "grade_id": grade_id, "schema_version": 3}
    return cell


def _metadata_master() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [_solution_cell("def f(x):\n    return x + 1", "f"),
                _graded_cell("assert f(1) == 2", "test_f")]
    return nb


def test_only_cells_that_match_a_master_cell_keep_nbgrader_metadata():
    masters = master_metadata(_metadata_master())
    submission = nbformat.v4.new_notebook()
    answer = _solution_cell("def f(x):\n    return x + 1", "f")
    answer.metadata["nbgrader"]["checksum"] = "from the release"
    test = _graded_cell("assert f(1) == 2", "test_f")
    test.metadata["nbgrader"]["points"] = 100                   # claims more points
    pasted = _solution_cell("def neuron(x):\n    return x", "neuron")  # from another notebook
    bonus = _graded_cell("print('bonus')", "test_bonus")        # a test of the student's own
    renamed = _graded_cell("assert True", "test_f_renamed")
    graded_answer = _solution_cell("def f(x):\n    return 0", "f")
    graded_answer.metadata["nbgrader"].update(grade=True, points=100)  # a solution, graded
    malformed = [nbformat.v4.new_code_cell("x = 1") for _ in range(3)]
    for cell, meta in zip(malformed, ({}, "grade", {"grade_id": ["f"], "grade": True})):
        cell.metadata["nbgrader"] = meta
    submission.cells = [answer, test, pasted, bonus, renamed, graded_answer, *malformed]
    dropped = use_master_metadata(submission, masters)
    assert dropped == ["neuron", "test_bonus", "test_f_renamed", "f", "?", "?", "?"]
    assert answer.metadata["nbgrader"] == masters["f"]          # the master's, nothing else
    assert test.metadata["nbgrader"]["points"] == 2
    for cell in submission.cells[2:]:
        assert "nbgrader" not in cell.metadata
    # What is left passes nbgrader's own check (it rejected each of these notebooks).
    MetadataValidator().validate_nb(submission)


def test_a_missing_master_test_cell_is_left_missing():
    submission = nbformat.v4.new_notebook()
    submission.cells = [_solution_cell("def f(x):\n    return x + 1", "f")]
    assert use_master_metadata(submission, master_metadata(_metadata_master())) == []
    assert [c.metadata["nbgrader"]["grade_id"] for c in submission.cells] == ["f"]


def test_nbgrader_reads_the_masters_metadata_before_anything_else():
    steps = configure(Config()).Autograde.sanitize_preprocessors
    assert steps[:2] == ["nbgrader.preprocessors.ClearOutput",
                         "course_grading.preprocessors.UseMasterMetadata"]
