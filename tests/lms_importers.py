"""What Canvas's and Moodle's importers accept, re-implemented from their code for the tests.

Neither LMS can run here. These functions apply the acceptance rules of the importers, as read
from their repositories (sources and commits in ``tests/data/lms/README.md``), to a CSV file,
and return what the LMS would do with it: which students it finds, which columns become which
assignments, which grades it would set and which rows it would skip or refuse. They follow the
importers' order of checks; the comments name the method each step comes from.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone


# --- Canvas: GradebookImporter ---------------------------------------------------------------

class InvalidHeaderRow(Exception):
    """Canvas refuses the file: ``GradebookImporter::InvalidHeaderRow``."""


@dataclass
class CanvasStudent:
    """A student of the course, as Canvas knows them."""

    id: int
    name: str
    sortable_name: str = ""
    sis_user_id: str = ""
    login_id: str = ""


@dataclass
class CanvasCourse:
    """The course the file is imported into."""

    students: list[CanvasStudent]
    assignments: dict[int, str] = field(default_factory=dict)
    """Assignment id to title."""


@dataclass
class CanvasAssignment:
    header: str
    title: str
    id: int | None
    """The existing assignment's id, or None: Canvas makes a new assignment of the column."""
    points_possible: str | None = None


@dataclass
class CanvasImport:
    assignments: list[CanvasAssignment]
    students: list[tuple[CanvasStudent | None, str]]
    """Each student row: the course's student it matched (None: an unknown student) and the
    name in the row."""
    grades: dict[tuple[str, str], str]
    """(row's name, column header) to the grade cell as Canvas reads it."""

    @property
    def new_assignments(self) -> list[str]:
        return [a.header for a in self.assignments if a.id is None]

    @property
    def unknown_students(self) -> list[str]:
        return [name for student, name in self.students if student is None]


NON_ASSIGNMENT_COLUMN_HEADERS = ["Current Score", "Current Points", "Current Grade",
                                 "Final Score", "Final Points", "Final Grade", "Override Score",
                                 "Override Grade", "Override Status"]


def _decimal_comma_to_period(value: str | None) -> str | None:
    # CSV::Converters[:decimal_comma_to_period]
    if value is not None and re.fullmatch(r"-?[0-9.,]+%?", value):
        parts = re.split(r"[,.]", value)
        last = parts.pop()
        return last if not parts else "".join(parts) + "." + last
    return value


def _strict_count(line: str, separator: str) -> int:
    """Fields of one line as Ruby's CSV counts them; ValueError where Ruby raises
    ``MalformedCSVError`` (a closing quote not followed by the separator)."""
    if line == "":
        return 0  # CSV.parse_line("") is nil: `&.size || 0`
    count, i, size = 1, 0, len(line)
    while i < size:
        if line[i] == '"':
            end = i + 1
            while True:
                end = line.find('"', end)
                if end < 0:
                    raise ValueError("unclosed quoted field")
                if line[end + 1:end + 2] == '"':
                    end += 2
                    continue
                break
            i = end + 1
            if i < size and line[i] != separator:
                raise ValueError("stray text after a quoted field")
            continue
        if line[i] == separator:
            count += 1
        i += 1
    return count


def _delimiter(lines: list[str]) -> str:
    # identify_delimiter: a separator whose field count is the same on the first lines; a
    # separator under which a line is malformed counts 0
    counts = {}
    for separator in (";", ","):
        try:
            sizes = [_strict_count(line, separator) for line in lines]
        except ValueError:
            counts[separator] = 0
            continue
        counts[separator] = sizes[0] if len(set(sizes)) == 1 else 0
    return ";" if counts[";"] > counts[","] else ","


def canvas_import(text: str, course: CanvasCourse) -> CanvasImport:
    """What Canvas's gradebook import makes of ``text`` in ``course``."""
    lines = text.splitlines()
    separator = _delimiter(lines[:3])
    rows = []
    for line in lines:
        if re.fullmatch(r"[;, ]+", line):  # skip_lines
            continue
        rows += [[_decimal_comma_to_period(c) if c != "" else None for c in row]
                 for row in csv.reader([line], delimiter=separator)]
    header = [c or "" for c in rows[0]]
    # row_has_student_headers?
    if not ((len(header) > 3 and "Student" in header[0] and "ID" in header[1]) or
            (len(header) > 4 and "LastName" in header[0] and "FirstName" in header[1]
             and "ID" in header[2])):
        raise InvalidHeaderRow(header)
    # update_column_count
    first_last = header[0] == "LastName" and header[1] == "FirstName"
    columns = name_columns = 4 if first_last else 3
    sis_user = sis_login = root_account = None
    if re.search(r"SIS\s+Login\s+ID", header[name_columns - 1]):
        sis_login = name_columns - 1
        columns += 1
    elif re.search(r"SIS\s+User\s+ID", header[name_columns - 1]) and \
            re.search(r"SIS\s+Login\s+ID", header[name_columns]):
        integration = 1 if re.search(r"Integration\s+ID", header[name_columns + 1]) else 0
        sis_user, sis_login = name_columns - 1, name_columns
        columns += 2 + integration
        if re.search(r"Root\s+Account", header[name_columns + 1 + integration]):
            columns += 1
            root_account = name_columns + 1 + integration
    if "Section" not in header[columns - 1]:  # last_student_info_column
        raise InvalidHeaderRow(header)
    del root_account
    # strip_non_assignment_columns, then parse_assignments
    stripped = [h for h in header[columns:]
                if not re.search("|".join(NON_ASSIGNMENT_COLUMN_HEADERS), h)]
    assignments = []
    for name_and_id in stripped:
        found = re.fullmatch(r"(.*)\s\((\d+)\)", name_and_id, re.S)  # Assignment.title_and_id
        title, ident = (found[1], int(found[2])) if found else (name_and_id, None)
        existing = ident if ident in course.assignments else next(
            (i for i, t in course.assignments.items() if t == name_and_id), None)
        assignments.append(CanvasAssignment(name_and_id, course.assignments.get(existing, title),
                                            existing))
    index = {a.header: header.index(a.header) for a in assignments}  # calc_assignment_indices
    students: list[tuple[CanvasStudent | None, str]] = []
    grades: dict[tuple[str, str], str] = {}
    by_id = {s.id: s for s in course.students}
    for row in rows[1:]:
        row = row + [None] * (len(header) - len(row))
        # check_for_non_student_row
        if row[0] is not None and "Points Possible" in row[0]:
            for assignment in assignments:  # process_pp
                if row[index[assignment.header]]:
                    assignment.points_possible = row[index[assignment.header]]
            continue
        if all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c, re.I)
               for c in row if c is not None):
            continue
        # process_student
        raw_id = (row[2] if first_last else row[1]) or ""
        leading = re.match(r"\s*[-+]?\d+", raw_id)  # Ruby's String#to_i
        student = by_id.get(int(leading[0])) if leading else None
        if student is None:
            sis = row[sis_user] if sis_user is not None else None
            login = row[sis_login] if sis_login is not None else None
            student = next((s for s in course.students if sis and s.sis_user_id == sis), None) \
                or next((s for s in course.students if login and s.login_id == login), None)
        name = f"{row[1]} {row[0]}".strip() if first_last else (row[0] or "")
        if student is None:
            student = next((s for s in course.students
                            if s.name == name or s.sortable_name == name), None)
        students.append((student, name))
        for assignment in assignments:  # process_submissions
            cell = row[index[assignment.header]]
            grades[(name, assignment.header)] = (cell or "").strip()
    return CanvasImport(assignments, students, grades)


# --- Moodle: the assignment's offline grading worksheet --------------------------------------

#: English strings the importer compares the header with (mod_assign's and core's).
RECORD_ID, GRADE, LAST_MODIFIED_GRADE, HIDDEN_USER = ("Identifier", "Grade",
                                                      "Last modified (grade)", "Participant ")


@dataclass
class WorksheetImport:
    accepted: bool
    """False: Moodle says ``invalidgradeimport`` and imports nothing."""
    updated: dict[int, float] = field(default_factory=dict)
    """User id to the grade Moodle sets."""
    skipped: dict[int, str] = field(default_factory=dict)
    """User id to why its row changed nothing."""


def _strtotime(text: str) -> int | None:
    from dateutil import parser

    try:
        when = parser.parse(text)
    except (ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp())


def moodle_worksheet_import(text: str, participants: dict[str, int], max_grade: float,
                            current: dict[int, tuple[float, int]] | None = None,
                            ignore_modified: bool = False) -> WorksheetImport:
    """What ``assignfeedback_offline`` does with an uploaded worksheet.

    ``participants``: the assignment's unique participant id (the number after
    ``Participant``) to user id; ``current``: user id to (grade, time modified) already in
    Moodle.
    """
    current = current or {}
    reader = csv.reader(io.StringIO(text))
    columns = next(reader, [])
    # assignfeedback_offline_grade_importer::init: all three columns, by exact name
    try:
        grade_at, id_at, modified_at = (columns.index(GRADE), columns.index(RECORD_ID),
                                        columns.index(LAST_MODIFIED_GRADE))
    except ValueError:
        return WorksheetImport(False)
    result = WorksheetImport(True)
    for record in reader:
        if not record:
            continue
        # next(): strip the 'Participant ' prefix, find the user among valid participants
        user = participants.get(record[id_at][len(HIDDEN_USER):])
        if user is None:
            continue
        raw = record[grade_at].strip()
        modified = _strtotime(record[modified_at]) or 0
        # process_import_grades
        try:
            grade = float(raw.replace(",", ".")) if raw else None  # unformat_float
        except ValueError:
            grade = None
        old = current.get(user)
        stale = old is not None and old[1] > modified + 60
        if old is not None and grade is not None and old[0] == grade:
            result.skipped[user] = "grade not modified"
        elif grade is None or grade < 0:
            result.skipped[user] = "grade has no value"
        elif not ignore_modified and stale:
            result.skipped[user] = "grade modified in Moodle since the worksheet's time"
        elif grade > max_grade:
            result.skipped[user] = "out of range"
        else:
            result.updated[user] = grade
    return result


# --- Moodle: the gradebook's CSV import ------------------------------------------------------

@dataclass
class MoodleUser:
    id: int
    username: str
    email: str
    idnumber: str = ""


def moodle_gradebook_import(text: str, users: list[MoodleUser], user_column: str,
                            map_from: str, items: dict[str, str]
                            ) -> tuple[bool, dict[tuple[int, str], str], str]:
    """What ``gradeimport_csv_load_data`` does with a file.

    ``user_column`` is mapped from ``map_from`` (``userid``, ``useridnumber``, ``useremail``
    or ``username``); ``items`` maps other columns to grade items. Returns whether the import
    goes through, the grades per (user id, item), and the error when it does not.
    """
    field_of = {"userid": "id", "useridnumber": "idnumber", "useremail": "email",
                "username": "username"}[map_from]
    reader = csv.DictReader(io.StringIO(text))
    grades: dict[tuple[int, str], str] = {}
    for line in reader:
        value = (line.get(user_column) or "").strip()
        if not value:
            continue  # "Skip invalid row with blank user field."
        user = next((u for u in users if str(getattr(u, field_of)) == value), None)
        if user is None:  # check_user_exists: the whole import is cancelled
            return False, {}, f"user mapping error, could not find user with {field_of} {value!r}"
        for column, item in items.items():
            cell = (line.get(column) or "").strip()
            if cell == "" or cell == "-":
                continue
            try:
                float(cell)
            except ValueError:
                return False, {}, f"bad grade {cell!r} in {column}"
            grades[(user.id, item)] = cell
    return True, grades, ""

