"""Importing course_utils has no side effects: no TensorFlow, no grading side, no output, no files."""

import subprocess
import sys

from conftest import ROOT


def test_import_is_quiet_and_light(tmp_path):
    code = ("import sys, course_utils, course_utils.data, course_utils.plots, "
            "course_utils.checks, course_utils.exercises, course_utils.models, "
            "course_utils.setup, course_utils.mode, course_utils.runall, course_utils.hints; "
            "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'; "
            "assert 'keras' not in sys.modules, 'Keras was imported'; "
            "assert 'course_grading' not in sys.modules, 'the grading side was imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert list(tmp_path.iterdir()) == [], "importing wrote files"


def test_setup_keeps_stderr_free_of_tensorflow_lines(tmp_path):
    code = ("from course_utils.setup import setup; setup(0); "
            "import tensorflow as tf; print(float(tf.reduce_sum(tf.ones(3))))")
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3.0"
    assert result.stderr == "", f"TensorFlow wrote to stderr:\n{result.stderr}"


def test_root_layout():
    for name in ("README.md", "requirements.txt", "notebooks", "course_utils", "solutions",
                 "tests", "binder", "nbgrader_config.py", "pyproject.toml", ".ci/run"):
        assert (ROOT / name).exists(), name
