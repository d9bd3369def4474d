"""The learner's work folder: made on first use, updated by the course, never overwriting work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from course_utils import workspace


def _course(tmp_path: Path, **notebooks: str) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir(exist_ok=True)
    for name, text in notebooks.items():
        (folder / f"{name}.ipynb").write_text(text)
    return folder


def test_first_run_copies_every_student_notebook_and_the_start_page(tmp_path):
    work = tmp_path / "work"
    report = workspace.sync(ROOT / "notebooks", work)
    students = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(report.created) == sorted(students + [workspace.START_PAGE])
    for name in students:
        assert (work / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes()
    start = (work / workspace.START_PAGE).read_text()
    assert "01_neurons.ipynb" in start and "Not attempted" in start
    for name in students:  # the course map links every notebook
        assert f"]({name})" in start
    manifest = json.loads((work / workspace.MANIFEST_NAME).read_text())["files"]
    assert set(manifest) == set(students) | {workspace.START_PAGE}


def test_updates_untouched_copies_and_keeps_the_learners_work(tmp_path):
    notebooks = _course(tmp_path, **{"01_a": "v1", "02_b": "v1", "03_c": "v1"})
    work = tmp_path / "work"
    workspace.sync(notebooks, work)
    (work / "02_b.ipynb").write_text("my answer")       # the learner saves an answer
    (work / "03_c.ipynb").unlink()                      # and wants a fresh copy of 03
    _course(tmp_path, **{"01_a": "v2", "02_b": "v2", "03_c": "v2", "04_d": "v1"})  # update
    report = workspace.sync(notebooks, work)
    assert report.updated == ["01_a.ipynb"]
    assert report.kept == ["02_b.ipynb"]
    assert sorted(report.created) == ["03_c.ipynb", "04_d.ipynb"]
    assert (work / "01_a.ipynb").read_text() == "v2"
    assert (work / "02_b.ipynb").read_text() == "my answer"
    assert (work / "03_c.ipynb").read_text() == "v2"
    assert "kept your 02_b.ipynb" in report.summary()
    # Still the learner's after a third run, even though it stays different from the course.
    _course(tmp_path, **{"02_b": "v3"})
    report = workspace.sync(notebooks, work)
    assert report.kept == ["02_b.ipynb"] and (work / "02_b.ipynb").read_text() == "my answer"
    assert sorted(report.unchanged) == sorted(["01_a.ipynb", "03_c.ipynb", "04_d.ipynb",
                                               workspace.START_PAGE])


def test_a_file_with_no_manifest_entry_is_the_learners(tmp_path):
    notebooks = _course(tmp_path, **{"01_a": "course"})
    work = tmp_path / "work"
    work.mkdir()
    (work / "01_a.ipynb").write_text("written before any manifest existed")
    (work / workspace.MANIFEST_NAME).write_text("not json")   # a damaged manifest
    report = workspace.sync(notebooks, work)
    assert report.kept == ["01_a.ipynb"]
    assert (work / "01_a.ipynb").read_text() == "written before any manifest existed"


def test_an_empty_course_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no student notebooks"):
        workspace.sync(tmp_path, tmp_path / "work")


def test_command_line(tmp_path):
    work = tmp_path / "work"
    command = [sys.executable, "-m", "course_utils.workspace", "--work", str(work)]
    first = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "new in your work folder: 01_neurons.ipynb" in first.stdout
    second = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "up to date" in second.stdout
    bad = subprocess.run(command + ["--notebooks", str(tmp_path / "none")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "no student notebooks" in bad.stderr


def test_work_folder_is_git_ignored_and_nothing_else_reads_it():
    ignored = subprocess.run(["git", "check-ignore", "-q", "work/01_neurons.ipynb"], cwd=ROOT)
    assert ignored.returncode == 0, "work/ must be git-ignored"
    # The student-version build and the tests work on notebooks/ and solutions/ only.
    build = (ROOT / "grader" / "course_grading" / "build.py").read_text()
    assert '"work"' not in build and "'work'" not in build
    for test in (ROOT / "tests").glob("test_*.py"):
        if test.name in {"test_workspace.py", "test_lab.py", "test_browser.py"}:
            continue  # these make their own work folders in temporary directories
        text = test.read_text()
        assert 'ROOT / "work"' not in text and "'work/" not in text, test.name


def test_importing_workspace_is_quiet():
    code = ("import sys, course_utils.workspace; "
            "assert 'tensorflow' not in sys.modules; assert 'course_grading' not in "
            "sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
