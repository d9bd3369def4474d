"""The nbgrader preprocessors the course configures: nbgrader is configured, never patched.

``UseMasterMetadata`` gives every submitted cell the master's nbgrader metadata, or none;
``DeduplicateGradeIds`` replaces nbgrader's ``DeduplicateIds`` while autograding;
``SkipDemonstrations`` leaves the masters' demonstration cells out of autograding;
``WithholdHiddenTestOutputs`` runs before ``ClearHiddenTests`` while feedback is generated;
``BoundedExecute`` replaces nbgrader's ``Execute`` while autograding, keeping a bounded amount
of each kernel's output.

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

import copy
import re
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbgrader import utils
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import DeduplicateIds, Execute, NbGraderPreprocessor
from traitlets import Integer


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


def master_path(config: Any, resources: Any) -> Path:
    """Where the master of the notebook being autograded is: the course's ``source`` folder
    (it may not exist, for a notebook that is no master's)."""
    info = resources.get("nbgrader", {})
    coursedir = CourseDirectory(config=config)
    return Path(coursedir.format_path(coursedir.source_directory, ".",
                                      info.get("assignment", ""))) \
        / f"{info.get('notebook', '')}.ipynb"


def _nbgrader_kind(meta: Any) -> tuple[bool, bool, bool]:
    """What an nbgrader metadata dict makes of its cell: graded, solution, task."""
    return bool(meta.get("grade")), bool(meta.get("solution")), bool(meta.get("task"))


def master_metadata(master: Any) -> dict[str, dict]:
    """The nbgrader metadata of every cell of ``master`` that has a grade id, by grade id."""
    found = {}
    for cell in master.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            found[meta["grade_id"]] = dict(meta)
    return found


def use_master_metadata(nb: Any, masters: dict[str, dict]) -> list[str]:
    """Give each cell of ``nb`` that claims a master cell (same grade id, same kind: graded,
    solution or task) a copy of that master cell's nbgrader metadata, and make every other
    cell with nbgrader metadata an ordinary cell (its metadata removed). Returns the grade
    ids (or ``?``) of the cells made ordinary.

    So the submission's nbgrader metadata decides nothing: not which cells are graded, nor
    their points, ids, kind or format. A cell pasted from another notebook, a graded cell the
    student added, a renamed test cell or a solution cell marked graded runs as ordinary
    code, and a master test cell that is then missing scores 0, as nbgrader scores a test
    cell the student deleted (``add_missing_cells`` is off, so its grade keeps no score, which
    nbgrader's ``Grade.score`` counts as 0).
    """
    dropped = []
    for cell in nb.cells:
        metadata = cell.get("metadata")
        if not isinstance(metadata, dict) or "nbgrader" not in metadata:
            continue
        meta = metadata["nbgrader"]
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        master = masters.get(grade_id) if isinstance(grade_id, str) else None
        if master is not None and _nbgrader_kind(meta) == _nbgrader_kind(master):
            cell.metadata["nbgrader"] = nbformat.from_dict(copy.deepcopy(master))
        else:
            del cell.metadata["nbgrader"]
            dropped.append(grade_id if isinstance(grade_id, str) else "?")
    return dropped


class UseMasterMetadata(NbGraderPreprocessor):
    """Grade a submission from the master's cells, never from the nbgrader metadata it holds.

    Why it exists: a cell's nbgrader metadata travels with it. A solution cell copied from
    another course notebook (JupyterLab's copy and paste keeps it) names a grade id this
    notebook's gradebook does not know; nbgrader's ``OverwriteCells`` then drops the id but
    not the cell's graded or solution flag, its metadata check rejects the notebook ("nbgrader
    cell does not have a grade_id"), and the whole notebook went ungraded, as it did for a
    graded cell the student added, a renamed test cell, or a solution cell marked graded
    (that one crashed ``OverwriteCells``). See :func:`use_master_metadata` for the rule.
    The master is read from the course's ``source`` folder; without one the notebook is
    left as it is (nbgrader skips a notebook its gradebook does not know). Configured in
    ``Autograde.sanitize_preprocessors`` after ``ClearOutput``, before anything of nbgrader's
    reads the metadata.
    """

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        master = master_path(self.config, resources)
        if not master.is_file():
            return nb, resources
        dropped = use_master_metadata(nb, master_metadata(nbformat.read(master,
                                                                        as_version=4)))
        if dropped:
            self.log.warning("Made %d cell(s) ordinary: their nbgrader metadata matches no "
                             "cell of the master (%s).", len(dropped),
                             ", ".join(name[:60] for name in dropped[:10]))
        return nb, resources


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
        master = master_path(self.config, resources)
        sources = (demonstration_sources(nbformat.read(master, as_version=4))
                   if master.is_file() else set())
        skipped = mark_demonstrations(nb, sources)
        if skipped:
            self.log.info("Left out %d demonstration cell(s) of the master while grading.",
                          skipped)
        return nb, resources


#: What a cell shows where the kernel's output past the budget was dropped.
OUTPUT_CUT_NOTE = ("[Output cut while grading: this cell printed or displayed more than the "
                   "grader keeps. Errors still count.]\n")
#: Bytes a kept output costs beyond its text: a one-character stream output measured
#: about 610 bytes of Python objects, so many tiny outputs are counted as what they cost.
OUTPUT_OVERHEAD = 640
#: Longest ``evalue`` kept of an error that arrives past the budget.
CUT_ERROR_CHARS = 1000


def content_size(value: Any) -> int:
    """About how many bytes the strings in a kernel message's ``value`` (its ``content``)
    hold, keys included; walked without recursion, so a deeply nested value cannot stop it."""
    size, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            size += len(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            size += 8
    return size


class BoundedExecute(Execute):
    """nbgrader's ``Execute``, keeping at most a byte budget of the kernel's output per cell
    and per notebook; what comes past it is dropped as it arrives, and the cell shows
    :data:`OUTPUT_CUT_NOTE` once.

    Why it exists: nbclient keeps every output in memory until the notebook is written, and
    nbgrader sets no bound. A cell printing a megabyte 2,000 times grew the grading job's
    process (outside the sandbox's memory cap) to 2.1 GB, and the notebook ended ungraded.
    Error outputs are never dropped silently: past the budget an error is kept in short
    form (its name and the start of its message), so a failing test cell still fails.
    Widget state and updates of displayed outputs count against the notebook's budget too.
    Configured in ``Autograde.autograde_preprocessors`` in place of ``Execute``, whose
    settings (``Execute.timeout`` and the rest) it takes.
    """

    max_cell_output_bytes = Integer(
        4 * 2**20, help="Most bytes of output kept from one cell while autograding."
    ).tag(config=True)
    max_notebook_output_bytes = Integer(
        32 * 2**20, help="Most bytes of output kept from one notebook while autograding."
    ).tag(config=True)

    _kept_in_notebook = 0
    _kept_in_cell = 0
    _cell_index: int | None = None
    _note: Any = None

    def preprocess(self, nb: Any, resources: Any = None, km: Any = None) -> tuple[Any, Any]:
        self._kept_in_notebook, self._kept_in_cell, self._cell_index = 0, 0, None
        return super().preprocess(nb, resources, km=km)

    def create_kernel_manager(self) -> Any:
        """nbgrader's kernel manager, whose client queues little of the kernel's output
        (:class:`course_grading.sandbox.BoundedKernelClient`) before this class reads it."""
        from course_grading.sandbox import BoundedKernelClient

        manager = super().create_kernel_manager()
        manager.client_factory = BoundedKernelClient
        return manager

    def _spend(self, size: int, cell_index: int | None) -> bool:
        """Count ``size`` bytes kept (from cell ``cell_index``, or from the notebook as a
        whole when None); False, counting nothing, when they do not fit the budget."""
        if cell_index is not None and cell_index != self._cell_index:
            self._cell_index, self._kept_in_cell = cell_index, 0
        if self._kept_in_notebook + size > self.max_notebook_output_bytes:
            return False
        if cell_index is not None:
            if self._kept_in_cell + size > self.max_cell_output_bytes:
                return False
            self._kept_in_cell += size
        self._kept_in_notebook += size
        return True

    def output(self, outs: list, msg: dict, display_id: str | None,  # noqa: D102
               cell_index: int) -> Any:
        size = content_size(msg.get("content")) + OUTPUT_OVERHEAD
        if self._spend(size, cell_index):
            return super().output(outs, msg, display_id, cell_index)
        self._cut(outs, msg)
        return None

    def _cut(self, outs: list, msg: dict) -> None:
        """Drop ``msg``'s output; leave the note, and a short error for an error, once at the
        end of ``outs`` (a cell that clears its output gets them again, no more)."""
        tail = outs[-2:]
        if not any(out is self._note for out in tail):
            self._note = nbformat.v4.new_output("stream", name="stdout", text=OUTPUT_CUT_NOTE)
            outs.append(self._note)
            self.log.warning("Output of a cell past %d bytes (%d for the notebook) dropped.",
                             self.max_cell_output_bytes, self.max_notebook_output_bytes)
        content = msg.get("content") or {}
        if msg.get("msg_type") == "error" and not any(
                out.get("output_type") == "error" for out in tail):
            outs.append(nbformat.v4.new_output(
                "error", ename=str(content.get("ename", "Error"))[:200],
                evalue=str(content.get("evalue", ""))[:CUT_ERROR_CHARS], traceback=[]))

    def _update_display_id(self, display_id: str, msg: dict) -> None:
        # One update rewrites every output shown under that id: count it once for each.
        shown = sum(len(indices) for indices in self._display_id_map.get(display_id, {})
                    .values())
        if shown and not self._spend(content_size(msg.get("content")) * shown, None):
            return
        super()._update_display_id(display_id, msg)

    def handle_comm_msg(self, outs: list, msg: dict, cell_index: int) -> None:  # noqa: D102
        buffers = sum(len(b) for b in msg.get("buffers") or [] if hasattr(b, "__len__"))
        if self._spend(content_size(msg.get("content")) + buffers, None):
            super().handle_comm_msg(outs, msg, cell_index)
