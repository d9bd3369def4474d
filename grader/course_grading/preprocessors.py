"""The nbgrader preprocessors the course configures: nbgrader is configured, never patched.

``DeduplicateGradeIds`` replaces nbgrader's ``DeduplicateIds`` while autograding;
``SkipDemonstrations`` leaves the masters' demonstration cells out of autograding;
``WithholdHiddenTestOutputs`` runs before ``ClearHiddenTests`` while feedback is generated.

Why the first exists: when a student copies a graded cell, nbgrader 0.9's ``DeduplicateIds`` empties
the copy's ``nbgrader`` metadata (``{}``) instead of removing it, and its own metadata check
then rejects the notebook as "an old version of the nbgrader metadata format", so the whole
submission goes ungraded (nbgrader issue #1083, still open). This subclass keeps nbgrader's
rule (the last cell with a grade id keeps it) and turns earlier copies into plain cells by
removing the key, so autograding goes on: the kept test cell is restored from the gradebook
and scored as usual. It is configured in ``Autograde.sanitize_preprocessors``; nbgrader
itself is not modified.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbgrader import utils
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import DeduplicateIds, NbGraderPreprocessor


class DeduplicateGradeIds(DeduplicateIds):
    """Like nbgrader's ``DeduplicateIds``, but a duplicate becomes an ordinary cell."""

    def preprocess_cell(self, cell: Any, resources: Any, cell_index: int) -> tuple[Any, Any]:
        if not (utils.is_grade(cell) or utils.is_solution(cell) or utils.is_locked(cell)):
            return cell, resources
        grade_id = cell.metadata.nbgrader["grade_id"]
        if grade_id in self.grade_ids:
            self.log.warning("Cell with id '%s' exists multiple times: grading the last one "
                             "and treating the earlier copy as an ordinary cell.", grade_id)
            del cell.metadata["nbgrader"]
        else:
            self.grade_ids.add(grade_id)
        return cell, resources


#: nbgrader's markers around the hidden part of a test cell.
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
#: Hidden lines shorter than this (``else:``, ``)``) say nothing about the tests; ignore them.
MIN_LINE_CHARS = 12
#: What a learner sees in place of an output that quoted the hidden tests.
WITHHELD = ("[This output was withheld from the feedback because it quoted the hidden tests. "
            "Your instructor can see it.]\n")


def _normal(text: str) -> str:
    """Whitespace folded to single spaces, so layout changes do not hide a quoted line."""
    return " ".join(text.split())


def outside_markers(source: str, begin: str, end: str) -> str:
    """``source`` without the lines between (and on) the markers ``begin`` and ``end``: a test
    cell as the student version shows it, or a solution cell as every student starts it."""
    kept, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def hidden_test_lines(cells: Any) -> set[str]:
    """The lines between the hidden-test markers of ``cells``, normalised.

    Trivial lines are dropped, and so are lines that also stand outside the hidden parts (a
    visible check repeated in the hidden part, say): showing those reveals nothing.
    """
    hidden: set[str] = set()
    visible: set[str] = set()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        inside = False
        for line in str(cell.get("source", "")).splitlines():
            if HIDDEN_BEGIN in line:
                inside = True
            elif HIDDEN_END in line:
                inside = False
            elif len(_normal(line)) >= MIN_LINE_CHARS:
                (hidden if inside else visible).add(_normal(line))
    return hidden - visible


def quoted_lines(text: str, lines: set[str]) -> list[str]:
    """Which of ``lines`` (or a marker) appear in ``text``, whatever its whitespace."""
    flat = _normal(text)
    found = sorted(line for line in lines if line in flat)
    found += [marker for marker in (HIDDEN_BEGIN, HIDDEN_END) if marker in text]
    return found


def _output_text(output: Any) -> str:
    parts = [str(output.get("text", ""))]
    parts += [str(line) for line in output.get("traceback", [])]
    parts += [str(output.get("evalue", ""))]
    for value in output.get("data", {}).values():
        parts.append(value if isinstance(value, str) else str(value))
    return "\n".join(parts)


class WithholdHiddenTestOutputs(Preprocessor):
    """Replace every output that quotes a hidden-test line before feedback is written.

    Why it exists: ``ClearHiddenTests`` removes the hidden tests from the test cells' source,
    but a submission can still make them appear in an *output*: switching IPython back to
    long tracebacks (``%xmode``), printing the restored notebook it finds on disk, or
    inspecting the running cell. Blocking each trick would never end, so this step looks
    at what would be shown instead: it collects the hidden lines from the notebook's own
    test cells (it runs before ``ClearHiddenTests``) and withholds any output, in any cell,
    that contains one of them or a marker, ANSI colour codes and whitespace notwithstanding.
    """

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        lines = hidden_test_lines(nb.cells)
        withheld = 0
        for cell in nb.cells:
            if cell.get("cell_type") != "code":
                continue
            for index, output in enumerate(cell.get("outputs", [])):
                if quoted_lines(_strip_ansi(_output_text(output)), lines):
                    cell.outputs[index] = nbformat.v4.new_output(
                        "stream", name="stdout", text=WITHHELD)
                    withheld += 1
        if withheld:
            self.log.warning("Withheld %d output(s) that quoted hidden tests.", withheld)
        resources.setdefault("nn_python", {})["withheld_outputs"] = withheld
        return nb, resources


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


#: The tag a master puts on a demonstration cell (an experiment, a sweep, its plot) whose
#: results decide no mark: it is left out while autograding. nbgrader's ``Execute`` is
#: configured to skip cells carrying it (nbclient's ``skip_cells_with_tag``).
SKIP_WHEN_GRADING = "skip-when-grading"
#: What a skipped cell shows in the graded notebook and the feedback instead of its output.
SKIPPED_NOTE = ("[Not run while grading: this demonstration decides no mark. "
                "Run it in your own notebook to see its output.]\n")


def demonstration_sources(master: Any) -> set[str]:
    """The sources (whitespace folded) of the master's code cells tagged ``SKIP_WHEN_GRADING``."""
    return {_normal(cell.source) for cell in master.cells
            if cell.get("cell_type") == "code"
            and SKIP_WHEN_GRADING in cell.get("metadata", {}).get("tags", [])}


def mark_demonstrations(nb: Any, sources: set[str]) -> int:
    """Tag for skipping exactly the cells of ``nb`` that are the master's demonstrations, word
    for word; remove the tag from every other cell. Return how many cells are skipped.

    The decision is the master's, never the submission's: a tag a student adds is removed, a
    graded or solution cell is never skipped whatever its source, and a demonstration the
    student edited runs as edited (it decides no mark either way).
    """
    skipped = 0
    for cell in nb.cells:
        metadata = cell.get("metadata", {})
        if "tags" in metadata:
            # Tags that are no list (a string, null, a number: the submission's JSON) are
            # made one, so neither this rule nor nbclient's ``in`` test can be fooled by them.
            tags = metadata["tags"]
            if isinstance(tags, str):
                tags = [tags] if tags else []
            elif not isinstance(tags, list):
                tags = []
            cell.metadata["tags"] = [tag for tag in tags if tag != SKIP_WHEN_GRADING]
        if (cell.get("cell_type") != "code" or utils.is_grade(cell)
                or utils.is_solution(cell) or _normal(cell.source) not in sources):
            continue
        cell.metadata.setdefault("tags", []).append(SKIP_WHEN_GRADING)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=SKIPPED_NOTE)]
        skipped += 1
    return skipped


class SkipDemonstrations(NbGraderPreprocessor):
    """Leave the master's demonstration cells out of autograding.

    Why it exists: a demonstration (notebook 8's experiments and overfitting runs) costs more
    than grading the rest of its notebook, and no mark depends on it: marks come from the test
    cells and the grader's re-check outside the kernel. Which cells are
    demonstrations is read from the master in the course's ``source`` folder (tag
    ``SKIP_WHEN_GRADING``), matched by source; see :func:`mark_demonstrations`. Runs last among
    ``Autograde.sanitize_preprocessors``, after ``ClearOutput``, so its note is what the skipped
    cells show.
    """

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        info = resources.get("nbgrader", {})
        coursedir = CourseDirectory(config=self.config)
        master = Path(coursedir.format_path(coursedir.source_directory, ".",
                                            info.get("assignment", ""))) \
            / f"{info.get('notebook', '')}.ipynb"
        sources = (demonstration_sources(nbformat.read(master, as_version=4))
                   if master.is_file() else set())
        skipped = mark_demonstrations(nb, sources)
        if skipped:
            self.log.info("Left out %d demonstration cell(s) of the master while grading.",
                          skipped)
        return nb, resources
