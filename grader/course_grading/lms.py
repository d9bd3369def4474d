"""Submissions in from where a class hands them in; grades out in files the LMS imports as they are.

Usage::

    python -m course_grading.lms collect {canvas,moodle,exchange} SOURCE --output SUBMISSIONS
        [--worksheet MOODLE_WORKSHEET.csv]
    python -m course_grading.lms totals GRADES_CSV --format {canvas,moodle-worksheet,moodle}
        --output FILE [--roster EXPORT_OR_WORKSHEET.csv] [--match COLUMN] [--key {email,idnumber}]
        [--missing {zero,blank}] [--solutions MASTERS] [--students SUBMISSIONS/students.csv]
        [--scale {points,percent}]
    python -m course_grading.lms feedback GRADED --course COURSE_DIR [--assignment NAME]
    python -m course_grading.lms inbound ASSIGNMENT

Why it exists: the class-grading command (``python -m course_grading``) reads one folder
per student, ``<student_id>/<notebook>.ipynb``, and writes ``grades.csv`` with one row per test
cell. A class rarely hands work in that way, and a gradebook never wants one row per cell; and
an LMS's importer accepts only what its code accepts (read from Canvas's ``GradebookImporter``
and Moodle's ``assignfeedback_offline`` and ``gradeimport_csv``; ``tests/data/lms/README.md``
names the files and commits):

- ``collect`` turns a bulk download into that layout. ``canvas``: Canvas's "Download
  Submissions" zip, flat, named as ``ContentZipper#get_filename`` does:
  ``<sortable name>[_LATE]_<user id>_<attachment id>_<file name>``, or
  ``[LATE_]anon_<anonymous id>_...`` when grading is anonymous (the student id is then
  ``anon_<id>``); re-submissions with ``-1``, ``-2`` ... before the extension (the highest
  wins). ``moodle``: Moodle's "Download all submissions" zip, one folder per submission
  ``<Full Name>_<participant id>_assignsubmission_file_/``, or flat with that prefix before each
  file's name. ``exchange``: the ``submitted/`` folder of an nbgrader course directory after
  ``nbgrader collect`` (``<student>/<assignment>/<notebook>.ipynb``). File names are matched
  with nbgrader's own ZipCollect collector (``FileNameCollectorPlugin`` and a ``named_regexp``),
  the convention ``nbgrader zip_collect`` uses. It writes ``students.csv``
  (``student_id,name,source``) and ``submitted.csv`` (``student_id,notebook,submitted_at,late,
  source``: nbgrader's ``timestamp.txt``, Moodle's worksheet ``Last modified (submission)``,
  Canvas's ``LATE``), which the late policy reads (``course_grading.term``).
- ``totals`` sums ``grades.csv`` (late penalties and overrides included) per student and
  notebook; each notebook is worth its test cells' points in the masters (``--solutions``).
  ``canvas``: the course's own gradebook export as the roster, its identity columns as exported,
  one column per notebook (the export's assignment of that title, ``Title (id)``, when there is
  one), a ``Points Possible`` row, no total (Canvas's importer ignores only its own score
  columns: a total would become an assignment). ``moodle-worksheet``: the assignment's offline
  grading worksheet as downloaded, ``Grade`` and ``Last modified (grade)`` filled (the importer
  requires ``Identifier``, ``Grade`` and ``Last modified (grade)``). ``moodle``: a file for the
  gradebook's CSV import, keyed by ``Email address`` or ``ID number`` (the import matches users
  by id, username, ID number or email only).
- ``feedback`` puts the grader's ``GRADED/feedback/<student>/<notebook>.html`` where nbgrader's
  ``release_feedback`` looks for it in a course directory (``feedback/<student>/<assignment>/``,
  with the ``timestamp.txt`` and ``submission_secret.txt`` of the collected submission), so
  students fetch it from the exchange without a second grading run.

- ``inbound``, run in the course directory before ``nbgrader collect``, sets aside the
  submissions in the exchange's inbound folder that a student handed in under another student's
  name (nbgrader's ``submit --student OTHER`` lets anyone do it): each submission's folder is
  owned by the system user who made it, and one whose owner is not the student its name gives
  (or that is not a plain folder of its maker's own files: a link would make collect copy what
  it points to) is renamed to a hidden name (``.forged-by-<owner>-...``, ending in a random
  part), which ``nbgrader collect`` does not see. It reads the exchange and course id from
  nbgrader's settings, as ``nbgrader collect`` does; exit status 1 when it set some aside
  (they are listed), 2 when there is no inbound folder. It is a report: a student can still
  write in ``inbound`` after it ran, so the copy itself is made safe by
  ``course_grading.exchange`` (the collect the one-machine hub's instructors' settings
  choose), which checks each submission on its opened folder at the moment it copies it.

A notebook a student did not hand in scores zero (``--missing blank``: left empty); its points
still count.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import sys
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

#: ZipCollect ``named_regexp`` for Canvas's file names (matched against the path, as nbgrader
#: does). Canvas's ``ContentZipper#get_filename`` joins the sortable name (lower case, no
#: punctuation), ``LATE`` for late work, and the user id, or ``anon_<anonymous id>`` with no name
#: when the assignment grades anonymously; then the attachment id and the file's name.
#: ``attempt`` is the ``-1``, ``-2`` suffix of a re-submission.
CANVAS_REGEXP = (r"(?:.*/)?(?:(?P<name>[^/_]+)_)??(?:(?P<late>(?i:late))_)?"
                 r"(?P<student_id>anon_[0-9A-Za-z]+|\d+)_(?P<submission_id>\d+)_"
                 r"(?P<file_id>[^/]+?)(?:-(?P<attempt>\d+))?\.ipynb$")
#: ZipCollect ``named_regexp`` for Moodle's downloads: with "Download submissions in folders"
#: on, one folder per submission ``<Full Name>_<participant id>_assignsubmission_file_/``; off,
#: the same prefix before each file's name, flat.
MOODLE_REGEXP = (r"(?:.*/)?(?P<name>[^/]+?)_(?P<student_id>\d+)_assignsubmission_file_/?"
                 r"(?:.*/)?(?P<file_id>[^/]+)\.ipynb$")
#: ZipCollect ``named_regexp`` for an nbgrader course's ``submitted/`` folder.
EXCHANGE_REGEXP = r"(?:.*/)?(?P<student_id>[^/]+)/(?P<assignment>[^/]+)/(?P<file_id>[^/]+)\.ipynb$"

REGEXPS = {"canvas": CANVAS_REGEXP, "moodle": MOODLE_REGEXP, "exchange": EXCHANGE_REGEXP}


@dataclass(frozen=True)
class Collected:
    """One notebook placed in the grader's layout."""

    student_id: str
    """The student's id: Canvas user id (``anon_<id>`` when graded anonymously), Moodle
    participant id, or the exchange user name."""
    name: str
    """The student's name as the download spells it (empty for the exchange and anonymous)."""
    notebook: str
    """The notebook's file name in the grader's layout."""
    source: str
    """The path of the file inside the download it came from."""
    submitted_at: str = ""
    """When it was handed in (ISO 8601, UTC), when the download says: nbgrader's
    ``timestamp.txt``, or Moodle's worksheet ``Last modified (submission)``; else empty."""
    late: bool = False
    """The LMS marked it late (Canvas's ``LATE`` in the file name)."""


#: What ``collect`` writes beside the student folders: when each notebook was handed in.
SUBMITTED = "submitted.csv"


def _collector(source: str):
    """nbgrader's ZipCollect file-name collector, configured for ``source``."""
    from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

    return FileNameCollectorPlugin(named_regexp=REGEXPS[source])


def _exchange_time(folder: Path) -> str:
    """nbgrader's ``timestamp.txt`` of a collected submission, as ISO 8601 UTC (or empty)."""
    stamp = folder / "timestamp.txt"
    if not stamp.is_file():
        return ""
    from course_grading.term import parse_time

    try:
        return parse_time(stamp.read_text().strip()).isoformat()
    except ValueError:
        return ""


def collect(source: str, download: Path, output: Path, *,
            worksheet: Path | None = None) -> tuple[list[Collected], list[str]]:
    """Copy the notebooks of a bulk download into ``output/<student_id>/<notebook>.ipynb``.

    Args:
        source: ``canvas``, ``moodle`` or ``exchange`` (see the module docstring).
        download: the zip file as downloaded (a folder of its extracted files also works).
        output: the submissions folder the grader reads; made if missing.
        worksheet: Moodle only: the assignment's offline grading worksheet, whose
            ``Last modified (submission)`` gives each participant's submission time.

    Returns:
        The notebooks placed, and the files skipped (not notebooks, or names that do not
        match ``source``'s layout), as paths inside the download.
    """
    if source not in REGEXPS:
        raise ValueError(f"unknown source {source!r}: choose from {', '.join(REGEXPS)}")
    collector = _collector(source)
    moodle_times = _worksheet_times(worksheet) if worksheet else {}
    with tempfile.TemporaryDirectory(prefix="nn-python-lms-") as tmp:
        if download.is_file():
            with zipfile.ZipFile(download) as archive:
                _safe_extract(archive, Path(tmp))
            root = Path(tmp)
        elif download.is_dir():
            root = download
        else:
            raise FileNotFoundError(f"{download} is neither a zip file nor a folder")
        chosen: dict[tuple[str, str], tuple[tuple[int, str], Path, dict]] = {}
        skipped: list[str] = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(root).as_posix()
            if path.name.startswith(".") or "__MACOSX/" in relative:
                continue
            info = collector.collect(relative)
            if not info:
                skipped.append(relative)
                continue
            notebook = PurePosixPath(info["file_id"]).name + ".ipynb"
            # The latest wins: Canvas's re-submission number; for the exchange, the time of
            # the submission (a notebook handed in as a weekly assignment and again in the
            # whole-course one).
            attempt = (int(info.get("attempt") or 0),
                       _exchange_time(path.parent) if source == "exchange" else "")
            key = (info["student_id"], notebook)
            if key not in chosen or attempt >= chosen[key][0]:
                chosen[key] = (attempt, path, info)
        placed = []
        for (student, notebook), (_, path, info) in sorted(chosen.items()):
            target = output / student / notebook
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            when = (_exchange_time(path.parent) if source == "exchange"
                    else moodle_times.get(student, ""))
            placed.append(Collected(student, info.get("name") or "", notebook,
                                    path.relative_to(root).as_posix(), when,
                                    bool(info.get("late"))))
    if placed:
        _write_students(output / "students.csv", placed, source)
        _write_submitted(output / SUBMITTED, placed, source)
    return placed, skipped


def _worksheet_times(worksheet: Path) -> dict[str, str]:
    """Participant id to ``Last modified (submission)`` (ISO 8601) from a Moodle worksheet."""
    from course_grading.term import parse_time

    times = {}
    for row in _read_rows(worksheet):
        ident = row.get(MOODLE_ID, "")
        when = row.get("Last modified (submission)", "").strip()
        if ident.startswith(MOODLE_PARTICIPANT) and when and when != "-":
            try:
                times[ident[len(MOODLE_PARTICIPANT):]] = parse_time(when).isoformat()
            except ValueError:
                continue
    return times


def _write_submitted(path: Path, placed: list[Collected], source: str) -> None:
    rows = {(item.student_id, item.notebook): item for item in placed}
    if path.is_file():  # keep what an earlier collect into the same folder found
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                rows.setdefault((row["student_id"], row["notebook"]), Collected(
                    row["student_id"], "", row["notebook"], "", row["submitted_at"],
                    row["late"] == "yes"))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "notebook", "submitted_at", "late", "source"])
        for key in sorted(rows):
            item = rows[key]
            writer.writerow([item.student_id, item.notebook, item.submitted_at,
                             "yes" if item.late else "", source])


def _safe_extract(archive: zipfile.ZipFile, target: Path) -> None:
    """Extract ``archive`` into ``target``, refusing members that would land outside it."""
    base = target.resolve()
    for member in archive.infolist():
        destination = (target / member.filename).resolve()
        if base not in destination.parents and destination != base:
            raise ValueError(f"refusing archive member outside the folder: {member.filename}")
    archive.extractall(target)


def _write_students(path: Path, placed: list[Collected], source: str) -> None:
    names: dict[str, str] = {}
    for item in placed:
        names.setdefault(item.student_id, item.name)
    if path.is_file():  # keep names from an earlier collect into the same folder
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                names.setdefault(row["student_id"], row["name"])
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "name", "source"])
        for student in sorted(names):
            writer.writerow([student, names[student], source])


def place_feedback(graded: Path, course: Path, assignment: str) -> list[Path]:
    """Copy the grader's feedback into ``course/feedback/<student>/<assignment>/`` for release.

    Only students whose collected submission is in ``course/submitted/<student>/<assignment>/``
    get feedback placed: nbgrader needs that submission's timestamp and secret to hand the
    feedback to its author only. Only the feedback of the notebooks of that assignment (those of
    the collected submission) is placed: with weekly assignments, one notebook each, the week's
    feedback carries that notebook's page alone. Returns the HTML files placed.
    """
    placed = []
    for folder in sorted(p for p in (graded / "feedback").glob("*") if p.is_dir()):
        submitted = course / "submitted" / folder.name / assignment
        if not (submitted / "submission_secret.txt").is_file():
            continue
        notebooks = {p.stem for p in submitted.rglob("*.ipynb")}
        pages = [html for html in sorted(folder.glob("*.html")) if html.stem in notebooks]
        if not pages:
            continue
        target = course / "feedback" / folder.name / assignment
        target.mkdir(parents=True, exist_ok=True)
        for name in ("timestamp.txt", "submission_secret.txt"):
            shutil.copyfile(submitted / name, target / name)
        for html in pages:
            shutil.copyfile(html, target / html.name)
            placed.append(target / html.name)
    return placed


# --- grades out ------------------------------------------------------------------------------

#: Moodle's worksheet columns its importer requires (``assignfeedback_offline_grade_importer``:
#: ``get_string('recordid', 'assign')``, ``get_string('grade')``,
#: ``get_string('lastmodifiedgrade', 'assign')``) and the prefix of ``Identifier``
#: (``get_string('hiddenuser', 'assign')``), which the importer strips to find the participant.
MOODLE_ID, MOODLE_GRADE, MOODLE_MODIFIED = "Identifier", "Grade", "Last modified (grade)"
MOODLE_PARTICIPANT = "Participant "
#: ``userdate``'s ``strftimedatetime`` in English, as the worksheet is downloaded; PHP's
#: ``strtotime`` reads it back.
MOODLE_TIME = "%A, %d %B %Y, %I:%M %p"
#: The identity columns of Canvas's gradebook export (``GradebookImporter``'s reserved names).
CANVAS_IDENTITY = ("Student", "LastName", "FirstName", "ID", "SIS User ID", "SIS Login ID",
                   "Section", "Integration ID", "Root Account")


@dataclass(frozen=True)
class Totals:
    """Per-student points per notebook, from ``grades.csv``."""

    notebooks: list[str]
    """Every notebook of the course (from the masters), else every one seen, sorted."""
    max_points: dict[str, float]
    """Points each notebook is worth: its test cells' points in the masters."""
    points: dict[str, dict[str, float]]
    """``points[student][notebook]``: what the student scored, late penalty and overrides
    included (a notebook not handed in is absent)."""
    penalties: dict[str, dict[str, float]] = field(default_factory=dict)
    """``penalties[student][notebook]``: points taken for lateness (``late_penalty`` rows)."""


def course_points(solutions: Path) -> dict[str, float]:
    """Points of each master notebook: the sum of its autograded test cells' points.

    ``solutions`` is searched at any depth: the repository's ``solutions/``, one assignment's
    ``source/nn_python``, or a course directory's whole ``source/`` with one folder per
    (weekly) assignment. A notebook found twice counts once (the first, in path order).
    """
    import nbformat

    points = {}
    for path in sorted(solutions.rglob("[0-9][0-9]_*.ipynb")):
        if path.name in points or ".ipynb_checkpoints" in path.parts:
            continue
        cells = nbformat.read(path, as_version=4).cells
        points[path.name] = float(sum(
            cell.metadata.get("nbgrader", {}).get("points", 0) for cell in cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")))
    return points


def read_totals(grades_csv: Path, points: dict[str, float] | None = None) -> Totals:
    """Sum the rows of ``grades.csv`` (``student_id,notebook,grade_id,score,max_score``).

    ``points``: what each notebook is worth (:func:`course_points`); without it, the largest
    total of ``max_score`` seen for it.
    """
    scored: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    worth: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    penalties: dict[str, dict[str, float]] = defaultdict(dict)
    for row in _read_rows(grades_csv):
        if row["grade_id"] == "late_penalty" and float(row["score"]):
            penalties[row["student_id"]][row["notebook"]] = -float(row["score"])
        scored[row["student_id"]][row["notebook"]] += float(row["score"])
        worth[row["student_id"]][row["notebook"]] += float(row["max_score"])
    seen = {nb for per in worth.values() for nb in per}
    if points:
        notebooks = sorted(points)
        max_points = dict(points)
    else:
        notebooks = sorted(seen)
        max_points = {nb: max(per.get(nb, 0.0) for per in worth.values()) for nb in notebooks}
    totals = {student: {nb: max(0.0, got) for nb, got in per.items()}
              for student, per in sorted(scored.items())}
    return Totals(notebooks, max_points, totals, dict(penalties))


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _read_names(students_csv: Path | None) -> dict[str, str]:
    if students_csv is None or not students_csv.is_file():
        return {}
    return {row["student_id"]: row["name"] for row in _read_rows(students_csv)}


class RosterError(ValueError):
    """A roster or worksheet cannot be used, or students cannot be matched (message says)."""


@dataclass(frozen=True)
class CanvasRoster:
    """A course's own Canvas gradebook export: who is in the course, as Canvas names them."""

    identity: list[str]
    """The leading identity columns as exported (``Student``, ``ID``, ``SIS User ID``,
    ``SIS Login ID``, ``Section``, ...)."""
    assignments: list[str]
    """The assignment columns' headers (``Title (id)``), read-only score columns left out."""
    students: list[dict[str, str]]
    """One row per student: identity column to value, as exported."""


def read_canvas_roster(path: Path) -> CanvasRoster:
    """Read a Canvas gradebook export (Grades -> Export -> CSV)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    if not rows or len(rows[0]) < 3 or "Student" not in rows[0][0] and rows[0][0] != "LastName":
        raise RosterError(f"{path}: not a Canvas gradebook export (its first column is "
                          f"'Student')")
    header = rows[0]
    count = 0
    while count < len(header) and header[count] in CANVAS_IDENTITY:
        count += 1
    identity = header[:count]
    readonly = re.compile("|".join(re.escape(h) for h in CANVAS_READ_ONLY))
    assignments = [h for h in header[count:] if not readonly.search(h)]
    students = []
    for row in rows[1:]:
        first = row[0] if row else ""
        if "Points Possible" in first or all(
                re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c, re.I) for c in row):
            continue
        students.append(dict(zip(identity, row[:count])))
    return CanvasRoster(identity, assignments, students)


#: Canvas's ``NON_ASSIGNMENT_COLUMN_HEADERS``: the export's own score columns, which its
#: importer ignores (also with ``Unposted`` before them).
CANVAS_READ_ONLY = ("Current Score", "Current Points", "Current Grade", "Final Score",
                    "Final Points", "Final Grade", "Override Score", "Override Grade",
                    "Override Status")


def _title_and_id(header: str) -> tuple[str, str | None]:
    """Canvas's ``Assignment.title_and_id``: ``"Title (123)"`` -> ``("Title", "123")``."""
    found = re.fullmatch(r"(.*)\s\((\d+)\)", header, re.S)
    return (found[1], found[2]) if found else (header, None)


def canvas_columns(notebooks: list[str], assignments: list[str]) -> list[str]:
    """The column header for each notebook: an existing assignment of the export whose title
    is the notebook's name (``01_neurons`` or ``01_neurons (4321)``), else the name (Canvas
    makes a new assignment of it on the first import)."""
    titles = {_title_and_id(h)[0].strip().lower(): h for h in assignments}
    return [titles.get(Path(nb).stem.lower(), Path(nb).stem) for nb in notebooks]


def match_canvas(roster: CanvasRoster, students: list[str], column: str | None
                 ) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Each graded student's roster row: by Canvas ``ID`` (a Canvas download's ids), else by
    ``column`` (default ``SIS Login ID``, where hub user names usually are), else by
    ``SIS User ID``. Returns the matches and the students not found."""
    keys = [k for k in ("ID", column or "SIS Login ID", "SIS User ID") if k]
    for key in keys[1:]:
        if key not in roster.identity and column:
            raise RosterError(f"the roster has no column {key!r}: it has "
                              f"{', '.join(roster.identity)}")
    matched, unknown = {}, []
    for student in students:
        row = next((r for key in keys for r in roster.students
                    if r.get(key, "").strip() and r.get(key, "").strip() == student), None)
        if row is None:
            unknown.append(student)
        else:
            matched[student] = row
    return matched, unknown


def write_gradebook(totals: Totals, output: Path, *, format: str, scale: str = "points",
                    names: dict[str, str] | None = None, roster: Path | None = None,
                    match: str | None = None, missing: str = "zero", key: str = "email",
                    now: datetime | None = None) -> list[str]:
    """Write ``totals`` as a file the LMS imports as it is.

    Args:
        totals: from :func:`read_totals`.
        output: the CSV file to write.
        format: ``canvas`` (gradebook import), ``moodle-worksheet`` (the assignment's offline
            grading worksheet, filled) or ``moodle`` (gradebook CSV import keyed by email or
            ID number).
        scale: ``points`` (what each notebook is worth) or ``percent`` (out of 100).
        names: student id to display name, from ``students.csv`` (used without a roster).
        roster: ``canvas``: the course's gradebook export; ``moodle-worksheet``: the
            downloaded worksheet (required); ``moodle``: a worksheet or a participants CSV
            with ``Email address`` / ``ID number`` for each participant.
        match: ``canvas``: the roster column holding the grader's student ids when they are
            not Canvas ids (default ``SIS Login ID``).
        missing: ``zero`` (a notebook not handed in scores 0) or ``blank`` (left empty: the
            LMS keeps what it has).
        key: ``moodle``: ``email`` or ``idnumber``, the user field the import maps.
        now: the time written as ``Last modified (grade)`` (default: now).

    Returns:
        The graded students the roster does not know (their grades are not written).
    """
    names = names or {}
    unit = "points" if scale == "points" else "%"

    def value(got: float | None, most: float) -> str:
        if got is None:
            return "" if missing == "blank" else "0"
        if scale == "points":
            return _number(round(got, 2))
        return _number(round(100 * got / most, 2)) if most else "0"

    def cells(student: str) -> list[str]:
        per = totals.points.get(student, {})
        return [value(per.get(nb), totals.max_points[nb]) for nb in totals.notebooks]

    def percent(student: str) -> float:
        most = sum(totals.max_points.values())
        got = sum(totals.points.get(student, {}).values())
        return 100 * got / most if most else 0.0

    graded = list(totals.points)
    if format == "canvas":
        maxima = [_number(totals.max_points[nb]) if scale == "points" else "100"
                  for nb in totals.notebooks]
        if roster is not None:
            table = read_canvas_roster(roster)
            matched, unknown = match_canvas(table, graded, match)
            headers = canvas_columns(totals.notebooks, table.assignments)
            people = [(row, _student_of(row, matched)) for row in table.students]
            identity = table.identity
        else:
            headers = [f"{Path(nb).stem} ({unit})" for nb in totals.notebooks]
            identity = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
            unknown = []
            # A Canvas user id goes in ID; any other id (a hub user name) in SIS Login ID,
            # the column Canvas matches next.
            people = [({"Student": names.get(s, s), "ID": s if s.isdigit() else "",
                        "SIS Login ID": "" if s.isdigit() else s}, s) for s in graded]
        with output.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*identity, *headers])
            writer.writerow(["Points Possible", *[""] * (len(identity) - 1), *maxima])
            for row, student in people:
                values = cells(student) if student else [value(None, 1)] * len(headers)
                writer.writerow([row.get(column, "") for column in identity] + values)
        return unknown
    if format == "moodle-worksheet":
        if roster is None:
            raise RosterError("moodle-worksheet needs --roster: the assignment's offline "
                              "grading worksheet as downloaded")
        return _fill_worksheet(totals, roster, output, percent, missing, now)
    if format == "moodle":
        field = {"email": "Email address", "idnumber": "ID number"}[key]
        lookup: dict[str, str] = {}
        if roster is not None:
            for row in _read_rows(roster):
                ident = row.get(MOODLE_ID, "")
                student = ident[len(MOODLE_PARTICIPANT):] if ident.startswith(
                    MOODLE_PARTICIPANT) else ident
                for candidate in {student, row.get(field, ""), row.get("Username", "")}:
                    if candidate and row.get(field, "").strip():
                        lookup[candidate] = row[field].strip()
        unknown = [s for s in graded if s not in lookup and not (key == "email" and "@" in s)]
        with output.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([field, "Full name", *[f"{Path(nb).stem} ({unit})"
                                                   for nb in totals.notebooks],
                             f"Total ({unit})"])
            for student in graded:
                if student in unknown:
                    continue
                total = sum(totals.points[student].values())
                most = sum(totals.max_points.values())
                writer.writerow([lookup.get(student, student), names.get(student, student),
                                 *cells(student), value(total, most)])
        return unknown
    raise ValueError(f"unknown format {format!r}: choose canvas, moodle-worksheet or moodle")


def _student_of(row: dict[str, str], matched: dict[str, dict[str, str]]) -> str | None:
    return next((student for student, found in matched.items() if found is row), None)


def _fill_worksheet(totals: Totals, worksheet: Path, output: Path, percent, missing: str,
                    now: datetime | None) -> list[str]:
    """Moodle's offline grading worksheet as downloaded, with ``Grade`` and
    ``Last modified (grade)`` filled for every participant the grader graded."""
    with worksheet.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    absent = [c for c in (MOODLE_ID, MOODLE_GRADE, MOODLE_MODIFIED) if c not in fields]
    if absent:
        raise RosterError(f"{worksheet}: not a Moodle grading worksheet (no "
                          f"{', '.join(absent)}): download it from the assignment's "
                          f"'Download grading worksheet'")
    stamp = (now or datetime.now()).strftime(MOODLE_TIME)
    graded = set(totals.points)
    seen = set()
    for row in rows:
        ident = row[MOODLE_ID]
        student = ident[len(MOODLE_PARTICIPANT):] if ident.startswith(MOODLE_PARTICIPANT) \
            else ident
        student = next((s for s in (student, row.get("Email address", ""),
                                    row.get("ID number", "")) if s in graded), student)
        most = float(row.get("Maximum Grade") or row.get("Maximum grade") or 100)
        if student in graded:
            seen.add(student)
            row[MOODLE_GRADE] = _number(round(percent(student) * most / 100, 2))
            late = totals.penalties.get(student, {})
            if late and "Feedback comments" in fields:
                said = "; ".join(f"{Path(nb).stem}: {_number(round(lost, 2))} point(s)"
                                 for nb, lost in sorted(late.items()))
                note = f"Late penalty included ({said})."
                row["Feedback comments"] = " ".join(
                    part for part in (row.get("Feedback comments", "").strip(), note) if part)
        elif missing == "zero":
            row[MOODLE_GRADE] = "0"
        else:
            continue
        row[MOODLE_MODIFIED] = stamp
    with output.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return sorted(graded - seen)


# --- the exchange's inbound folder ------------------------------------------------------------

def aside_name(owner: str, name: str) -> str:
    """The hidden name an inbound entry is set aside under: ``.forged-by-<owner>-<name>-<random>``
    (cut to fit a file name; the random end keeps its maker from guessing it to rename it
    back). ``nbgrader collect`` skips names starting with a dot."""
    import secrets

    return f".forged-by-{owner[:32]}-{name[:100]}-{secrets.token_hex(8)}"


def set_aside_forged(inbound: Path, assignment: str) -> list[tuple[str, str]]:
    """Rename each entry of nbgrader's ``inbound`` folder that ``nbgrader collect`` would take
    for ``assignment`` but must not, to ``.forged-by-<owner>-<name>-<random>``, which collect
    skips. Returns (name, owner) of each.

    Collect (run as the instructor) takes every entry matching ``*+<assignment>+*``, reads its
    name as nbgrader does, ``<student>+<assignment>+<time>[+<random>]`` split from the right,
    and copies it, following links. Set aside: an entry its named student did not make (its
    owner is someone else: ``nbgrader submit --student OTHER``); one whose name does not read
    back as this assignment, or whose time does not parse (collect would stop on it, for the
    whole class); and anything but a plain folder of plain files and folders, all owned by its
    maker (a link would have collect copy whatever it points to, the masters or another
    student's work, into the maker's submission; a FIFO or a file would stop collect). The
    new name ends in a random part, so the maker cannot guess it to rename the entry back. The
    instructor owns ``inbound`` (``nbgrader release_assignment`` makes it, mode 0733), so they
    may rename its entries; nobody else may list it.
    """
    import fnmatch
    import pwd
    import stat

    from nbgrader.utils import parse_utc

    def plain_folder_of(path: Path, uid: int) -> bool:
        found = path.lstat()
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != uid:
            return False
        try:
            return all(plain_folder_of(child, uid) if child.is_dir() and not child.is_symlink()
                       else (stat.S_ISREG(child.lstat().st_mode)
                             and child.lstat().st_uid == uid)
                       for child in path.iterdir())
        except OSError:  # a folder the instructor cannot read would stop collect
            return False

    forged = []
    for entry in sorted(inbound.iterdir()):
        if entry.name.startswith(".") or not fnmatch.fnmatchcase(entry.name,
                                                                 f"*+{assignment}+*"):
            continue
        student, named, stamp = (entry.name.rsplit("+", 3) + ["", ""])[:3]
        uid = entry.lstat().st_uid
        try:
            owner = pwd.getpwuid(uid).pw_name
        except KeyError:
            owner = str(uid)
        try:
            parse_utc(stamp)
            readable = named == assignment
        except Exception:  # noqa: BLE001 - any time nbgrader cannot read stops its collect
            readable = False
        if owner != student or not readable or not plain_folder_of(entry, uid):
            hidden = aside_name(owner, entry.name)
            try:
                entry.rename(inbound / hidden)
            except OSError as error:  # listed all the same: the instructor must look
                owner = f"{owner} (could not be set aside: {error.strerror})"
            forged.append((entry.name, owner))
    return forged


def _exchange_settings() -> tuple[Path, str]:
    """nbgrader's exchange root and course id, from its settings as its commands read them."""
    from nbgrader.apps.baseapp import NbGrader

    app = NbGrader()
    app.load_config_file()
    root = app.config.Exchange.get("root", "/srv/nbgrader/exchange")
    return Path(root), app.config.CourseDirectory.get("course_id", "")


# --- command line ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """Run the command; exit status 0 on success, 1 when some graded students are not in the
    roster (the rest is written), 2 on bad arguments or nothing collected."""
    parser = argparse.ArgumentParser(prog="python -m course_grading.lms",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    take = commands.add_parser("collect", help="a bulk download into <student_id>/<notebook>")
    take.add_argument("source", choices=sorted(REGEXPS))
    take.add_argument("download", type=Path, help="the zip file (or the nbgrader submitted/ folder)")
    take.add_argument("--output", type=Path, required=True, help="the submissions folder")
    take.add_argument("--worksheet", type=Path,
                      help="moodle: the grading worksheet, for each submission's time")
    give = commands.add_parser("totals", help="grades.csv into a file the LMS imports")
    give.add_argument("grades", type=Path, help="grades.csv from python -m course_grading")
    give.add_argument("--format", choices=["canvas", "moodle-worksheet", "moodle"],
                      required=True)
    give.add_argument("--scale", choices=["points", "percent"], default="points")
    give.add_argument("--roster", type=Path,
                      help="canvas: the course's gradebook export; moodle-worksheet: the "
                           "downloaded grading worksheet (required); moodle: a worksheet "
                           "with each participant's email / ID number")
    give.add_argument("--match", help="canvas: the roster column holding the grader's "
                                      "student ids when they are not Canvas ids (default "
                                      "SIS Login ID)")
    give.add_argument("--key", choices=["email", "idnumber"], default="email",
                      help="moodle: the user field the gradebook import maps (default email)")
    give.add_argument("--missing", choices=["zero", "blank"], default="zero",
                      help="a notebook not handed in: 0 (default) or left empty")
    give.add_argument("--solutions", type=Path, default=Path(__file__).resolve().parents[2]
                      / "solutions", help="the masters, for what each notebook is worth")
    give.add_argument("--students", type=Path, help="students.csv written by collect (names)")
    give.add_argument("--output", type=Path, required=True)
    back = commands.add_parser("feedback", help="the grader's feedback into a course directory")
    back.add_argument("graded", type=Path, help="the --output folder of the grading command")
    back.add_argument("--course", type=Path, required=True, help="the nbgrader course directory")
    back.add_argument("--assignment", default=None, help="nbgrader assignment (default: the course's)")
    check = commands.add_parser("inbound", help="set aside submissions made under another's name")
    check.add_argument("assignment", help="the nbgrader assignment (only its submissions)")
    args = parser.parse_args(argv)
    if args.command == "inbound":
        root, course_id = _exchange_settings()
        inbound = root / course_id / "inbound"
        if not course_id or not inbound.is_dir():
            print(f"error: no inbound folder at {inbound}", file=sys.stderr)
            return 2
        forged = set_aside_forged(inbound, args.assignment)
        for name, owner in forged:
            print(f"set aside: {name!r}, handed in by {owner} under another student's name "
                  f"(or not a plain folder of its own files)", file=sys.stderr)
        print(f"{len(forged)} submission(s) of {args.assignment} set aside in {inbound}.")
        return 1 if forged else 0
    if args.command == "feedback":
        from course_grading.settings import ASSIGNMENT

        placed = place_feedback(args.graded, args.course, args.assignment or ASSIGNMENT)
        print(f"Placed {len(placed)} feedback files in {args.course / 'feedback'}; "
              f"now run `nbgrader release_feedback {args.assignment or ASSIGNMENT}` there.")
        return 0 if placed else 2
    if args.command == "collect":
        try:
            placed, skipped = collect(args.source, args.download, args.output,
                                      worksheet=args.worksheet)
        except (FileNotFoundError, ValueError, zipfile.BadZipFile) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for name in skipped:
            print(f"skipped (not a {args.source} notebook name): {name}", file=sys.stderr)
        students = {item.student_id for item in placed}
        late = sum(item.late for item in placed)
        print(f"Collected {len(placed)} notebooks of {len(students)} students into "
              f"{args.output}" + (f" ({late} marked late by the LMS)." if late else "."))
        return 0 if placed else 2
    if not args.grades.is_file():
        print(f"error: {args.grades} not found", file=sys.stderr)
        return 2
    points = course_points(args.solutions) if args.solutions.is_dir() else None
    totals = read_totals(args.grades, points or None)
    try:
        unknown = write_gradebook(totals, args.output, format=args.format, scale=args.scale,
                                  names=_read_names(args.students), roster=args.roster,
                                  match=args.match, missing=args.missing, key=args.key)
    except (RosterError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for student in unknown:
        print(f"not in the roster, not written: {student}", file=sys.stderr)
    print(f"Wrote {len(totals.points) - len(unknown)} students' grades to {args.output}.")
    return 1 if unknown else 0


if __name__ == "__main__":
    sys.exit(main())
