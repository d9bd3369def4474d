"""The re-check outside the student's kernel: right answers confirmed, tampering is not."""

from __future__ import annotations


import nbformat
import pytest

from conftest import ROOT
from course_grading import verify


def _execute(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A fresh, unsandboxed kernel (the grading command uses the sandboxed one)."""
    import tempfile

    from jupyter_client.manager import AsyncKernelManager

    with tempfile.TemporaryDirectory() as cwd:
        return verify.run_notebook(notebook, AsyncKernelManager(kernel_name="python3"), 270,
                                   cwd=cwd)


def _submission(stem: str, answers: dict[str, str]) -> tuple:
    master = nbformat.read(ROOT / "solutions" / f"{stem}.ipynb", as_version=4)
    student = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    for cell in student.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return student, master


def test_right_answers_are_confirmed_and_a_patched_kernel_changes_nothing(tmp_path):
    student, master = _submission("04_data_and_preprocessing", {
        "normalize": "def normalize(images):\n    return (images / 255).astype('float32')",
        # Wrong, but with every comparison the in-notebook test could use made to lie.
        "one_hot": "np.array_equal = lambda *a, **k: True\nnp.allclose = lambda *a, **k: True\n"
                   "def one_hot(labels, num_classes=10):\n"
                   "    return np.zeros((len(labels), num_classes), dtype='float32')",
    })
    verdicts = verify.verify(student, master, ["normalize", "one_hot"], _execute,
                             seed=123)
    assert [(v.exercise, v.ok) for v in verdicts] == [("normalize", True), ("one_hot", False)]
    assert "one_hot" not in verdicts[0].message and verdicts[1].message


@pytest.mark.parametrize("name, body", [
    ("one_hot", "def one_hot(labels, num_classes=10):\n"
                "    return np.eye(num_classes)[np.asarray(labels, dtype=int).reshape(-1)]"),
    ("one_hot", "def one_hot(labels, num_classes=10):\n    rows = []\n"
                "    for label in labels:\n        row = [0.0] * num_classes\n"
                "        row[int(label)] = 1.0\n        rows.append(row)\n"
                "    return np.array(rows)"),
], ids=["eye", "loop"])
def test_right_answers_with_list_and_keyword_arguments_are_confirmed(name, body):
    # Some cases pass a Python list and num_classes by keyword: they must arrive as such.
    student, master = _submission("04_data_and_preprocessing", {name: body})
    (verdict,) = verify.verify(student, master, [name], _execute)
    assert verdict.ok, verdict.message


def test_an_answer_that_lies_about_equality_is_not_confirmed(tmp_path):
    student, master = _submission("07_training", {
        "steps_per_epoch": "class Liar(int):\n    def __eq__(self, other):\n        return True\n"
                           "def steps_per_epoch(num_examples, batch_size):\n    return Liar(1)"})
    (verdict,) = verify.verify(student, master, ["steps_per_epoch"], _execute)
    assert not verdict.ok


#: No model at all: the kernel's side of the re-check is replaced by NumPy that computes,
#: from the grader's own request, every fact it used to ask the kernel for (found by an attack:
#: it earned 3/3 when the kernel described the model).
LYING_KERNEL = """
import course_utils.recheck as _r

def _describe(build, arrays):
    x = arrays["model_images"].reshape(len(arrays["model_images"]), -1).astype(np.float64)
    z = np.maximum(0.0, x @ arrays["w1"] + arrays["b1"]) @ arrays["w2"] + arrays["b2"]
    p = np.exp(z - z.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
    q = np.clip(arrays["y_pred"].astype(np.float64), 1e-7, 1 - 1e-7); q /= q.sum(-1, keepdims=True)
    return {"ok": True, "shapes": [[784, 512], [512], [512, 10], [10]], "optimizer": "Adam",
            "new_each_call": True, "outputs": p, "loss": -(arrays["y_true"] * np.log(q)).sum(-1),
            "metrics": {"accuracy": float(np.mean(p.argmax(1) == arrays["y_true"].argmax(1)))}}

_r._model = _describe

def build_model():
    return None
"""


@pytest.mark.parametrize("source, right", [
    ("def build_model():\n    model = keras.Sequential([keras.layers.Flatten(),\n"
     "        keras.layers.Dense(units=512, activation='relu'),\n"
     "        keras.layers.Dense(units=10, activation='softmax')])\n"
     "    model.compile(loss='categorical_crossentropy', optimizer='adam',"
     " metrics=['accuracy'])\n    return model", True),
    ("import tensorflow as tf\ndef build_model():\n    inputs = keras.Input((28, 28))\n"
     "    x = keras.layers.Reshape((784,))(inputs)\n"
     "    x = keras.layers.Dense(512, activation=tf.nn.relu)(x)\n"
     "    outputs = keras.layers.Dense(10, activation=tf.nn.softmax)(x)\n"
     "    model = keras.Model(inputs, outputs)\n"
     "    model.compile(loss=keras.losses.CategoricalCrossentropy(),"
     " optimizer=keras.optimizers.Adam(), metrics=['accuracy'])\n    return model", True),
    ("def build_model():\n    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),\n"
     "        keras.layers.Dense(512, activation='relu'),\n"
     "        keras.layers.Dense(10, activation='sigmoid')])\n"
     "    model.compile(loss='categorical_crossentropy', optimizer='adam',"
     " metrics=['accuracy'])\n    return model", False),
    ("def build_model():\n    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),\n"
     "        keras.layers.Dense(512, activation='relu'),\n"
     "        keras.layers.Dense(10, activation='softmax')])\n"
     "    model.compile(loss='mse', optimizer='adam', metrics=['accuracy'])\n"
     "    return model", False),
    # Right outputs, but a model that cannot learn as the course's model does (frozen, all
    # weights starting at 0): judged on the model rebuilt from its description.
    ("def build_model():\n    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),\n"
     "        keras.layers.Dense(512, activation='relu', kernel_initializer='zeros',"
     " trainable=False),\n        keras.layers.Dense(10, activation='softmax')])\n"
     "    model.compile(loss='categorical_crossentropy', optimizer='adam',"
     " metrics=['accuracy'])\n    return model", False),
    # SGD at a rate of 0.5 under the name Adam: Keras cannot rebuild a class of one's own.
    ("class Adam(keras.optimizers.SGD):\n    pass\n"
     "def build_model():\n    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),\n"
     "        keras.layers.Dense(512, activation='relu'),\n"
     "        keras.layers.Dense(10, activation='softmax')])\n"
     "    model.compile(loss='categorical_crossentropy', optimizer=Adam(0.5),"
     " metrics=['accuracy'])\n    return model", False),
    # No model at all, and the kernel's side of the re-check replaced by a liar that reports
    # the reference network's facts: the grader judges only a description it can rebuild.
    (LYING_KERNEL, False),
], ids=["seed-tutorial", "functional-tf-nn", "sigmoid-output", "mse-loss", "frozen-zero-start",
        "sgd-named-adam", "no-model-lying-kernel"])
def test_models_are_confirmed_by_behaviour(tmp_path, source, right):
    student, master = _submission("05_building_the_model", {"build_model": source})
    (verdict,) = verify.verify(student, master, ["build_model"], _execute)
    assert verdict.ok is right, verdict.message


def test_a_function_the_kernel_cannot_call_is_not_confirmed(tmp_path):
    student, master = _submission("01_neurons", {"neuron": "neuron = None"})
    (verdict,) = verify.verify(student, master, ["neuron"], _execute)
    assert not verdict.ok and verdict.message


@pytest.mark.parametrize("body", ["return np.maximum(0.0, np.dot(inputs, weights) + bias)",
                                  "return max(0.0, float(inputs @ weights + bias))"],
                         ids=["numpy-scalar", "python-float"])
def test_numbers_come_back_as_numbers(tmp_path, body):
    student, master = _submission("01_neurons", {
        "neuron": f"def neuron(inputs, weights, bias):\n    {body}"})
    (verdict,) = verify.verify(student, master, ["neuron"], _execute)
    assert verdict.ok, verdict.message


def test_the_kernel_runs_the_graded_answers_and_the_students_own_cells_only():
    student, master = _submission("07_training", {
        "steps_per_epoch": "def steps_per_epoch(num_examples, batch_size):\n    return 1",
        "build_model": "import keras\ndef build_model():\n    return keras.Sequential()",
        "fit_call": "history = model.fit(train_batches, epochs=EPOCHS)",
    })
    student.cells.append(nbformat.v4.new_code_cell("helper = 42  # a cell the student added"))
    cells = verify.verification_notebook(student, master, b"request").cells
    assert cells[-1].source.startswith("import course_utils.recheck")
    sources = "\n".join(c.source for c in cells[:-1])  # the imports, then the student's code
    assert "def steps_per_epoch" in sources and "helper = 42" in sources
    # The ungraded solution cells (the pasted model, the fit call) are not run there.
    assert "build_model" not in sources and "model.fit" not in sources
    assert "import keras" not in sources


#: A right neuron whose cell first prints the notebook's example, defined in a master cell
#: the re-check does not run: that line fails there, the def after it must still run.
PRELUDE = ('print("the example:", inputs, weights, bias)\n'
           "def neuron(inputs, weights, bias):\n"
           "    return max(0.0, float(np.dot(inputs, weights)) + bias)\n")


def test_a_statement_that_fails_before_the_def_does_not_stop_the_rest():
    student, master = _submission("01_neurons", {"neuron": PRELUDE})
    (verdict,) = verify.verify(student, master, ["neuron"], _execute)
    assert verdict.ok, verdict.message


def test_a_wrong_def_after_a_failing_statement_is_still_refused():
    student, master = _submission("01_neurons", {
        "neuron": PRELUDE.replace("max(0.0, float(np.dot(inputs, weights)) + bias)",
                                  "float(np.dot(inputs, weights)) + bias")})
    (verdict,) = verify.verify(student, master, ["neuron"], _execute)
    assert not verdict.ok and "expected" in verdict.message, verdict.message


def test_a_function_never_defined_in_the_recheck_is_named_with_the_first_error():
    # The def itself depends on the notebook's example, which the re-check does not run.
    student, master = _submission("01_neurons", {
        "neuron": "if len(inputs) > 0:\n    def neuron(inputs, weights, bias):\n"
                  "        return max(0.0, float(np.dot(inputs, weights)) + bias)\n"})
    (verdict,) = verify.verify(student, master, ["neuron"], _execute)
    assert not verdict.ok
    assert ("neuron was not defined when your cells ran without the notebook's other cells: "
            "NameError: name 'inputs' is not defined") in verdict.message, verdict.message
    assert "NoneType" not in verdict.message


def test_each_top_level_statement_of_the_students_code_runs_in_its_own_cell():
    own = ('"""A docstring,\n\n  over lines."""\n'
           "import math  # a comment\n\n"
           "a = 1; b = 2\n"
           "# a comment before a decorated function\n"
           "@staticmethod\n"
           "def f(x):\n    return x\n\n"
           "print(undefined_name)\n"
           "text = \"\"\"\nline one\n    line two\n\"\"\"\n")
    student, master = _submission("01_neurons", {})
    student.cells += [nbformat.v4.new_code_cell(own),
                      nbformat.v4.new_code_cell("%time x = 1\nprint(x"),   # does not parse
                      nbformat.v4.new_code_cell("# only a comment")]
    sources = [c.source for c in verify.verification_notebook(student, master, b"r").cells]
    start = sources.index('"""A docstring,\n\n  over lines."""\n')
    split = sources[start:start + 6]
    assert "".join(split) == own                      # nothing lost, nothing reordered
    assert split[1] == "import math  # a comment\n"
    assert split[2] == "\na = 1; b = 2\n"             # one line stays one cell
    assert split[3].startswith("# a comment") and "@staticmethod\ndef f(x):" in split[3]
    assert split[4] == "\nprint(undefined_name)\n"
    assert split[5].startswith('text = """')
    assert sources[start + 6:start + 8] == ["%time x = 1\nprint(x", "# only a comment"]
    assert sources[-1].startswith("import course_utils.recheck")


def test_a_kernel_that_cannot_start_is_the_graders_fault_and_confirms_nothing():
    from jupyter_client.manager import AsyncKernelManager

    student, master = _submission("01_neurons", {
        "neuron": "def neuron(inputs, weights, bias):\n    return 0.0"})
    with pytest.raises(verify.RecheckError) as raised:
        verify.verify(student, master, ["neuron"], lambda nb: verify.run_notebook(
            nb, AsyncKernelManager(kernel_name="no-such-kernel"), 30))
    assert raised.value.grader_fault and "could not start" in raised.value.reason


@pytest.mark.parametrize("sabotage", [
    "import course_utils.recheck as r\nr.run = lambda *a, **k: None",    # no result at all
    "import course_utils.recheck as r, IPython.display as d\n"           # a forged blob
    "r.run = lambda *a, **k: d.display({r.MIME: 'bm90IGFuIGFyY2hpdmU='}, raw=True)",
    "import sys\nsys.setrecursionlimit(60)",                             # the harness breaks
], ids=["silenced", "forged", "broken"])
def test_a_sabotaged_recheck_is_the_students_fault_and_confirms_nothing(sabotage):
    student, master = _submission("01_neurons", {
        "neuron": "def neuron(inputs, weights, bias):\n    return 0.0\n" + sabotage})
    with pytest.raises(verify.RecheckError) as raised:
        verify.verify(student, master, ["neuron"], _execute)
    assert not raised.value.grader_fault


def test_results_are_read_within_limits():
    import base64

    import numpy as np

    from course_utils import plain

    def executed(blob: bytes) -> nbformat.NotebookNode:
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.v4.new_output(
            "display_data", data={verify.recheck.MIME: base64.b64encode(blob).decode()})]
        nb.cells = [cell]
        return nb

    deep: list = []
    for _ in range(50):
        deep = [deep]
    for hostile in (plain.pack(deep), plain.pack(["x"] * 300_000),
                    plain.pack({"a": np.zeros((2,) * 9)}), b"PK\x03\x04 not a zip"):
        with pytest.raises(verify.RecheckError):
            verify.read_results(executed(hostile))
    assert verify.read_results(executed(plain.pack({"neuron": []}))) == {"neuron": []}
