"""binder/ asks for the same packages as requirements.txt (bar the CPU-only TensorFlow wheel)."""

import re

from conftest import ROOT


def _requirements(path):
    reqs = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-e"):
            continue
        name = re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower()
        reqs[name] = line[len(name):].strip()
    return reqs


def test_binder_requirements_match_course_requirements():
    course = _requirements(ROOT / "requirements.txt")
    binder = _requirements(ROOT / "binder" / "requirements.txt")
    assert "tensorflow-cpu" in binder and "tensorflow" not in binder
    binder["tensorflow"] = binder.pop("tensorflow-cpu")
    assert binder == course


def test_binder_files():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip().startswith("python-3.")
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and "mnist.load_data" in post
    config = (ROOT / "binder" / "jupyter_server_config.py").read_text()
    assert "cull_idle_timeout" in config
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
