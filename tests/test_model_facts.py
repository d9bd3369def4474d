"""What a model learns with, read as plain facts: right styles pass, models that cannot learn
as the course's model does are named (``course_utils.model_facts``), on the learner's side and
on a model rebuilt from its Keras description, as the grader judges it."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils import exercises, model_facts  # noqa: E402


def _model(hidden: dict | None = None, extra: list | None = None, optimizer="adam",
           output_activation="softmax"):
    layers = [keras.Input(shape=(28, 28)), keras.layers.Flatten(),
              keras.layers.Dense(512, activation="relu", **(hidden or {}))]
    layers += extra or []
    layers.append(keras.layers.Dense(10, activation=output_activation))
    model = keras.Sequential(layers)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model


def _tf_softmax():
    import tensorflow as tf

    return _model(output_activation=tf.nn.softmax)


RIGHT = {
    "defaults": lambda: _model(),
    "he_normal": lambda: _model({"kernel_initializer": "he_normal"}),
    "adam_0.002": lambda: _model(optimizer=keras.optimizers.Adam(learning_rate=0.002)),
    "tf_nn_softmax": _tf_softmax,
}

WRONG = {
    "zero_start": (lambda: _model({"kernel_initializer": "zeros"}), "start"),
    "huge_start": (lambda: _model({"kernel_initializer": keras.initializers.RandomNormal(
        stddev=10.0)}), "start"),
    "frozen": (lambda: _model({"trainable": False}), "frozen"),
    "l2": (lambda: _model({"kernel_regularizer": keras.regularizers.L2(10.0)}), "penalty"),
    "non_neg": (lambda: _model({"kernel_constraint": keras.constraints.NonNeg()}),
                "constrains"),
    "dropout": (lambda: _model(extra=[keras.layers.Dropout(0.5)]), "trains"),
    "adam_0.5": (lambda: _model(optimizer=keras.optimizers.Adam(0.5)), "learning rate"),
    "adam_weight_decay": (lambda: _model(optimizer=keras.optimizers.Adam(weight_decay=0.1)),
                          "decays"),
}


def _probe():
    return np.random.default_rng(0).random((4, 28, 28)).astype("float32")


@pytest.mark.parametrize("name", RIGHT)
def test_right_styles_have_no_problem_and_rebuild_the_same_model(name):
    model = RIGHT[name]()
    model(_probe()[:1])
    assert model_facts.problems(model_facts.facts(model, _probe())) == []
    rebuilt = model_facts.rebuilt(model_facts.description(model))
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt(_probe()), model(_probe()), atol=1e-6)
    assert type(rebuilt.optimizer).__name__ == "Adam"
    assert exercises.model_problems(model) == []


@pytest.mark.parametrize("name", WRONG)
def test_models_that_cannot_learn_as_the_course_model_are_named(name):
    make, word = WRONG[name]
    model = make()
    model(_probe()[:1])
    said = model_facts.problems(model_facts.facts(model, _probe()))
    assert said and word in said[0], said
    # ...and on the model rebuilt from its description alone, as the grader judges it.
    rebuilt = model_facts.rebuilt(model_facts.description(model))
    rebuilt(_probe()[:1])
    again = model_facts.problems(model_facts.facts(rebuilt, _probe()))
    assert again and word in again[0], again
    # The learner's own check says so too (the Dropout layer is named as a layer first).
    assert exercises.model_problems(model)


def test_a_model_of_ones_own_classes_cannot_be_rebuilt():
    class Adam(keras.optimizers.SGD):  # a lie about the optimizer's name
        pass

    model = _model(optimizer=Adam(0.5))
    with pytest.raises(ValueError, match="Adam"):
        model_facts.rebuilt(model_facts.description(model))
    lam = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                            keras.layers.Dense(10, activation=lambda x: x)])
    with pytest.raises(ValueError):
        model_facts.rebuilt(model_facts.description(lam))
    assert any("a class of your own" in p for p in exercises.model_problems(model))


def test_a_description_is_read_within_limits():
    with pytest.raises(ValueError, match="sensible size"):
        model_facts.rebuilt({"config": "x" * (model_facts.MAX_DESCRIPTION_CHARS + 1),
                             "compile": ""})
    with pytest.raises(ValueError):
        model_facts.rebuilt({"config": "[" * 100_000, "compile": ""})
    with pytest.raises(ValueError):
        model_facts.rebuilt({"config": 7, "compile": ""})
