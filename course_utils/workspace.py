"""The learner's own work folder: a copy of the student notebooks that course updates respect.

Why it exists: the student notebooks in ``notebooks/`` belong to the course. They are
rebuilt from the masters and checked by the tests, and ``git pull`` updates them. A learner
who typed answers into them would break the tests, lose the answers at the next rebuild and
get conflicts at the next pull. So ``make lab`` (and Binder) opens ``work/`` instead, a
git-ignored copy made here on first use.

Later runs bring course updates in without ever overwriting the learner's work. A manifest,
``work/.course-manifest.json``, records the SHA-256 of every file as it was copied. A file
whose checksum still matches is untouched: it is replaced when the course's version changed.
A file that differs has been touched by the learner (opened and saved, answered): it is
kept as it is, and the report says that a newer course version exists. A file the learner
deleted is copied again, which is how a learner gets a fresh copy of one notebook: delete
(or rename) it in ``work/`` and run ``make lab`` or ``python -m course_utils.workspace``.

Usage::

    python -m course_utils.workspace                 # notebooks/ -> work/, then report
    python -m course_utils.workspace --work DIR      # another work folder

This module imports no TensorFlow and does nothing on import.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

#: The repository checkout this package was installed from (``pip install -e .``).
ROOT = Path(__file__).resolve().parents[1]
#: The manifest of what was copied, inside the work folder.
MANIFEST_NAME = ".course-manifest.json"
#: The start page JupyterLab opens on, copied into the work folder beside the notebooks.
START_PAGE = "00_start_here.md"


@dataclass
class SyncReport:
    """What :func:`sync` did to each file of the work folder (file names, sorted)."""

    created: list[str] = field(default_factory=list)
    """Copied for the first time (or again, after the learner deleted them)."""
    updated: list[str] = field(default_factory=list)
    """Untouched by the learner and changed in the course: replaced by the new version."""
    kept: list[str] = field(default_factory=list)
    """Changed by the learner while the course changed too: left alone."""
    unchanged: list[str] = field(default_factory=list)
    """Nothing to do: the course's version is the one the learner has (touched or not)."""

    def summary(self) -> str:
        """One line per kind of change, for the learner; empty lists are left out."""
        lines = []
        if self.created:
            lines.append(f"new in your work folder: {', '.join(self.created)}")
        if self.updated:
            lines.append(f"updated to the course's new version: {', '.join(self.updated)}")
        for name in self.kept:
            lines.append(f"kept your {name}: the course has a newer version; to get it, "
                         f"rename or delete yours and run this again")
        return "\n".join(lines) or "your work folder is up to date"


def checksum(path: Path) -> str:
    """Return the SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start_page_path() -> Path:
    """The start page shipped with the package (course map, where to begin, feedback)."""
    return Path(str(resources.files("course_utils") / "_data" / START_PAGE))


def course_files(notebooks: Path) -> dict[str, Path]:
    """The files a work folder holds, by name: the numbered notebooks and the start page."""
    files = {path.name: path for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))}
    if not files:
        raise FileNotFoundError(f"no student notebooks (NN_name.ipynb) in {notebooks}")
    files[START_PAGE] = start_page_path()
    return files


def read_manifest(work: Path) -> dict[str, str]:
    """Return ``{file name: SHA-256 when copied}``; empty when missing or unreadable."""
    try:
        manifest = json.loads((work / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return {}
    files = manifest.get("files", {}) if isinstance(manifest, dict) else {}
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def sync(notebooks: Path = ROOT / "notebooks", work: Path = ROOT / "work") -> SyncReport:
    """Bring the course's files into ``work`` without overwriting what the learner changed.

    For each course file: missing in ``work`` -> copied; present and equal to what was last
    copied (per the manifest) -> replaced when the course's version differs; present and
    changed by the learner, or present with no manifest entry -> kept. The manifest records
    the checksum of every file this call copied, and keeps the old entry of a kept file so it
    stays "touched".

    Args:
        notebooks: the folder of student notebooks (the course's, never written to).
        work: the learner's folder, created when missing.
    """
    work.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(work)
    report = SyncReport()
    for name, source in course_files(notebooks).items():
        target, new = work / name, checksum(source)
        if not target.exists():
            shutil.copyfile(source, target)
            manifest[name] = new
            report.created.append(name)
            continue
        current = checksum(target)
        if current == new:
            manifest.setdefault(name, new)
            report.unchanged.append(name)
        elif manifest.get(name) == current:  # untouched copy of an older course version
            shutil.copyfile(source, target)
            manifest[name] = new
            report.updated.append(name)
        else:  # the learner's own work
            report.kept.append(name)
    (work / MANIFEST_NAME).write_text(json.dumps({
        "about": "Checksums of the course files as copied here; a file that no longer "
                 "matches is yours and is never overwritten.",
        "files": dict(sorted(manifest.items())),
    }, indent=1) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: sync the work folder and print what changed. Exit 0, or 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.workspace",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks",
                        help="the student notebooks to copy from (default: notebooks/)")
    parser.add_argument("--work", type=Path, default=ROOT / "work",
                        help="the learner's work folder (default: work/)")
    args = parser.parse_args(argv)
    try:
        report = sync(args.notebooks, args.work)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.work}: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
