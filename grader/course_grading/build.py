"""Build the student versions in ``notebooks/`` from the masters in ``solutions/``.

Usage::

    python -m course_grading.build            # rewrite notebooks/ and the stored cases
    python -m course_grading.build --check    # exit 1 if either is out of date

Why it exists: nbgrader's ``generate_assignment`` wants a course directory
(``source/<assignment>/``, ``release/<assignment>/``), while the course keeps both notebook
folders flat. This module copies the masters into a temporary course directory, runs
nbgrader there with the course's configuration (solutions replaced by a stub, hidden tests
and outputs removed, checksums recorded), and copies only the released notebooks back.

The build also stores the visible cases the learner's checks run, with their expected results,
in ``course_utils/_data/visible_cases.npz``, computed from the answer key
(:func:`course_grading.answers.write_visible_cases`): the learner's package carries them as
data and computes none of them.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from course_grading.settings import ASSIGNMENT, configure

ROOT = Path(__file__).resolve().parents[2]


class BuildError(RuntimeError):
    """nbgrader could not make the student versions; the message carries its log."""


@contextmanager
def nbgrader_environment() -> Iterator[None]:
    """Put this Python's ``bin`` first on PATH (nbgrader runs ``alembic`` from PATH)."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + old
    try:
        yield
    finally:
        os.environ["PATH"] = old


def make_course_directory(solutions: Path, root: Path) -> list[Path]:
    """Copy the master notebooks (only ``*.ipynb``) into ``root/source/<assignment>/``."""
    masters = sorted(solutions.glob("[0-9][0-9]_*.ipynb"))
    if not masters:
        raise BuildError(f"no numbered notebooks (NN_name.ipynb) in {solutions}")
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for master in masters:
        shutil.copy2(master, source / master.name)
    return masters


def generate(solutions: Path, root: Path) -> Path:
    """Run nbgrader's generate_assignment in course directory ``root``; return the release."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    make_course_directory(solutions, root)
    config = configure(Config(), root)
    with nbgrader_environment():
        result = NbGraderAPI(config=config).generate_assignment(ASSIGNMENT, force=True)
    if not result["success"]:
        raise BuildError(f"nbgrader generate_assignment failed:\n{result.get('error', '')}\n"
                         f"{result.get('log', '')}")
    return root / "release" / ASSIGNMENT


def build(solutions: Path = ROOT / "solutions", notebooks: Path = ROOT / "notebooks") -> list[Path]:
    """Rewrite ``notebooks/`` with the student versions of ``solutions/`` and store the visible
    cases; return the paths written (the cases file only when it changed)."""
    from course_grading import answers

    written = [answers.VISIBLE_CASES_PATH] if answers.write_visible_cases() else []
    with tempfile.TemporaryDirectory(prefix="nn-python-build-") as tmp:
        release = generate(solutions, Path(tmp))
        notebooks.mkdir(exist_ok=True)
        for stale in notebooks.glob("*.ipynb"):
            stale.unlink()
        for made in sorted(release.glob("*.ipynb")):
            shutil.copy2(made, notebooks / made.name)
            written.append(notebooks / made.name)
    return written


def differences(solutions: Path = ROOT / "solutions",
                notebooks: Path = ROOT / "notebooks") -> list[str]:
    """Build into a temporary folder and list how ``notebooks/`` differs from that build, and
    how the stored visible cases differ from what the answer key makes now."""
    from course_grading import answers

    with tempfile.TemporaryDirectory(prefix="nn-python-check-") as tmp:
        release = generate(solutions, Path(tmp) / "course")
        made = {p.name for p in release.glob("*.ipynb")}
        have = {p.name for p in notebooks.glob("*.ipynb")}
        problems = [f"missing from {notebooks.name}/: {name}" for name in sorted(made - have)]
        problems += [f"not made from solutions/: {name}" for name in sorted(have - made)]
        problems += [f"out of date: {name}" for name in sorted(made & have)
                     if not filecmp.cmp(release / name, notebooks / name, shallow=False)]
    return problems + answers.stale_visible_cases()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_grading.build",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if notebooks/ or the stored visible cases "
                             "differ from a fresh build")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences()
        for problem in problems:
            print(problem)
        print("notebooks/ and the stored visible cases are up to date." if not problems else
              "Run `python -m course_grading.build` to rebuild notebooks/ and the stored cases.")
        return 1 if problems else 0
    for path in build():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
