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
