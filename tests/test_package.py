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


def _learner_modules() -> list:
    import importlib
    import pkgutil

    import course_utils

    names = ["course_utils"] + [info.name for info in pkgutil.walk_packages(
        course_utils.__path__, prefix="course_utils.")]
    return [importlib.import_module(name) for name in names]


def _body_text(function) -> str:
    """A function's body without its docstring, whitespace squeezed out."""
    import ast
    import inspect
    import re
    import textwrap

    node = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    body = node.body[1:] if ast.get_docstring(node) else node.body
    return re.sub(r"\s+", "", "\n".join(ast.unparse(statement) for statement in body))


def test_the_learner_package_holds_no_answer_key():
    """Nothing on the learner's side computes what the learner is asked to compute: no
    reference implementation, no case maker, no oracle, in any module."""
    import ast
    import re

    from course_grading import answers
    from course_utils import exercises

    oracles = {"accuracy_case", "predict_digit_cases", "all_cases", "fixed_cases", "KEYS"}
    for module in _learner_modules():
        found = [name for name in vars(module) if name.endswith("_reference") or name in oracles
                 or re.fullmatch(r"_\w+_(fixed|drawn|case)", name)]
        assert found == [], (module.__name__, found)
    assert {f.name for f in __import__("dataclasses").fields(exercises.Exercise)} == {
        "name", "compare", "hint", "success", "hint_with_failure"}
    keys = [getattr(answers, name) for name in vars(answers)
            if name.endswith("_reference") or name in ("accuracy_case", "predict_digit_cases")]
    assert len(keys) >= 12
    learner = ""
    for path in sorted((ROOT / "course_utils").glob("*.py")):
        tree = ast.parse(path.read_text())
        learner += "\n".join(ast.unparse(node) for node in ast.walk(tree)
                             if isinstance(node, ast.stmt))
    learner = re.sub(r"\s+", "", learner)
    for function in keys:
        assert _body_text(function) not in learner, function.__name__


def test_the_stored_cases_are_read_on_first_use_not_at_import():
    code = ("import course_utils.exercises as e, course_utils.checks; "
            "assert e._visible_cases_bytes is None; "
            "assert e.EXERCISES['relu'].visible_cases(); "
            "assert e._visible_cases_bytes is not None")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
