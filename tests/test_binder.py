"""Binder: the same packages as requirements.txt, the learner's settings, and a working badge."""

from __future__ import annotations

import re
import subprocess

import pytest
from packaging.requirements import Requirement

from conftest import ROOT

BADGE = re.compile(r"\(https://mybinder\.org/v2/gh/([^/\s]+)/([^/\s]+)/HEAD\?urlpath=([^)\s]+)\)")


def _requirements(path):
    reqs = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-e"):
            continue
        requirement = Requirement(line)
        reqs.setdefault(requirement.name.lower(), []).append(requirement)
    return reqs


#: The environments pip evaluates requirements.txt's markers in (PEP 508 names and values).
PLATFORMS = {
    "Linux x86_64": {"platform_system": "Linux", "platform_machine": "x86_64"},
    "Linux aarch64": {"platform_system": "Linux", "platform_machine": "aarch64"},
    "macOS arm64": {"platform_system": "Darwin", "platform_machine": "arm64"},
    "Windows": {"platform_system": "Windows", "platform_machine": "AMD64"},
}


def _chosen(requirements, platform):
    env = PLATFORMS[platform]  # merged by packaging into this interpreter's environment
    return {name: str(req.specifier) for name, reqs in requirements.items() for req in reqs
            if req.marker is None or req.marker.evaluate(env)}


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_one_tensorflow_wheel_per_platform(platform):
    """pip, evaluating requirements.txt's environment markers, installs exactly one TensorFlow."""
    chosen = _chosen(_requirements(ROOT / "requirements.txt"), platform)
    tensorflows = {name for name in chosen if name.startswith("tensorflow")}
    expected = "tensorflow-cpu" if platform == "Linux x86_64" else "tensorflow"
    assert tensorflows == {expected}, (platform, tensorflows)


def test_binder_requirements_match_course_requirements():
    """The same packages and ranges, bar Binder's CPU-only TensorFlow wheel."""
    course = _chosen(_requirements(ROOT / "requirements.txt"), "Linux x86_64")
    binder = _chosen(_requirements(ROOT / "binder" / "requirements.txt"), "Linux x86_64")
    assert "tensorflow-cpu" in binder and "tensorflow" not in binder
    binder["tensorflow"] = binder.pop("tensorflow-cpu")
    course["tensorflow"] = course.pop("tensorflow-cpu")
    assert binder == course
    assert {"ipywidgets", "ipycanvas"} <= set(binder), "the draw-a-digit pad's widgets"


def test_binder_files():
    """repo2docker's layout: binder/ holds runtime.txt, requirements.txt and postBuild."""
    assert (ROOT / "binder" / "runtime.txt").read_text().strip().startswith("python-3.")
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and "mnist.load_data" in post
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
    # The learner's settings, the same as `make lab` uses, and the work folder.
    assert "cp -r binder/learner/. \"${HOME}/.jupyter/\"" in post
    assert "python -m course_utils.workspace" in post
    assert 'JUPYTER_CONFIG_DIR="$(CURDIR)/binder/learner"' in (ROOT / "Makefile").read_text()
    # No second configuration that repo2docker would pick instead of binder/requirements.txt.
    for other in ("environment.yml", "Pipfile", "setup.py", "Dockerfile"):
        assert not (ROOT / "binder" / other).exists(), other


def test_postbuild_sets_up_the_learners_jupyter(tmp_path):
    """Run postBuild's configuration lines in a fake home; the result is valid config."""
    from traitlets.config import PyFileConfigLoader

    home = tmp_path / "home"
    script = (ROOT / "binder" / "postBuild").read_text()
    lines = [line for line in script.splitlines()
             if line.startswith(("mkdir", "cp ", "cat "))]
    subprocess.run(["bash", "-euc", "\n".join(lines)], cwd=ROOT, check=True,
                   env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
    config = PyFileConfigLoader("jupyter_server_config.py",
                                path=str(home / ".jupyter")).load_config()
    assert config.MappingKernelManager.cull_idle_timeout == 5 * 60  # Binder's, not 15 min
    assert config.MappingKernelManager.cull_connected is True
    assert config.LabApp.news_url is None
    assert (home / ".jupyter" / "labconfig" / "page_config.json").is_file()
    assert (home / ".jupyter" / "lab-settings" / "overrides.json").is_file()
    assert config.LabApp.app_settings_dir == str(home / ".jupyter" / "lab-settings")


def test_readme_binder_badge_opens_the_work_folder_of_this_repository():
    """The badge is one line of README.md, and in a clone of the GitHub repository it names it.

    A checkout that is not a clone of GitHub (a local copy, a CI clone of one) cannot tell the
    repository's public address; there the badge is only checked for its form.
    """
    readme = (ROOT / "README.md").read_text()
    badges = BADGE.findall(readme)
    assert len(badges) == 1, "README.md should have exactly one Binder badge"
    owner, repo, urlpath = badges[0]
    assert urlpath == "lab/tree/work/00_start_here.md", "the badge opens the start page"
    origin = subprocess.run(["git", "remote", "get-url", "origin"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    found = re.search(r"github\.com[:/]([^/]+)/([^/]+?)(?:\.git)?$", origin)
    if found:  # a clone of the GitHub repository: the badge must name it, not OWNER/REPO
        assert (owner, repo) == found.groups(), (
            f"README.md's Binder badge names {owner}/{repo}, but this is a clone of "
            f"{'/'.join(found.groups())}: put that in the badge's URL (one line near the top)")
