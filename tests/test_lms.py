"""LMS in and out: Canvas and Moodle bulk downloads into the grader's layout, totals out.

The archives are built here the way Canvas's "Download Submissions" and Moodle's "Download all
submissions" lay them out; the notebooks inside are the course's student versions.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


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


GRADES = """student_id,notebook,grade_id,score,max_score
12345,01_neurons.ipynb,test_neuron,2.0,2.0
12345,04_data_and_preprocessing.ipynb,test_normalize,2.0,2.0
12345,04_data_and_preprocessing.ipynb,test_one_hot,3.0,3.0
23456,04_data_and_preprocessing.ipynb,test_normalize,2.0,2.0
23456,04_data_and_preprocessing.ipynb,test_one_hot,0.0,3.0
"""


def test_canvas_gradebook_has_points_possible_and_one_column_per_notebook(tmp_path: Path):
    grades = tmp_path / "grades.csv"
    grades.write_text(GRADES)
    students = tmp_path / "students.csv"
    students.write_text("student_id,name,source\n12345,lovelaceada,canvas\n")
    out = tmp_path / "canvas.csv"
    result = _run("totals", str(grades), "--format", "canvas", "--students", str(students),
                  "--output", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "01_neurons (points)", "04_data_and_preprocessing (points)",
                       "Total (points)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "2", "5", "7"]
    assert rows[2] == ["lovelaceada", "12345", "", "", "", "2", "5", "7"]
    # 23456 handed in no 01: zero there, out of the full 7; no name known, so the id.
    assert rows[3] == ["23456", "23456", "", "", "", "0", "2", "2"]


def test_moodle_gradebook_in_percent(tmp_path: Path):
    grades = tmp_path / "grades.csv"
    grades.write_text(GRADES)
    out = tmp_path / "moodle.csv"
    result = _run("totals", str(grades), "--format", "moodle", "--scale", "percent",
                  "--output", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert rows[1] == {"Identifier": "Participant 23456", "Full name": "23456",
                       "01_neurons (%)": "0", "04_data_and_preprocessing (%)": "40",
                       "Grade": "28.57", "Maximum Grade": "100"}
    assert rows[0]["Grade"] == "100"
