"""The class report: one HTML page beside the CSVs, for the instructor, the morning after.

Why it exists: a grading run leaves ``grades.csv``, ``problems.csv``, ``flags.csv``,
``late.csv`` and ``overrides_applied.csv``; an instructor wants a picture of how the class
did and a list of what needs their attention. :func:`write_report` reads those files (and the
failure messages each job wrote beside its log, and the submitted notebooks) and writes
``OUT/report.html``: totals, a histogram of scores per exercise, the most common failure
messages per exercise (the checks' own words), problems and flags each with what to do, late
work, overrides, and pairs of students whose solution cells are near-identical beyond the
course's own starter code. The page is self-contained (figures are PNGs inside it, drawn with
matplotlib in greys with hatching, so they read in greyscale and print), and it changes no
score: the similarity list is a note, never a verdict.

Similarity: winnowing (Schleimer, Wilkerson and Aiken, "Winnowing: local algorithms for
document fingerprinting", SIGMOD 2003), as MOSS does. Each solution cell is tokenised with
Python's own tokenizer (names that are not keywords or builtins become one token, so renaming
variables does not hide a copy; strings become one token; comments and layout vanish); every
run of :data:`K` tokens is hashed, and each window of :data:`WINDOW` hashes keeps its smallest
as a fingerprint. Fingerprints of the master's code outside ``BEGIN SOLUTION``/``END
SOLUTION`` (the starter code every student gets) are removed. Two students' notebooks are
listed when they share at least :data:`MIN_SHARED` fingerprints and that is at least
:data:`MIN_OVERLAP` of the smaller one's, so that short answers everyone writes alike
(``return images / 255``) are not listed.
"""

from __future__ import annotations

import base64
import builtins
import csv
import hashlib
import html
import io
import json
import keyword
import statistics
from typing import Any
import tokenize
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from pathlib import Path

#: Tokens per hashed run (winnowing's noise threshold).
K = 6
#: Hashes per window (any shared run of K + WINDOW - 1 tokens is caught).
WINDOW = 4
#: Fewest shared fingerprints for a pair to be listed.
MIN_SHARED = 12
#: Smallest share of the smaller notebook's fingerprints for a pair to be listed.
MIN_OVERLAP = 0.8
#: Failure messages listed per exercise.
TOP_MESSAGES = 3

#: What to do about each kind of problem, by a phrase of its text (first match wins).
ADVICE = (
    ("not valid JSON", "The file is damaged (often an interrupted upload). Ask the student for "
                       "it again, put it in their folder and grade them again with --student."),
    ("not a notebook of this course", "The file name is not one of the course's. If it is "
                                      "a course notebook under another name, rename it and "
                                      "grade the student again with --student."),
    ("inside a subfolder", "Move the notebook up into the student's folder and grade the "
                           "student again with --student."),
    ("also", "Two files are the same notebook; the newest was graded. Check it is the one the "
             "student meant."),
    ("kernel died", "The notebook crashed its kernel (exit(), a crash, or memory). Open the "
                    "log; the rest of the student's work is graded."),
    ("ran longer than", "A cell never finished (often an endless loop) and scored as failed. "
                        "Look at it; an override can give points back."),
    ("out of memory", "A cell ran out of memory and scored as failed. Look at it; an override "
                      "can give points back."),
    ("fault of the grading machine", "The grader's own re-check failed, not the student: fix "
                                     "the machine and grade the student again with --student."),
    ("fault of the grader", "The grader's own re-check failed, not the student: fix it and "
                            "grade the student again with --student."),
    ("no mark confirmed", "The student's code stopped the re-check outside the notebook, so no "
                          "pass was confirmed. Read the code; an override can give points."),
    ("feedback withheld", "The feedback would have shown hidden tests and was not written; "
                          "the scores stand. Report it to the course's maintainers."),
)
FLAG_ADVICE = ("A note, not a score: marks are confirmed outside the student's kernel, so "
               "tampering gains nothing. Read the cell; decide with an override if needed.")


def advice(problem: str) -> str:
    """What an instructor can do about a row of ``problems.csv``."""
    return next((text for phrase, text in ADVICE if phrase in problem),
                "Open the notebook's log in logs/ to see what happened.")


# --- similarity ------------------------------------------------------------------------------

_BUILTINS = frozenset(dir(builtins))


def tokens(source: str) -> list[str]:
    """The code's tokens with names, strings and layout normalised (see the module docstring);
    code Python cannot tokenise gives what could be read before the error."""
    out: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text = token.type, token.string
            if kind in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            if kind == tokenize.NAME and not keyword.iskeyword(text) and text not in _BUILTINS:
                text = "N"
            elif kind == tokenize.STRING:
                text = "S"
            out.append(text)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def fingerprints(source: str) -> set[int]:
    """Winnowing fingerprints of ``source``."""
    seq = tokens(source)
    hashes = [int.from_bytes(hashlib.blake2b(" ".join(seq[i:i + K]).encode(),
                                             digest_size=8).digest(), "big")
              for i in range(len(seq) - K + 1)]
    if len(hashes) <= WINDOW:
        return set(hashes)
    return {min(hashes[i:i + WINDOW]) for i in range(len(hashes) - WINDOW + 1)}


@dataclass(frozen=True)
class SimilarPair:
    """Two students whose solution cells of one notebook are near-identical."""

    notebook: str
    """The course's name of the notebook."""
    first: str
    """One student's id."""
    second: str
    """The other's."""
    shared: int
    """Fingerprints both have (beyond the starter code)."""
    overlap: float
    """``shared`` as a share of the smaller student's fingerprints."""


def _starter(source: str) -> str:
    """A master cell without its solution: the code every student starts from."""
    from course_grading.preprocessors import outside_markers

    return outside_markers(source, "### BEGIN SOLUTION", "### END SOLUTION")


def _grade_id(cell: Any) -> str | None:
    """A submitted cell's nbgrader ``grade_id`` when it is a string, else None: the file is
    the student's, so its metadata can be of any shape."""
    meta = cell.get("metadata", {})
    nbgrader = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def similar_pairs(submissions: Path, solutions: Path) -> list[SimilarPair]:
    """Pairs of students with near-identical solution cells, notebook by notebook."""
    import nbformat

    from course_grading.discovery import course_notebooks, match_notebook

    known = course_notebooks(solutions)
    pairs: list[SimilarPair] = []
    for notebook in known:
        master = nbformat.read(solutions / notebook, as_version=4)
        solution_ids = {c.metadata["nbgrader"]["grade_id"]: _starter(c.source)
                        for c in master.cells
                        if c.metadata.get("nbgrader", {}).get("solution")}
        if not solution_ids:
            continue
        starter = set().union(*(fingerprints(s) for s in solution_ids.values()))
        prints: dict[str, set[int]] = {}
        for folder in sorted(p for p in submissions.iterdir() if p.is_dir()
                             and not p.name.startswith(".")):
            path = next((f for f in sorted(folder.iterdir())
                         if f.is_file() and match_notebook(f.name, known) == notebook), None)
            if path is None:
                continue
            try:
                cells = nbformat.read(path, as_version=4).cells
            except Exception:  # noqa: BLE001 - a broken file is in problems.csv already
                continue
            found: set[int] = set()
            for cell in cells:
                if _grade_id(cell) in solution_ids and isinstance(cell.source, str):
                    found |= fingerprints(cell.source)
            prints[folder.name] = found - starter
        for first, second in combinations(sorted(prints), 2):
            a, b = prints[first], prints[second]
            shared = len(a & b)
            smaller = min(len(a), len(b))
            if shared >= MIN_SHARED and smaller and shared / smaller >= MIN_OVERLAP:
                pairs.append(SimilarPair(notebook, first, second, shared,
                                         round(shared / smaller, 2)))
    return pairs


# --- the page --------------------------------------------------------------------------------

def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _png(figure) -> str:  # noqa: ANN001 - a matplotlib figure
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _histograms(grades: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    """One figure per notebook: a histogram of points per exercise. (notebook, alt, png)."""
    from matplotlib.figure import Figure

    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    most: dict[tuple[str, str], float] = {}
    for row in grades:
        if float(row["max_score"]) <= 0:
            continue  # the late penalty's rows
        per[row["notebook"]][row["grade_id"]].append(float(row["score"]))
        most[(row["notebook"], row["grade_id"])] = float(row["max_score"])
    figures = []
    for notebook in sorted(per):
        cells = sorted(per[notebook])
        figure = Figure(figsize=(3.2 * len(cells), 2.8), layout="constrained")
        axes = figure.subplots(1, len(cells), squeeze=False)[0]
        hatches = ("//", "..", "xx", "\\\\", "++", "oo")
        for index, (ax, grade_id) in enumerate(zip(axes, cells)):
            top = most[(notebook, grade_id)]
            edges = [x - 0.5 for x in range(int(top) + 2)] if top == int(top) and top <= 20 \
                else 10
            ax.hist(per[notebook][grade_id], bins=edges, color="0.75", edgecolor="black",
                    hatch=hatches[index % len(hatches)])
            ax.set_title(f"{grade_id} (of {top:g})", fontsize=9)
            ax.set_xlabel("points")
            ax.set_ylabel("students")
            ax.yaxis.get_major_locator().set_params(integer=True)
        figure.suptitle(f"{notebook}: points per exercise", fontsize=10)
        alt = "; ".join(f"{g}: {sum(v == most[(notebook, g)] for v in per[notebook][g])} of "
                        f"{len(per[notebook][g])} full marks" for g in cells)
        figures.append((notebook, alt, _png(figure)))
    return figures


def _table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def messages(output: Path) -> dict[tuple[str, str], Counter]:
    """Failure messages per (notebook, grade id), counted over students."""
    counted: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for path in sorted((output / "logs").glob("*/*.messages.json")):
        notebook = path.name[:-len(".messages.json")] + ".ipynb"
        for grade_id, message in json.loads(path.read_text()).items():
            counted[(notebook, grade_id)][message] += 1
    return counted


def write_report(output: Path, solutions: Path, submissions: Path | None = None) -> Path:
    """Write ``output/report.html`` from a grading run's files; returns its path."""
    from course_grading.term import Term

    if submissions is None:
        kept = Term.load(output).submissions
        submissions = Path(kept) if kept else None
    grades = _rows(output / "grades.csv")
    problems = _rows(output / "problems.csv")
    flags = _rows(output / "flags.csv")
    late = _rows(output / "late.csv")
    overrides = _rows(output / "overrides_applied.csv")
    totals: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for row in grades:
        cell = totals[row["notebook"]][row["student_id"]]
        cell[0] += float(row["score"])
        cell[1] += float(row["max_score"])
    students = sorted({r["student_id"] for r in grades})
    summary = []
    for notebook in sorted(totals):
        got = [max(0.0, s) for s, _ in totals[notebook].values()]
        top = max(m for _, m in totals[notebook].values())
        summary.append([notebook, str(len(got)), f"{statistics.mean(got):.2f} of {top:g}",
                        f"{statistics.median(got):g}",
                        str(sum(g >= top for g in got))])
    parts = [
        f"<h1>Class report</h1><p>Written {datetime.now():%Y-%m-%d %H:%M} from "
        f"<code>{html.escape(str(output))}</code>: {len(students)} students, "
        f"{len({(r['student_id'], r['notebook']) for r in grades})} notebooks graded, "
        f"{len(problems)} problems, {len(flags)} flags, {len(late)} late notebooks, "
        f"{len(overrides)} overrides. Scores include late penalties and overrides.</p>",
        "<h2>Notebooks</h2>",
        _table(["notebook", "handed in", "mean points", "median", "full marks"], summary),
        "<h2>Points per exercise</h2>"]
    for notebook, alt, png in _histograms(grades):
        parts.append(f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'
                     f"<figcaption>{html.escape(notebook)}: {html.escape(alt)}</figcaption>"
                     f"</figure>")
    parts.append("<h2>Most common failure messages</h2>")
    rows = []
    for (notebook, grade_id), counter in sorted(messages(output).items()):
        for message, count in counter.most_common(TOP_MESSAGES):
            rows.append([notebook, grade_id, str(count), message])
    parts.append(_table(["notebook", "exercise", "students", "message"], rows))
    parts.append("<h2>Problems: files graded with trouble or not at all</h2>")
    parts.append(_table(["student", "file", "problem", "what to do"],
                        [[p["student_id"], p["notebook"], p["problem"], advice(p["problem"])]
                         for p in problems]))
    parts.append("<h2>Flags: code to look at</h2>")
    parts.append(f"<p>{html.escape(FLAG_ADVICE)}</p>")
    parts.append(_table(["student", "file", "cell", "finding"],
                        [[f["student_id"], f["notebook"], f["cell"], f["finding"]]
                         for f in flags]))
    parts.append("<h2>Late work</h2>")
    parts.append(_table(["student", "notebook", "handed in", "due", "days late", "penalty %",
                         "points lost"],
                        [[r["student_id"], r["notebook"], r["submitted_at"], r["due"],
                          r["days_late"], r["penalty_percent"], r["penalty_points"]]
                         for r in late]))
    parts.append("<h2>Overrides applied</h2>")
    parts.append(_table(["student", "notebook", "cell", "was", "now", "reason"],
                        [[r["student_id"], r["notebook"], r["grade_id"], r["old_score"],
                          r["new_score"], r["reason"]] for r in overrides]))
    parts.append("<h2>Near-identical solutions</h2>")
    parts.append(f"<p>A note for you, never a change of score: pairs of students whose "
                 f"solution cells share at least {MIN_SHARED} code fingerprints, "
                 f"{MIN_OVERLAP:.0%} or more of the smaller one's, beyond the course's "
                 f"starter code (winnowing, as MOSS does). Short answers everyone writes alike "
                 f"are not listed; read both notebooks before drawing any conclusion.</p>")
    if submissions is not None and submissions.is_dir():
        pairs = similar_pairs(submissions, solutions)
        parts.append(_table(["notebook", "student", "student", "shared fingerprints",
                             "share of the smaller"],
                            [[p.notebook, p.first, p.second, str(p.shared), f"{p.overlap:.0%}"]
                             for p in pairs]))
    else:
        parts.append("<p>Not computed: the submissions folder is not known here.</p>")
    style = ("body{font-family:sans-serif;max-width:70em;margin:auto;padding:1em;color:#000;"
             "background:#fff}table{border-collapse:collapse;margin:0.5em 0}"
             "td,th{border:1px solid #000;padding:0.2em 0.5em;text-align:left;"
             "vertical-align:top}th{background:#ddd}img{max-width:100%}"
             "figcaption{font-size:0.9em}")
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Class report</title><style>{style}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")
    target = output / "report.html"
    target.write_text(page, encoding="utf-8")
    return target
