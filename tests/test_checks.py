"""The visible checks, proven both ways for every exercise: right styles pass with a tick,
wrong styles fail with a message that says what is wrong; learner code is untrusted input."""

from __future__ import annotations

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
    "dataset_megabytes": checks.check_dataset_megabytes,
}


@pytest.fixture(scope="module")
def digit_model():
    """An untrained reference model and images for ``check_predict_digit``."""
    from course_utils import models
    from course_utils.setup import seed_everything

    seed_everything(0)
    model = models.build_reference_model()
    images = np.random.default_rng(0).random((20, 28, 28)).astype("float32")
    return model, images


def _run_check(exercise, function, digit_model=None):
    if exercise == "predict_digit":
        model, images = digit_model
        checks.check_predict_digit(function, model, images)
    else:
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
def test_right_styles_get_the_tick(exercise, style, digit_model, capsys):
    function = answer_styles.define(exercise, answer_styles.RIGHT[exercise][style])
    _run_check(exercise, function, digit_model)
    out = capsys.readouterr().out
    assert out.startswith("\N{CHECK MARK}") and out.count("\n") == 1


@pytest.mark.parametrize("exercise, style", _wrong())
def test_wrong_styles_fail_saying_what_is_wrong(exercise, style, digit_model, capsys):
    source, fragment = answer_styles.WRONG[exercise][style]
    function = answer_styles.define(exercise, source)
    with np.errstate(all="ignore"), pytest.raises(checks.Incorrect) as error:
        _run_check(exercise, function, digit_model)
    message = str(error.value)
    assert fragment in message
    assert "\N{CHECK MARK}" not in capsys.readouterr().out
    if exercise != "build_model":  # the model lists every problem, one per line
        assert len(message.splitlines()) <= 2  # the message, then the hint


def _not_written(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("exercise", sorted(answer_styles.NOTEBOOKS))
def test_stub_is_not_attempted_not_wrong(exercise, digit_model):
    with pytest.raises(checks.NotAttempted, match="not written yet"):
        _run_check(exercise, _not_written, digit_model)


@pytest.mark.parametrize("exercise", sorted(answer_styles.NOTEBOOKS))
def test_missing_return_is_named_in_one_line(exercise, digit_model):
    def forgot_return(*args, **kwargs):
        pass

    forgot_return.__name__ = exercise
    with pytest.raises(checks.Incorrect) as error:
        _run_check(exercise, forgot_return, digit_model)
    first = str(error.value).splitlines()[0]
    assert "returned None" in first and "`return` statement missing" in first
    assert "TypeError" not in str(error.value) and "shape ()" not in str(error.value)


def test_arguments_are_copies_so_an_in_place_relu_cannot_change_later_checks(capsys):
    in_place = answer_styles.define("relu", answer_styles.RIGHT["relu"]["in_place"])
    for seed in (None, 1):
        checks.check_relu(in_place, seed=seed)
    wrong_sigmoid, _ = answer_styles.WRONG["sigmoid"]["wrong_for_negatives"]
    with pytest.raises(checks.Incorrect):
        checks.check_sigmoid(answer_styles.define("sigmoid", wrong_sigmoid))


def test_expectations_are_computed_before_the_learners_code_runs():
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


def test_hidden_run_adds_cases_drawn_from_the_seed():
    visible = exercises.NEURON.visible_cases()
    everything = exercises.NEURON.all_cases(seed=7)
    assert len(everything) > len(visible)
    again = exercises.NEURON.all_cases(seed=7)
    other = exercises.NEURON.all_cases(seed=8)
    assert np.array_equal(everything[-1].args[0], again[-1].args[0])
    assert not np.array_equal(everything[-1].args[0], other[-1].args[0])


@pytest.mark.parametrize("exercise, style", [
    ("neuron", "no_relu"), ("relu", "abs"), ("accuracy", "error_rate")])
def test_hidden_run_rejects_what_the_visible_check_rejects(exercise, style, digit_model):
    source, _ = answer_styles.WRONG[exercise][style]
    with pytest.raises(checks.Incorrect):
        CHECKS[exercise](answer_styles.define(exercise, source), seed=123)


def test_wrong_kinds_of_result_are_named():
    def as_list(x):
        return np.maximum(0, x).tolist()

    with pytest.raises(checks.Incorrect, match="Python list"):
        checks.check_relu(as_list)
    with pytest.raises(checks.Incorrect, match="float32"):
        checks.check_normalize(lambda images: images / 255)
    with pytest.raises(checks.Incorrect, match="not a function"):
        checks.check_relu(np.zeros(3))


def test_predict_digit_probed_with_a_model_and_a_seed(digit_model):
    model, images = digit_model
    right = answer_styles.define("predict_digit",
                                 answer_styles.RIGHT["predict_digit"]["predict_newaxis"])
    checks.check_predict_digit(right, model, images, seed=99)
    with pytest.raises(checks.Incorrect, match="most probable class"):
        checks.check_predict_digit(lambda m, i: (right(m, i) + 1) % 10, model, images, seed=99)


def test_accuracy_against_given_probabilities():
    rng = np.random.default_rng(3)
    probabilities = rng.random((100, 10)).astype("float32")
    labels = rng.integers(0, 10, 100).astype("uint8")
    right = answer_styles.define("accuracy", answer_styles.RIGHT["accuracy"]["argmax_mean"])
    checks.check_accuracy(right, seed=1, probabilities=probabilities, labels=labels)


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
