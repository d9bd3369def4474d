"""Submissions in from where a class hands them in; grades out to the gradebook it reads.

Usage::

    python -m course_grading.lms collect {canvas,moodle,exchange} SOURCE --output SUBMISSIONS
    python -m course_grading.lms totals GRADES_CSV --format {canvas,moodle} --output FILE
        [--students SUBMISSIONS/students.csv] [--scale {points,percent}]
    python -m course_grading.lms feedback GRADED --course COURSE_DIR [--assignment NAME]

Why it exists: the class-grading command (``python -m course_grading``) reads one folder
per student, ``<student_id>/<notebook>.ipynb``, and writes ``grades.csv`` with one row per test
cell. A class rarely hands work in that way, and a gradebook never wants one row per cell:

- ``collect`` turns a bulk download into that layout. ``canvas``: Canvas's "Download
  Submissions" zip, flat, one file per student and notebook, named
  ``<lastfirst>[_LATE]_<user id>_<submission id>_<file name>``, re-submissions with ``-1``,
  ``-2`` ... before the extension (the highest number is the latest and wins). ``moodle``:
  Moodle's "Download all submissions" zip, one folder per submission named
  ``<Full Name>_<participant id>_assignsubmission_file_``. ``exchange``: the ``submitted/``
  folder of an nbgrader course directory after ``nbgrader collect``
  (``<student>/<assignment>/<notebook>.ipynb``). File names are matched with nbgrader's own
  ZipCollect collector (``FileNameCollectorPlugin`` and a ``named_regexp`` giving
  ``student_id`` and ``file_id``), the convention ``nbgrader zip_collect`` uses. It also
  writes ``students.csv`` (``student_id,name,source``) so the totals can carry names.
- ``totals`` sums ``grades.csv`` per student and notebook into a CSV a gradebook imports: one
  column per notebook plus the total, in points or percentages. ``canvas`` gives Canvas's
  gradebook import layout (``Student,ID,SIS User ID,SIS Login ID,Section`` then the grade
  columns, with a ``Points Possible`` row); ``moodle`` gives the columns of Moodle's offline
  grading worksheet (``Identifier`` as ``Participant <id>``, ``Full name``, the notebook
  columns, ``Grade`` and ``Maximum Grade``), which Moodle's gradebook CSV import also reads
  (map ``Identifier`` or ``Full name`` to the user).
- ``feedback`` puts the grader's ``GRADED/feedback/<student>/<notebook>.html`` where nbgrader's
  ``release_feedback`` looks for it in a course directory (``feedback/<student>/<assignment>/``,
  with the ``timestamp.txt`` and ``submission_secret.txt`` of the collected submission), so
  students fetch it from the exchange without a second grading run.

A notebook a student did not hand in scores zero in the totals; its maximum still counts.
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
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: ZipCollect ``named_regexp`` for Canvas's file names (matched against the path, as nbgrader
#: does). ``attempt`` is Canvas's re-submission suffix.
CANVAS_REGEXP = (r"(?:.*/)?(?P<name>[^/_]+)(?:_(?i:late))?_(?P<student_id>\d+)_(?P<submission_id>\d+)_"
                 r"(?P<file_id>[^/]+?)(?:-(?P<attempt>\d+))?\.ipynb$")
#: ZipCollect ``named_regexp`` for Moodle's per-submission folders.
MOODLE_REGEXP = (r"(?:.*/)?(?P<name>[^/]+)_(?P<student_id>\d+)_assignsubmission_file_/"
                 r"(?:.*/)?(?P<file_id>[^/]+)\.ipynb$")
#: ZipCollect ``named_regexp`` for an nbgrader course's ``submitted/`` folder.
EXCHANGE_REGEXP = r"(?:.*/)?(?P<student_id>[^/]+)/(?P<assignment>[^/]+)/(?P<file_id>[^/]+)\.ipynb$"

REGEXPS = {"canvas": CANVAS_REGEXP, "moodle": MOODLE_REGEXP, "exchange": EXCHANGE_REGEXP}


@dataclass(frozen=True)
class Collected:
    """One notebook placed in the grader's layout."""

    student_id: str
    """The student's id: Canvas user id, Moodle participant id, or the exchange user name."""
    name: str
    """The student's name as the download spells it (empty for the exchange)."""
    notebook: str
    """The notebook's file name in the grader's layout."""
    source: str
    """The path of the file inside the download it came from."""


def _collector(source: str):
    """nbgrader's ZipCollect file-name collector, configured for ``source``."""
    from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

    return FileNameCollectorPlugin(named_regexp=REGEXPS[source])


def collect(source: str, download: Path, output: Path) -> tuple[list[Collected], list[str]]:
    """Copy the notebooks of a bulk download into ``output/<student_id>/<notebook>.ipynb``.

    Args:
        source: ``canvas``, ``moodle`` or ``exchange`` (see the module docstring).
        download: the zip file as downloaded (a folder of its extracted files also works).
        output: the submissions folder the grader reads; made if missing.

    Returns:
        The notebooks placed, and the files skipped (not notebooks, or names that do not
        match ``source``'s layout), as paths inside the download.
    """
    if source not in REGEXPS:
        raise ValueError(f"unknown source {source!r}: choose from {', '.join(REGEXPS)}")
    collector = _collector(source)
    with tempfile.TemporaryDirectory(prefix="nn-python-lms-") as tmp:
        if download.is_file():
            with zipfile.ZipFile(download) as archive:
                _safe_extract(archive, Path(tmp))
            root = Path(tmp)
        elif download.is_dir():
            root = download
        else:
            raise FileNotFoundError(f"{download} is neither a zip file nor a folder")
        chosen: dict[tuple[str, str], tuple[int, Path, str]] = {}
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
            attempt = int(info.get("attempt") or 0)
            key = (info["student_id"], notebook)
            if key not in chosen or attempt >= chosen[key][0]:
                chosen[key] = (attempt, path, info.get("name") or "")
        placed = []
        for (student, notebook), (_, path, name) in sorted(chosen.items()):
            target = output / student / notebook
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            placed.append(Collected(student, name, notebook, path.relative_to(root).as_posix()))
    if placed:
        _write_students(output / "students.csv", placed, source)
    return placed, skipped


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
    feedback to its author only. Returns the HTML files placed.
    """
    placed = []
    for folder in sorted(p for p in (graded / "feedback").glob("*") if p.is_dir()):
        submitted = course / "submitted" / folder.name / assignment
        if not (submitted / "submission_secret.txt").is_file():
            continue
        target = course / "feedback" / folder.name / assignment
        target.mkdir(parents=True, exist_ok=True)
        for name in ("timestamp.txt", "submission_secret.txt"):
            shutil.copyfile(submitted / name, target / name)
        for html in sorted(folder.glob("*.html")):
            shutil.copyfile(html, target / html.name)
            placed.append(target / html.name)
    return placed


# --- grades out ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Totals:
    """Per-student points per notebook, from ``grades.csv``."""

    notebooks: list[str]
    """Every notebook seen in ``grades.csv``, sorted."""
    max_points: dict[str, float]
    """Points each notebook is worth (the largest total seen for it)."""
    points: dict[str, dict[str, float]]
    """``points[student][notebook]``: what the student scored (0 when not handed in)."""


def read_totals(grades_csv: Path) -> Totals:
    """Sum the cells of ``grades.csv`` (``student_id,notebook,grade_id,score,max_score``)."""
    scored: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    worth: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    with grades_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            scored[row["student_id"]][row["notebook"]] += float(row["score"])
            worth[row["student_id"]][row["notebook"]] += float(row["max_score"])
    notebooks = sorted({nb for per in worth.values() for nb in per})
    max_points = {nb: max(per.get(nb, 0.0) for per in worth.values()) for nb in notebooks}
    points = {student: {nb: scored[student].get(nb, 0.0) for nb in notebooks}
              for student in sorted(worth)}
    return Totals(notebooks, max_points, points)


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def _read_names(students_csv: Path | None) -> dict[str, str]:
    if students_csv is None or not students_csv.is_file():
        return {}
    with students_csv.open(newline="") as handle:
        return {row["student_id"]: row["name"] for row in csv.DictReader(handle)}


def write_gradebook(totals: Totals, output: Path, *, format: str, scale: str = "points",
                    names: dict[str, str] | None = None) -> None:
    """Write ``totals`` as a gradebook import CSV.

    Args:
        totals: from :func:`read_totals`.
        output: the CSV file to write.
        format: ``canvas`` or ``moodle`` (the column layouts in the module docstring).
        scale: ``points`` (what each notebook is worth) or ``percent`` (every column out of 100).
        names: student id to display name, from ``students.csv``.
    """
    names = names or {}
    stems = [Path(nb).stem for nb in totals.notebooks]
    total_max = sum(totals.max_points.values())
    unit = "points" if scale == "points" else "%"

    def value(got: float, most: float) -> str:
        if scale == "points":
            return _number(got)
        return _number(round(100 * got / most, 2)) if most else "0"

    rows = []
    for student, per in totals.points.items():
        cells = [value(per[nb], totals.max_points[nb]) for nb in totals.notebooks]
        rows.append((student, cells, value(sum(per.values()), total_max)))
    maxima = [value(totals.max_points[nb], totals.max_points[nb]) for nb in totals.notebooks]
    with output.open("w", newline="") as handle:
        writer = csv.writer(handle)
        if format == "canvas":
            writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                             *[f"{stem} ({unit})" for stem in stems], f"Total ({unit})"])
            writer.writerow(["    Points Possible", "", "", "", "", *maxima,
                             value(total_max, total_max)])
            for student, cells, total in rows:
                writer.writerow([names.get(student, student), student, "", "", "", *cells, total])
        elif format == "moodle":
            writer.writerow(["Identifier", "Full name", *[f"{stem} ({unit})" for stem in stems],
                             "Grade", "Maximum Grade"])
            for student, cells, total in rows:
                identifier = f"Participant {student}" if student.isdigit() else student
                writer.writerow([identifier, names.get(student, student), *cells, total,
                                 value(total_max, total_max)])
        else:
            raise ValueError(f"unknown format {format!r}: choose canvas or moodle")


# --- command line ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """Run the command; exit status 0 on success, 2 on bad arguments or nothing collected."""
    parser = argparse.ArgumentParser(prog="python -m course_grading.lms",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    take = commands.add_parser("collect", help="a bulk download into <student_id>/<notebook>")
    take.add_argument("source", choices=sorted(REGEXPS))
    take.add_argument("download", type=Path, help="the zip file (or the nbgrader submitted/ folder)")
    take.add_argument("--output", type=Path, required=True, help="the submissions folder")
    give = commands.add_parser("totals", help="grades.csv into a gradebook import CSV")
    give.add_argument("grades", type=Path, help="grades.csv from python -m course_grading")
    give.add_argument("--format", choices=["canvas", "moodle"], required=True)
    give.add_argument("--scale", choices=["points", "percent"], default="points")
    give.add_argument("--students", type=Path, help="students.csv written by collect (names)")
    give.add_argument("--output", type=Path, required=True)
    back = commands.add_parser("feedback", help="the grader's feedback into a course directory")
    back.add_argument("graded", type=Path, help="the --output folder of the grading command")
    back.add_argument("--course", type=Path, required=True, help="the nbgrader course directory")
    back.add_argument("--assignment", default=None, help="nbgrader assignment (default: the course's)")
    args = parser.parse_args(argv)
    if args.command == "feedback":
        from course_grading.settings import ASSIGNMENT

        placed = place_feedback(args.graded, args.course, args.assignment or ASSIGNMENT)
        print(f"Placed {len(placed)} feedback files in {args.course / 'feedback'}; "
              f"now run `nbgrader release_feedback {args.assignment or ASSIGNMENT}` there.")
        return 0 if placed else 2
    if args.command == "collect":
        try:
            placed, skipped = collect(args.source, args.download, args.output)
        except (FileNotFoundError, ValueError, zipfile.BadZipFile) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for name in skipped:
            print(f"skipped (not a {args.source} notebook name): {name}", file=sys.stderr)
        students = {item.student_id for item in placed}
        print(f"Collected {len(placed)} notebooks of {len(students)} students into {args.output}.")
        return 0 if placed else 2
    if not args.grades.is_file():
        print(f"error: {args.grades} not found", file=sys.stderr)
        return 2
    totals = read_totals(args.grades)
    write_gradebook(totals, args.output, format=args.format, scale=args.scale,
                    names=_read_names(args.students))
    print(f"Wrote {len(totals.points)} students' totals to {args.output}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
