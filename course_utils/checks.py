"""Instant feedback on the course's exercises: what the learner sees after running a check.

Why it exists: a learner who runs the cell after an exercise should learn at once whether the
answer is right and, when it is not, what is wrong and where to look. What is *right* is
written once per exercise in :mod:`course_utils.exercises` (its cases, expectations and
messages); this module only shows the outcome. Each ``check_<name>(function)``

- prints one line starting with a tick when the function passes;
- raises :class:`NotAttempted` while it still raises ``NotImplementedError``;
- raises :class:`Incorrect` (an ``AssertionError``, so nbgrader takes the points) with a
  one-line message and a hint when it is wrong.

A check runs the exercise's visible cases, stored with the package with their expected
results; nothing here computes an expected result. The graded notebook's hidden test calls the
same check again, and the grader then confirms the answer outside the learner's kernel, on
cases of its own drawn there with the same comparison, so the ✓ and the grade judge the same
contract. IPython shows an outcome as a short message (plus the learner's own traceback when
their code raised), never a traceback through this module.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable
from typing import Any

from course_utils import exercises
from course_utils.exercises import compile_problems, model_problems
from course_utils.hints import hint

__all__ = [
    "Incorrect", "NotAttempted", "check_accuracy", "check_build_model", "check_cross_entropy",
    "check_dataset_megabytes",
    "check_dense_forward", "check_early_stopping_epochs", "check_gradient_step", "check_largest_stable_rate", "check_neuron",
    "check_normalize",
    "check_one_hot", "check_predict_digit", "check_relu", "check_sigmoid", "check_softmax",
    "check_steps_per_epoch", "compile_problems", "hint", "model_problems", "passed",
]


class _Feedback(Exception):
    """Base of the shown outcomes: IPython renders them as one short message, not a traceback.

    IPython calls ``_render_traceback_`` to display an exception. Ours shows the message
    (and, when the learner's own code raised, that error's traceback, which points into the
    learner's code); the frames of the course's modules, which would only distract, are left out.
    """

    label = "Check failed:"

    def _render_traceback_(self) -> list[str]:
        lines: list[str] = []
        cause = self.__cause__
        if cause is not None:
            # Start at the learner's frame: the first one is exercises.call().
            start = cause.__traceback__.tb_next if cause.__traceback__ else None
            lines += "".join(traceback.format_exception(type(cause), cause, start)).splitlines()
            lines.append("")
        first, *rest = str(self).splitlines() or [""]
        lines.append(f"\x1b[1;31m\N{BALLOT X} {self.label}\x1b[0m {first}")
        return lines + rest


class NotAttempted(_Feedback, exercises.NotAttempted):
    """The exercise has not been written yet (it still raises NotImplementedError)."""

    label = "Not attempted yet:"


class Incorrect(_Feedback, exercises.Incorrect):
    """The exercise runs but gives a wrong answer; the message says what and hints how."""

    label = "Incorrect:"


def passed(message: str) -> None:
    """Tell the learner a check passed (one line, starting with a tick)."""
    print(f"\N{CHECK MARK} {message}")


def _shown(outcome: exercises.Outcome, name: str) -> _Feedback:
    """The displayable twin of an outcome, keeping the learner's error as its cause, and
    saying how to ask for a hint on exercise ``name``."""
    shown: _Feedback
    # On the message's last line, so the message keeps its length (one line, then the hint).
    ask = f" Stuck? Run checks.hint({name!r}) for hints, one step at a time."
    if isinstance(outcome, exercises.NotAttempted):
        shown = NotAttempted(f"{outcome}{ask}")
    else:
        shown = Incorrect(f"{outcome}{ask}")
    shown.__cause__ = outcome.__cause__
    shown.__suppress_context__ = True
    return shown


def run(exercise: exercises.Exercise, function: Callable[..., Any],
        cases: list[exercises.Case]) -> None:
    """Judge ``function`` on ``cases`` and show the outcome (a tick, or a short error)."""
    try:
        exercises.judge(exercise, function, cases)
    except exercises.Outcome as outcome:
        raise _shown(outcome, exercise.name)  # noqa: B904 - the cause is set by _shown
    passed(exercise.success)


def _check(name: str, function: Callable[..., Any]) -> None:
    exercise = exercises.EXERCISES[name]
    run(exercise, function, exercise.visible_cases())


def check_neuron(neuron: Callable[..., Any]) -> None:
    """Check ``neuron(inputs, weights, bias)``: ReLU of the weighted sum plus the bias."""
    _check("neuron", neuron)


def check_dense_forward(dense_forward: Callable[..., Any]) -> None:
    """Check ``dense_forward(x, weights, bias)`` = relu(x @ weights + bias) on batches."""
    _check("dense_forward", dense_forward)


def check_relu(relu: Callable[..., Any]) -> None:
    """Check ``relu(x)`` element by element on arrays of several shapes."""
    _check("relu", relu)


def check_sigmoid(sigmoid: Callable[..., Any]) -> None:
    """Check ``sigmoid(x)`` element by element on arrays of several shapes."""
    _check("sigmoid", sigmoid)


def check_softmax(softmax: Callable[..., Any]) -> None:
    """Check ``softmax(x)`` on vectors, batches (last axis) and large numbers."""
    _check("softmax", softmax)


def check_normalize(normalize: Callable[..., Any]) -> None:
    """Check ``normalize(images)``: a new float32 array of pixels / 255, same shape."""
    _check("normalize", normalize)


def check_one_hot(one_hot: Callable[..., Any]) -> None:
    """Check ``one_hot(labels, num_classes=10)`` on arrays, lists and class counts."""
    _check("one_hot", one_hot)


def check_cross_entropy(cross_entropy: Callable[..., Any]) -> None:
    """Check ``cross_entropy(labels, probabilities)``: the batch's mean loss, finite at p = 0."""
    _check("cross_entropy", cross_entropy)


def check_build_model(build_model: Callable[[], Any]) -> None:
    """Check ``build_model()`` against the whole reference-model contract.

    The structure the notebook's text asks for (layers, activations, parameters, compile
    settings) and that training lowers the loss: :func:`course_utils.exercises.judge_build_model`.
    """
    try:
        exercises.judge_build_model(build_model)
    except exercises.Outcome as outcome:
        raise _shown(outcome, "build_model")  # noqa: B904 - the cause is set by _shown
    passed(exercises.BUILD_MODEL_SUCCESS)


def check_gradient_step(gradient_step: Callable[..., Any]) -> None:
    """Check ``gradient_step(w, b, x, y, learning_rate)``: one step downhill on the mean
    squared error of a linear neuron, returned as ``(new_w, new_b)``."""
    _check("gradient_step", gradient_step)


def check_largest_stable_rate(largest_stable_rate: Callable[..., Any]) -> None:
    """Check ``largest_stable_rate(x, y)``: the largest learning rate at which gradient
    descent on the line's mean squared error does not diverge, to within 10% below it."""
    _check("largest_stable_rate", largest_stable_rate)


def check_steps_per_epoch(steps_per_epoch: Callable[..., Any]) -> None:
    """Check ``steps_per_epoch(num_examples, batch_size)``: a whole number, rounded up."""
    _check("steps_per_epoch", steps_per_epoch)


def check_early_stopping_epochs(early_stopping_epochs: Callable[..., Any]) -> None:
    """Check ``early_stopping_epochs(val_losses, patience)``: the epochs EarlyStopping would
    run and the epoch whose weights it would restore, both counted from 1."""
    _check("early_stopping_epochs", early_stopping_epochs)


def check_accuracy(accuracy: Callable[..., Any]) -> None:
    """Check ``accuracy(probabilities, labels)`` on stored probabilities and labels."""
    _check("accuracy", accuracy)


def check_predict_digit(predict_digit: Callable[..., Any]) -> None:
    """Check ``predict_digit(model, image)`` on MNIST test digits.

    The model is a small stand-in the check builds from stored weights (one softmax layer on
    the flattened image, :func:`course_utils.exercises.predict_digit_model`), not the
    notebook's: a right ``predict_digit`` gives any model's most probable class, and each
    stored digit's expected class was worked out from those weights with a clear margin.
    """
    exercise = exercises.PREDICT_DIGIT
    model = exercises.predict_digit_model()
    cases = [dataclasses.replace(case, args=(model, *case.args))
             for case in exercise.visible_cases()]
    run(exercise, predict_digit, cases)


def check_dataset_megabytes(dataset_megabytes: Callable[..., Any]) -> None:
    """Check ``dataset_megabytes(num_images, dtype)`` for dtypes given as strings or types."""
    _check("dataset_megabytes", dataset_megabytes)
