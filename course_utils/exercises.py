"""The course's exercises as contracts: what counts as right, and the messages that say why not.

Why it exists: an exercise is checked twice, by the visible check a learner runs in the
notebook (:mod:`course_utils.checks`) and by the grader, which confirms every passing answer
outside the learner's kernel on cases it draws there. If the two judged apart they would
drift: a ✓ the grade does not honour, or a grade that passes what the check rejects. So each
exercise's judgement is written down once here, as

- its *visible cases*: the arguments of one call and the expected result, stored as data in
  ``_data/visible_cases.npz`` (the grading side's build computes them from its reference
  implementations; nothing here computes an expected result, for any input);
- a *comparison* that turns what the learner's function returned into ``None`` (right) or a
  one-line message that says what is wrong, from the case's stored expectation.

:func:`judge` runs a learner's function on cases and raises an outcome with a meaning:
:class:`NotAttempted` (the stub still raises ``NotImplementedError``) or :class:`Incorrect`
(an ``AssertionError``, so nbgrader takes the points away). The learner's function gets copies
of the arguments, never the cases' own arrays, and a ``None``, a list, a tensor, a wrong dtype
or an exception each get their own message. How an outcome is *shown* lives in
:mod:`course_utils.checks`, not here.

The model exercises (``build_model``, ``predict_digit``) import Keras when they run; nothing
else here does. Importing this module imports no TensorFlow and reads no file: the stored
cases are read the first time a check needs them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from course_utils import plain

#: The file, in the package's ``_data`` folder, holding the visible cases (written by the
#: grading side's build, ``python -m course_grading.build``).
VISIBLE_CASES_FILE = "visible_cases.npz"
#: The layout of that file this module reads.
VISIBLE_CASES_FORMAT = 1


# --- outcomes --------------------------------------------------------------------------------

class Outcome(Exception):
    """Base of what checking an exercise can end in, other than success."""


class NotAttempted(Outcome):
    """The function is still the stub: it raises ``NotImplementedError``."""


class Incorrect(Outcome, AssertionError):
    """The function runs but is wrong; the message says what, and a hint says where to look.

    When the learner's own code raised, that exception is the ``__cause__``.
    """


# --- cases and exercises ---------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One call of the learner's function and the result it must give."""

    #: Positional arguments; the learner's function receives copies of them.
    args: tuple[Any, ...]
    #: The expected result, stored with the case (the answer key computed it).
    expected: Any
    #: Keyword arguments, copied like ``args``.
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    #: Whether the learner's check runs this case (the grading side also keeps hidden ones).
    visible: bool = True
    #: How to write the call in a message, e.g. ``"relu([-3, 0, 2])"``; made from the
    #: arguments when empty.
    call: str = ""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its name, how a result is judged, and what the learner reads."""

    #: The function's name, also the nbgrader ``grade_id`` of its solution cell.
    name: str
    #: ``compare(got, case, passed)`` returns None when ``got`` is right for ``case``, else a
    #: one-line message. ``passed`` holds the copies the learner's function received.
    compare: Callable[[Any, Case, tuple[Any, ...]], str | None]
    #: Said after a wrong answer: where to look.
    hint: str
    #: The one line a learner reads when the check passes.
    success: str
    #: Whether a wrong answer's message ends with ``hint``. An exercise whose point is a decision
    #: (a floor under the log, a rate, what counts as an improvement) keeps its hint for
    #: ``checks.hint``, one step at a time, so that one wrong try does not hand the decision over.
    hint_with_failure: bool = True

    def visible_cases(self) -> list[Case]:
        """The cases the visible check runs, read afresh from the stored file (new arrays on
        every call, so nothing a learner's function did to them outlives one check)."""
        stored = _read_visible_cases()["cases"].get(self.name, [])
        return [Case(tuple(case["args"]), case["expected"], kwargs=dict(case["kwargs"]),
                     call=case["call"]) for case in stored]


#: The stored file's bytes, read once, on first use.
_visible_cases_bytes: bytes | None = None


def visible_cases_path() -> Path:
    """Where the stored visible cases are: the package's ``_data`` folder."""
    return Path(__file__).resolve().parent / "_data" / VISIBLE_CASES_FILE


def _read_visible_cases() -> dict[str, Any]:
    """The stored visible cases and the stand-in model's weights, decoded afresh.

    Raises:
        FileNotFoundError: the file is missing (a checkout that was never built).
        plain.PlainDataError: the file is not plain data of the expected layout.
    """
    global _visible_cases_bytes
    if _visible_cases_bytes is None:
        path = visible_cases_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: the course's stored cases are missing. Reinstall course_utils, or "
                f"in a checkout run `python -m course_grading.build`.")
        _visible_cases_bytes = path.read_bytes()
    value = plain.unpack(_visible_cases_bytes)
    if not isinstance(value, dict) or value.get("format") != VISIBLE_CASES_FORMAT:
        raise plain.PlainDataError(f"{VISIBLE_CASES_FILE} is not in format "
                                   f"{VISIBLE_CASES_FORMAT}: reinstall course_utils")
    return value


def judge(exercise: Exercise, function: Callable[..., Any], cases: list[Case]) -> int:
    """Run ``function`` on every case; return how many passed, or raise an outcome.

    Raises:
        NotAttempted: ``function`` raised ``NotImplementedError``.
        Incorrect: ``function`` raised, or returned a wrong result, on some case.
    """
    if not callable(function):
        raise Incorrect(f"{exercise.name} is {describe(function)}, not a function: run the "
                        f"cell that defines it.")
    for case in cases:
        passed = tuple(_copy(a) for a in case.args)
        kwargs = {k: _copy(v) for k, v in case.kwargs.items()}
        call_text = case.call or f"{exercise.name}{describe_args(case.args, case.kwargs)}"
        got = call(function, exercise.name, call_text, passed, kwargs)
        problem = (_returned_nothing(got, exercise.name, function)
                   or exercise.compare(got, case, passed))
        if problem:
            raise Incorrect(f"{call_text}: {problem}"
                            + (f"\nHint: {exercise.hint}" if exercise.hint_with_failure else ""))
    return len(cases)


def call(function: Callable[..., Any], name: str, call_text: str, args: tuple[Any, ...],
         kwargs: Mapping[str, Any]) -> Any:
    """Call the learner's function; its exceptions become outcomes (the cause is kept)."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise NotAttempted(
            f"{name} is not written yet: replace `raise NotImplementedError` in its cell with "
            f"your code, run that cell, then run this one again.") from None
    except Exception as error:  # the learner's code failed: say how, keep the cause
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise Incorrect(f"{call_text} raised {type(error).__name__}"
                        + (f": {first}" if first else "") + ".") from error


def _copy(value: Any) -> Any:
    """A copy of an argument the learner's code may change (arrays, lists, dicts).

    Other objects (numbers, strings, dtypes, a Keras model) are passed as they are.
    """
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _returned_nothing(got: Any, name: str, function: Any = None) -> str | None:
    """The message for a function that returned None, naming the pasted ``def`` when it is one.

    Pasting a whole function, ``def`` line included, into the body of the notebook's ``def``
    makes a function inside the function: the inner one has the ``return``, the outer one
    returns nothing. The learner sees a ``return`` on screen, so "is a return missing" would
    mislead; the code object says what happened.
    """
    if got is not None:
        return None
    code = getattr(function, "__code__", None)
    nested = [const.co_name for const in getattr(code, "co_consts", ())
              if hasattr(const, "co_name") and hasattr(const, "co_code")]
    if name in nested:
        return (f"returned None: your {name} has a second `def {name}(...)` inside it, so "
                f"the `return` belongs to that inner function and the outer one returns "
                f"nothing. The whole function was pasted into the body, `def` line included: "
                f"keep one `def {name}(...)` line (delete the inner one, with its docstring) "
                f"and the lines of your function below it.")
    return f"returned None. Is a `return` statement missing at the end of {name}?"


# --- describing values in messages -----------------------------------------------------------

def describe(value: Any) -> str:
    """A short text for ``value`` in a message: small arrays in full, large ones by shape."""
    if isinstance(value, np.ndarray):
        if value.size <= 12:
            text = np.array2string(value, separator=", ", precision=4, max_line_width=10**6)
            return " ".join(text.split())
        return f"<array of shape {value.shape}, dtype {value.dtype}>"
    if _is_tensor(value):
        return f"<{type(value).__name__} of shape {tuple(getattr(value, 'shape', ()))}>"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value)
    return text if len(text) <= 60 else f"<{type(value).__name__}>"


def describe_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """``(a, b, key=c)`` with each value described by :func:`describe`."""
    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return f"({', '.join(parts)})"


def _is_tensor(value: Any) -> bool:
    module = type(value).__module__ or ""
    return module.split(".")[0] in {"tensorflow", "keras", "torch", "jax", "jaxlib"}


# --- judging results: numbers and arrays -----------------------------------------------------

def _kind_problem(got: Any, wanted: str) -> str | None:
    """Name a result of the wrong kind: a tensor, a list or tuple, a string, a bool."""
    if _is_tensor(got):
        return (f"returned a TensorFlow/Keras tensor ({type(got).__name__}), expected "
                f"{wanted}: convert it with np.asarray(...) or .numpy().")
    if isinstance(got, (list, tuple)):
        return (f"returned a Python {type(got).__name__}, expected {wanted}: wrap it in "
                f"np.array(...).")
    if isinstance(got, (str, bytes, bool, np.bool_)):
        return f"returned {got!r} ({type(got).__name__}), expected {wanted}."
    return None


def number_problem(got: Any, expected: float, *, atol: float = 1e-6,
                   rtol: float = 1e-6) -> str | None:
    """Judge a result that must be one real number close to ``expected``."""
    problem = _kind_problem(got, "one number")
    if problem:
        return problem
    if isinstance(got, np.ndarray) and got.ndim > 0:
        return (f"returned an array of shape {got.shape}, expected one number "
                f"(an array of shape ()).")
    try:
        value = float(got)
    except (TypeError, ValueError):
        return f"returned {describe(got)} ({type(got).__name__}), expected one number."
    if math.isnan(value):
        return "returned nan, expected a number."
    if not math.isclose(value, expected, abs_tol=atol, rel_tol=rtol):
        return f"returned {value:.6g}, expected {expected:.6g}."
    return None


def whole_number_problem(got: Any, expected: int) -> str | None:
    """Judge a result that must be the whole number ``expected`` (an int, not a float)."""
    problem = _kind_problem(got, "a whole number")
    if problem:
        return problem
    if isinstance(got, (float, np.floating)):
        return (f"returned the float {float(got):g}, expected the whole number {expected} "
                f"(an int).")
    if not isinstance(got, (int, np.integer)):
        return f"returned {describe(got)} ({type(got).__name__}), expected the int {expected}."
    if int(got) != expected:
        return f"returned {int(got)}, expected {expected}."
    return None


def array_problem(got: Any, expected: np.ndarray, *, dtype: str = "number",
                  atol: float = 1e-6, rtol: float = 1e-5) -> str | None:
    """Judge a result that must be a NumPy array of ``expected``'s shape and values.

    Args:
        dtype: ``"number"`` accepts any real numbers; ``"float"`` wants floats;
            ``"float32"`` wants exactly float32.
    """
    problem = _kind_problem(got, "a NumPy array")
    if problem:
        return problem
    if not isinstance(got, np.ndarray):
        return f"returned {describe(got)} ({type(got).__name__}), expected a NumPy array."
    if got.dtype == bool or not np.issubdtype(got.dtype, np.number):
        return f"returned an array of {got.dtype} values, expected numbers."
    if np.iscomplexobj(got):
        return "returned complex numbers, expected real ones."
    if got.shape != expected.shape:
        return f"returned an array of shape {got.shape}, expected shape {expected.shape}."
    if dtype == "float" and not np.issubdtype(got.dtype, np.floating):
        return f"returned {got.dtype} values, expected floats."
    if dtype == "float32" and got.dtype != np.float32:
        return f"returned {got.dtype} values, expected float32."
    values = got.astype(float)
    if not np.all(np.isfinite(values)):
        return (f"returned {describe(got)}: it holds nan or inf where {describe(expected)} "
                f"was expected (an overflow?).")
    if not np.allclose(values, expected, atol=atol, rtol=rtol):
        wrong = int(np.sum(~np.isclose(values, expected, atol=atol, rtol=rtol)))
        return (f"returned {describe(got)}, expected {describe(expected)} "
                f"({wrong} of {expected.size} values differ).")
    return None


# --- 01 neurons ------------------------------------------------------------------------------

NEURON = Exercise(
    name="neuron",
    compare=lambda got, case, passed: number_problem(got, case.expected),
    hint="add the bias to the weighted sum np.dot(inputs, weights), then apply ReLU: "
         "np.maximum(0, value).",
    success="neuron computes relu(weighted sum + bias).")


# --- 02 layers -------------------------------------------------------------------------------

DENSE_FORWARD = Exercise(
    name="dense_forward",
    compare=lambda got, case, passed: array_problem(got, case.expected),
    hint="one matrix product does the whole batch: x @ weights + bias, then ReLU with "
         "np.maximum(0, ...). weights has one column per unit.",
    success="dense_forward maps a batch (batch, n) to (batch, units), matching relu(x @ W + b).")


# --- 03 activations --------------------------------------------------------------------------

RELU = Exercise(
    name="relu",
    compare=lambda got, case, passed: array_problem(got, case.expected),
    hint="negative values become 0 and the rest stay as they are: np.maximum(0, x).",
    success="relu keeps positives and zeroes negatives.")

SIGMOID = Exercise(
    name="sigmoid",
    compare=lambda got, case, passed: array_problem(got, case.expected),
    hint="sigmoid(x) = 1 / (1 + np.exp(-x)), element by element.",
    success="sigmoid squashes every number into (0, 1).")


def _softmax_compare(got: Any, case: Case, passed: tuple[Any, ...]) -> str | None:
    with np.errstate(all="ignore"):
        return array_problem(got, case.expected, atol=1e-6, rtol=1e-4)


SOFTMAX = Exercise(
    name="softmax", compare=_softmax_compare,
    hint="exponentiate after subtracting each row's maximum (x.max(axis=-1, keepdims=True)), "
         "then divide by the sum over the last axis only (axis=-1, keepdims=True).",
    success="softmax gives probabilities that sum to 1, row by row, even for large inputs.")


# --- 04 data and preprocessing ---------------------------------------------------------------

def _normalize_compare(got: Any, case: Case, passed: tuple[Any, ...]) -> str | None:
    problem = array_problem(got, case.expected, dtype="float32", atol=1e-6, rtol=1e-6)
    if problem is None and not np.array_equal(passed[0], case.args[0]):
        problem = "it changed the images it was given; return a new array instead."
    if problem and "expected float32" in problem:
        problem += (" images.astype('float32') / 255 keeps float32; dividing a uint8 array "
                    "by 255 gives float64, twice the memory.")
    return problem


NORMALIZE = Exercise(
    name="normalize", compare=_normalize_compare,
    hint="divide by 255, the largest value a pixel can have (not the largest in these "
         "images), and keep float32: images.astype('float32') / 255.",
    success="normalize scales pixels to float32 values from 0 to 1.")


def _one_hot_compare(got: Any, case: Case, passed: tuple[Any, ...]) -> str | None:
    problem = array_problem(got, case.expected, dtype="float", atol=0.0, rtol=0.0)
    if problem and "expected shape" in problem:
        problem += " One row per label and one column per class."
    if problem and "expected floats" in problem:
        problem += " Keras's loss expects floats: build it with float zeros."
    return problem


ONE_HOT = Exercise(
    name="one_hot", compare=_one_hot_compare,
    hint="each row is all zeros except a 1.0 at the column of its label; use num_classes for "
         "the number of columns, not the largest label you see.",
    success="one_hot turns label 5 into [0 0 0 0 0 1 0 0 0 0], and a batch into one row each.")


def _cross_entropy_compare(got: Any, case: Case, passed: tuple[Any, ...]) -> str | None:
    low, high = (float(bound) for bound in case.expected)
    labels = np.asarray(case.args[0], dtype=float)
    p_true = np.sum(labels * np.asarray(case.args[1], dtype=float), axis=-1)
    if isinstance(got, np.ndarray) and got.ndim == 1 and got.shape == (len(labels),):
        return (f"returned one number per example, shape {got.shape}; the loss of a batch is "
                f"one number, the mean over its examples.")
    problem = _kind_problem(got, "one number")
    if problem:
        return problem
    if isinstance(got, np.ndarray) and got.ndim > 0:
        return f"returned an array of shape {got.shape}, expected one number."
    try:
        value = float(got)
    except (TypeError, ValueError):
        return f"returned {describe(got)} ({type(got).__name__}), expected one number."
    zero = bool(np.any(p_true == 0))
    if not math.isfinite(value):
        if zero:
            return (f"returned {value}: an example's true class has probability 0 here, and "
                    f"log(0) is -inf. A model can be that sure and that wrong (float32 rounds "
                    f"tiny probabilities to 0); the loss must still be a finite number, a "
                    f"large one.")
        return f"returned {value}, expected a finite number."
    tolerance = 1e-5 * max(1.0, abs(high)) + 1e-6
    if low - tolerance <= value <= high + tolerance:
        return None
    expected = f"{low:.6g}" if high - low < 1e-3 else f"between {low:.4g} and {high:.4g}"
    message = f"returned {value:.6g}, expected {expected}."
    if value < -tolerance:
        return message + " A loss is never negative: -log(p) is at least 0 when p <= 1."
    # The sum is recognisable only where the expected loss is one number (no floor decides
    # it); where a probability of 0 leaves a range, the messages below say what is wrong.
    if len(labels) > 1 and high - low <= 1e-3 * max(high, 1e-12) and \
            math.isclose(value, len(labels) * (low + high) / 2, rel_tol=1e-3):
        return message + " That is the sum over the examples; the loss is their mean."
    if zero and value > high:
        return (message + " That is more than any floor under the log gives (-log of the "
                "smallest positive float is about 744): put a small floor under the "
                "probability, such as Keras's 1e-7, rather than replacing an infinite loss "
                "by a huge number.")
    if zero and value < low:
        return (message + " A probability of 0 for the true class is the worst mistake "
                "there is: it must cost more than any probability above 0 does, so the "
                "floor you put under it must be tiny (Keras's is 1e-7).")
    if not zero and np.all(p_true > 1e-3) and value < low:
        return (message + " A probability this far from 0 needs no floor: a floor as large "
                "as this one changes the loss of a right but unsure prediction.")
    return message


CROSS_ENTROPY = Exercise(
    name="cross_entropy", compare=_cross_entropy_compare,
    hint="for each example take -log of the probability given to its true class (the one "
         "where its label is 1), then average over the batch. Keep the log away from 0: "
         "a probability of 0 must give a large finite loss, not inf.",
    success="cross_entropy gives the mean loss of a batch, finite even for a probability of "
            "0, as Keras's loss does.",
    hint_with_failure=False)


# --- 06 gradient descent ---------------------------------------------------------------------

def _gradient_step_compare(got: Any, case: Case, passed: tuple[Any, ...]) -> str | None:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        kind = (f"a {type(got).__name__} of {len(got)} values"
                if isinstance(got, (tuple, list)) else describe(got))
        return (f"returned {kind}, expected two values: (new_w, new_b). End with "
                f"`return new_w, new_b`.")
    w, b, x, y, learning_rate = case.args
    new_w, new_b = case.expected
    got_w, got_b = got
    # Absolute tolerance in proportion to the numbers involved, so an answer computed in float32
    # passes even where a weight lands near 0; every slip named below is off by far more.
    scale = 1.0 + float(max(np.max(np.abs(new_w)), np.max(np.abs(new_w - w)), abs(new_b)))
    problem = array_problem(got_w, new_w, atol=1e-5 * scale, rtol=1e-5)
    if problem:
        return "the new weights: " + problem + _gradient_step_diagnosis(got_w, case)
    problem = number_problem(got_b, new_b, atol=1e-5 * scale, rtol=1e-5)
    if problem:
        return "the new bias: " + problem
    return None


def _gradient_step_diagnosis(got_w: Any, case: Case) -> str:
    """Name the usual slips when the weights came back wrong (uphill, no 2, sum, gradient)."""
    w, b, x, y, learning_rate = case.args
    new_w = case.expected[0]
    step = new_w - w                                   # -learning_rate * gradient
    try:
        got = np.asarray(got_w, dtype=float).reshape(new_w.shape)
    except (TypeError, ValueError):
        return ""
    slips = ((w - step, " It moved uphill: subtract learning_rate times the gradient."),
             (w + step / 2, " The step is half as long as it should be: the gradient of "
                            "error² is 2 · error · input."),
             (w + step * len(y), " The step is len(y) times too long: average over the "
                                 "examples (np.mean), do not sum."),
             (-step / learning_rate if learning_rate else None,
              " That is the gradient itself: return w - learning_rate * gradient."))
    for value, text in slips:
        if value is not None and np.any(step != 0) and np.allclose(got, value, atol=1e-6,
                                                                   rtol=1e-5):
            return text
    return ""


GRADIENT_STEP = Exercise(
    name="gradient_step", compare=_gradient_step_compare,
    hint="error = x @ w + b - y; the gradients are 2 * x.T @ error / len(y) for w and "
         "2 * np.mean(error) for b; return (w - learning_rate * grad_w, "
         "b - learning_rate * grad_b), both from the same error.",
    success="gradient_step moves w and b one step downhill on the mean squared error.")


#: What ``largest_stable_rate`` may return, as fractions of the true limit: from 10% below
#: it up to 1% above (just above the limit the loss can fall for a hundred steps or more
#: before it climbs, so an experiment of a few hundred steps can land a little above it;
#: measured on the answer key's cases, which keep a start near (0, 0) well away from the
#: best line along the steepest direction, a bisection on 100 to 300 steps lands at most
#: 0.35% above: tests/test_secret_cases.py).
STABLE_RATE_BAND = (0.9, 1.01)
#: The limit on notebook 6's own line, which its text states (SGD: fine at 0.14, not 0.15).
NOTEBOOK_STABLE_RATE = 0.146


def _stable_rate_compare(got: Any, case: Case, passed: tuple[Any, ...]) -> str | None:
    limit = float(case.expected)
    problem = _kind_problem(got, "one learning rate, a number")
    if problem:
        return problem
    if isinstance(got, np.ndarray) and got.ndim > 0:
        return (f"returned an array of shape {got.shape}, expected one learning rate: the "
                f"largest one that works, not every one you tried.")
    try:
        value = float(got)
    except (TypeError, ValueError):
        return f"returned {describe(got)} ({type(got).__name__}), expected one number."
    if math.isnan(value):
        return ("returned nan, expected a learning rate. Did a diverging run's loss (inf, "
                "then nan) end up in the result? Test each rate's loss with np.isfinite.")
    if math.isinf(value):
        return ("returned inf: every learning rate above some limit diverges here, and the "
                "limit is a finite number.")
    if value <= 0:
        return (f"returned {value:.6g}: a learning rate is positive (a negative one walks "
                f"uphill, 0 never moves). Which is the largest positive rate that still "
                f"comes down?")
    low, high = STABLE_RATE_BAND
    if low * limit <= value <= high * limit:
        return None
    message = f"returned {value:.6g}"
    if value > high * limit:
        message += (f": at this rate gradient descent on these data diverges, each step "
                    f"overshooting the bottom by more than the last; the limit is "
                    f"{value / limit:.3g} times smaller.")
        if value < 1.5 * limit:
            message += (" Just above the limit the loss grows slowly: run more steps, or "
                        "compare the loss at the end with the loss at the start.")
        if math.isclose(value, NOTEBOOK_STABLE_RATE, rel_tol=0.1):
            message += (" That is about the limit for notebook 6's line; the limit depends "
                        "on the data's x.")
        return message
    message += (f": too cautious. Gradient descent on these data still comes down at "
                f"{limit / value:.3g} times this rate; an answer may be at most 10% below "
                f"the limit.")
    if math.isclose(value, NOTEBOOK_STABLE_RATE, rel_tol=0.1):
        message += (" That is about the limit for notebook 6's line; the limit depends on "
                    "the data's x.")
    return message


LARGEST_STABLE_RATE = Exercise(
    name="largest_stable_rate", compare=_stable_rate_compare,
    hint="the loss is a bowl with the same curvature everywhere: its Hessian with respect "
         "to (w, b), the 2 x 2 matrix of second derivatives of mean((w x + b - y)^2), is "
         "constant. Gradient descent on such a quadratic diverges exactly when the rate "
         "exceeds 2 / the largest eigenvalue of the Hessian (np.linalg.eigvalsh gives the "
         "eigenvalues); a careful sweep lands within a fraction of a percent of the same number.",
    success="largest_stable_rate finds the edge past which gradient descent diverges, "
            "whatever the size of x.",
    hint_with_failure=False)


# --- 07 training -----------------------------------------------------------------------------

STEPS_PER_EPOCH = Exercise(
    name="steps_per_epoch",
    compare=lambda got, case, passed: whole_number_problem(got, case.expected),
    hint="each step uses one batch, and the last, smaller batch counts too: round the "
         "division up with math.ceil(num_examples / batch_size).",
    success="steps_per_epoch counts the batches in an epoch, the last partial one included.")


def _early_stopping_compare(got: Any, case: Case, passed: tuple[Any, ...]) -> str | None:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        kind = (f"a {type(got).__name__} of {len(got)} values"
                if isinstance(got, (tuple, list)) else describe(got))
        return (f"returned {kind}, expected two whole numbers: (stopped_after, restored). "
                f"End with `return stopped_after, restored`.")
    stopped, restored = (int(v) for v in case.expected)
    losses = [float(v) for v in case.args[0]]
    for what, value, want in (("stopped_after", got[0], stopped), ("restored", got[1], restored)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            return f"{what}: " + (whole_number_problem(value, want)
                                  or f"returned {describe(value)}, expected a whole number.")
    got_stopped, got_restored = int(got[0]), int(got[1])
    if (got_stopped, got_restored) == (stopped, restored):
        return None
    message = (f"returned ({got_stopped}, {got_restored}), expected ({stopped}, {restored}): "
               f"{stopped} epochs run, the weights of epoch {restored} restored.")
    if (got_stopped, got_restored) == (stopped - 1, restored - 1):
        return message + (" Both are one short: count epochs from 1, as Keras prints them "
                          "(Epoch 1/20), not from Python's index 0.")
    if got_restored == restored - 1:
        return message + " The restored epoch is one short: count epochs from 1, not from 0."
    if stopped == len(losses) and got_restored == len(losses) != restored:
        return message + (" Training ran all its epochs, and Keras 3 still puts back the "
                          "best epoch's weights at the end (read help(keras.callbacks."
                          "EarlyStopping), restore_best_weights).")
    if got_restored == got_stopped != restored and got_stopped < len(losses):
        return message + (" That is the last epoch trained: restore_best_weights puts back "
                          "the weights of the epoch with the best validation loss.")
    if (got_stopped, got_restored) == (stopped + 1, restored):
        return message + (" One epoch too many: the epoch that uses up the patience is the "
                          "last one trained.")
    if got_stopped > len(losses):
        return message + f" Only {len(losses)} epochs were given: training cannot run more."
    if len(set(losses)) < len(losses):
        return message + (" Some losses here are equal: is a loss equal to the best so far "
                          "an improvement? Try the callback on such a list of losses to find out.")
    return message


EARLY_STOPPING_EPOCHS = Exercise(
    name="early_stopping_epochs", compare=_early_stopping_compare,
    hint="go through the losses in order, keeping the best so far and how many epochs have "
         "passed since it. A loss improves only if it is strictly lower than the best "
         "(min_delta=0: an equal loss is no improvement). Stop on the epoch where patience "
         "epochs have passed without one; if that never happens, all epochs run. Either way "
         "Keras 3 restores the best epoch. Count epochs from 1.",
    success="early_stopping_epochs says when EarlyStopping stops and which epoch it restores, "
            "ties and full runs included.",
    hint_with_failure=False)


# --- 08 evaluating ---------------------------------------------------------------------------

ACCURACY = Exercise(
    name="accuracy",
    compare=lambda got, case, passed: number_problem(got, case.expected, atol=1e-9),
    hint="the predicted class is the argmax of each row (axis=1); compare it with the labels "
         "and take the mean of the matches (a fraction, not a count).",
    success="accuracy is the fraction of rows whose most probable class is the label.")


# --- 09 predicting ---------------------------------------------------------------------------

def _predict_digit_compare(got: Any, case: Case, passed: tuple[Any, ...]) -> str | None:
    problem = _kind_problem(got, "a plain Python int")
    if problem:
        return problem
    if isinstance(got, np.ndarray):
        return (f"returned an array of shape {got.shape}, expected one digit as a plain "
                f"Python int: take np.argmax of the first row and wrap it in int(...).")
    if not isinstance(got, int):
        return (f"returned {describe(got)} ({type(got).__name__}), expected a plain Python "
                f"int: wrap it in int(...).")
    if got != case.expected:
        return f"returned {got}, but the model's most probable class is {case.expected}."
    return None


PREDICT_DIGIT = Exercise(
    name="predict_digit",
    compare=_predict_digit_compare,
    hint="the model wants a batch: image[np.newaxis] has shape (1, 28, 28); take the argmax "
         "of the first row of model.predict(...) and return int(...) of it.",
    success="predict_digit gives the model's most probable class for one image.")


def predict_digit_model() -> Any:
    """The small stand-in model the visible ``predict_digit`` check predicts with.

    One softmax Dense layer on flattened 28x28 images, with the weights stored beside the
    visible cases; each stored test digit's expected class was worked out from the same
    weights when the cases were stored, with a clear margin between its two most probable
    classes. It stands for the notebook's trained model, which a check cannot know in advance.
    """
    import keras

    weights = _read_visible_cases()["predict_digit_model"]
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.layers[-1].set_weights([weights["kernel"], weights["bias"]])
    return model


# --- 10 going further ------------------------------------------------------------------------

DATASET_MEGABYTES = Exercise(
    name="dataset_megabytes",
    compare=lambda got, case, passed: number_problem(got, case.expected, atol=1e-9, rtol=1e-9),
    hint="bytes = images * 28 * 28 * bytes per value (np.dtype(dtype).itemsize); one "
         "megabyte here is 1,000,000 bytes.",
    success="dataset_megabytes: 47 MB as uint8, 188 MB as float32, 376 MB as float64.")


# --- 05 building the model -------------------------------------------------------------------

#: Layers a correct model may contain (Input, Flatten or Reshape, Dense, activation layers).
ALLOWED_LAYERS = ("InputLayer", "Flatten", "Reshape", "Dense", "Activation", "ReLU", "Softmax")
#: Parameters of the reference model: 784*512 + 512 + 512*10 + 10.
REFERENCE_PARAMETERS = 407_050


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


def _outputs(model: Any, images: np.ndarray) -> np.ndarray:
    """The model's outputs on ``images``, called directly (``model.predict`` would trace a new
    TensorFlow function for every model a check builds, and TensorFlow warns about that)."""
    import keras

    result = model(np.asarray(images, dtype="float32"), training=False)
    return np.asarray(keras.ops.convert_to_numpy(result))


def model_problems(model: Any, images: np.ndarray | None = None) -> list[str]:
    """Everything that keeps ``model`` from being the course's compiled reference model.

    Checks behaviour and structure through public Keras 3 APIs only. The model is first called
    on a batch of images, which builds a model declared without an ``Input`` (the seed
    tutorial's style) before anything asks for its weights; then come the output shape and
    probabilities, the layers and their activations (applied to test values, never compared by
    name, so ``tf.nn.softmax`` passes), the parameter count, the loss (evaluated on known
    values), the optimizer class and the accuracy metric; last, what would keep a model of
    the right shape from learning (``course_utils.model_facts``: weights that start equal,
    frozen layers, regularizers, Dropout, Adam's step) and whether it can be rebuilt from its
    Keras description, as the grader does. An empty list means all is right.

    Args:
        model: what ``build_model()`` returned.
        images: a batch of (n, 28, 28) images to call it on; four random ones by default.
    """
    import keras

    if not isinstance(model, keras.Model):
        return [f"build_model should return a Keras model, it returned "
                f"{type(model).__name__}."]
    if images is None:
        images = np.random.default_rng(0).random((4, 28, 28)).astype("float32")
    count = len(images)
    try:
        outputs = _outputs(model, images)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return [f"the model cannot take a batch of 28x28 images ({type(error).__name__}: "
                f"{first[:200]}). Start it with keras.Input(shape=(28, 28)) and Flatten."]
    problems = []
    if outputs.shape != (count, 10):
        problems.append(f"for a batch of {count} images the model outputs shape "
                        f"{outputs.shape}, expected ({count}, 10): one probability per digit. "
                        f"Is there a Flatten layer before the Dense layers?")
    elif not (np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-4)):
        problems.append("the outputs are not probabilities (each row should be >= 0 and sum "
                        "to 1): the last layer needs the softmax activation.")
    unexpected = [type(layer).__name__ for layer in model.layers
                  if type(layer).__name__ not in ALLOWED_LAYERS]
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
    parameters = model.count_params()  # built by the call above
    if parameters != REFERENCE_PARAMETERS:
        problems.append(f"the model has {parameters:,} parameters, expected 407,050 "
                        f"(784*512 + 512 + 512*10 + 10).")
    problems += compile_problems(model)
    if not problems:
        problems += _learning_problems(model, images)
    return problems


def _learning_problems(model: Any, images: np.ndarray) -> list[str]:
    """What keeps a model of the right shape from learning as the course's model does, and
    whether the grader can rebuild it from its description (it judges that rebuilt model)."""
    from course_utils import model_facts, recheck

    try:
        model_facts.rebuilt(model_facts.description(model))
    except ValueError as error:
        return [f"the model cannot be rebuilt from its Keras description ({str(error)[:200]}): "
                f"{recheck.REBUILD_ADVICE}."]
    return model_facts.problems(model_facts.facts(model, images))


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
    from_logits = False
    try:
        from_logits = bool(model.loss.get_config().get("from_logits", False))
    except Exception:  # a string or a plain function has no config
        pass
    if from_logits:
        problems.append("the loss is computed from logits (from_logits=True), but the model "
                        "already outputs probabilities: use categorical cross-entropy as is.")
    elif not math.isclose(value, reference, rel_tol=1e-3):
        problems.append(f"the loss is {_name_of(model.loss)}, expected categorical "
                        f"cross-entropy (on probabilities, with one-hot labels).")
    optimizer = model.optimizer
    if not isinstance(optimizer, keras.optimizers.Adam) or \
            isinstance(optimizer, keras.optimizers.AdamW):
        own = " (a class of your own)" if type(optimizer).__name__ == "Adam" else ""
        problems.append(f"the optimizer is {type(optimizer).__name__}{own}, expected Keras's "
                        f"Adam: optimizer='adam'.")
    if not problems:
        problems += _accuracy_metric_problems(model)
    return problems


def _accuracy_metric_problems(model: Any) -> list[str]:
    rng = np.random.default_rng(1)
    images = rng.random((16, 28, 28)).astype("float32")
    outputs = _outputs(model, images)
    if outputs.shape != (16, 10):
        return []  # the output shape is already reported; accuracy cannot be measured
    predicted = outputs.argmax(axis=1)
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


def learnable_batch(count: int = 256, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Images whose label is written in them (a bright row per digit) and one-hot labels.

    The reference model learns it within a few epochs, so "training lowers the loss" is a
    property of the model, not of luck.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = rng.random((count, 28, 28)).astype("float32") * 0.3
    images[np.arange(count), 2 * labels + 4, :] = 1.0
    return images, np.eye(10, dtype="float32")[labels]


#: Said after a wrong ``build_model``: where to look.
BUILD_MODEL_HINT = ("Flatten, Dense(512, activation='relu'), Dense(10, activation='softmax'), "
                    "compiled with loss='categorical_crossentropy', optimizer='adam', "
                    "metrics=['accuracy'].")


def judge_build_model(build_model: Callable[[], Any]) -> None:
    """Judge ``build_model`` as a whole, as its visible check and the learner's own model run it.

    Calls ``build_model()`` twice (each call must build a new model), judges the first model
    with :func:`model_problems` on a batch of images, then trains it briefly on a learnable
    batch: its loss must go down.

    Raises:
        NotAttempted: the stub still raises ``NotImplementedError``.
        Incorrect: with every problem found, one per line.
    """
    import warnings

    name = "build_model"
    hint = BUILD_MODEL_HINT
    if not callable(build_model):
        raise Incorrect(f"build_model is {describe(build_model)}, not a function: run the "
                        f"cell that defines it.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = call(build_model, name, "build_model()", (), {})
        problem = _returned_nothing(first, name, build_model)
        if problem:
            raise Incorrect(f"build_model(): {problem}")
        problems = model_problems(first)
        if problems:
            # Each problem says what differs; the recipe itself is the last hint, on request.
            raise Incorrect("build_model's model is not the reference model yet:\n- "
                            + "\n- ".join(problems))
        second = call(build_model, name, "build_model()", (), {})
        if second is first:
            raise Incorrect("build_model() returned the same model object twice: build a "
                            "new model inside the function on every call.")
        x, y = learnable_batch()
        try:
            before = float(first.evaluate(x, y, verbose=0, return_dict=True)["loss"])
            first.fit(x, y, epochs=3, batch_size=32, verbose=0)
            after = float(first.evaluate(x, y, verbose=0, return_dict=True)["loss"])
        except Exception as error:
            raise Incorrect(f"training the model failed: {type(error).__name__}: "
                            f"{str(error)[:200]}") from error
    if not after < before:
        raise Incorrect(f"training the model for 3 epochs did not lower its loss "
                        f"({before:.3f} before, {after:.3f} after). Hint: {hint}")


BUILD_MODEL_SUCCESS = ("build_model returns the compiled reference model: 784 -> 512 (relu) -> "
                       "10 (softmax), 407,050 parameters, categorical cross-entropy, Adam, "
                       "accuracy.")

#: Every exercise judged case by case, by name (``build_model`` has :func:`judge_build_model`).
#: The grading side's answer key has an entry for each of them.
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    NEURON, DENSE_FORWARD, RELU, SIGMOID, SOFTMAX, NORMALIZE, ONE_HOT, CROSS_ENTROPY,
    GRADIENT_STEP, LARGEST_STABLE_RATE,
    STEPS_PER_EPOCH, EARLY_STOPPING_EPOCHS, ACCURACY, PREDICT_DIGIT, DATASET_MEGABYTES)}
