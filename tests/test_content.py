"""What every notebook promises a self-paced learner, read from the notebooks themselves."""

from __future__ import annotations

import re

import nbformat
import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _numbered(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"^(\d+)\. ", text, flags=re.MULTILINE)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_every_question_has_an_answer_the_learner_unfolds(path, folder):
    nb = nbformat.read(ROOT / folder / path.name, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "**Check your understanding**" in text
    questions_part, _, rest = text.partition("**Check your understanding**")[2].partition(
        "<details>")
    assert rest, "the questions have no <details> block of answers"
    answers_part = rest.partition("</details>")[0]
    assert "<summary>" in answers_part
    questions = _numbered(questions_part)
    answers = _numbered(answers_part.partition("</summary>")[2])
    assert questions == list(range(1, len(questions) + 1)) and len(questions) >= 3
    assert answers == questions, f"{len(questions)} questions, answers numbered {answers}"


#: A folder of some machine's file system, printed into a stored output (the loader used to
#: print the whole path of the data file it read).
_MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:work|tmp|home|root|Users|var|mnt|srv|opt)/")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_name_no_folder_of_the_machine_that_ran_them(path):
    nb = nbformat.read(path, as_version=4)
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            texts.append(output.get("text", ""))
            texts += [v for k, v in output.get("data", {}).items() if k.startswith("text/")]
    found = [t for t in map(str, texts) if _MACHINE_PATH.search(t)]
    assert not found, found[0][:300]


#: The exercises whose points ask for a decision the text does not hand over (COURSE_DESIGN.md,
#: "Exercises ask for decisions"); README.md, "For instructors", names them with their points.
DECISIONS = {"cross_entropy": 4, "steps_per_epoch": 2, "largest_stable_rate": 6,
             "early_stopping_epochs": 6}


def test_at_least_half_of_the_points_ask_for_a_decision():
    points = {}
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and meta.get("grade_id", "").startswith("test_"):
                points[meta["grade_id"][len("test_"):]] = meta["points"]
    assert {name: points.get(name) for name in DECISIONS} == DECISIONS
    decided, total = sum(DECISIONS.values()), sum(points.values())
    assert 2 * decided >= total, (decided, total)
    readme = (ROOT / "README.md").read_text()
    assert f"worth {total} points, {decided} of them" in readme
    assert f"exercises, {total - decided} points" in readme
