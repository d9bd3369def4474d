"""Instant-feedback checks for the course's exercises.

Why it exists: a learner who runs the cell after an exercise should learn at once whether the
answer is right and, when it is not, what is wrong and where to look. Each ``check_*`` function
calls the learner's function on a few visible cases and either prints one line starting with
a tick, or raises:

- :class:`NotAttempted` while the function still raises ``NotImplementedError``;
- :class:`Incorrect` (an ``AssertionError``) with a message and a hint when it is wrong.

The logic of what is right lives in the ``*_problems`` helpers (which return messages); the
``check_*`` wrappers only turn those into what the learner sees. The graded notebooks add
hidden tests of their own after these visible checks. The learner sees the outcome as a
short message, not a traceback through this module (see :class:`_Feedback`).
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np


class _Feedback(Exception):
    """Base of the check outcomes: IPython shows them as one short message, not a traceback.

    IPython calls ``_render_traceback_`` to display an exception. Ours shows the message
    (and, when the learner's own code raised, that error's traceback, which points into the
    learner's code); the frames of this module, which would only distract, are left out.
    """

    label = "Check failed:"

    def _render_traceback_(self) -> list[str]:
        lines: list[str] = []
        cause = self.__cause__
        if cause is not None:
            # Start at the learner's frame: the first one is this module's call().
            start = cause.__traceback__.tb_next if cause.__traceback__ else None
            lines += "".join(traceback.format_exception(type(cause), cause, start)).splitlines()
            lines.append("")
        lines.append(f"\x1b[1;31m\N{BALLOT X} {self.label}\x1b[0m {self}")
        return lines


class NotAttempted(_Feedback):
    """The exercise has not been written yet (it still raises NotImplementedError)."""

    label = "Not attempted yet:"


class Incorrect(_Feedback, AssertionError):
    """The exercise runs but gives a wrong answer; the message says what and hints how."""

    label = "Incorrect:"


def passed(message: str) -> None:
    """Tell the learner a check passed (one line, starting with a tick)."""
    print(f"\N{CHECK MARK} {message}")


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's ``function``, turning ``NotImplementedError`` into :class:`NotAttempted`
    and any other exception into :class:`Incorrect` with the original error in the message."""
    name = getattr(function, "__name__", "your function")
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise NotAttempted(
            f"{name} is not written yet: replace `raise NotImplementedError` in its cell with "
            f"your code, run that cell, then run this one again.") from None
    except Exception as error:  # the learner's code failed: say how, keep the cause
        raise Incorrect(f"{name}{_describe_args(args, kwargs)} raised "
                        f"{type(error).__name__}: {error}") from error


def _describe_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"({', '.join(parts)})"


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 40:
            return np.array2string(value, separator=", ", precision=4, max_line_width=100)
        return f"<array of shape {value.shape}, dtype {value.dtype}>"
    text = repr(value)
    return text if len(text) <= 40 else f"<{type(value).__name__}>"


def expect(condition: bool, message: str, hint: str = "") -> None:
    """Raise :class:`Incorrect` with ``message`` (and ``hint``) unless ``condition`` holds."""
    if not condition:
        raise Incorrect(message + (f"\nHint: {hint}" if hint else ""))


def expect_array(got: Any, expected: np.ndarray, what: str, hint: str = "",
                 atol: float = 1e-6) -> np.ndarray:
    """Check ``got`` is an array-like of ``expected``'s shape and values (within ``atol``)."""
    try:
        array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise Incorrect(f"{what} should be a NumPy array of numbers, got {type(got).__name__}."
                        + (f"\nHint: {hint}" if hint else "")) from None
    expect(array.shape == expected.shape,
           f"{what} has shape {array.shape}, expected {expected.shape}.", hint)
    close = np.allclose(array, expected, atol=atol, rtol=1e-5)
    expect(close, f"{what} is {_short(array)}, expected {_short(expected)}.", hint)
    return array


# --- 01 neurons ------------------------------------------------------------------------------

def check_neuron(neuron: Callable[..., Any]) -> None:
    """Visible check of ``neuron(inputs, weights, bias)``: ReLU of the weighted sum plus bias."""
    got = call(neuron, np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0]), 0.5)
    expect(np.ndim(got) == 0, f"neuron should return one number, got {_short(got)}.",
           "np.dot(inputs, weights) is already a single number.")
    expect(math.isclose(float(got), 5.0, abs_tol=1e-6),
           f"neuron([1, 2, 3], [0.5, -1, 2], 0.5) gave {float(got):g}, expected 5 "
           f"(0.5 - 2 + 6 + 0.5 = 5, and ReLU keeps it).",
           "add the bias to the weighted sum, then apply relu.")
    got = call(neuron, np.array([1.0, 2.0]), np.array([-1.0, -1.0]), 0.0)
    expect(math.isclose(float(got), 0.0, abs_tol=1e-6),
           f"neuron([1, 2], [-1, -1], 0) gave {float(got):g}, expected 0: the weighted sum is "
           f"-3 and ReLU turns negatives into 0.", "return np.maximum(0, y_sum).")
    passed("neuron computes relu(weighted sum + bias).")


# --- 02 layers -------------------------------------------------------------------------------

def check_dense_forward(dense_forward: Callable[..., Any]) -> None:
    """Visible check of ``dense_forward(x, weights, bias)`` = relu(x @ weights + bias)."""
    x = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]])
    weights = np.array([[1.0, -1.0, 0.5], [0.5, 2.0, -1.0]])
    bias = np.array([0.0, 1.0, -0.5])
    expected = np.maximum(0.0, x @ weights + bias)
    got = call(dense_forward, x, weights, bias)
    expect_array(got, expected, "dense_forward's output for a batch of 3 inputs",
                 "one matrix product does the whole batch: x @ weights + bias, then relu. "
                 "weights has one column per neuron.")
    passed(f"dense_forward maps a batch of shape {x.shape} to {expected.shape}, "
           f"matching relu(x @ W + b).")


# --- 03 activations --------------------------------------------------------------------------

_VECTOR = np.array([-3.0, -0.5, 0.0, 0.5, 4.0])


def check_relu(relu: Callable[..., Any]) -> None:
    """Visible check of ``relu(x)``."""
    expect_array(call(relu, _VECTOR), np.maximum(0.0, _VECTOR), f"relu({_short(_VECTOR)})",
                 "negative values become 0, the rest stay: np.maximum(0, x).")
    passed("relu keeps positives and zeroes negatives.")


def check_sigmoid(sigmoid: Callable[..., Any]) -> None:
    """Visible check of ``sigmoid(x)``."""
    expect_array(call(sigmoid, _VECTOR), 1.0 / (1.0 + np.exp(-_VECTOR)),
                 f"sigmoid({_short(_VECTOR)})", "sigmoid(x) = 1 / (1 + exp(-x)).")
    passed("sigmoid squashes every number into (0, 1).")


def check_softmax(softmax: Callable[..., Any]) -> None:
    """Visible check of ``softmax(x)`` on a vector, a batch and large numbers."""
    vector = np.array([1.0, 2.0, 3.0])
    expected = np.exp(vector) / np.exp(vector).sum()
    expect_array(call(softmax, vector), expected, "softmax([1, 2, 3])",
                 "exponentiate, then divide by the sum of the exponentials.")
    batch = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    expected_batch = np.exp(batch) / np.exp(batch).sum(axis=-1, keepdims=True)
    expect_array(call(softmax, batch), expected_batch, "softmax of a batch of 2 rows",
                 "sum over the last axis only: np.sum(e, axis=-1, keepdims=True).")
    big = np.array([1000.0, 1001.0, 1002.0])
    with np.errstate(over="ignore", invalid="ignore"):
        got = call(softmax, big)
    expect_array(got, expected, "softmax([1000, 1001, 1002])",
                 "exp(1000) overflows: subtract the largest value first. The result does "
                 "not change, because softmax(x - c) = softmax(x).")
    passed("softmax gives probabilities that sum to 1, row by row, even for large inputs.")


# --- 04 data and preprocessing ---------------------------------------------------------------

def check_normalize(normalize: Callable[..., Any]) -> None:
    """Visible check of ``normalize(images)``: float32 values 0..1 of the same shape."""
    images = np.array([[[0, 51], [255, 102]]], dtype=np.uint8)
    got = call(normalize, images)
    expect(isinstance(got, np.ndarray), f"normalize should return a NumPy array, "
           f"got {type(got).__name__}.")
    expect(got.dtype == np.float32, f"normalize returned {got.dtype} values, expected float32.",
           "images.astype('float32') / 255 keeps float32; dividing a uint8 array by 255 "
           "gives float64, twice the memory.")
    expect_array(got, images / 255.0, "normalize of pixels [[0, 51], [255, 102]]",
                 "divide by 255, the largest pixel value.")
    expect(images[0, 1, 0] == 255, "normalize changed its input; return a new array instead.")
    passed("normalize scales pixels to float32 values from 0 to 1.")


def _expect_one_hot_case(one_hot: Callable[..., Any], labels: Any, num_classes: int = 10) -> None:
    """Raise :class:`Incorrect` unless ``one_hot(labels, num_classes)`` is right for these labels."""
    got = call(one_hot, labels, num_classes=num_classes)
    flat = np.asarray(labels).reshape(-1).astype(int)
    expected = np.zeros((flat.size, num_classes))
    expected[np.arange(flat.size), flat] = 1.0
    what = f"one_hot({_short(np.asarray(labels))}, num_classes={num_classes})"
    array = np.asarray(got)
    expect(array.shape == expected.shape,
           f"{what} has shape {array.shape}, expected {expected.shape}: one row per label and "
           f"one column per class.",
           "use num_classes for the number of columns, not the largest label you see.")
    expect(np.issubdtype(array.dtype, np.floating),
           f"{what} holds {array.dtype} values; Keras's loss expects floats.",
           "build it with float zeros (np.zeros(..., dtype='float32')) or .astype('float32').")
    expect_array(array, expected, what,
                 "each row is all zeros except a 1 at the column of its label.")


def check_one_hot(one_hot: Callable[..., Any]) -> None:
    """Visible check of ``one_hot(labels, num_classes=10)``."""
    _expect_one_hot_case(one_hot, np.array([5]))
    _expect_one_hot_case(one_hot, np.array([0, 3, 9, 3]))
    passed("one_hot turns label 5 into [0 0 0 0 0 1 0 0 0 0], and a batch into one row each.")


# --- 05 building the model -------------------------------------------------------------------

_ALLOWED_LAYERS = ("InputLayer", "Flatten", "Reshape", "Dense", "Activation", "ReLU", "Softmax")


def _effective_activations(model: Any) -> list[tuple[Any, list[Callable[[Any], Any]]]]:
    """Pair each Dense layer with the activations applied after its weighted sum.

    A Dense layer's own ``activation`` counts, and so do Activation, ReLU and Softmax layers
    that follow it before the next Dense layer: both spellings mean the same network.
    """
    import keras

    groups: list[tuple[Any, list[Callable[[Any], Any]]]] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            groups.append((layer, [layer.activation]))
        elif isinstance(layer, (keras.layers.Activation, keras.layers.ReLU,
                                keras.layers.Softmax)) and groups:
            groups[-1][1].append(layer)
    return groups


def _apply(functions: list[Callable[[Any], Any]], values: np.ndarray) -> np.ndarray:
    import keras

    x = keras.ops.convert_to_tensor(values.astype("float32"))
    for function in functions:
        x = function(x)
    return np.asarray(keras.ops.convert_to_numpy(x))


def model_problems(model: Any) -> list[str]:
    """Everything that keeps ``model`` from being the course's compiled reference model.

    Checks behaviour and structure through public Keras 3 APIs only: the output on a batch
    of images, the layers and their activations (applied to test values, not compared by
    name), the parameter count, the loss (evaluated on known values), the optimizer class and
    the accuracy metric (evaluated on a batch). Returns an empty list when all is right.
    """
    import keras

    if not isinstance(model, keras.Model):
        return [f"build_model should return a Keras model, it returned {type(model).__name__} "
                f"(did you forget `return model`?)."]
    problems = []
    rng = np.random.default_rng(0)
    images = rng.random((4, 28, 28)).astype("float32")
    try:
        outputs = np.asarray(model.predict(images, verbose=0))
    except Exception as error:
        return [f"the model cannot take a batch of 28x28 images: {type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''} Start it with "
                f"keras.Input(shape=(28, 28)) and a Flatten layer."]
    if outputs.shape != (4, 10):
        problems.append(f"for a batch of 4 images the model outputs shape {outputs.shape}, "
                        f"expected (4, 10): one probability per digit. Is there a Flatten "
                        f"layer before the Dense layers?")
    elif not (np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-4)):
        problems.append("the outputs are not probabilities (each row should be >= 0 and sum "
                        "to 1): the last layer needs the softmax activation.")
    unexpected = [type(layer).__name__ for layer in model.layers
                  if type(layer).__name__ not in _ALLOWED_LAYERS]
    if unexpected:
        problems.append(f"the model has layers the reference model does not: "
                        f"{', '.join(unexpected)}. Use only Flatten and two Dense layers.")
    groups = _effective_activations(model)
    if len(groups) != 2:
        problems.append(f"the model has {len(groups)} Dense layer(s), expected 2: a hidden "
                        f"layer of 512 units and an output layer of 10.")
    else:
        (hidden, hidden_acts), (output, output_acts) = groups
        if hidden.units != 512:
            problems.append(f"the hidden Dense layer has {hidden.units} units, expected 512.")
        if output.units != 10:
            problems.append(f"the output Dense layer has {output.units} units, expected 10: "
                            f"one per digit.")
        probe = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
        if not np.allclose(_apply(hidden_acts, probe), np.maximum(probe, 0.0), atol=1e-6):
            problems.append("the hidden layer's activation is not ReLU.")
        softmax = np.exp(probe) / np.exp(probe).sum()
        if not np.allclose(_apply(output_acts, probe), softmax, atol=1e-5):
            problems.append("the output layer's activation is not softmax.")
    if model.count_params() != 407_050:
        problems.append(f"the model has {model.count_params():,} parameters, expected 407,050 "
                        f"(784*512 + 512 + 512*10 + 10).")
    problems += compile_problems(model)
    return problems


def compile_problems(model: Any) -> list[str]:
    """What is wrong with how ``model`` was compiled (loss, optimizer, accuracy metric)."""
    import keras

    if not getattr(model, "compiled", False) or model.optimizer is None:
        return ["the model is not compiled: call model.compile(loss=..., optimizer=..., "
                "metrics=[...]) before returning it."]
    problems = []
    y_true = np.eye(10, dtype="float32")[[1, 3]]
    y_pred = np.full((2, 10), 0.05, dtype="float32")
    y_pred[0, 1], y_pred[1, 3] = 0.55, 0.2
    y_pred /= y_pred.sum(axis=1, keepdims=True)
    reference = float(np.mean(-np.log(y_pred[y_true == 1])))
    try:
        loss = keras.losses.get(model.loss)
        value = float(np.mean(keras.ops.convert_to_numpy(loss(y_true, y_pred))))
    except Exception:
        value = math.nan
    if not math.isclose(value, reference, rel_tol=1e-3):
        problems.append(f"the loss is {_name_of(model.loss)}, expected categorical "
                        f"cross-entropy (on probabilities, with one-hot labels).")
    optimizer = model.optimizer
    if not isinstance(optimizer, keras.optimizers.Adam) or \
            isinstance(optimizer, keras.optimizers.AdamW):
        problems.append(f"the optimizer is {type(optimizer).__name__}, expected Adam.")
    if not problems:
        problems += _accuracy_problems(model)
    return problems


def _accuracy_problems(model: Any) -> list[str]:
    rng = np.random.default_rng(1)
    images = rng.random((16, 28, 28)).astype("float32")
    predicted = np.asarray(model.predict(images, verbose=0)).argmax(axis=1)
    labels = np.eye(10, dtype="float32")[(predicted + np.arange(16) % 2) % 10]
    expected = float(np.mean(labels.argmax(axis=1) == predicted))  # 0.5 by construction
    try:
        results = model.evaluate(images, labels, verbose=0, return_dict=True)
    except Exception as error:
        return [f"evaluating the compiled model failed: {type(error).__name__}: {error}"]
    accuracies = {k: v for k, v in results.items() if "acc" in k}
    if not any(math.isclose(float(v), expected, abs_tol=1e-6) for v in accuracies.values()):
        return ["the model does not report accuracy: compile it with metrics=['accuracy']."]
    return []


def _name_of(thing: Any) -> str:
    if isinstance(thing, str):
        return repr(thing)
    return getattr(thing, "name", None) or getattr(thing, "__name__", None) or \
        type(thing).__name__


def check_build_model(build_model: Callable[[], Any]) -> None:
    """Visible check of ``build_model()`` against the whole reference-model contract."""
    model = call(build_model)
    problems = model_problems(model)
    expect(not problems, "build_model's model is not the reference model yet:\n- "
           + "\n- ".join(problems))
    passed("build_model returns the compiled reference model: 784 -> 512 (relu) -> 10 "
           "(softmax), 407,050 parameters, categorical cross-entropy, Adam, accuracy.")


# --- 06 training -----------------------------------------------------------------------------

def check_steps_per_epoch(steps_per_epoch: Callable[..., Any]) -> None:
    """Visible check of ``steps_per_epoch(num_examples, batch_size)``."""
    got = call(steps_per_epoch, 60000, 32)
    expect(got == 1875, f"steps_per_epoch(60000, 32) gave {got!r}, expected 1875.",
           "each step uses one batch: divide the number of examples by the batch size.")
    got = call(steps_per_epoch, 100, 32)
    expect(got == 4 and isinstance(got, (int, np.integer)),
           f"steps_per_epoch(100, 32) gave {got!r}, expected the whole number 4: three full "
           f"batches of 32 and a last, smaller batch of 4.", "round up with math.ceil.")
    passed("steps_per_epoch counts the batches in an epoch, the last partial one included.")


# --- 07 evaluating ---------------------------------------------------------------------------

def check_accuracy(accuracy: Callable[..., Any]) -> None:
    """Visible check of ``accuracy(probabilities, labels)``."""
    probabilities = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5],
                              [0.6, 0.3, 0.1]])
    labels = np.array([1, 0, 1, 2])
    got = call(accuracy, probabilities, labels)
    expect(np.ndim(got) == 0, f"accuracy should return one number, got {_short(got)}.")
    expect(math.isclose(float(got), 0.5, abs_tol=1e-9),
           f"accuracy gave {float(got):g} for 2 right answers out of 4, expected 0.5.",
           "the predicted class is the argmax of each row (axis=1); compare it with the labels "
           "and take the mean of the matches.")
    passed("accuracy is the fraction of rows whose most probable class is the label.")


# --- 08 predicting ---------------------------------------------------------------------------

def check_predict_digit(predict_digit: Callable[..., Any], model: Any,
                        images: np.ndarray) -> None:
    """Visible check of ``predict_digit(model, image)`` against ``model.predict``."""
    expected = np.asarray(model.predict(images[:3], verbose=0)).argmax(axis=1)
    for index in range(3):
        got = call(predict_digit, model, images[index])
        expect(isinstance(got, (int, np.integer)),
               f"predict_digit returned {got!r} ({type(got).__name__}); expected a plain int.",
               "int(np.argmax(probabilities)) turns the index into an int.")
        expect(int(got) == int(expected[index]),
               f"predict_digit(model, images[{index}]) gave {got}, but the model's most "
               f"probable class is {expected[index]}.",
               "the model wants a batch: image[np.newaxis] has shape (1, 28, 28); take the "
               "argmax of the first row of the prediction.")
    passed("predict_digit gives the model's most probable class for one image.")


# --- 09 going further ------------------------------------------------------------------------

def check_dataset_megabytes(dataset_megabytes: Callable[..., Any]) -> None:
    """Visible check of ``dataset_megabytes(num_images, dtype)``."""
    cases = [((60000, "uint8"), 47.04), ((60000, "float32"), 188.16),
             ((60000, "float64"), 376.32)]
    for (count, dtype), expected in cases:
        got = call(dataset_megabytes, count, dtype)
        expect(np.ndim(got) == 0 and math.isclose(float(got), expected, rel_tol=1e-6),
               f"dataset_megabytes({count}, {dtype!r}) gave {got!r}, expected {expected}.",
               "bytes = images * 28 * 28 * bytes per value (np.dtype(dtype).itemsize); one "
               "megabyte here is 1,000,000 bytes.")
    passed("dataset_megabytes: 47 MB as uint8, 188 MB as float32, 376 MB as float64.")
