"""The visible checks, proven both ways for every exercise: right styles pass with a tick,
wrong styles fail with a message that says what is wrong; learner code is untrusted input."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import answer_styles
from course_utils import checks, exercises

CHECKS = {
    "neuron": checks.check_neuron, "dense_forward": checks.check_dense_forward,
    "relu": checks.check_relu, "sigmoid": checks.check_sigmoid,
    "softmax": checks.check_softmax, "normalize": checks.check_normalize,
    "one_hot": checks.check_one_hot, "build_model": checks.check_build_model,
    "gradient_step": checks.check_gradient_step,
    "steps_per_epoch": checks.check_steps_per_epoch, "accuracy": checks.check_accuracy,
    "predict_digit": checks.check_predict_digit,
    "dataset_megabytes": checks.check_dataset_megabytes,
    "cross_entropy": checks.check_cross_entropy,
    "largest_stable_rate": checks.check_largest_stable_rate,
    "early_stopping_epochs": checks.check_early_stopping_epochs,
}


def _run_check(exercise, function):
    CHECKS[exercise](function)


def _right():
    return [(e, s) for e, styles in answer_styles.RIGHT.items() for s in styles]


def _wrong():
    return [(e, s) for e, styles in answer_styles.WRONG.items() for s in styles]


def test_every_exercise_has_three_right_and_three_wrong_styles():
    assert set(answer_styles.RIGHT) == set(answer_styles.WRONG) == set(answer_styles.NOTEBOOKS)
    assert set(answer_styles.NOTEBOOKS) == set(exercises.EXERCISES) | {"build_model"}
    for exercise in answer_styles.NOTEBOOKS:
        assert len(answer_styles.RIGHT[exercise]) >= 3, exercise
        assert len(answer_styles.WRONG[exercise]) >= 3, exercise


@pytest.mark.parametrize("exercise, style", _right())
def test_right_styles_get_the_tick(exercise, style, capsys):
    function = answer_styles.define(exercise, answer_styles.RIGHT[exercise][style])
    _run_check(exercise, function)
    out = capsys.readouterr().out
    assert out.startswith("\N{CHECK MARK}") and out.count("\n") == 1


@pytest.mark.parametrize("exercise, style", _wrong())
def test_wrong_styles_fail_saying_what_is_wrong(exercise, style, capsys):
    source, fragment = answer_styles.WRONG[exercise][style]
    function = answer_styles.define(exercise, source)
    with np.errstate(all="ignore"), pytest.raises(checks.Incorrect) as error:
        _run_check(exercise, function)
    message = str(error.value)
    assert fragment in message
    assert "\N{CHECK MARK}" not in capsys.readouterr().out
    if exercise != "build_model":  # the model lists every problem, one per line
        assert len(message.splitlines()) <= 2  # the message, then the hint


def _not_written(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("exercise", sorted(answer_styles.NOTEBOOKS))
def test_stub_is_not_attempted_not_wrong(exercise):
    with pytest.raises(checks.NotAttempted, match="not written yet"):
        _run_check(exercise, _not_written)


@pytest.mark.parametrize("exercise", sorted(answer_styles.NOTEBOOKS))
def test_missing_return_is_named_in_one_line(exercise):
    def forgot_return(*args, **kwargs):
        pass

    forgot_return.__name__ = exercise
    with pytest.raises(checks.Incorrect) as error:
        _run_check(exercise, forgot_return)
    first = str(error.value).splitlines()[0]
    assert "returned None" in first and "`return` statement missing" in first
    assert "TypeError" not in str(error.value) and "shape ()" not in str(error.value)


@pytest.mark.parametrize("exercise", sorted(answer_styles.NOTEBOOKS))
def test_a_whole_def_pasted_into_the_body_is_named_not_a_missing_return(exercise):
    """Pasting a whole function, ``def`` line included, into the stub's body nests it: the
    message says so, instead of asking for a ``return`` the learner can see on screen."""
    import textwrap

    right = next(iter(answer_styles.RIGHT[exercise].values()))
    pasted = (f"def {exercise}(*args, **kwargs):\n    \"\"\"The stub's docstring.\"\"\"\n"
              + textwrap.indent(right.strip("\n"), "    ") + "\n")
    with pytest.raises(checks.Incorrect) as error:
        _run_check(exercise, answer_styles.define(exercise, pasted))
    first = str(error.value).splitlines()[0]
    assert f"second `def {exercise}(...)` inside it" in first
    assert "`return` statement missing" not in first


def test_arguments_are_copies_so_an_in_place_relu_cannot_change_later_checks(capsys):
    in_place = answer_styles.define("relu", answer_styles.RIGHT["relu"]["in_place"])
    for _ in range(2):
        checks.check_relu(in_place)
    wrong_sigmoid, _ = answer_styles.WRONG["sigmoid"]["wrong_for_negatives"]
    with pytest.raises(checks.Incorrect):
        checks.check_sigmoid(answer_styles.define("sigmoid", wrong_sigmoid))


def test_expectations_are_stored_and_the_learners_code_gets_copies():
    def scribbles_on_its_input(images):
        result = images.astype("float32") / 255
        images[...] = 7
        return result

    with pytest.raises(checks.Incorrect, match="changed the images") as error:
        checks.check_normalize(scribbles_on_its_input)
    assert "expected" not in str(error.value).split("\n")[0] or "7" not in str(error.value)
    seen = []

    def records(x):
        seen.append(x)
        x[...] = 0
        return np.maximum(0, x)

    with pytest.raises(checks.Incorrect):
        checks.check_relu(records)
    fresh = exercises.RELU.visible_cases()[0]
    assert fresh.args[0].min() < 0 and seen[0] is not fresh.args[0]


def test_no_check_takes_a_seed_or_data_to_compute_expectations_from():
    """The checks run stored cases only: nothing a learner passes becomes an expectation."""
    for name, check in CHECKS.items():
        assert list(inspect.signature(check).parameters) == [name], name


def test_wrong_kinds_of_result_are_named():
    def as_list(x):
        return np.maximum(0, x).tolist()

    with pytest.raises(checks.Incorrect, match="Python list"):
        checks.check_relu(as_list)
    with pytest.raises(checks.Incorrect, match="float32"):
        checks.check_normalize(lambda images: images / 255)
    with pytest.raises(checks.Incorrect, match="not a function"):
        checks.check_relu(np.zeros(3))


def test_cross_entropy_names_the_sum_only_where_the_loss_is_one_number():
    from course_utils.exercises import Case, _cross_entropy_compare

    labels = np.array([[1.0, 0.0], [0.0, 1.0]])
    sure = np.array([[0.9, 0.1], [0.2, 0.8]])
    loss = float(-(np.log(0.9) + np.log(0.8)) / 2)
    case = Case((labels, sure), (loss, loss))
    assert "sum over the examples" in _cross_entropy_compare(2 * loss, case, ())
    assert _cross_entropy_compare(loss, case, ()) is None
    # One true class at probability 0: any floor from the smallest float to 1e-6 is right, so
    # the expected loss is a range and a huge stand-in for inf is not "the sum".
    wrong = np.array([[0.0, 1.0], [0.2, 0.8]])
    low = float((-np.log(1e-6) - np.log(0.8)) / 2)
    high = float((-np.log(np.nextafter(0, 1)) - np.log(0.8)) / 2)
    case = Case((labels, wrong), (low, high))
    message = _cross_entropy_compare(1000.0, case, ())
    assert "sum" not in message and "huge number" in message


def test_predict_digit_is_checked_with_the_stand_in_model(capsys):
    right = answer_styles.define("predict_digit",
                                 answer_styles.RIGHT["predict_digit"]["predict_newaxis"])
    checks.check_predict_digit(right)
    assert "\N{CHECK MARK}" in capsys.readouterr().out
    models_seen = []

    def off_by_one(model, image):
        models_seen.append(model)
        return (right(model, image) + 1) % 10

    with pytest.raises(checks.Incorrect, match="most probable class") as error:
        checks.check_predict_digit(off_by_one)
    assert str(error.value).startswith("predict_digit(model, x_test[")
    import keras

    assert isinstance(models_seen[0], keras.Model)


def test_model_problems_reports_each_mistake():
    import keras

    from course_utils import models

    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dropout(0.2),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    assert any("Dropout" in p for p in checks.model_problems(model))
    assert checks.model_problems("not a model")[0].startswith("build_model should return")
    no_metric = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                                  keras.layers.Dense(512, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
    no_metric.compile(loss="categorical_crossentropy", optimizer="adam")
    assert checks.compile_problems(no_metric) == [
        "the model does not report accuracy: compile it with metrics=['accuracy']."]
    assert checks.model_problems(models.build_reference_model()) == []


def test_outcomes_render_as_a_short_message_in_ipython():
    try:
        checks.check_normalize(lambda images: images / 255)
    except checks.Incorrect as error:
        lines = error._render_traceback_()
    assert len(lines) == 2 and "Incorrect:" in lines[0] and "float32" in lines[0]
    assert lines[1].startswith("Hint:")

    def learner_code(inputs, weights, bias):
        return undefined_name  # noqa: F821 - the learner's bug

    try:
        checks.check_neuron(learner_code)
    except checks.Incorrect as error:
        text = "\n".join(error._render_traceback_())
    assert "learner_code" in text and "NameError" in text
    assert "course_utils/checks.py" not in text and "course_utils/exercises.py" not in text


@pytest.mark.parametrize("exercise", ["cross_entropy", "largest_stable_rate",
                                      "early_stopping_epochs"])
def test_a_decision_is_not_handed_over_by_one_wrong_try(exercise):
    """A wrong answer to a decision exercise says what is wrong and where the hints are, but
    not the last hint (the decision itself); transcription exercises keep it."""
    from course_utils import hints

    def wrong(*args, **kwargs):
        return -1.0

    with pytest.raises(checks.Incorrect) as raised:
        getattr(checks, f"check_{exercise}")(wrong)
    message = str(raised.value)
    assert "Hint:" not in message and f"checks.hint({exercise!r})" in message
    assert exercises.EXERCISES[exercise].hint not in message
    assert hints.all_hints(exercise)[-1].lower() == exercises.EXERCISES[exercise].hint.lower()
    with pytest.raises(checks.Incorrect, match="Hint:"):
        checks.check_relu(wrong)
