"""The instant-feedback checks, proven both ways: right answers pass, wrong ones are caught."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import checks


def _not_written(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("check", [checks.check_neuron, checks.check_dense_forward,
                                   checks.check_relu, checks.check_sigmoid,
                                   checks.check_softmax, checks.check_normalize,
                                   checks.check_one_hot, checks.check_build_model,
                                   checks.check_steps_per_epoch, checks.check_accuracy,
                                   checks.check_dataset_megabytes])
def test_stub_is_not_attempted_not_wrong(check):
    with pytest.raises(checks.NotAttempted, match="not written yet"):
        check(_not_written)


def test_learner_errors_become_incorrect_with_the_cause():
    def broken(inputs, weights, bias):
        return inputs @ weights.T[0]

    with pytest.raises(checks.Incorrect, match="raised"):
        checks.check_neuron(broken)


def _stable_softmax(x):
    x = np.asarray(x, dtype=float)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


RIGHT = [
    (checks.check_neuron, lambda i, w, b: max(0.0, float(np.dot(i, w)) + b)),
    (checks.check_dense_forward, lambda x, w, b: np.maximum(0, x @ w + b)),
    (checks.check_relu, lambda x: np.where(x > 0, x, 0.0)),
    (checks.check_sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    (checks.check_softmax, _stable_softmax),
    (checks.check_normalize, lambda images: (images / 255).astype("float32")),
    (checks.check_one_hot, lambda labels, num_classes=10: np.eye(num_classes)[labels]),
    (checks.check_steps_per_epoch, lambda n, b: -(-n // b)),
    (checks.check_accuracy, lambda p, y: np.mean(np.argmax(p, 1) == y)),
    (checks.check_dataset_megabytes, lambda n, t: n * 784 * np.dtype(t).itemsize / 1e6),
]

WRONG = [
    (checks.check_neuron, lambda i, w, b: float(np.dot(i, w)) + b, "ReLU"),       # no ReLU
    (checks.check_neuron, lambda i, w, b: max(0.0, float(np.dot(i, w))), "bias"),  # no bias
    (checks.check_dense_forward, lambda x, w, b: x @ w + b, "relu"),
    (checks.check_dense_forward, lambda x, w, b: np.maximum(0, x @ w), "bias"),
    (checks.check_relu, lambda x: np.abs(x), "negative"),
    (checks.check_sigmoid, lambda x: np.exp(x) / (1 + np.exp(-x)), "sigmoid"),
    (checks.check_softmax, lambda x: np.exp(x) / np.exp(x).sum(), "last axis"),
    (checks.check_softmax, lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True),
     "overflows"),
    (checks.check_normalize, lambda images: images / 255, "float32"),
    (checks.check_normalize, lambda images: images.astype("float32") / 256, "255"),
    (checks.check_one_hot, lambda labels, num_classes=10: np.eye(num_classes, dtype=int)[labels],
     "floats"),
    (checks.check_one_hot, lambda labels, num_classes=10: np.eye(max(labels) + 1)[labels],
     "shape"),
    (checks.check_steps_per_epoch, lambda n, b: n // b, "math.ceil"),
    (checks.check_steps_per_epoch, lambda n, b: n / b, "whole number"),
    (checks.check_accuracy, lambda p, y: np.sum(np.argmax(p, 1) == y), "mean"),
    (checks.check_accuracy, lambda p, y: np.mean(np.argmax(p, 0)[: len(y)] == y), "raised"),
    (checks.check_dataset_megabytes, lambda n, t: n * 784 * np.dtype(t).itemsize / 2**20,
     "1,000,000"),
]


@pytest.mark.parametrize("check, answer", RIGHT, ids=lambda v: getattr(v, "__name__", ""))
def test_right_answers_pass(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith("\N{CHECK MARK}")


@pytest.mark.parametrize("check, answer, hint", WRONG, ids=lambda v: getattr(v, "__name__", ""))
def test_wrong_answers_fail_with_a_hint(check, answer, hint):
    with np.errstate(all="ignore"), pytest.raises(checks.Incorrect) as error:
        check(answer)
    assert hint in str(error.value)


def test_predict_digit_check_both_ways():
    from course_utils import models

    model = models.build_reference_model()
    images = np.random.default_rng(0).random((3, 28, 28)).astype("float32")

    def right(model, image):
        return int(np.argmax(model.predict(image[np.newaxis], verbose=0)[0]))

    checks.check_predict_digit(right, model, images)
    with pytest.raises(checks.Incorrect, match="plain int"):
        checks.check_predict_digit(lambda m, i: m.predict(i[None], verbose=0), model, images)
    with pytest.raises(checks.Incorrect):
        checks.check_predict_digit(lambda m, i: (right(m, i) + 1) % 10, model, images)


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
    assert len(lines) == 1 and "Incorrect:" in lines[0] and "float32" in lines[0]

    def learner_code(inputs, weights, bias):
        return undefined_name  # noqa: F821 - the learner's bug

    try:
        checks.check_neuron(learner_code)
    except checks.Incorrect as error:
        text = "\n".join(error._render_traceback_())
    assert "learner_code" in text and "NameError" in text and "course_utils/checks.py" not in text
