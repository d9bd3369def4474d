"""LMS in and out: Canvas and Moodle bulk downloads into the grader's layout, grades out.

The archives are built here the way Canvas's "Download Submissions" (``lib/content_zipper.rb``)
and Moodle's "Download all submissions" lay them out; the notebooks inside are the course's
student versions. The files written for the LMS go through re-implementations of Canvas's and
Moodle's importers (``tests/lms_importers.py``), with fixtures from their own repositories
(``tests/data/lms/``).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import lms_importers as lms_rules
from course_grading import lms

ROOT = Path(__file__).resolve().parents[1]
NB1 = "01_neurons.ipynb"
NB4 = "04_data_and_preprocessing.ipynb"


def _notebook(marker: str) -> str:
    """A student version with a marker cell, so a test can tell copies apart."""
    notebook = json.loads((ROOT / "notebooks" / NB4).read_text())
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": marker})
    return json.dumps(notebook)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_grading.lms", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'grader'}"})


def _marker(path: Path) -> str:
    return json.loads(path.read_text())["cells"][-1]["source"]


@pytest.fixture
def canvas_zip(tmp_path: Path) -> Path:
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"lovelaceada_12345_67890_{NB4}", _notebook("ada first"))
        z.writestr(f"lovelaceada_12345_67891_{NB4[:-6]}-1.ipynb", _notebook("ada second"))
        z.writestr(f"lovelaceada_12345_67892_{NB4[:-6]}-2.ipynb", _notebook("ada third"))
        z.writestr(f"lovelaceada_12345_67893_{NB1}", _notebook("ada neurons"))
        z.writestr(f"turingalan_late_23456_78901_{NB4}", _notebook("alan late"))
        z.writestr("hopper_grace_notes.txt", "not a notebook")
    return archive


@pytest.fixture
def moodle_zip(tmp_path: Path) -> Path:
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"Ada Lovelace_12345_assignsubmission_file_/{NB4}", _notebook("ada"))
        z.writestr(f"Ada Lovelace_12345_assignsubmission_file_/{NB1}", _notebook("ada 1"))
        z.writestr(f"Alan Turing_23456_assignsubmission_file_/{NB4}", _notebook("alan"))
        z.writestr("Alan Turing_23456_assignsubmission_onlinetext_/onlinetext.html", "<p>hi</p>")
    return archive


def test_canvas_download_lands_in_the_grader_layout(canvas_zip: Path, tmp_path: Path):
    out = tmp_path / "submissions"
    result = _run("collect", "canvas", str(canvas_zip), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "skipped (not a canvas notebook name): hopper_grace_notes.txt" in result.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.ipynb")) == [
        f"12345/{NB1}", f"12345/{NB4}", f"23456/{NB4}"]
    assert _marker(out / "12345" / NB4) == "ada third"  # the latest re-submission wins
    assert _marker(out / "23456" / NB4) == "alan late"
    with (out / "students.csv").open() as handle:
        assert list(csv.DictReader(handle)) == [
            {"student_id": "12345", "name": "lovelaceada", "source": "canvas"},
            {"student_id": "23456", "name": "turingalan", "source": "canvas"}]


def test_names_from_the_download_are_kept(canvas_zip: Path, tmp_path: Path):
    placed, skipped = lms.collect("canvas", canvas_zip, tmp_path / "s")
    assert {(p.student_id, p.name) for p in placed} == {("12345", "lovelaceada"),
                                                        ("23456", "turingalan")}
    assert skipped == ["hopper_grace_notes.txt"]


def test_moodle_download_lands_in_the_grader_layout(moodle_zip: Path, tmp_path: Path):
    out = tmp_path / "submissions"
    result = _run("collect", "moodle", str(moodle_zip), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "Collected 3 notebooks of 2 students" in result.stdout
    assert "onlinetext.html" in result.stderr  # skipped, and said so
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.ipynb")) == [
        f"12345/{NB1}", f"12345/{NB4}", f"23456/{NB4}"]
    assert _marker(out / "23456" / NB4) == "alan"
    with (out / "students.csv").open() as handle:
        assert {r["student_id"]: r["name"] for r in csv.DictReader(handle)} == {
            "12345": "Ada Lovelace", "23456": "Alan Turing"}


def test_a_wrong_kind_of_archive_collects_nothing_and_says_so(moodle_zip: Path, tmp_path: Path):
    result = _run("collect", "canvas", str(moodle_zip), "--output", str(tmp_path / "s"))
    assert result.returncode == 2
    assert "Collected 0 notebooks" in result.stdout


def test_archive_members_outside_the_folder_are_refused(tmp_path: Path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"../lovelaceada_12345_67890_{NB4}", "{}")
    result = _run("collect", "canvas", str(archive), "--output", str(tmp_path / "s"))
    assert result.returncode == 2 and "outside" in result.stderr
    assert not (tmp_path / f"lovelaceada_12345_67890_{NB4}").exists()


def test_exchange_submitted_folder_lands_in_the_grader_layout(tmp_path: Path):
    submitted = tmp_path / "course" / "submitted"
    for student in ("ada", "alan"):
        folder = submitted / student / "nn_python"
        folder.mkdir(parents=True)
        (folder / NB4).write_text(_notebook(student))
        (folder / "timestamp.txt").write_text("2026-11-29 05:00:00.000000 UTC")
    out = tmp_path / "submissions"
    placed, skipped = lms.collect("exchange", submitted, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.ipynb")) == [
        f"ada/{NB4}", f"alan/{NB4}"]
    assert skipped == ["ada/nn_python/timestamp.txt", "alan/nn_python/timestamp.txt"]


def test_canvas_late_and_anonymous_names_are_read(tmp_path: Path):
    # As ContentZipper#get_filename writes them: <sortable name>[_LATE]_<user id>, or
    # [LATE_]anon_<anonymous id> when the assignment grades anonymously.
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"lovelaceada_LATE_12345_501_{NB4}", _notebook("ada late"))
        z.writestr(f"anon_x7Kq2_502_{NB4}", _notebook("anonymous"))
        z.writestr(f"LATE_anon_Pz9a1_503_{NB4}", _notebook("anonymous late"))
    out = tmp_path / "s"
    result = _run("collect", "canvas", str(archive), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "2 marked late by the LMS" in result.stdout
    assert _marker(out / "anon_x7Kq2" / NB4) == "anonymous"
    with (out / lms.SUBMITTED).open() as handle:
        late = {r["student_id"]: r["late"] for r in csv.DictReader(handle)}
    assert late == {"12345": "yes", "anon_Pz9a1": "yes", "anon_x7Kq2": ""}


def test_moodle_flat_download_and_worksheet_times(tmp_path: Path):
    # "Download submissions in folders" off: the folder's name is the file name's prefix.
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"Ada Lovelace_12345_assignsubmission_file_{NB4}", _notebook("flat ada"))
        z.writestr(f"Alan Turing_23456_assignsubmission_file_{NB1}", _notebook("flat alan"))
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(WORKSHEET)
    out = tmp_path / "s"
    result = _run("collect", "moodle", str(archive), "--output", str(out),
                  "--worksheet", str(worksheet))
    assert result.returncode == 0, result.stderr
    assert _marker(out / "12345" / NB4) == "flat ada"
    with (out / lms.SUBMITTED).open() as handle:
        times = {r["student_id"]: r["submitted_at"] for r in csv.DictReader(handle)}
    assert times["12345"].startswith("2026-12-01T21:00")  # Tuesday, 1 December 2026, 9:00 PM


def test_exchange_timestamps_are_kept(tmp_path: Path):
    submitted = tmp_path / "submitted" / "ada" / "nn_python"
    submitted.mkdir(parents=True)
    (submitted / NB4).write_text(_notebook("ada"))
    (submitted / "timestamp.txt").write_text("2026-11-29 05:00:00.000000 UTC")
    placed, _ = lms.collect("exchange", tmp_path / "submitted", tmp_path / "s")
    assert placed[0].submitted_at == "2026-11-29T05:00:00+00:00"


# --- grades out, against the importers -------------------------------------------------------

GRADES = """student_id,notebook,grade_id,score,max_score
12345,01_neurons.ipynb,test_neuron,1.0,1.0
12345,04_data_and_preprocessing.ipynb,test_normalize,1.0,1.0
12345,04_data_and_preprocessing.ipynb,test_one_hot,2.0,2.0
12345,04_data_and_preprocessing.ipynb,late_penalty,-0.5,0.0
23456,04_data_and_preprocessing.ipynb,test_normalize,1.0,1.0
23456,04_data_and_preprocessing.ipynb,test_one_hot,0.0,2.0
"""
#: The course's own Canvas gradebook export, as Canvas writes it today: identity columns,
#: assignment columns ``Title (id)``, then its read-only score columns.
CANVAS_EXPORT = """Student,ID,SIS User ID,SIS Login ID,Section,01_neurons (101),04_data_and_preprocessing (104),Current Score,Unposted Current Score,Final Score
    Points Possible,,,,,1.00,3.00,(read only),(read only),(read only)
"Lovelace, Ada",12345,s-1,ada,NN 2026,,,,,
"Turing, Alan",23456,s-2,alan,NN 2026,,,,,
"Hopper, Grace",34567,s-3,grace,NN 2026,,,,,
"""
COURSE = lms_rules.CanvasCourse(
    [lms_rules.CanvasStudent(12345, "Ada Lovelace", "Lovelace, Ada", "s-1", "ada"),
     lms_rules.CanvasStudent(23456, "Alan Turing", "Turing, Alan", "s-2", "alan"),
     lms_rules.CanvasStudent(34567, "Grace Hopper", "Hopper, Grace", "s-3", "grace")],
    {101: "01_neurons", 104: "04_data_and_preprocessing"})
#: Moodle's offline grading worksheet as downloaded (columns of mod_assign's grading table).
WORKSHEET = """Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,Last modified (submission),Last modified (grade),Feedback comments
Participant 12345,Ada Lovelace,ada@example.org,Submitted for grading,,100.00,Yes,"Tuesday, 1 December 2026, 9:00 PM",-,
Participant 23456,Alan Turing,alan@example.org,Submitted for grading,,100.00,Yes,"Monday, 30 November 2026, 8:00 PM",-,
Participant 34567,Grace Hopper,grace@example.org,No submission,,100.00,Yes,-,-,
"""


def _totals(tmp_path: Path, *args: str, grades: str = GRADES) -> subprocess.CompletedProcess:
    """``lms totals`` for a course that released 01 and 04 (their masters are its source)."""
    (tmp_path / "grades.csv").write_text(grades)
    source = tmp_path / "source"
    source.mkdir(exist_ok=True)
    for name in (NB1, NB4):
        shutil.copyfile(ROOT / "solutions" / name, source / name)
    return _run("totals", str(tmp_path / "grades.csv"), "--solutions", str(source), *args)


def test_the_importer_rules_read_canvas_s_own_fixtures():
    # The re-implementation against Canvas's own spec fixtures, as its specs expect them read.
    data = ROOT / "tests" / "data" / "lms"
    course = lms_rules.CanvasCourse(
        [lms_rules.CanvasStudent(i, n, s) for i, n, s in (
            (1, "Arthur Miller", "Miller, Arthur"), (2, "William Robesby", "Robesby, William"),
            (3, "Stacy Mills", "Mills, Stacy"), (4, "Todd Farner", "Farner, Todd"),
            (5, "Heather Gobesby", "Gobesby, Heather"), (6, "Bill Blend", "Blend, Bill"),
            (7, "Michael Moore", "Moore, Michael"))], {1: "Assignment 1"})
    for name in ("canvas_basic_course_with_sis_login_id.csv",
                 "canvas_valid_gradebook_contents_with_last_and_first_names.csv"):
        found = lms_rules.canvas_import((data / name).read_text(), course)
        assert not found.unknown_students, name
        # "Final Score (read only)" is dropped; "Assignment 1" is the course's, by title.
        assert [(a.header, a.id) for a in found.assignments] == [
            ("Assignment 1", 1), ("Comments", None)], name
    with pytest.raises(lms_rules.InvalidHeaderRow):
        lms_rules.canvas_import("Name,Login,Score\nAda,ada,1\n", course)


def test_canvas_file_from_the_course_export_imports_as_it_is(tmp_path: Path):
    roster = tmp_path / "export.csv"
    roster.write_text(CANVAS_EXPORT)
    out = tmp_path / "canvas.csv"
    result = _totals(tmp_path, "--format", "canvas", "--roster", str(roster),
                     "--output", str(out))
    assert result.returncode == 0, result.stderr
    found = lms_rules.canvas_import(out.read_text(), COURSE)
    # Every column is an existing assignment: no total, no new assignment.
    assert found.new_assignments == []
    assert {(a.title, a.points_possible) for a in found.assignments} == {
        ("01_neurons", "1"), ("04_data_and_preprocessing", "3")}
    assert found.unknown_students == []
    grades = {(name, header): grade for (name, header), grade in found.grades.items()}
    assert grades[("Lovelace, Ada", "04_data_and_preprocessing (104)")] == "2.5"  # late: -0.5
    assert grades[("Turing, Alan", "01_neurons (101)")] == "0"   # not handed in
    assert grades[("Hopper, Grace", "01_neurons (101)")] == "0"  # nothing handed in
    rows = list(csv.reader(out.open()))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[4][:5] == ["Hopper, Grace", "34567", "s-3", "grace", "NN 2026"]


def test_canvas_blank_for_missing_work_when_asked(tmp_path: Path):
    roster = tmp_path / "export.csv"
    roster.write_text(CANVAS_EXPORT)
    out = tmp_path / "canvas.csv"
    assert _totals(tmp_path, "--format", "canvas", "--roster", str(roster), "--missing",
                   "blank", "--output", str(out)).returncode == 0
    found = lms_rules.canvas_import(out.read_text(), COURSE)
    assert found.grades[("Hopper, Grace", "01_neurons (101)")] == ""


def test_hub_user_names_match_canvas_by_sis_login_id(tmp_path: Path):
    roster = tmp_path / "export.csv"
    roster.write_text(CANVAS_EXPORT)
    grades = GRADES.replace("12345,", "ada,").replace("23456,", "alan,")
    out = tmp_path / "canvas.csv"
    result = _totals(tmp_path, "--format", "canvas", "--roster", str(roster),
                     "--output", str(out), grades=grades)
    assert result.returncode == 0, result.stderr
    found = lms_rules.canvas_import(out.read_text(), COURSE)
    assert found.unknown_students == []
    assert found.grades[("Lovelace, Ada", "01_neurons (101)")] == "1"
    # Without a roster, a hub name goes in SIS Login ID (Canvas's next key after ID).
    plain = tmp_path / "plain.csv"
    assert _totals(tmp_path, "--format", "canvas", "--output", str(plain),
                   grades=grades).returncode == 0
    found = lms_rules.canvas_import(plain.read_text(), COURSE)
    assert found.unknown_students == []
    assert sorted(found.new_assignments) == ["01_neurons (points)",
                                             "04_data_and_preprocessing (points)"]


def test_a_student_missing_from_the_roster_is_named(tmp_path: Path):
    roster = tmp_path / "export.csv"
    roster.write_text(CANVAS_EXPORT)
    result = _totals(tmp_path, "--format", "canvas", "--roster", str(roster), "--output",
                     str(tmp_path / "c.csv"), grades=GRADES.replace("23456,", "99999,"))
    assert result.returncode == 1
    assert "not in the roster, not written: 99999" in result.stderr


def test_a_total_column_would_become_an_assignment_in_canvas():
    # The rule that made the old file wrong: only Canvas's own score columns are ignored.
    old = ("Student,ID,SIS User ID,SIS Login ID,Section,01_neurons (points),Total (points)\n"
           "    Points Possible,,,,,2,2\nada,12345,,,,2,2\n")
    found = lms_rules.canvas_import(old, COURSE)
    assert "Total (points)" in found.new_assignments


def test_moodle_worksheet_is_filled_and_accepted(tmp_path: Path):
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(WORKSHEET)
    out = tmp_path / "filled.csv"
    result = _totals(tmp_path, "--format", "moodle-worksheet", "--roster", str(worksheet),
                     "--output", str(out))
    assert result.returncode == 0, result.stderr
    participants = {"12345": 1, "23456": 2, "34567": 3}
    done = lms_rules.moodle_worksheet_import(out.read_text(), participants, 100.0,
                                             current={2: (10.0, 1_700_000_000)})
    assert done.accepted
    # 3.5 of 4 points (a late penalty of 0.5), 1 of 4, nothing handed in: 0.
    assert done.updated == {1: 87.5, 2: 25.0, 3: 0.0}
    rows = list(csv.DictReader(out.open()))
    assert [r["Full name"] for r in rows] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert rows[0]["Status"] == "Submitted for grading"  # every other column as downloaded
    assert rows[0]["Feedback comments"] == ("Late penalty included "
                                            "(04_data_and_preprocessing: 0.5 point(s)).")


def test_moodle_refuses_a_worksheet_without_its_columns(tmp_path: Path):
    old = "Identifier,Full name,Grade,Maximum Grade\nParticipant 12345,Ada,100,100\n"
    assert not lms_rules.moodle_worksheet_import(old, {"12345": 1}, 100).accepted
    bare = tmp_path / "bare.csv"
    bare.write_text("Identifier,Full name,Grade\n")
    result = _totals(tmp_path, "--format", "moodle-worksheet", "--roster", str(bare),
                     "--output", str(tmp_path / "o.csv"))
    assert result.returncode == 2 and "Last modified (grade)" in result.stderr


def test_moodle_keeps_a_grade_changed_after_the_worksheet_was_filled(tmp_path: Path):
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(WORKSHEET)
    out = tmp_path / "filled.csv"
    assert _totals(tmp_path, "--format", "moodle-worksheet", "--roster", str(worksheet),
                   "--output", str(out)).returncode == 0
    later = 4_102_444_800  # 2100: an instructor's edit in Moodle after the file was written
    done = lms_rules.moodle_worksheet_import(out.read_text(), {"12345": 1}, 100.0,
                                             current={1: (50.0, later)})
    assert done.skipped == {1: "grade modified in Moodle since the worksheet's time"}


def test_moodle_gradebook_file_is_keyed_by_email(tmp_path: Path):
    users = [lms_rules.MoodleUser(1, "ada", "ada@example.org"),
             lms_rules.MoodleUser(2, "alan", "alan@example.org"),
             lms_rules.MoodleUser(3, "student1", "student1@example.com")]
    fixture = (ROOT / "tests" / "data" / "lms" / "moodle_grade_import.csv").read_text()
    ok, grades, _ = lms_rules.moodle_gradebook_import(fixture, users, "Email address",
                                                      "useremail", {"Manual item 1": "item1"})
    assert ok and grades == {(3, "item1"): "400"}  # Moodle's own fixture, read as it expects
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(WORKSHEET)
    out = tmp_path / "moodle.csv"
    result = _totals(tmp_path, "--format", "moodle", "--roster", str(worksheet),
                     "--scale", "percent", "--output", str(out))
    assert result.returncode == 0, result.stderr
    ok, grades, error = lms_rules.moodle_gradebook_import(
        out.read_text(), users, "Email address", "useremail", {"Total (%)": "assignment"})
    assert ok, error
    assert grades == {(1, "assignment"): "87.5", (2, "assignment"): "25"}
    # Keyed by the participant number instead, the import finds nobody and stops.
    ok, _, error = lms_rules.moodle_gradebook_import(
        "Identifier,Total\nParticipant 12345,5\n", users, "Identifier", "useremail",
        {"Total": "assignment"})
    assert not ok and "could not find user" in error


def test_inbound_sets_aside_a_submission_made_under_another_students_name(tmp_path: Path):
    import pwd

    from course_grading.lms import set_aside_forged

    me = pwd.getpwuid(os.getuid()).pw_name
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    for name in (f"{me}+week1+2026-12-01 10:00:00.000000 UTC+abc",  # genuine
                 "someone-else+week1+2026-12-01 11:00:00.000000 UTC+def",  # made by me: forged
                 "someone-else+week2+2026-12-01 11:00:00.000000 UTC+ghi"):  # another assignment
        (inbound / name).mkdir()
    forged = set_aside_forged(inbound, "week1")
    assert forged == [("someone-else+week1+2026-12-01 11:00:00.000000 UTC+def", me)]
    names = sorted(p.name for p in inbound.iterdir())
    assert names[0].startswith(
        f".forged-by-{me}-someone-else+week1+2026-12-01 11:00:00.000000 UTC+def-")
    assert names[1:] == [f"{me}+week1+2026-12-01 10:00:00.000000 UTC+abc",
                         "someone-else+week2+2026-12-01 11:00:00.000000 UTC+ghi"]
    assert set_aside_forged(inbound, "week1") == []  # run again: nothing more


def test_inbound_sets_aside_names_collect_would_misread_or_stop_on(tmp_path: Path):
    """nbgrader reads a name from the right (``rsplit('+', 3)``) and stops the whole collect on
    a time it cannot parse: a student's own folder named to exploit that is set aside too."""
    import pwd

    from course_grading.lms import set_aside_forged

    me = pwd.getpwuid(os.getuid()).pw_name
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    stamp = "2026-12-01 10:00:00.000000 UTC"
    bad = [f"{me}+x+week1+abc",              # read as time "week1": collect would stop
           f"{me}+week1+{stamp}+abc+def",    # read as assignment "{stamp}", student "me+week1"
           f"{me}+week1+not a time"]         # three parts, no time
    good = f"{me}+week1+{stamp}"             # three parts, as older nbgrader names them
    for name in (*bad, good):
        (inbound / name).mkdir()
    assert sorted(name for name, _ in set_aside_forged(inbound, "week1")) == sorted(bad)
    assert sorted(p.name for p in inbound.iterdir() if not p.name.startswith(".")) == [good]


def test_inbound_sets_aside_links_fifos_files_and_folders_holding_them(tmp_path: Path):
    """A student's own entry that is not a plain folder of their own files: nbgrader's collect
    would copy what a link points to (the masters, another student's work) as theirs, and stop
    for the whole class on a FIFO or a file. A long name is set aside too, under a name that
    fits and that its maker cannot guess."""
    import pwd

    from course_grading.lms import set_aside_forged

    me = pwd.getpwuid(os.getuid()).pw_name
    masters = tmp_path / "masters"
    masters.mkdir()
    (masters / "01_neurons.ipynb").write_text("SECRET")
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    stamp = "2026-12-01 10:00:00.000000 UTC"
    link = inbound / f"{me}+week1+{stamp}+link"
    link.symlink_to(masters)
    os.mkfifo(inbound / f"{me}+week1+{stamp}+fifo")
    (inbound / f"{me}+week1+{stamp}+file").write_text("x")
    holding = inbound / f"{me}+week1+{stamp}+holding"
    holding.mkdir()
    (holding / "01_neurons.ipynb").symlink_to(masters / "01_neurons.ipynb")
    long = inbound / (f"{me}+week1+{stamp}+" + "z" * 180)
    long.mkdir()
    (long / "01_neurons.ipynb").write_text("{}")
    genuine = inbound / f"{me}+week1+{stamp}+genuine"
    (genuine / "sub").mkdir(parents=True)
    (genuine / "sub" / "01_neurons.ipynb").write_text("{}")
    forged = dict(set_aside_forged(inbound, "week1"))
    assert set(forged) == {link.name, f"{me}+week1+{stamp}+fifo", f"{me}+week1+{stamp}+file",
                           holding.name}
    assert all(owner == me for owner in forged.values())
    visible = sorted(p.name for p in inbound.iterdir() if not p.name.startswith("."))
    assert visible == sorted([genuine.name, long.name])
    # Set aside again as forged (another's name), the long one still gets a name that fits.
    assert set_aside_forged(inbound, "week1") == []
    os.rename(long, inbound / ("someone-else+week1+" + stamp + "+" + "z" * 180))
    assert [owner for _, owner in set_aside_forged(inbound, "week1")] == [me]
    hidden = [p.name for p in inbound.iterdir() if p.name.startswith(".")]
    assert len(hidden) == 5 and all(len(name) < 256 for name in hidden)


# --- weekly assignments: one notebook each, beside the whole-course one ------------------------

def test_a_notebook_handed_in_twice_counts_as_its_latest_submission(tmp_path: Path):
    # 01_neurons handed in as its week's assignment, then again in the whole-course one; and
    # 04 handed in early in the whole course, later as its week's.
    for assignment, stamp, notebooks in (
            ("01_neurons", "2026-11-02 10:00:00.000000 UTC", {NB1: "week 1"}),
            ("nn_python", "2026-11-20 10:00:00.000000 UTC", {NB1: "course", NB4: "course"}),
            ("04_data_and_preprocessing", "2026-11-25 10:00:00.000000 UTC", {NB4: "week 4"})):
        folder = tmp_path / "submitted" / "ada" / assignment
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text(stamp)
        for name, marker in notebooks.items():
            (folder / name).write_text(_notebook(marker))
    placed, _ = lms.collect("exchange", tmp_path / "submitted", tmp_path / "s")
    assert _marker(tmp_path / "s" / "ada" / NB1) == "course"
    assert _marker(tmp_path / "s" / "ada" / NB4) == "week 4"
    assert {p.notebook: p.submitted_at[:10] for p in placed} == {NB1: "2026-11-20",
                                                                 NB4: "2026-11-25"}


def test_a_weeks_feedback_carries_that_weeks_notebook_only(tmp_path: Path):
    graded, course = tmp_path / "graded", tmp_path / "course"
    (graded / "feedback" / "ada").mkdir(parents=True)
    for name in (NB1, NB4):
        (graded / "feedback" / "ada" / name.replace(".ipynb", ".html")).write_text(name)
    week = course / "submitted" / "ada" / "01_neurons"
    week.mkdir(parents=True)
    (week / NB1).write_text(_notebook("ada"))
    for name in ("timestamp.txt", "submission_secret.txt"):
        (week / name).write_text("x")
    placed = lms.place_feedback(graded, course, "01_neurons")
    assert [p.relative_to(course).as_posix() for p in placed] == [
        "feedback/ada/01_neurons/01_neurons.html"]
    assert lms.place_feedback(graded, course, "nn_python") == []  # nothing collected there


def test_course_points_reads_a_course_directorys_source_at_any_depth(tmp_path: Path):
    for assignment, name in (("01_neurons", NB1), ("nn_python", NB4), ("nn_python", NB1)):
        (tmp_path / "source" / assignment).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "solutions" / name, tmp_path / "source" / assignment / name)
    from_source = lms.course_points(tmp_path / "source")
    from_masters = lms.course_points(ROOT / "solutions")
    assert from_source == {NB1: from_masters[NB1], NB4: from_masters[NB4]}
    assert from_source[NB1] > 0 and from_source[NB4] > 0
