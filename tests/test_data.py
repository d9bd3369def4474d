"""Each source of the MNIST loader, each error path, grading mode, and the helpers."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from course_utils import data


def _write_npz(path: Path, n_train=12, n_test=5, **overrides) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def test_explicit_path_wins(tmp_path, capsys, monkeypatch):
    path = _write_npz(tmp_path / "m.npz")
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "elsewhere.npz"))
    (x_train, y_train), (x_test, y_test) = data.load_mnist(path)
    assert x_train.shape == (12, 28, 28) and x_test.shape == (5, 28, 28)
    out = capsys.readouterr().out
    # One line naming the file, never the folder: saved outputs carry no machine's paths.
    assert out.count("\n") == 1 and "m.npz (the path given)" in out
    assert str(tmp_path) not in out


def test_environment_variable(tmp_path, capsys, monkeypatch):
    path = _write_npz(tmp_path / "m.npz")
    monkeypatch.setenv("MNIST_PATH", str(path))
    monkeypatch.setattr(data, "_keras_mnist", lambda: pytest.fail("Keras must not be asked"))
    (x_train, _), _ = data.load_mnist()
    assert len(x_train) == 12
    out = capsys.readouterr().out
    assert "m.npz (the file MNIST_PATH names)" in out and str(tmp_path) not in out


def test_full_mnist_is_the_original(full_mnist):
    (x_train, y_train), (x_test, y_test) = full_mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and x_test.dtype == np.uint8
    assert list(y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert list(y_test[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert abs(float(x_train.mean()) / 255 - 0.1307) < 1e-3


def test_keras_source(monkeypatch, capsys):
    arrays = data.read_mnist_npz(data.sample_path())
    monkeypatch.setattr(data, "_keras_mnist", lambda: arrays)
    (x_train, _), _ = data.load_mnist()
    assert len(x_train) == 6000
    assert "from Keras" in capsys.readouterr().out


def test_keras_failing_falls_back_to_shipped_sample(monkeypatch, capsys):
    def offline():
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(data, "_keras_mnist", offline)
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (6000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert list(y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # real MNIST, original order
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "no network" in out and "sample" in out and "accuracy" in out


def test_sample_is_a_real_prefix_of_mnist(full_mnist):
    (x_full, y_full), (xt_full, yt_full) = full_mnist
    (x, y), (xt, yt) = data.read_mnist_npz(data.sample_path())
    assert np.array_equal(x, x_full[:6000]) and np.array_equal(y, y_full[:6000])
    assert np.array_equal(xt, xt_full[:1000]) and np.array_equal(yt, yt_full[:1000])


def test_missing_file(tmp_path):
    with pytest.raises(data.DataFileError, match=r"not found: .*nope\.npz.*Fix"):
        data.load_mnist(tmp_path / "nope.npz")


def test_truncated_file(tmp_path):
    broken = tmp_path / "mnist.npz"
    broken.write_bytes(data.sample_path().read_bytes()[:100_000])
    with pytest.raises(data.DataFileError, match=r"truncated or corrupt.*Fix"):
        data.load_mnist(broken)


def test_not_an_npz(tmp_path):
    broken = tmp_path / "mnist.npz"
    broken.write_text("hello")
    with pytest.raises(data.DataFileError, match=str(broken).replace(".", r"\.")):
        data.load_mnist(broken)


@pytest.mark.parametrize("overrides, message", [
    ({"x_train": np.zeros((12, 28, 27), np.uint8)}, "shape"),
    ({"x_test": np.zeros((5, 28, 28), np.float32)}, "uint8"),
    ({"y_train": np.zeros(11, np.uint8)}, "labels have shape"),
    ({"y_test": np.full(5, 12, np.uint8)}, "0 to 9"),
    ({"y_test": None}, "lacks y_test"),
])
def test_wrong_contents(tmp_path, overrides, message):
    path = _write_npz(tmp_path / "m.npz", **overrides)
    with pytest.raises(data.DataFileError, match=message) as error:
        data.load_mnist(path)
    assert str(path) in str(error.value) and "Fix" in str(error.value)


def test_bad_environment_path_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "missing.npz"))
    monkeypatch.setattr(data, "_keras_mnist", lambda: pytest.fail("no silent fallback"))
    with pytest.raises(data.DataFileError, match="missing.npz"):
        data.load_mnist()


def test_grading_mode_serves_a_fixed_slice(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    (x_train, y_train), (x_test, y_test) = data.load_mnist(data.sample_path())
    assert len(x_train) == data.GRADING_TRAIN_SIZE and len(x_test) == data.GRADING_TEST_SIZE
    assert list(y_train[:3]) == [5, 0, 4]
    assert "Grading mode" in capsys.readouterr().out


def test_one_hot_labels_and_normalize():
    assert data.one_hot_labels([5])[0].tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert data.one_hot_labels(np.array([1, 0]), num_classes=3).tolist() == [[0, 1, 0], [1, 0, 0]]
    images = np.array([[0, 255]], dtype=np.uint8)
    scaled = data.normalize_images(images)
    assert scaled.dtype == np.float32 and scaled.tolist() == [[0.0, 1.0]]
    assert images.tolist() == [[0, 255]]


def _idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_from_a_folder(tmp_path, capsys):
    rng = np.random.default_rng(1)
    _idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (6, 28, 28)))
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 6))
    _idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (4, 28, 28)))
    _idx(tmp_path / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 4))
    (x, y), (xt, yt) = data.load_fashion_mnist(tmp_path)
    assert x.shape == (6, 28, 28) and yt.shape == (4,)
    assert "Fashion-MNIST" in capsys.readouterr().out


def test_fashion_mnist_errors(tmp_path):
    with pytest.raises(data.DataFileError, match="lacks"):
        data.load_fashion_mnist(tmp_path)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes(b"\x1f\x8b broken")
    with pytest.raises(data.DataFileError, match="Could not read"):
        data.load_fashion_mnist(tmp_path)


@pytest.mark.skipif(not data.DEBIAN_FASHION_MNIST_DIR.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_is_complete():
    (x, y), (xt, yt) = data.read_fashion_mnist_dir(data.DEBIAN_FASHION_MNIST_DIR)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)


def test_prepare_digit_image_centres_and_inverts():
    paper = np.ones((100, 60))
    paper[20:80, 25:35] = 0.0  # a dark vertical stroke on white paper
    image = data.prepare_digit_image(paper)
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.max() > 0.9 and image[0].max() == 0.0  # light stroke, dark border
    rows, cols = np.nonzero(image > 0.5)
    assert rows.max() - rows.min() + 1 <= 20 and abs(cols.mean() - 13.5) < 1.5
    with pytest.raises(ValueError, match="blank"):
        data.prepare_digit_image(np.ones((10, 10)))


def test_load_digit_image_errors(tmp_path):
    bad = tmp_path / "digit.png"
    bad.write_text("not a picture")
    with pytest.raises(data.DataFileError, match="digit.png"):
        data.load_digit_image(bad)


def test_validation_split_carves_the_last_sixth_of_the_training_set():
    images = np.arange(60 * 2 * 2, dtype=np.uint8).reshape(60, 2, 2)
    labels = np.arange(60) % 10
    (x, y), (x_val, y_val) = data.validation_split(images, labels)
    assert (len(x), len(x_val)) == (50, 10)
    assert np.array_equal(np.concatenate([x, x_val]), images)  # disjoint, in order, all kept
    assert np.array_equal(np.concatenate([y, y_val]), labels)
    (x, _), (x_val, _) = data.validation_split(images, labels, fraction=0.25)
    assert (len(x), len(x_val)) == (45, 15)
    for fraction in (0, 1, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            data.validation_split(images, labels, fraction=fraction)
    with pytest.raises(ValueError, match="cannot carve"):
        data.validation_split(images[:3], labels[:3])
    with pytest.raises(ValueError, match="60 images but 59 labels"):
        data.validation_split(images, labels[:59])
