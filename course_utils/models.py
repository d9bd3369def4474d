"""The course's reference model, its training recipe, and the model saved between notebooks.

Why it exists: the evaluating and predicting notebooks need the model the training notebook
trained. They load it from ``outputs/`` when it is there and otherwise train it on the spot
with the reference recipe, so each notebook runs on its own and a learner's wrong answer in
one notebook never breaks another. The grader's reference model (:func:`reference_model`) lets the
hidden tests of those notebooks judge a learner's function without the learner's own model.
The training notebook's model is the learner's own when it passes its check, else the reference
(:func:`your_model`), and the learner's own ``fit`` call is checked, or run for them while it is
not written (:func:`checked_history`): the same rule, a model for every later notebook.
TensorFlow is imported only when a function here is called.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from course_utils.mode import grading_mode

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import keras
    import numpy as np

#: Where notebooks write what they make (git ignores it), relative to the notebook's folder.
OUTPUT_DIR = Path("outputs")
#: The seed recipe: 10 epochs of batches of 32.
EPOCHS = 10
BATCH_SIZE = 32
#: Environment variable naming a saved Keras model the grader provides (see
#: :func:`reference_model`); the class grader trains it once per run and sets this.
REFERENCE_MODEL_ENV = "COURSE_REFERENCE_MODEL"
#: Epochs of the fallback reference model trained on the grading slice.
REFERENCE_EPOCHS = 3


def output_dir() -> Path:
    """Return (and create) the folder notebooks write models and records to."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR


def model_path() -> Path:
    """The saved model's file; grading mode keeps its small-data model apart."""
    name = "mnist_dense_grading.keras" if grading_mode() else "mnist_dense.keras"
    return output_dir() / name


def record_path() -> Path:
    """The JSON record of the training notebook's run (time, accuracies, history)."""
    name = "training_run_grading.json" if grading_mode() else "training_run.json"
    return output_dir() / name


def build_reference_model() -> "keras.Model":
    """Build and compile the course's model: Flatten, Dense(512, relu), Dense(10, softmax).

    Compiled with categorical cross-entropy, Adam and accuracy; 407,050 parameters.
    """
    from course_utils.setup import quiet_tensorflow

    quiet_tensorflow()
    import keras

    model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ], name="mnist_dense")
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def save_training_record(history: Any, seconds: float, train_accuracy: float,
                         validation_accuracy: float) -> Path:
    """Write the training run's figures so later notebooks can compare without retraining."""
    logs = getattr(history, "history", history)
    record = {
        "seconds": round(float(seconds), 2),
        "train_accuracy": float(train_accuracy),
        "validation_accuracy": float(validation_accuracy),
        "history": {key: [float(v) for v in values] for key, values in logs.items()},
        "grading_mode": grading_mode(),
    }
    path = record_path()
    path.write_text(json.dumps(record, indent=1))
    return path


def load_training_record() -> dict[str, Any] | None:
    """Return the training notebook's saved record, or None when it has not run here."""
    path = record_path()
    return json.loads(path.read_text()) if path.is_file() else None


def load_trained_model(*, verbose: bool = True) -> "keras.Model":
    """Load the model the training notebook saved, or train the reference model now.

    Training on the spot uses the training notebook's recipe (seed 0, 10 epochs, batch 32, the
    training images left after :func:`course_utils.data.validation_split`) and saves the
    result, so it happens at most once per folder.
    """
    from course_utils.data import batches, load_mnist, validation_split
    from course_utils.setup import quiet_tensorflow, seed_everything

    quiet_tensorflow()
    import keras

    path = model_path()
    if path.is_file():
        model = keras.models.load_model(path)
        if verbose:
            print(f"Loaded the trained model from {path}.")
        return model
    if grading_mode() and os.environ.get(REFERENCE_MODEL_ENV):
        # Graded on its own, a notebook gets the grader's model rather than training one.
        if verbose:
            print("Grading mode: using the grader's reference model.")
        return reference_model()
    (x_train, y_train), _ = load_mnist(verbose=verbose)
    (x_train, y_train), _ = validation_split(x_train, y_train)  # the images notebook 7 trains on
    if verbose:
        print(f"No trained model at {path} yet: training the reference model now ({EPOCHS} "
              f"epochs on {len(x_train):,} training images, one to two minutes on the full data).")
    seed_everything()
    model = build_reference_model()
    start = time.perf_counter()
    model.fit(batches(x_train, y_train, BATCH_SIZE, shuffle=True), epochs=EPOCHS, verbose=0)
    if verbose:
        print(f"Trained in {time.perf_counter() - start:.0f} s; saved to {path}.")
    model.save(path)
    return model


def your_model(build_model: Callable[[], Any], *, training: bool = True) -> "keras.Model":
    """The learner's own model when their ``build_model`` passes its check, else the reference.

    Why: notebook 5 looks at the model the learner built, and the training notebook trains
    it, but an unfinished or wrong ``build_model`` must not stop either notebook. It is judged
    as notebook 5's check judges it (:func:`course_utils.exercises.judge_build_model`); then
    one line says which model the cells below use (``training``: which model will train) and
    why. The seeds are reset just before the model is built, so the run repeats exactly.
    """
    from course_utils import exercises
    from course_utils.setup import quiet_tensorflow, seed_everything

    quiet_tensorflow()
    try:
        exercises.judge_build_model(build_model)
    except exercises.Outcome as outcome:
        # The whole message on one line: a first line ending in ":" heads the problems' list.
        lines = [line.strip().removeprefix("- ") for line in str(outcome).strip().splitlines()
                 if line.strip()]
        reason = " ".join([lines[0], "; ".join(lines[1:])]).strip()
        instead = "This run trains" if training else "The cells below use"
        print(f"\N{BALLOT X} Your build_model is not ready: {reason}\n"
              f"  {instead} the course's reference model instead "
              f"(models.build_reference_model(), the same network), so everything below still "
              f"runs. Fix build_model above and run this cell again to "
              f"{'train' if training else 'use'} your own; checks.hint('build_model') helps.")
        seed_everything()
        return build_reference_model()
    seed_everything()
    model = build_model()
    if not model.built:  # declared without keras.Input, as the classic tutorial does
        model.build((None, 28, 28))
    doing = "Training" if training else "The cells below use"
    print(f"\N{CHECK MARK} {doing} your own build_model(): {model.count_params():,} parameters.")
    return model


def checked_history(history: Any, seconds: float | None, model: "keras.Model", train_data: Any,
                    validation_data: Any, epochs: int) -> tuple[Any, float]:
    """Check the learner's own ``fit`` call, or run it when there is none; ``(history, seconds)``.

    Why: in the training notebook the learner writes ``history = model.fit(...)`` in a cell
    that also times it. Until they do (``history`` is still None), this runs the call for
    them and times it, saying so, so the curves and the saved model below still come. What
    differs from the text is named in one line: a ``History`` of another model, another
    number of epochs, no validation data, a model trained again by a re-run, no time measured
    (``seconds`` then comes back as nan).

    Raises:
        TypeError: ``history`` is not what ``model.fit`` returns.
    """
    if history is None:
        print(f"Your fit call is not written yet, so this runs it for you: "
              f"model.fit(train_batches, epochs={epochs}, validation_data=val_batches, "
              f"verbose=2). To train with yours, write it in the cell above, then run again from "
              f"the cell model = models.your_model(build_model), so it starts from a fresh model.")
        start = time.perf_counter()
        history = model.fit(train_data, epochs=epochs, validation_data=validation_data,
                            verbose=2)
        return history, time.perf_counter() - start
    logs = getattr(history, "history", None)
    if not isinstance(logs, dict) or "loss" not in logs:
        raise TypeError(f"history should be what model.fit returns (a History), not "
                        f"{type(history).__name__}: write history = model.fit(...).")
    notes = []
    if getattr(history, "model", model) is not model:
        notes.append("it trained another model, not `model`: call model.fit(...)")
    if len(logs["loss"]) != epochs:
        notes.append(f"it trained {len(logs['loss'])} epochs where the text asks for {epochs}")
    if "val_accuracy" not in logs:
        notes.append("it has no validation curves: pass validation_data=val_batches")
    steps = _steps_taken(model)
    try:
        expected_steps = epochs * len(train_data)
    except TypeError:  # data of unknown length
        expected_steps = None
    if steps is not None and expected_steps and steps > expected_steps:
        notes.append(f"`model` has now trained {steps // len(train_data)} epochs in all: run the "
                     f"cell model = models.your_model(build_model) again before your call")
    if seconds is None:
        notes.append("its time was not measured: keep the start and seconds lines around it")
    if notes:
        print(f"\N{BALLOT X} Your fit call ran, but {'; and '.join(notes)}.")
    else:
        print(f"\N{CHECK MARK} Your fit call trained {epochs} epochs and validated after each.")
    return history, float(seconds) if seconds is not None else math.nan


def _steps_taken(model: "keras.Model") -> int | None:
    """How many training steps ``model``'s optimizer has taken, or None when it cannot tell."""
    try:
        return int(model.optimizer.iterations.numpy())
    except Exception:  # not compiled, or an optimizer without a step count
        return None


def reference_model() -> "keras.Model":
    """The grader's reference model, so a mark never rests on the student's own model.

    The grader confirms the learner's ``predict_digit`` on this model's predictions, computed
    outside the learner's kernel, so a notebook's marks do not depend on what the student's
    training notebook saved (or whether it was submitted at all).

    It is, in order:

    1. the Keras model saved at the path in the ``COURSE_REFERENCE_MODEL`` environment
       variable (the class grader trains the reference model once per run, saves it and sets
       the variable for every notebook it grades);
    2. otherwise, the reference model trained here in a fixed way: seed 0, the first 2,000
       training images (the grading slice), :data:`REFERENCE_EPOCHS` epochs of batches of 32.
       Nothing is written to disk; the model is kept for the rest of the process.

    Raises:
        FileNotFoundError: the variable names a file that does not exist.
    """
    from course_utils.setup import quiet_tensorflow

    quiet_tensorflow()
    import os

    import keras

    path = os.environ.get(REFERENCE_MODEL_ENV)
    if path:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{REFERENCE_MODEL_ENV}={path}: no such model file. Unset "
                                    f"it to train the reference model on the grading slice.")
        return keras.models.load_model(path)
    cached = getattr(reference_model, "_trained", None)
    if cached is None:
        cached = train_reference_model()
        reference_model._trained = cached  # type: ignore[attr-defined]
    return cached


def train_reference_model() -> "keras.Model":
    """Train the reference model on the grading slice in a fixed way (seed 0, 2,000 images).

    What :func:`reference_model` falls back to, and what a grader can call once per run and
    save (``model.save(path)``) for ``COURSE_REFERENCE_MODEL``.
    """
    from course_utils.data import GRADING_TRAIN_SIZE, batches, load_mnist
    from course_utils.setup import seed_everything

    (x_train, y_train), _ = load_mnist(verbose=False)
    x_train, y_train = x_train[:GRADING_TRAIN_SIZE], y_train[:GRADING_TRAIN_SIZE]
    seed_everything(0)
    model = build_reference_model()
    model.fit(batches(x_train, y_train, BATCH_SIZE, shuffle=True), epochs=REFERENCE_EPOCHS,
              verbose=0)
    return model
