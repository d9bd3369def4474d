"""Loading and preparing the course's data sets (MNIST, and Fashion-MNIST for going further).

Why it exists: ``keras.datasets.mnist.load_data()`` needs the internet the first time, which a
classroom, a train or a test machine may not have. :func:`load_mnist` returns the same arrays
from the first source that works, in this order:

1. a file the caller names (the ``path`` argument, else the ``MNIST_PATH`` environment
   variable) holding a Keras-format ``mnist.npz``: how a class pre-stages the data;
2. Keras itself (its cache in ``~/.keras/datasets``, downloading when online);
3. a small real sample of MNIST shipped inside this package, with a clear message that
   accuracy will be lower.

It says in one line which source it used. A named file that is missing, truncated or of the
wrong shape is an error that names the file and the fix; it is never silently replaced.
While nbgrader grades (see :mod:`course_utils.mode`) it returns a fixed slice of the data.
"""

from __future__ import annotations

import gzip
import os
import textwrap
import zipfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from course_utils.mode import grading_mode

#: Environment variable holding the path of a Keras-format ``mnist.npz``.
MNIST_PATH_ENV = "MNIST_PATH"
#: Environment variable holding a folder with the four Fashion-MNIST ``*-ubyte.gz`` files.
FASHION_MNIST_DIR_ENV = "FASHION_MNIST_DIR"
#: Where Debian's ``dataset-fashion-mnist`` package puts those files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
#: The sample shipped in the package: the first 6,000 training and 1,000 test digits.
SAMPLE_RESOURCE = "mnist_sample.npz"
#: How many training and test images the course uses while nbgrader grades.
GRADING_TRAIN_SIZE = 2000
GRADING_TEST_SIZE = 1000
#: The names of the ten Fashion-MNIST classes, in label order.
FASHION_CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import tensorflow as tf

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DataFileError(OSError):
    """A data file is missing, unreadable or does not hold what it should."""


def _fix_hint() -> str:
    return (
        "Fix: point MNIST_PATH (or the path argument) at a complete Keras-format mnist.npz, "
        "for example a fresh copy of ~/.keras/datasets/mnist.npz, or unset MNIST_PATH to let "
        "Keras download the data."
    )


def validate_arrays(arrays: Arrays, source: str) -> Arrays:
    """Check that ``arrays`` look like MNIST and return them unchanged.

    Images must be ``uint8`` of shape ``(n, 28, 28)``, labels integers 0..9 of shape ``(n,)``,
    with as many labels as images.

    Raises:
        DataFileError: naming ``source`` and what is wrong.
    """
    for (images, labels), split in zip(arrays, ("training", "test")):
        images, labels = np.asarray(images), np.asarray(labels)
        problem = None
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            problem = f"{split} images have shape {images.shape}, expected (n, 28, 28)"
        elif images.dtype != np.uint8:
            problem = f"{split} images are {images.dtype}, expected uint8 pixels 0..255"
        elif labels.shape != (images.shape[0],):
            problem = (f"{split} labels have shape {labels.shape}, expected "
                       f"({images.shape[0]},) to match the images")
        elif not np.issubdtype(labels.dtype, np.integer) or labels.size and (
                labels.min() < 0 or labels.max() > 9):
            problem = f"{split} labels are not integers from 0 to 9"
        elif images.shape[0] == 0:
            problem = f"the {split} split is empty"
        if problem:
            raise DataFileError(f"{source} does not hold MNIST: {problem}. {_fix_hint()}")
    return arrays


def read_mnist_npz(path: str | os.PathLike[str]) -> Arrays:
    """Read and validate a Keras-format ``mnist.npz``.

    Raises:
        DataFileError: the file is missing, truncated, not an ``.npz``, lacks one of the arrays
            ``x_train, y_train, x_test, y_test`` or holds arrays of the wrong shape.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFileError(f"MNIST file not found: {path}. {_fix_hint()}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in _KEYS if key not in npz.files]
            if missing:
                raise DataFileError(
                    f"{path} is not a Keras-format MNIST file: it lacks {', '.join(missing)}. "
                    f"{_fix_hint()}")
            x_train, y_train, x_test, y_test = (npz[key] for key in _KEYS)
    except DataFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise DataFileError(
            f"Could not read {path}: the file is truncated or corrupt ({error}). "
            f"{_fix_hint()}") from error
    return validate_arrays(((x_train, y_train), (x_test, y_test)), str(path))


def _keras_mnist() -> Arrays:
    import keras  # imported only here: it brings TensorFlow with it

    return keras.datasets.mnist.load_data()


def sample_path() -> Path:
    """Return the path of the MNIST sample shipped with the package."""
    return Path(str(resources.files("course_utils") / "_data" / SAMPLE_RESOURCE))


def _grading_slice(arrays: Arrays) -> Arrays:
    (x_train, y_train), (x_test, y_test) = arrays
    return ((x_train[:GRADING_TRAIN_SIZE], y_train[:GRADING_TRAIN_SIZE]),
            (x_test[:GRADING_TEST_SIZE], y_test[:GRADING_TEST_SIZE]))


def _sizes(arrays: Arrays) -> str:
    (x_train, _), (x_test, _) = arrays
    return f"{len(x_train):,} training and {len(x_test):,} test images"


def load_mnist(path: str | os.PathLike[str] | None = None, *, verbose: bool = True) -> Arrays:
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``, like Keras does.

    Images are ``uint8`` arrays of shape ``(n, 28, 28)`` with pixels 0..255; labels are
    integers 0..9 of shape ``(n,)``. The full set has 60,000 training and 10,000 test images.

    Args:
        path: a Keras-format ``mnist.npz`` to read. When None, the ``MNIST_PATH`` environment
            variable is used if set, then Keras, then the sample shipped with the course.
        verbose: print the one line that says where the data came from.

    Raises:
        DataFileError: a named file (argument or ``MNIST_PATH``) is missing or broken.
    """
    named_by = "the path given"
    if path is None and os.environ.get(MNIST_PATH_ENV):
        path, named_by = os.environ[MNIST_PATH_ENV], f"the file {MNIST_PATH_ENV} names"
    if path is not None:
        arrays = read_mnist_npz(path)
        # The file's name, not its folder: a notebook's saved output must not carry one
        # machine's paths (errors still give the whole path, where it helps to fix them).
        message = f"MNIST: {_sizes(arrays)} from {Path(path).name} ({named_by})."
    else:
        try:
            arrays = validate_arrays(_keras_mnist(), "Keras's MNIST")
            message = f"MNIST: {_sizes(arrays)} from Keras (~/.keras/datasets)."
        except Exception as error:  # offline, blocked or corrupt cache: fall back, and say so
            arrays = read_mnist_npz(sample_path())
            reason = textwrap.shorten(str(error) or type(error).__name__, 160,
                                      placeholder=" ...")
            message = (f"MNIST: Keras could not load the full data set ({reason}); using the "
                       f"sample shipped with the course, {_sizes(arrays)}. Expect accuracy a "
                       f"few points lower than with the full data.")
    if grading_mode():
        arrays = _grading_slice(arrays)
        message += f" Grading mode: using the first {_sizes(arrays)}."
    if verbose:
        print(message)
    return arrays


def validation_split(images: np.ndarray, labels: np.ndarray, *,
                     fraction: float = 1 / 6) -> Arrays:
    """Carve a validation set from the end of a training set: ``((x, y), (x_val, y_val))``.

    Why: settings (epochs, learning rate, model size) must be chosen on images the model does
    not train on, and never on the test set, which is kept for one final measurement. The
    last ``fraction`` of the images (10,000 of MNIST's 60,000 by default) become the
    validation set; the rest are the images to train on. The arrays are views, not copies.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, not {fraction}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    split = len(images) - int(len(images) * fraction)
    if not 0 < split < len(images):
        raise ValueError(f"cannot carve a validation set of {fraction:.0%} from "
                         f"{len(images)} images")
    return (images[:split], labels[:split]), (images[split:], labels[split:])


def normalize_images(images: np.ndarray) -> np.ndarray:
    """Scale ``uint8`` pixels 0..255 to ``float32`` values 0..1 (the course's reference).

    Divides in place after one copy, so the peak memory is one ``float32`` array, not two.
    """
    scaled = np.array(images, dtype=np.float32)
    scaled /= np.float32(255.0)
    return scaled


def one_hot_labels(labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Turn integer labels of shape ``(n,)`` into ``float32`` one-hot rows ``(n, num_classes)``."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    return np.eye(num_classes, dtype=np.float32)[labels]


def _read_idx_gz(path: Path, ndim: int) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise DataFileError(f"Could not read {path}: truncated or not gzip ({error}). Fix: "
                            f"reinstall or re-download the Fashion-MNIST files.") from error
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if len(raw) < header or raw[2] != 0x08 or raw[3] != ndim or \
            len(raw) != header + int(np.prod(dims)):
        raise DataFileError(f"{path} is not a complete IDX file of {ndim} dimensions. Fix: "
                            f"reinstall or re-download the Fashion-MNIST files.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_fashion_mnist_dir(directory: str | os.PathLike[str]) -> Arrays:
    """Read the four Fashion-MNIST ``*-idx*-ubyte.gz`` files from ``directory``."""
    directory = Path(directory)
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        raise DataFileError(f"{directory} lacks {', '.join(missing)}. Fix: point "
                            f"{FASHION_MNIST_DIR_ENV} at a folder holding all four files.")
    x_train, y_train, x_test, y_test = (
        _read_idx_gz(directory / name, 3 if "images" in name else 1) for name in names)
    return validate_arrays(((x_train, y_train), (x_test, y_test)), str(directory))


def load_fashion_mnist(directory: str | os.PathLike[str] | None = None, *,
                       verbose: bool = True) -> Arrays:
    """Load Fashion-MNIST (same shapes as MNIST: clothes instead of digits).

    Looks at ``directory`` (else ``FASHION_MNIST_DIR``), then Debian's
    ``/usr/share/datasets/fashion-mnist`` (package ``dataset-fashion-mnist``), then Keras.
    In grading mode it returns the same size of slice as :func:`load_mnist`.

    Raises:
        DataFileError: a named folder lacks the files, or no source works.
    """
    if directory is None and os.environ.get(FASHION_MNIST_DIR_ENV):
        directory = os.environ[FASHION_MNIST_DIR_ENV]
    if directory is None and DEBIAN_FASHION_MNIST_DIR.is_dir():
        directory = DEBIAN_FASHION_MNIST_DIR
    if directory is not None:
        arrays = read_fashion_mnist_dir(directory)
        where = ("Debian's dataset-fashion-mnist package"
                 if Path(directory) == DEBIAN_FASHION_MNIST_DIR
                 else f"the folder {Path(directory).name}")
        message = f"Fashion-MNIST: {_sizes(arrays)} from {where}."
    else:
        try:
            import keras

            arrays = validate_arrays(keras.datasets.fashion_mnist.load_data(),
                                     "Keras's Fashion-MNIST")
        except DataFileError:
            raise
        except Exception as error:
            raise DataFileError(
                f"Fashion-MNIST is not available ({error}). Fix: connect to the internet so "
                f"Keras can download it, install Debian's dataset-fashion-mnist package, or "
                f"set {FASHION_MNIST_DIR_ENV} to a folder with its four files.") from error
        message = f"Fashion-MNIST: {_sizes(arrays)} from Keras (~/.keras/datasets)."
    if grading_mode():
        arrays = _grading_slice(arrays)
        message += f" Grading mode: using the first {_sizes(arrays)}."
    if verbose:
        print(message)
    return arrays


def prepare_digit_image(pixels: np.ndarray) -> np.ndarray:
    """Make any greyscale picture of one digit look like an MNIST test image.

    MNIST digits are light strokes on a black background, fitted into a 20x20 box and centred
    by their centre of mass in a 28x28 image, with values 0..1. This does the same to
    ``pixels`` (a 2-D array of any size, values 0..1 or 0..255, dark-on-light or light-on-dark)
    and returns a ``float32`` array of shape ``(28, 28)``.
    """
    from PIL import Image

    image = np.asarray(pixels, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D greyscale image, got shape {image.shape}")
    if image.max() > 1.0:
        image = image / 255.0
    if np.median(image) > 0.5:  # dark ink on light paper: invert to MNIST's light-on-dark
        image = 1.0 - image
    rows, cols = np.nonzero(image > 0.1)
    if rows.size == 0:
        raise ValueError("the image is blank: no stroke darker or lighter than the background")
    image = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = 20.0 / max(image.shape)
    height, width = (max(1, round(side * scale)) for side in image.shape)
    small = np.asarray(Image.fromarray((image * 255).astype(np.uint8)).resize(
        (width, height), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    canvas = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - height) // 2, (28 - width) // 2
    canvas[top:top + height, left:left + width] = small
    mass_row, mass_col = (np.average(np.indices(canvas.shape)[axis], weights=canvas)
                          for axis in (0, 1))
    shift_row = int(np.clip(round(13.5 - mass_row), -top, 28 - height - top))
    shift_col = int(np.clip(round(13.5 - mass_col), -left, 28 - width - left))
    return np.roll(canvas, (shift_row, shift_col), axis=(0, 1)).clip(0.0, 1.0)


def load_digit_image(path: str | os.PathLike[str] | bytes) -> np.ndarray:
    """Read a picture of one digit (PNG, JPEG, ...) and prepare it like MNIST (28x28, 0..1).

    Args:
        path: the picture's file path, or the bytes of the file itself (an upload).
    """
    import io

    from PIL import Image, UnidentifiedImageError

    if isinstance(path, (bytes, bytearray, memoryview)):
        source, name = io.BytesIO(bytes(path)), "you uploaded"
    else:
        source = Path(path).expanduser()
        name = str(source)
    try:
        with Image.open(source) as picture:
            grey = np.asarray(picture.convert("L"), dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as error:
        raise DataFileError(f"Could not read the image {name} ({error}). Fix: give a PNG or JPEG "
                            f"picture of one digit.") from error
    return prepare_digit_image(grey)


def batches(images: np.ndarray, labels: np.ndarray, batch_size: int = 32, *,
            shuffle: bool = False, seed: int = 0) -> "tf.data.Dataset":
    """Serve ``(pixels, one-hot labels)`` batches, preprocessing one batch at a time.

    Does exactly what notebook 4's ``normalize`` and ``one_hot`` do (``float32`` pixels 0..1,
    ``float32`` one-hot rows), but only to the batch being trained on, so only the ``uint8``
    images stay in memory: 47 MB for the training set instead of 188 MB as ``float32``, and
    Keras does not make a copy of its own. That is what keeps training under 1 GB.

    Args:
        images: ``uint8`` pixels of shape ``(n, 28, 28)``.
        labels: integer labels of shape ``(n,)``.
        batch_size: examples per batch (the last batch may be smaller).
        shuffle: reshuffle the examples every epoch (for training).
        seed: the shuffle's seed, so runs repeat.
    """
    from course_utils.setup import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    images = np.asarray(images)
    labels = np.asarray(labels).astype(np.int32)
    if images.dtype != np.uint8:
        raise ValueError(f"batches expects uint8 pixels 0..255, got {images.dtype}: pass the "
                         f"images from load_mnist(), before normalising them")
    # One copy of the pixels as a tensor; the pipeline shuffles and batches only indices into
    # it. (Shuffling the images themselves would refill a 60,000-image buffer every epoch,
    # and the resident memory grew by about 50 MB an epoch when measured.)
    pixels, targets = tf.constant(images), tf.constant(labels)
    dataset = tf.data.Dataset.range(len(images))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)

    def preprocess(indices: "tf.Tensor") -> tuple["tf.Tensor", "tf.Tensor"]:
        batch = tf.cast(tf.gather(pixels, indices), tf.float32) / 255.0
        return batch, tf.one_hot(tf.gather(targets, indices), 10, dtype=tf.float32)

    return dataset.batch(batch_size).map(preprocess).prefetch(2)
