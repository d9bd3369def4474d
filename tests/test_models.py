"""``models.load_trained_model``: later notebooks get the training notebook's model either way."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import data, models


@pytest.fixture
def small_training(tmp_path, monkeypatch):
    """A fresh folder in grading mode with the shipped sample: training takes seconds."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("MNIST_PATH", str(data.sample_path()))
    monkeypatch.setattr(models, "EPOCHS", 2)
    return tmp_path


def test_trains_and_saves_when_missing_then_loads(small_training, capsys):
    path = small_training / models.model_path()
    assert not path.exists()
    trained = models.load_trained_model()
    said = capsys.readouterr().out
    assert "training the reference model now" in said and path.is_file()

    (_, _), (x_test, y_test) = data.load_mnist(verbose=False)
    probe = data.normalize_images(x_test[:200])
    expected = trained.predict(probe, verbose=0)
    # Learning happened: far better than the 10% of guessing, on digits it never trained on.
    assert float(np.mean(expected.argmax(1) == y_test[:200])) > 0.5

    loaded = models.load_trained_model()
    assert "Loaded the trained model" in capsys.readouterr().out
    assert loaded is not trained
    assert np.array_equal(loaded.predict(probe, verbose=0), expected)
    assert loaded.count_params() == 407_050


def test_grading_mode_keeps_its_model_apart(small_training, monkeypatch):
    grading = models.model_path()
    monkeypatch.delenv("NBGRADER_EXECUTION")
    assert models.model_path() != grading


def _learnable(count: int = 96):
    """Batches of images whose label is written in them, as ``fit`` takes them."""
    import tensorflow as tf

    from course_utils import exercises

    x, y = exercises.learnable_batch(count)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(32)


@pytest.mark.parametrize("with_input", [True, False], ids=["with-Input", "seed-tutorial-no-Input"])
def test_your_model_trains_the_learners_build_model_when_it_passes(with_input, capsys):
    import keras

    def build_model():
        first = [keras.Input(shape=(28, 28))] if with_input else []
        model = keras.Sequential([*first, keras.layers.Flatten(),
                                  keras.layers.Dense(512, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")],
                                 name="learners_own")
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        return model

    model = models.your_model(build_model)
    assert model.name == "learners_own"
    assert "Training your own build_model(): 407,050 parameters" in capsys.readouterr().out
    # Notebook 5 only looks at the model: the line says so, and names no training.
    model = models.your_model(build_model, training=False)
    said = capsys.readouterr().out
    assert model.name == "learners_own" and "Training" not in said
    assert "The cells below use your own build_model(): 407,050 parameters" in said


@pytest.mark.parametrize("body, reason", [
    ("raise NotImplementedError()", "not written yet"),
    ("return keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), "
     "keras.layers.Dense(10, activation='softmax')])", "not the reference model"),
])
def test_your_model_falls_back_to_the_reference_and_says_why(body, reason, capsys):
    import keras

    names = {"keras": keras}
    exec(f"def build_model():\n    {body}\n", names)
    model = models.your_model(names["build_model"])
    said = capsys.readouterr().out
    assert reason in said and "reference model instead" in said
    assert model.name == "mnist_dense" and model.count_params() == 407_050
    if reason == "not the reference model":  # what differs is said, not only that it does
        assert "Dense layer(s), expected 2" in said
    models.your_model(names["build_model"], training=False)
    said = capsys.readouterr().out
    assert reason in said and "The cells below use the course's reference model instead" in said


def test_checked_history_runs_the_call_until_the_learner_writes_it(capsys):
    batches = _learnable()
    model = models.build_reference_model()
    history, seconds = models.checked_history(None, None, model, batches, batches.take(1), 2)
    assert "not written yet, so this runs it for you" in capsys.readouterr().out
    assert len(history.history["loss"]) == 2 and "val_accuracy" in history.history
    assert seconds > 0


def test_checked_history_keeps_the_learners_history_and_names_what_differs(capsys):
    batches = _learnable()
    model = models.build_reference_model()
    own = model.fit(batches, epochs=2, validation_data=batches, verbose=0)
    history, seconds = models.checked_history(own, 1.5, model, batches, batches, 2)
    assert history is own and seconds == 1.5
    assert "Your fit call trained 2 epochs and validated after each" in capsys.readouterr().out

    again = model.fit(batches, epochs=1, verbose=0)  # a second call on the same model
    history, seconds = models.checked_history(again, None, model, batches, batches, 2)
    said = capsys.readouterr().out
    assert "trained 1 epochs where the text asks for 2" in said and "validation_data" in said
    assert "trained 3 epochs in all" in said and "not measured" in said
    assert np.isnan(seconds)

    other = models.build_reference_model()
    elsewhere = other.fit(batches, epochs=2, validation_data=batches, verbose=0)
    models.checked_history(elsewhere, 1.0, model, batches, batches, 2)
    assert "trained another model" in capsys.readouterr().out
    with pytest.raises(TypeError, match="what model.fit returns"):
        models.checked_history({"loss": [1.0]}, 1.0, model, batches, batches, 2)
