"""The grader-provided reference model that 08's and 09's hidden tests use."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import models


def test_reference_model_is_loaded_from_the_variable(tmp_path, monkeypatch):
    from course_utils.setup import seed_everything

    seed_everything(3)
    saved = models.build_reference_model()
    path = tmp_path / "reference.keras"
    saved.save(path)
    monkeypatch.setenv(models.REFERENCE_MODEL_ENV, str(path))
    loaded = models.reference_model()
    images = np.random.default_rng(0).random((4, 28, 28)).astype("float32")
    assert np.allclose(loaded.predict(images, verbose=0), saved.predict(images, verbose=0),
                       atol=1e-6)


def test_a_missing_reference_file_is_an_error_not_a_silent_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv(models.REFERENCE_MODEL_ENV, str(tmp_path / "missing.keras"))
    with pytest.raises(FileNotFoundError, match=models.REFERENCE_MODEL_ENV):
        models.reference_model()


def test_fallback_trains_on_the_grading_slice(monkeypatch, mnist_file, capsys):
    from course_utils import data

    monkeypatch.delenv(models.REFERENCE_MODEL_ENV, raising=False)
    monkeypatch.setenv("MNIST_PATH", str(mnist_file))
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    model = models.reference_model()
    assert models.reference_model() is model  # trained once per process
    (_, _), (x_test, y_test) = data.load_mnist(verbose=False)
    predicted = model.predict(data.normalize_images(x_test), verbose=0).argmax(axis=1)
    assert np.mean(predicted == y_test) > 0.8  # 2,000 images, 3 epochs: well above chance
    assert capsys.readouterr().out == ""
