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
