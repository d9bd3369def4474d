"""A term through the instructors' guide: late work, an extension, a regrade, overrides, the
class report and the gradebook file, with the guide's own commands (docs/instructors.md,
section 6, checked word for word here).

One small class is graded once per module (the cheap notebook 04): ada answers one_hot wrong
and on time, and gets partial credit by an override; alan's file arrives broken, he sends it
again two days late and is regraded alone, and his penalty is waived by an override; grace
is late inside her extension; hopper is eight days late (the cap applies) and his solution
cells are grace's, word for word.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import nbformat
import pytest

import answers
import lms_importers as lms_rules
from conftest import ROOT

NB = "04_data_and_preprocessing.ipynb"
DUE = "2026-12-01T23:59+00:00"
#: The guide's commands for a term (docs/instructors.md, section 6), in the order run here.
GUIDE_TERM = [
    "python -m course_grading.lms collect exchange submitted --output submissions",
    f"python -m course_grading submissions --output graded --jobs 2 --due {DUE} "
    "--late-penalty 10 --late-cap 50 --extensions extensions.csv",
    "python -m course_grading submissions --output graded --student alan",
    "python -m course_grading.term graded --overrides overrides.csv",
    "python -m course_grading.lms totals graded/grades.csv --format canvas "
    "--roster canvas_export.csv --solutions source/nn_python --output canvas.csv",
]
SUBMITTED_AT = {"ada": "2026-12-01 20:00:00.000000 UTC", "alan": "2026-12-03 10:00:00.000000 UTC",
                "grace": "2026-12-03 12:00:00.000000 UTC",
                "hopper": "2026-12-09 08:00:00.000000 UTC"}
ONE_HOT = {"ada": answers.ONE_HOT_WRONG["shifted_by_one"],
           "alan": answers.ONE_HOT_RIGHT["to_categorical"],
           "grace": answers.ONE_HOT_RIGHT["loop"], "hopper": answers.ONE_HOT_RIGHT["loop"]}
EXTENSIONS = "student_id,notebook,due\ngrace,,2026-12-04T23:59+00:00\n"
OVERRIDES = ("student_id,notebook,grade_id,score,reason\n"
             "ada,04_data_and_preprocessing,test_one_hot,1.5,right idea; labels shifted by one\n"
             "alan,04_data_and_preprocessing,late_penalty,0,file broken by the upload; "
             "sent again at once\n")
CANVAS_EXPORT = ("Student,ID,SIS User ID,SIS Login ID,Section,04_data_and_preprocessing (104),"
                 "Current Score,Final Score\n"
                 "    Points Possible,,,,,3.00,(read only),(read only)\n"
                 + "".join(f'"{name.title()}, A",{100 + i},,{name},NN,,,\n'
                           for i, name in enumerate(SUBMITTED_AT)))


def _notebook(one_hot: str) -> nbformat.NotebookNode:
    notebook = nbformat.read(ROOT / "notebooks" / NB, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "normalize":
            cell.source = answers.NORMALIZE_RIGHT.strip("\n")
        elif grade_id == "one_hot":
            cell.source = one_hot.strip("\n")
    return notebook


def _shell(command: str, course: Path) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "PYTHONPATH": f"{ROOT}:{ROOT / 'grader'}"}
    return subprocess.run(command, shell=True, cwd=course, env=env, capture_output=True,
                          text=True, timeout=900)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    source = course / "source" / "nn_python"
    source.mkdir(parents=True)
    shutil.copyfile(ROOT / "solutions" / NB, source / NB)
    for student, when in SUBMITTED_AT.items():
        folder = course / "submitted" / student / "nn_python"
        folder.mkdir(parents=True)
        if student == "alan":
            (folder / NB).write_text('{"cells": [')  # broken by the upload
        else:
            nbformat.write(_notebook(ONE_HOT[student]), folder / NB)
        (folder / "timestamp.txt").write_text(when)
    (course / "extensions.csv").write_text(EXTENSIONS)
    (course / "overrides.csv").write_text(OVERRIDES)
    (course / "canvas_export.csv").write_text(CANVAS_EXPORT)
    seen = {}
    collect, grade, regrade, overrides, totals = GUIDE_TERM
    for command in (collect, grade):
        seen[command] = _shell(command, course)
    graded = course / "graded"
    seen["first grades"] = _rows(graded / "grades.csv")
    seen["first problems"] = _rows(graded / "problems.csv")
    ada_page = graded / "feedback" / "ada" / NB.replace(".ipynb", ".html")
    seen["ada page before"] = ada_page.read_text()
    # alan sends his notebook again; the instructor puts it in his folder and regrades him.
    nbformat.write(_notebook(ONE_HOT["alan"]), course / "submissions" / "alan" / NB)
    for command in (regrade, overrides, totals):
        seen[command] = _shell(command, course)
    seen["course"] = course
    return seen


def _result(term, command):
    done = term[command]
    return done.returncode, done.stdout + done.stderr


def test_the_guide_gives_the_terms_commands_word_for_word():
    guide = (ROOT / "docs" / "instructors.md").read_text()
    for command in GUIDE_TERM:
        assert f"\n{command}\n" in guide, f"docs/instructors.md lacks: {command}"


def test_every_command_succeeds(term):
    collect, grade, regrade, overrides, totals = GUIDE_TERM
    assert _result(term, collect)[0] == 0, _result(term, collect)
    assert _result(term, grade)[0] == 1, _result(term, grade)  # alan's broken file
    assert _result(term, regrade)[0] == 0, _result(term, regrade)
    assert _result(term, overrides)[0] == 0, _result(term, overrides)
    assert _result(term, totals)[0] == 0, _result(term, totals)
    assert "not valid JSON" in term["first problems"][0]["problem"]


def test_the_regrade_merges_and_keeps_everyone_else(term):
    graded = term["course"] / "graded"
    grades = _rows(graded / "grades.csv")
    assert {r["student_id"] for r in grades} == set(SUBMITTED_AT)
    assert not {r["student_id"] for r in term["first grades"]} & {"alan"}
    first = {(r["student_id"], r["grade_id"]): r["score"] for r in term["first grades"]
             if r["student_id"] in ("grace", "hopper")}
    now = {(r["student_id"], r["grade_id"]): r["score"] for r in grades
           if r["student_id"] in ("grace", "hopper")}
    assert now == first
    assert _rows(graded / "problems.csv") == []  # alan's broken file is graded now
    for student in SUBMITTED_AT:
        assert (graded / "feedback" / student / NB.replace(".ipynb", ".html")).is_file()


def test_late_work_the_extension_and_the_cap(term):
    graded = term["course"] / "graded"
    late = {r["student_id"]: r for r in _rows(graded / "late.csv")}
    assert sorted(late) == ["alan", "hopper"]  # grace is inside her extension
    assert (late["alan"]["days_late"], late["alan"]["penalty_percent"]) == ("2", "20.0")
    assert (late["hopper"]["days_late"], late["hopper"]["penalty_percent"]) == ("8", "50.0")
    scores = {(r["student_id"], r["grade_id"]): float(r["score"])
              for r in _rows(graded / "grades.csv")}
    assert scores[("hopper", "late_penalty")] == -1.5  # half of 3 points
    assert ("grace", "late_penalty") not in scores
    page = unescape(re.sub(r"<[^>]+>", " ", (graded / "feedback" / "hopper" /
                                              NB.replace(".ipynb", ".html")).read_text()))
    assert "8 day(s) after the due date" in page and "late penalty 50%" in page


def test_overrides_are_applied_last_and_recorded(term):
    graded = term["course"] / "graded"
    scores = {(r["student_id"], r["grade_id"]): float(r["score"])
              for r in _rows(graded / "grades.csv")}
    autograded = {(r["student_id"], r["grade_id"]): float(r["score"])
                  for r in _rows(graded / "autograded.csv")}
    assert autograded[("ada", "test_one_hot")] == 0.0   # the autograder's own score stays
    assert scores[("ada", "test_one_hot")] == 1.5
    assert scores[("alan", "late_penalty")] == 0.0      # waived
    applied = {(r["student_id"], r["grade_id"]): r for r in
               _rows(graded / "overrides_applied.csv")}
    assert applied[("ada", "test_one_hot")]["old_score"] == "0.0"
    assert applied[("alan", "late_penalty")]["old_score"] == "-0.6"  # 20% of 3
    assert "labels shifted by one" in applied[("ada", "test_one_hot")]["reason"]
    page = (graded / "feedback" / "ada" / NB.replace(".ipynb", ".html")).read_text()
    assert "from 0 to 1.5: right idea" in unescape(page)
    assert page.count("course-term-note -->") == 2  # one note, however often it is applied
    assert "course-term-note" not in term["ada page before"]


def test_the_gradebook_file_carries_the_terms_scores(term):
    course = lms_rules.CanvasCourse(
        [lms_rules.CanvasStudent(100 + i, name, f"{name.title()}, A", "", name)
         for i, name in enumerate(SUBMITTED_AT)], {104: "04_data_and_preprocessing"})
    found = lms_rules.canvas_import((term["course"] / "canvas.csv").read_text(), course)
    assert found.new_assignments == [] and found.unknown_students == []
    got = {name.split(",")[0].lower(): grade for (name, _), grade in found.grades.items()}
    assert got == {"ada": "2.5", "alan": "3", "grace": "3", "hopper": "1.5"}


def test_the_class_report(term):
    report = (term["course"] / "graded" / "report.html").read_text()
    text = unescape(re.sub(r"<[^>]+>", " ", report))
    assert report.count('src="data:image/png;base64,') >= 1
    assert "http://" not in report and "https://" not in report  # no external assets
    assert "Incorrect" in text and "test_one_hot" in text       # ada's failure message
    similar = report.split("Near-identical solutions")[1]
    pairs = re.findall(r"<tr><td>04_data_and_preprocessing\.ipynb</td><td>(\w+)</td>"
                       r"<td>(\w+)</td>", similar)
    assert pairs == [("grace", "hopper")]
    late = report.split("<h2>Late work</h2>")[1].split("<h2>")[0]
    assert "hopper" in late and "grace" not in late
    assert "right idea" in report.split("<h2>Overrides applied</h2>")[1]
    term_json = json.loads((term["course"] / "graded" / "term.json").read_text())
    assert term_json["policy"] == {"per_day": 10.0, "cap": 50.0, "cutoff_days": None}


def test_late_policy_units():
    from course_grading.term import LatePolicy

    policy = LatePolicy(per_day=10, cap=50, cutoff_days=7)
    assert [policy.percent(d) for d in (0, 1, 3, 6, 7, 8)] == [0, 10, 30, 50, 50, 100]


def test_an_override_outside_the_cells_points_is_refused(tmp_path):
    from course_grading.term import TermError, Term, cell_points, finalize

    (tmp_path / "autograded.csv").write_text(
        "student_id,notebook,grade_id,score,max_score\nada,04_data_and_preprocessing.ipynb,"
        "test_one_hot,0.0,2.0\n")
    overrides = tmp_path / "o.csv"
    overrides.write_text("student_id,notebook,grade_id,score,reason\n"
                         "ada,04_data_and_preprocessing,test_one_hot,4,too many\n")
    with pytest.raises(TermError, match="outside 0 to 2"):
        finalize(tmp_path, Term(overrides=str(overrides)), [NB],
                 cell_points(ROOT / "solutions"))


def test_canvas_late_mark_counts_one_day_and_an_extension_waives_it(tmp_path):
    from course_grading.term import LatePolicy, Term, cell_points, finalize

    (tmp_path / "autograded.csv").write_text(
        "student_id,notebook,grade_id,score,max_score\n"
        f"12345,{NB},test_normalize,2.0,2.0\n23456,{NB},test_normalize,2.0,2.0\n")
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "submitted.csv").write_text(
        "student_id,notebook,submitted_at,late,source\n"
        f"12345,{NB},,yes,canvas\n23456,{NB},,yes,canvas\n")
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("student_id,notebook,due\n23456,04_data_and_preprocessing,"
                          "2026-12-08T12:00+00:00\n")
    late, _ = finalize(tmp_path, Term({"*": "2026-12-01T23:59:00+00:00"},
                                      LatePolicy(per_day=25), str(extensions), None,
                                      str(submissions)), [NB], cell_points(ROOT / "solutions"))
    assert [(r.student_id, r.days_late, r.penalty_points) for r in late] == [("12345", 1, 0.5)]
    assert late[0].submitted_at == "marked late by the LMS"


def test_due_dates_per_notebook_and_for_the_assignment():
    from course_grading.term import Term, TermError, due_dates, parse_due

    known = ["01_neurons.ipynb", NB]
    due = parse_due(["2026-12-01T23:59+00:00",
                     "04_data_and_preprocessing=2026-12-08T12:00+00:00"], known)
    term = Term(due)
    assert due_dates(term, "ada", NB, [], known).day == 8
    assert due_dates(term, "ada", "01_neurons.ipynb", [], known).day == 1
    with pytest.raises(TermError, match="not a notebook of this course"):
        parse_due(["05_nope=2026-12-01T00:00"], known)
    with pytest.raises(TermError, match="not a date"):
        parse_due(["someday"], known)
