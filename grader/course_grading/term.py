"""A term's rules on top of a grading run: due dates, extensions, late work, overrides, regrades.

Why it exists: the grader scores what a notebook does; a term also asks when it was handed in,
who had more time, what the instructor decided by hand, and how to grade one student again
without losing everyone else's work. This module keeps those rules apart from grading:

- The grader writes the autograder's own scores to ``OUT/autograded.csv`` (never edited).
- :func:`finalize` derives ``OUT/grades.csv`` from it, every run: overrides of test cells
  first, then the late penalty of each late notebook (a ``late_penalty`` row, negative score,
  ``max_score`` 0, so every sum of ``grades.csv`` includes it), then overrides of
  ``late_penalty`` itself (score 0 waives it). It writes ``OUT/late.csv`` (every late
  notebook) and ``OUT/overrides_applied.csv`` (every override, old and new score, reason), and
  notes both at the top of the student's feedback page.
- :func:`merge` folds a regrade of some students or notebooks into an existing output.
- The term's settings are kept in ``OUT/term.json``, so a later regrade applies the same rules
  without repeating them.

Submission times come from ``SUBMISSIONS/submitted.csv``, written by
``python -m course_grading.lms collect``: nbgrader's ``timestamp.txt`` (exchange), Moodle's
worksheet ``Last modified (submission)``, or Canvas's ``LATE`` mark, which has no time and
counts as one day late.
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from course_grading.records import CellGrade, Problem, write_csv

#: The grade id of the row that carries a notebook's late penalty in ``grades.csv``.
LATE_PENALTY = "late_penalty"
#: The autograder's own scores, from which ``grades.csv`` is derived.
AUTOGRADED = "autograded.csv"
#: Where the term's settings are kept between runs.
SETTINGS = "term.json"
#: Marks around the note this module adds to a feedback page (replaced on every run).
_NOTE_START, _NOTE_END = "<!-- course-term-note -->", "<!-- /course-term-note -->"


class TermError(ValueError):
    """A due date, an extension or an override cannot be used (the message says why)."""


def parse_time(text: str) -> datetime:
    """A time as an aware UTC datetime. Reads ISO 8601 (``2026-12-01T23:59``), nbgrader's
    ``2026-11-29 05:00:00.000000 UTC`` and Moodle's ``Thursday, 3 December 2026, 7:33 PM``;
    a time without a zone is the machine's local time."""
    from dateutil import parser

    try:
        when = parser.parse(text.strip())
    except (ValueError, OverflowError) as error:
        raise ValueError(f"not a date and time: {text!r}") from error
    if when.tzinfo is None:
        when = when.astimezone()
    return when.astimezone(timezone.utc)


@dataclass(frozen=True)
class LatePolicy:
    """What late work costs."""

    per_day: float = 0.0
    """Percent of the notebook's earned points lost per day late (each day started counts)."""
    cap: float = 100.0
    """The most percent lost, however late."""
    cutoff_days: float | None = None
    """More days late than this: the notebook scores 0 (None: no cutoff)."""

    def percent(self, days: int) -> float:
        """Percent of the earned points lost ``days`` days late."""
        if days <= 0:
            return 0.0
        if self.cutoff_days is not None and days > self.cutoff_days:
            return 100.0
        return min(self.cap, self.per_day * days)


@dataclass
class Term:
    """The term's settings for one output folder (kept in ``OUT/term.json``)."""

    due: dict[str, str] = field(default_factory=dict)
    """Notebook file name (or ``*`` for every notebook) to its due date and time."""
    policy: LatePolicy = field(default_factory=LatePolicy)
    """The late policy."""
    extensions: str | None = None
    """CSV ``student_id,notebook,due`` (notebook empty or ``*``: every notebook)."""
    overrides: str | None = None
    """CSV ``student_id,notebook,grade_id,score,reason``."""
    submissions: str | None = None
    """The submissions folder of the last run (its ``submitted.csv``, the class report)."""

    @classmethod
    def load(cls, output: Path) -> Term:
        """The settings kept in ``output``, or none."""
        path = output / SETTINGS
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        data["policy"] = LatePolicy(**data.get("policy", {}))
        return cls(**data)

    def save(self, output: Path) -> None:
        """Keep the settings in ``output`` for the next run."""
        (output / SETTINGS).write_text(json.dumps(asdict(self), indent=1) + "\n")

    def updated(self, *, due: dict[str, str] | None = None, policy: LatePolicy | None = None,
                extensions: Path | None = None, overrides: Path | None = None,
                submissions: Path | None = None) -> Term:
        """These settings with the ones given replacing theirs (paths made absolute)."""
        return Term(due if due else self.due, policy or self.policy,
                    str(extensions.resolve()) if extensions else self.extensions,
                    str(overrides.resolve()) if overrides else self.overrides,
                    str(submissions.resolve()) if submissions else self.submissions)


def parse_due(values: list[str], known: list[str]) -> dict[str, str]:
    """``--due`` values: ``WHEN`` (every notebook) or ``NOTEBOOK=WHEN``; checked, kept as ISO."""
    due = {}
    for value in values:
        name, _, when = value.rpartition("=") if "=" in value else ("*", "", value)
        notebook = "*" if name == "*" else _notebook(name, known)
        try:
            due[notebook] = parse_time(when).isoformat()
        except ValueError as error:
            raise TermError(f"--due {value}: {error}") from None
    return due


def _notebook(name: str, known: list[str]) -> str:
    from course_grading.discovery import match_notebook

    name = name.strip()
    found = match_notebook(name if name.lower().endswith(".ipynb") else f"{name}.ipynb", known)
    if found is None:
        raise TermError(f"{name!r} is not a notebook of this course ({', '.join(known[:2])}, "
                        f"...)")
    return found


def _rows(path: Path | str | None) -> list[dict[str, str]]:
    if not path or not Path(path).is_file():
        return []
    # Values are kept exactly: a student id may end in a space (a folder name, as it is).
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        return [{k.strip(): v or "" for k, v in row.items() if k}
                for row in csv.DictReader(handle)]


def read_grades(path: Path) -> list[CellGrade]:
    """The rows of a ``grades.csv`` or ``autograded.csv``."""
    return [CellGrade(r["student_id"], r["notebook"], r["grade_id"], float(r["score"]),
                      float(r["max_score"])) for r in _rows(path)]


@dataclass(frozen=True)
class Late:
    """A notebook handed in after its due date: a row of ``late.csv``."""

    student_id: str
    """The student's id."""
    notebook: str
    """The course's name of the notebook."""
    submitted_at: str
    """When it was handed in (ISO 8601), or ``marked late by the LMS`` when no time is known."""
    due: str
    """Its due date for this student (an extension's when there is one), ISO 8601."""
    days_late: int
    """Days late, each day started counting."""
    penalty_percent: float
    """Percent of the earned points the policy takes."""
    penalty_points: float
    """Points taken."""


@dataclass(frozen=True)
class Override:
    """An override as applied: a row of ``overrides_applied.csv``."""

    student_id: str
    """The student's id."""
    notebook: str
    """The course's name of the notebook."""
    grade_id: str
    """The test cell (or ``late_penalty``)."""
    old_score: float
    """The score before (the autograder's, or the penalty computed)."""
    new_score: float
    """The score after."""
    reason: str
    """The instructor's reason, as written in the overrides file."""


def due_dates(term: Term, student: str, notebook: str,
              extensions: list[dict[str, str]], known: list[str]) -> datetime | None:
    """The student's due date for ``notebook``: an extension's, else the notebook's, else the
    assignment's, else None (no due date: never late)."""
    for row in extensions:
        target = row.get("notebook", "")
        if row.get("student_id") == student and (
                target in ("", "*") or _notebook(target, known) == notebook):
            return parse_time(row["due"])
    when = term.due.get(notebook) or term.due.get("*")
    return parse_time(when) if when else None


def finalize(output: Path, term: Term, known: list[str],
             points: dict[tuple[str, str], float]) -> tuple[list[Late], list[Override]]:
    """Derive ``grades.csv`` from ``autograded.csv`` with the term's rules (module docstring).

    ``points``: each test cell's points in the masters, ``(notebook, grade_id)``, for
    overrides of a cell the autograder did not score (a notebook not handed in).
    """
    rows = read_grades(output / AUTOGRADED)
    scores = {(r.student_id, r.notebook, r.grade_id): r for r in rows}
    applied: list[Override] = []
    later: list[dict[str, str]] = []
    for number, row, notebook, score in check_overrides(term, known, points):
        if row["grade_id"] == LATE_PENALTY:
            later.append({**row, "notebook": notebook, "score": str(score)})
            continue
        key = (row["student_id"], notebook, row["grade_id"])
        most = scores[key].max_score if key in scores else points.get(key[1:])
        if most is None:
            raise TermError(f"{term.overrides}, line {number}: {notebook} has no test cell "
                            f"{row['grade_id']!r}")
        if not 0 <= score <= most:
            raise TermError(f"{term.overrides}, line {number}: score {score:g} is outside 0 to "
                            f"{most:g} for {row['grade_id']}")
        old = scores[key].score if key in scores else 0.0
        scores[key] = CellGrade(*key, score, most)
        applied.append(Override(*key, old, score, row.get("reason", "")))
    submitted = {(r["student_id"], r["notebook"]): r
                 for r in _rows(Path(term.submissions) / "submitted.csv"
                                if term.submissions else None)}
    extensions = _rows(term.extensions)
    late: list[Late] = []
    earned: dict[tuple[str, str], float] = {}
    for (student, notebook, _), grade in scores.items():
        earned[(student, notebook)] = earned.get((student, notebook), 0.0) + grade.score
    for (student, notebook), got in sorted(earned.items()):
        due = due_dates(term, student, notebook, extensions, known)
        record = submitted.get((student, notebook))
        if due is None or record is None:
            continue
        if record.get("submitted_at"):
            handed = parse_time(record["submitted_at"])
            days = math.ceil((handed - due) / timedelta(days=1)) if handed > due else 0
            said = handed.isoformat()
        elif record.get("late") == "yes":
            extended = any(r.get("student_id") == student for r in extensions)
            days, said = (0 if extended else 1), "marked late by the LMS"
        else:
            continue
        if days <= 0:
            continue
        percent = term.policy.percent(days)
        penalty = round(got * percent / 100, 2)
        late.append(Late(student, notebook, said, due.isoformat(), days, percent, penalty))
        scores[(student, notebook, LATE_PENALTY)] = CellGrade(student, notebook, LATE_PENALTY,
                                                              -penalty, 0.0)
    for row in later:
        key = (row["student_id"], row["notebook"], LATE_PENALTY)
        old = scores[key].score if key in scores else 0.0
        new = -abs(float(row["score"])) + 0.0  # no "-0.0"
        scores[key] = CellGrade(*key, new, 0.0)
        applied.append(Override(*key, old, new, row.get("reason", "")))
    final = sorted(scores.values(), key=lambda g: (g.student_id, g.notebook, g.grade_id))
    write_csv(output / "grades.csv", CellGrade, final)
    write_csv(output / "late.csv", Late, late)
    write_csv(output / "overrides_applied.csv", Override, applied)
    _note_feedback(output, late, applied)
    return late, applied


def check_overrides(term: Term, known: list[str], points: dict[tuple[str, str], float]
                    ) -> list[tuple[int, dict[str, str], str, float]]:
    """The overrides file's rows, checked as far as the masters allow (columns, notebook,
    test cell, a number): ``(line, row, notebook, score)``. Raises :class:`TermError`."""
    checked = []
    for number, row in enumerate(_rows(term.overrides), start=2):
        row["grade_id"] = row.get("grade_id", "").strip()
        missing = [c for c in ("student_id", "notebook", "grade_id", "score") if not row.get(c)]
        if missing:
            raise TermError(f"{term.overrides}, line {number}: no {', '.join(missing)}")
        notebook = _notebook(row["notebook"], known)
        try:
            score = float(row["score"])
        except ValueError:
            raise TermError(f"{term.overrides}, line {number}: score {row['score']!r} is not "
                            f"a number") from None
        if row["grade_id"] != LATE_PENALTY and (notebook, row["grade_id"]) not in points:
            raise TermError(f"{term.overrides}, line {number}: {notebook} has no test cell "
                            f"{row['grade_id']!r}")
        checked.append((number, row, notebook, score))
    return checked


def _note_feedback(output: Path, late: list[Late], applied: list[Override]) -> None:
    """Put the late penalty and the overrides at the top of each feedback page concerned
    (and take away a note an earlier run left, where there is none now)."""
    notes: dict[tuple[str, str], list[str]] = {}
    for item in late:
        notes.setdefault((item.student_id, item.notebook), []).append(
            f"Handed in {item.days_late} day(s) after the due date ({item.due[:16]} UTC): "
            f"late penalty {item.penalty_percent:g}%, {item.penalty_points:g} point(s).")
    for item in applied:
        what = ("Late penalty" if item.grade_id == LATE_PENALTY
                else f"Score of {item.grade_id}")
        notes.setdefault((item.student_id, item.notebook), []).append(
            f"{what} changed by your instructor from {item.old_score:g} to "
            f"{item.new_score:g}: {item.reason}")
    for page in sorted((output / "feedback").glob("*/*.html")):
        key = (page.parent.name, page.stem + ".ipynb")
        text = re.sub(re.escape(_NOTE_START) + ".*?" + re.escape(_NOTE_END), "",
                      page.read_text(), flags=re.S)
        if key in notes:
            items = "".join(f"<li>{html.escape(n)}</li>" for n in notes[key])
            note = (f'{_NOTE_START}<div class="course-term-note" style="border:2px solid #000;'
                    f'padding:0.5em 1em;margin:1em">'
                    f"<strong>Changes to this notebook's score</strong><ul>{items}</ul></div>"
                    f"{_NOTE_END}")
            text = re.sub(r"(<body[^>]*>)", lambda m: m[1] + note, text, count=1)
        page.write_text(text)


def merge(output: Path, pairs: set[tuple[str, str]], grades: list[CellGrade],
          problems: list[Problem], flags: list, known: list[str]
          ) -> tuple[list[CellGrade], list[Problem], list]:
    """Fold a regrade of ``pairs`` (student, notebook) into the rows an earlier run wrote.

    Rows of the regraded pairs are replaced; everyone else's stay as they were.
    """
    from course_grading.discovery import match_notebook
    from course_grading.flags import Flag

    def regraded(student: str, name: str) -> bool:
        return (student, match_notebook(name, known) or name) in pairs

    kept = [g for g in read_grades(output / AUTOGRADED)
            if (g.student_id, g.notebook) not in pairs]
    old_problems = [Problem(r["student_id"], r["notebook"], r["problem"])
                    for r in _rows(output / "problems.csv")]
    old_flags = [Flag(**r) for r in _rows(output / "flags.csv")]
    return (kept + grades,
            [p for p in old_problems if not regraded(p.student_id, p.notebook)] + problems,
            [f for f in old_flags if not regraded(f.student_id, f.notebook)] + flags)


def cell_points(solutions: Path) -> dict[tuple[str, str], float]:
    """Each autograded test cell's points in the masters: ``(notebook, grade_id)``."""
    import nbformat

    points = {}
    for path in sorted(solutions.glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade"):
                points[(path.name, meta["grade_id"])] = float(meta.get("points", 0))
    return points


def main(argv: list[str] | None = None) -> int:
    """Apply the term's rules to an existing output again (after editing the overrides or
    the extensions), without grading: ``python -m course_grading.term OUT [...]``."""
    import argparse
    import sys

    from course_grading.discovery import course_notebooks

    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(prog="python -m course_grading.term",
                                     description=main.__doc__.split(":")[0])
    parser.add_argument("output", type=Path, help="the --output folder of a grading run")
    add_term_options(parser)
    parser.add_argument("--solutions", type=Path, default=root / "solutions")
    args = parser.parse_args(argv)
    if not (args.output / AUTOGRADED).is_file():
        print(f"error: {args.output / AUTOGRADED} not found: grade first", file=sys.stderr)
        return 2
    known = course_notebooks(args.solutions)
    try:
        term = term_from_args(args, Term.load(args.output), known)
        late, applied = finalize(args.output, term, known, cell_points(args.solutions))
    except TermError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    term.save(args.output)
    from course_grading.report import write_report

    write_report(args.output, args.solutions)
    print(f"{len(late)} late notebook(s), {len(applied)} override(s) applied; "
          f"{args.output / 'grades.csv'} and {args.output / 'report.html'} rewritten.")
    return 0


def add_term_options(parser) -> None:  # noqa: ANN001 - an argparse parser
    """The term's options, shared by the grading command and ``course_grading.term``."""
    parser.add_argument("--due", action="append", default=[], metavar="[NOTEBOOK=]WHEN",
                        help="due date and time (ISO 8601, local time unless a zone is "
                             "given) of every notebook, or of one (repeat the option)")
    parser.add_argument("--extensions", type=Path,
                        help="CSV student_id,notebook,due: a later due date for a student "
                             "(notebook empty: every notebook)")
    parser.add_argument("--late-penalty", type=float, metavar="PERCENT",
                        help="percent of a late notebook's points lost per day late")
    parser.add_argument("--late-cap", type=float, metavar="PERCENT",
                        help="the most percent a late notebook loses (default 100)")
    parser.add_argument("--late-cutoff", type=float, metavar="DAYS",
                        help="more days late than this: the notebook scores 0")
    parser.add_argument("--overrides", type=Path,
                        help="CSV student_id,notebook,grade_id,score,reason, applied last "
                             "(grade_id late_penalty: the penalty's points, 0 waives it)")


def term_from_args(args, base: Term, known: list[str]) -> Term:  # noqa: ANN001
    """``base`` (the kept settings) with the options given on the command line."""
    policy = base.policy
    if args.late_penalty is not None or args.late_cap is not None or \
            args.late_cutoff is not None:
        policy = LatePolicy(
            args.late_penalty if args.late_penalty is not None else policy.per_day,
            args.late_cap if args.late_cap is not None else policy.cap,
            args.late_cutoff if args.late_cutoff is not None else policy.cutoff_days)
    for path in (args.extensions, args.overrides):
        if path is not None and not path.is_file():
            raise TermError(f"{path} not found")
    return base.updated(due=parse_due(args.due, known), policy=policy,
                        extensions=args.extensions, overrides=args.overrides,
                        submissions=getattr(args, "submissions", None))


if __name__ == "__main__":
    import sys

    sys.exit(main())
