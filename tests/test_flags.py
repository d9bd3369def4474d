"""The instructor's flags: tampering and shortcuts are named; ordinary answers are not."""

from __future__ import annotations

import nbformat
import pytest

from conftest import ROOT
from course_grading.flags import scan

MASTER = nbformat.read(ROOT / "solutions" / "04_data_and_preprocessing.ipynb", as_version=4)


def _with_solution(source: str) -> nbformat.NotebookNode:
    """The master of notebook 4 with the one_hot solution cell replaced by ``source``."""
    nb = nbformat.from_dict(MASTER)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "one_hot":
            cell.source = source
            return nb
    raise AssertionError("notebook 4 has no one_hot solution cell")


RIGHT_STYLES = [
    "def one_hot(labels, num_classes=10):\n    return np.eye(num_classes)[np.asarray(labels)]",
    "def one_hot(labels, num_classes=10):\n    import keras\n"
    "    return keras.utils.to_categorical(labels, num_classes)",
    "def one_hot(labels, num_classes=10):\n    labels = np.asarray(labels)\n"
    "    out = np.zeros((len(labels), num_classes))\n    out[np.arange(len(labels)), labels] = 1\n"
    "    return out",
    "%matplotlib inline\nplt.rcParams['figure.figsize'] = (4, 4)\n"
    "def one_hot(labels, num_classes=10):\n    return np.eye(num_classes)[labels]",
]


@pytest.mark.parametrize("source", RIGHT_STYLES)
def test_ordinary_answers_raise_no_flag(source):
    assert scan(_with_solution(source), MASTER, student_id="s", name="04.ipynb") == []


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.stem)
def test_the_student_versions_and_masters_raise_no_flag(path):
    master = nbformat.read(ROOT / "solutions" / path.name, as_version=4)
    assert scan(nbformat.read(path, as_version=4), master) == []
    assert scan(master, master) == []


CHEATS = {
    "np.array_equal = lambda a, b: True\ndef one_hot(l, n=10):\n    return 0":
        "assigns to np.array_equal",
    "setattr(np, 'allclose', lambda *a, **k: True)": "calls setattr on np",
    "checks.check_one_hot = lambda f: print('ok')": "assigns to checks.check_one_hot",
    "import sys\nsys.modules['numpy'] = None": "touches sys.modules",
    "import builtins\nbuiltins.isinstance = lambda *a: True": "imports builtins",
    "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)": "uses get_ipython",
    "ip = get_ipython()\nip.input_transformers_post.append(lambda lines: [])":
        "input_transformers_post",
    "%xmode Verbose": "runs the magic %xmode",
    "def one_hot(labels, num_classes=10):\n    return data.one_hot_labels(labels, num_classes)":
        "reference implementation data.one_hot_labels",
    "from course_utils.data import one_hot_labels as one_hot":
        "reference implementation one_hot_labels",
    "import socket\nsocket.create_connection(('127.0.0.1', 80))": "imports socket",
    "import subprocess\nsubprocess.run(['ls'])": "imports subprocess",
    "!cat /etc/passwd": "runs a shell command",
    "import os\nos._exit(0)": "calls os._exit",
    "exec('x = 1')": "calls exec",
}


@pytest.mark.parametrize("source, expected", CHEATS.items())
def test_tampering_and_shortcuts_are_flagged(source, expected):
    flags = scan(_with_solution(source), MASTER, student_id="mallory", name="04.ipynb")
    assert flags, f"nothing flagged in {source!r}"
    assert all(f.student_id == "mallory" and f.notebook == "04.ipynb" for f in flags)
    assert all(f.cell == "one_hot" for f in flags)
    assert any(expected in f.finding for f in flags), [f.finding for f in flags]


def test_a_cell_added_anywhere_is_read_and_named_by_position():
    nb = _with_solution("def one_hot(labels, num_classes=10):\n    return np.eye(10)[labels]")
    nb.cells.insert(2, nbformat.v4.new_code_cell("np.equal = lambda a, b: True"))
    flags = scan(nb, MASTER)
    assert [f.cell for f in flags] == ["cell 3"] and "np.equal" in flags[0].finding


def test_a_cell_that_is_not_python_is_skipped():
    assert scan(_with_solution("def one_hot(:\n    pass"), MASTER) == []


ANSWER_KEY_MENTIONS = {
    "from course_grading.answers import _one_hot_reference as one_hot": "the grading side",
    "def one_hot(labels, num_classes=10):\n"
    "    return getattr(exercises, '_one_hot_' + 'reference')(labels, num_classes)":
        "a reference implementation ('_reference')",
    "import importlib\nkey = importlib.import_module('course_' + 'grading.ans' + 'wers')":
        "the answer key ('answers')",
    "key = __import__('gnidarg_esruoc'[::-1])": "the grading side ('course_grading')",
    "name = ''.join(map(chr, [99, 111, 117, 114, 115, 101, 95, 103, 114, 97, 100, 105, 110,"
    " 103]))": "the grading side",
    "import codecs\nname = codecs.decode('pbhefr_tenqvat', 'rot13')": "the grading side",
    "import base64\nname = base64.b64decode('Y291cnNlX2dyYWRpbmc=')": "the grading side",
    "part = 'Course-'\nname = part + 'Grading'": "the grading side",
    "path = 'course_utils/_data/' + 'visible' + '_cases.npz'": "the stored cases file",
    "def one_hot(labels, num_classes=10):\n"
    "    case = exercises.EXERCISES['one_hot'].visible_cases()[0]\n    return case.expected":
        "the stored cases file",
    "name = f'{1}__imp' 'ort__'": "__import__",
    "import course_utils, glob\nfound = glob.glob(course_utils.__path__[0] + '/_da' + 'ta/*')":
        "data folder",
}


@pytest.mark.parametrize("source, expected", ANSWER_KEY_MENTIONS.items())
def test_any_spelling_of_the_answer_key_or_stored_cases_is_flagged(source, expected):
    flags = scan(_with_solution(source), MASTER, student_id="s", name="04.ipynb")
    mentions = [f.finding for f in flags if "mentions" in f.finding]
    assert any(expected in finding for finding in mentions), [f.finding for f in flags]
    assert all(f.cell == "one_hot" for f in flags)


def test_ordinary_names_ending_in_data_raise_no_flag():
    source = ("train_data = 1\nmy_data_dir = 'my_data/x'\n"
              "def one_hot(labels, num_classes=10):\n    return np.eye(num_classes)[labels]")
    assert scan(_with_solution(source), MASTER) == []


def test_reading_a_cell_never_builds_a_huge_string():
    source = "x = 'a' * 999 * 999 * 999 * 999\ny = '%999999999s' % 'a'\nz = x.replace('a', x)"
    assert scan(_with_solution(source), MASTER) == []
