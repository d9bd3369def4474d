"""An nbgrader preprocessor the course configures in place of one of nbgrader's own.

Why it exists: when a student copies a graded cell, nbgrader 0.9's ``DeduplicateIds`` empties
the copy's ``nbgrader`` metadata (``{}``) instead of removing it, and its own metadata check
then rejects the notebook as "an old version of the nbgrader metadata format", so the whole
submission goes ungraded (nbgrader issue #1083, still open). This subclass keeps nbgrader's
rule (the last cell with a grade id keeps it) and turns earlier copies into plain cells by
removing the key, so autograding goes on: the kept test cell is restored from the gradebook
and scored as usual. It is configured in ``Autograde.sanitize_preprocessors``; nbgrader
itself is not modified.
"""

from __future__ import annotations

from typing import Any

from nbgrader import utils
from nbgrader.preprocessors import DeduplicateIds


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
