"""Hints on request: every exercise has several, gentlest first, and none is its solution."""

from __future__ import annotations

import re

import nbformat
import pytest

from conftest import ROOT
from course_utils import checks, exercises, hints

NAMES = [*exercises.EXERCISES, "build_model", *hints.LAST_HINTS]


@pytest.fixture(autouse=True)
def _fresh_counts(monkeypatch):
    monkeypatch.setattr(hints, "_asked", {})


def test_every_exercise_of_the_course_has_hints():
    graded = set()
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and cell.cell_type == "code":
                graded.add(meta["grade_id"])
    assert graded == set(NAMES) == set(hints.FIRST_HINTS)
    for name in NAMES:
        found = hints.all_hints(name)
        assert len(found) >= 3 and len(set(found)) == len(found)
        assert all(len(text) > 40 for text in found), name


@pytest.mark.parametrize("name", NAMES)
def test_each_ask_gives_the_next_hint_then_stays_on_the_last(name, capsys):
    found = hints.all_hints(name)
    for number, text in enumerate(found, start=1):
        checks.hint(name)
        out = capsys.readouterr().out
        assert f"Hint {number} of {len(found)} for {name}: {text}" in out
    checks.hint(name)
    out = capsys.readouterr().out
    assert f"Hint {len(found)} of {len(found)}" in out and "last hint" in out


def test_hint_takes_the_function_itself(capsys):
    def relu(x):
        raise NotImplementedError()

    checks.hint(relu)
    assert "Hint 1 of 3 for relu" in capsys.readouterr().out


def test_an_unknown_exercise_is_named_with_the_known_ones(capsys):
    checks.hint("rellu")
    out = capsys.readouterr().out
    assert "no exercise called 'rellu'" in out and "'relu'" in out


def test_no_hint_holds_a_line_of_the_solution():
    lines = set()
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
                for line in cell.source.splitlines():
                    code = line.split("#")[0].strip()
                    if len(code) >= 12 and not code.startswith(("def ", '"""')):
                        lines.add(re.sub(r"\s+", "", code))
    assert lines
    for name in NAMES:
        for text in hints.all_hints(name):
            squeezed = re.sub(r"\s+", "", text)
            assert not [line for line in lines if line in squeezed], (name, text)


def test_a_failing_check_says_how_to_ask_for_a_hint():
    def relu(x):
        return x

    with pytest.raises(checks.Incorrect, match=r"checks\.hint\('relu'\)"):
        checks.check_relu(relu)

    def sigmoid(x):
        raise NotImplementedError()

    with pytest.raises(checks.NotAttempted, match=r"checks\.hint\('sigmoid'\)"):
        checks.check_sigmoid(sigmoid)
