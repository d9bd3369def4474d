"""The re-check outside the student's kernel: right answers confirmed, tampering is not."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from course_grading import verify


def _execute(notebook: nbformat.NotebookNode, folder: Path) -> None:
    """A fresh, unsandboxed kernel (the grading command uses the sandboxed one)."""
    from nbclient import NotebookClient

    NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()


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
    verdicts = verify.verify(student, master, ["normalize", "one_hot"], tmp_path, _execute,
                             seed=123)
    assert [(v.exercise, v.ok) for v in verdicts] == [("normalize", True), ("one_hot", False)]
    assert "one_hot" not in verdicts[0].message and verdicts[1].message
    # Only plain data came back: the request and the results, nothing pickled.
    assert (tmp_path / verify.RESULT_JSON).is_file()


def test_an_answer_that_lies_about_equality_is_not_confirmed(tmp_path):
    student, master = _submission("07_training", {
        "steps_per_epoch": "class Liar(int):\n    def __eq__(self, other):\n        return True\n"
                           "def steps_per_epoch(num_examples, batch_size):\n    return Liar(1)"})
    (verdict,) = verify.verify(student, master, ["steps_per_epoch"], tmp_path, _execute)
    assert not verdict.ok


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
], ids=["seed-tutorial", "functional-tf-nn", "sigmoid-output", "mse-loss"])
def test_models_are_confirmed_by_behaviour(tmp_path, source, right):
    student, master = _submission("05_building_the_model", {"build_model": source})
    (verdict,) = verify.verify(student, master, ["build_model"], tmp_path, _execute)
    assert verdict.ok is right, verdict.message


def test_a_function_the_kernel_cannot_call_is_not_confirmed(tmp_path):
    student, master = _submission("01_neurons", {"neuron": "neuron = None"})
    (verdict,) = verify.verify(student, master, ["neuron"], tmp_path, _execute)
    assert not verdict.ok and verdict.message


@pytest.mark.parametrize("body", ["return np.maximum(0.0, np.dot(inputs, weights) + bias)",
                                  "return max(0.0, float(inputs @ weights + bias))"],
                         ids=["numpy-scalar", "python-float"])
def test_numbers_come_back_as_numbers(tmp_path, body):
    student, master = _submission("01_neurons", {
        "neuron": f"def neuron(inputs, weights, bias):\n    {body}"})
    (verdict,) = verify.verify(student, master, ["neuron"], tmp_path, _execute)
    assert verdict.ok, verdict.message


def test_the_kernel_runs_the_graded_answers_and_the_students_own_cells_only():
    student, master = _submission("07_training", {
        "steps_per_epoch": "def steps_per_epoch(num_examples, batch_size):\n    return 1",
        "build_model": "import keras\ndef build_model():\n    return keras.Sequential()",
        "fit_call": "history = model.fit(train_batches, epochs=EPOCHS)",
    })
    student.cells.append(nbformat.v4.new_code_cell("helper = 42  # a cell the student added"))
    cells = verify.verification_notebook(student, master).cells
    assert cells[-1].source == verify.HARNESS
    sources = "\n".join(c.source for c in cells[:-1])  # the imports, then the student's code
    assert "def steps_per_epoch" in sources and "helper = 42" in sources
    # The ungraded solution cells (the pasted model, the fit call) are not run there.
    assert "build_model" not in sources and "model.fit" not in sources
    assert "import keras" not in sources
