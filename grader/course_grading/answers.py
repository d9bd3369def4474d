"""The answer key: reference implementations, every fixed case, the drawn cases, and the
visible cases the learner's package carries as data.

Why it exists: what a learner's kernel can import must not compute what the learner is asked
to compute, for any input (``COURSE_DESIGN.md``, "The trust boundary"). So everything that
does lives here, on the grading side:

- each exercise's *reference implementation* (``_one_hot_reference``, ...);
- its *fixed cases*: the arguments of one call and the expected result, computed from the
  reference when the case is made; ``visible=True`` marks those the learner's check runs;
- its *drawn cases*, made at grading time from a seed the submission cannot know;
- :func:`accuracy_case` and :func:`predict_digit_cases`, which compute the expected answer for
  any input;
- :func:`write_visible_cases`, which stores the visible cases, expectations included, as plain
  data in ``course_utils/_data/visible_cases.npz`` (the build calls it), and the stand-in
  model of the ``predict_digit`` check with the test digits it is checked on.

How a result is *judged* (each exercise's ``compare``, its hint and messages) stays with the
learner's package, :mod:`course_utils.exercises`: it names a slip from a case's stored
expectation and computes no answer for new input. The re-check outside the student's kernel
(:mod:`course_grading.verify`) takes its cases from :func:`all_cases` and
:func:`predict_digit_cases`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from course_utils import exercises, plain
from course_utils.exercises import Case

#: Where the build stores the visible cases (shipped with the learner's package).
VISIBLE_CASES_PATH = Path(exercises.__file__).resolve().parent / "_data" / \
    exercises.VISIBLE_CASES_FILE
#: Version of the stored format; the learner's side refuses another.
FORMAT = exercises.VISIBLE_CASES_FORMAT


@dataclass(frozen=True)
class Key:
    """The answer key of one exercise: how to make its fixed and drawn cases."""

    #: Makes the fixed cases afresh (new arrays each time, expectations included).
    fixed: Callable[[], list[Case]]
    #: Draws more cases from a random generator (seeded at grading time).
    drawn: Callable[[np.random.Generator], list[Case]]


# --- 01 neurons ------------------------------------------------------------------------------

def _neuron_reference(inputs: np.ndarray, weights: np.ndarray, bias: float) -> float:
    return max(0.0, float(np.dot(np.asarray(inputs, float), np.asarray(weights, float))) + bias)


def _neuron_case(inputs: list[float], weights: list[float], bias: float,
                 visible: bool = True) -> Case:
    i, w = np.array(inputs, dtype=float), np.array(weights, dtype=float)
    return Case((i, w, float(bias)), _neuron_reference(i, w, bias), visible=visible)


def _neuron_fixed() -> list[Case]:
    return [
        _neuron_case([1.0, 2.0, 3.0], [0.5, -1.0, 2.0], 0.5),      # 5; ReLU per input gives 7
        _neuron_case([1.0, 2.0], [-1.0, -1.0], 0.0),               # negative sum -> 0
        _neuron_case([2.0], [1.0], -3.0),                          # the bias makes it negative
        _neuron_case([1.0, 1.0], [1.0, 1.0], -0.5),                # 1.5: the bias counts once
        _neuron_case([0.5, 0.1, 0.9], [0.8, -0.4, 0.3], -0.2, visible=False),
        _neuron_case([3.0, -2.0, 0.5, 1.0], [0.2, 0.4, -1.0, 0.1], 2.0, visible=False),
    ]


def _neuron_drawn(rng: np.random.Generator) -> list[Case]:
    cases = []
    for n in (1, 3, 8, 17, 784):
        i, w = rng.normal(size=n), rng.normal(size=n)
        b = float(rng.normal())
        cases.append(Case((i, w, b), _neuron_reference(i, w, b)))
    return cases


# --- 02 layers -------------------------------------------------------------------------------

def _dense_forward_reference(x: np.ndarray, weights: np.ndarray,
                             bias: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, x @ weights + bias)


def _dense_case(x: Any, weights: Any, bias: Any, visible: bool = True) -> Case:
    x, weights, bias = (np.array(v, dtype=float) for v in (x, weights, bias))
    return Case((x, weights, bias), _dense_forward_reference(x, weights, bias), visible=visible)


def _dense_fixed() -> list[Case]:
    return [
        _dense_case([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]],
                    [[1.0, -1.0, 0.5], [0.5, 2.0, -1.0]], [0.0, 1.0, -0.5]),
        _dense_case([[1.0, 2.0], [-1.0, 0.5]], [[1.0, 2.0], [-3.0, 0.5]], [0.5, -0.25]),
        _dense_case([[0.5, 0.1, 0.9]], [[0.8, -0.5], [-0.4, 0.2], [0.3, 0.7]], [-0.2, 0.1]),
        _dense_case([[2.0, -1.0, 0.0, 1.0]] * 2, [[0.1], [0.2], [0.3], [-0.4]], [1.0],
                    visible=False),
    ]


def _dense_drawn(rng: np.random.Generator) -> list[Case]:
    cases = []
    for batch, n, units in ((1, 784, 16), (5, 3, 7), (32, 10, 1), (4, 6, 6)):
        x, w, b = rng.normal(size=(batch, n)), rng.normal(size=(n, units)), rng.normal(size=units)
        cases.append(Case((x, w, b), _dense_forward_reference(x, w, b)))
    return cases


# --- 03 activations --------------------------------------------------------------------------

def _elementwise_fixed(reference: Callable[[np.ndarray], np.ndarray]) -> Callable[[], list[Case]]:
    def fixed() -> list[Case]:
        vectors = [np.array([-3.0, -0.5, 0.0, 0.5, 4.0]),
                   np.array([[-1.0, 2.0, -0.25], [7.5, -6.0, 0.125]]),
                   np.array([-20.0, -1e-3, 1e-3, 20.0]),
                   np.linspace(-10.0, 10.0, 41).reshape(41, 1)]
        return [Case((v,), reference(v.copy()), visible=index < 3)
                for index, v in enumerate(vectors)]
    return fixed


def _elementwise_drawn(reference: Callable[[np.ndarray], np.ndarray],
                       scale: float) -> Callable[[np.random.Generator], list[Case]]:
    def drawn(rng: np.random.Generator) -> list[Case]:
        return [Case((x,), reference(x.copy())) for x in
                (rng.normal(size=7) * scale, rng.normal(size=(6, 5)) * scale,
                 rng.normal(size=(2, 3, 4)) * scale)]
    return drawn


def _relu_reference(x: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, x)


def _sigmoid_reference(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax_reference(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_fixed() -> list[Case]:
    inputs = [np.array([1.0, 2.0, 3.0]),
              np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]),
              np.array([[1.0, 2.0], [3.0, 5.0], [-1.0, 0.0]]),
              np.array([1000.0, 1001.0, 1002.0]),
              np.array([[5000.0, 0.0], [-5000.0, 0.0]])]
    return [Case((x,), _softmax_reference(x.copy()), visible=index < 4)
            for index, x in enumerate(inputs)]


def _softmax_drawn(rng: np.random.Generator) -> list[Case]:
    return [Case((x,), _softmax_reference(x.copy())) for x in
            (rng.normal(size=10) * 20, rng.normal(size=(8, 10)) * 20,
             rng.normal(size=(3, 4)) * 300)]


# --- 04 data and preprocessing ---------------------------------------------------------------

def _normalize_reference(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float64) / 255.0


def _normalize_case(images: Any, visible: bool = True) -> Case:
    images = np.asarray(images, dtype=np.uint8)
    return Case((images,), _normalize_reference(images), visible=visible)


def _normalize_fixed() -> list[Case]:
    return [
        _normalize_case([[[0, 51], [255, 102]]]),
        # No 0 and no 255: dividing by the images' own maximum, or min-max scaling, shows here.
        _normalize_case([[[10, 51], [200, 102]], [[30, 60], [90, 120]]]),
        _normalize_case(np.full((1, 28, 28), 128)),
        _normalize_case(np.arange(3 * 28 * 28).reshape(3, 28, 28) % 251 + 2, visible=False),
    ]


def _normalize_drawn(rng: np.random.Generator) -> list[Case]:
    return [_normalize_case(rng.integers(0, 256, size=(7, 28, 28))),
            _normalize_case(rng.integers(5, 180, size=(4, 28, 28)))]


def _one_hot_reference(labels: Any, num_classes: int) -> np.ndarray:
    flat = [int(label) for label in np.asarray(labels).reshape(-1)]
    expected = np.zeros((len(flat), num_classes))
    for row, label in enumerate(flat):
        expected[row, label] = 1.0
    return expected


def _one_hot_case(labels: Any, num_classes: int | None = None, visible: bool = True) -> Case:
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    return Case((labels,), _one_hot_reference(labels, num_classes or 10), kwargs=kwargs,
                visible=visible)


def _one_hot_fixed() -> list[Case]:
    return [
        _one_hot_case(np.array([5]), 10),
        _one_hot_case(np.array([0, 3, 9, 3]), 10),
        _one_hot_case(np.array([1, 0, 3]), 5),          # another number of classes
        _one_hot_case([0, 1, 2, 1], 3),                 # a list
        _one_hot_case(np.array([2, 2, 0], dtype=np.uint8), 10, visible=False),
        _one_hot_case(np.array([9]), 12, visible=False),
        _one_hot_case(np.array([3, 1]), visible=False),  # num_classes defaults to 10
    ]


def _one_hot_drawn(rng: np.random.Generator) -> list[Case]:
    return [_one_hot_case(rng.integers(0, 10, size=37), 10),
            _one_hot_case(rng.integers(0, 5, size=1000), 5),
            _one_hot_case(rng.integers(0, 3, size=4).astype(np.uint8), 7)]


# --- 05 building the model -------------------------------------------------------------------

#: The floors a sensible cross-entropy may put under a probability before its log, clipped or
#: added: Keras clips probabilities at 1e-7; anything from the smallest positive float64 (its
#: log is -744) to 1e-6 is accepted.
CROSS_ENTROPY_FLOORS = (float(np.nextafter(0.0, 1.0)), 1e-6)


def _cross_entropy_bounds(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """``[lowest, highest]`` mean cross-entropy a right answer may return for this batch.

    Away from 0 every floor gives nearly the same number (the bounds differ by about 1e-6 / p);
    a true-class probability of 0 (or one below 1e-6) costs between -log(p + 1e-6), the most
    lenient floor added, and -log(max(p, 5e-324)), the strictest clipped (about 744).
    """
    p_true = np.sum(np.asarray(labels, float) * np.asarray(probabilities, float), axis=-1)
    tightest, loosest = CROSS_ENTROPY_FLOORS
    low = float(np.mean(-np.log(p_true + loosest)))
    high = float(np.mean(-np.log(np.maximum(p_true, tightest))))
    return np.array([low, high])


def _cross_entropy_case(labels: Any, probabilities: Any, visible: bool = False) -> Case:
    t = np.asarray(labels, dtype=np.float32)
    p = np.asarray(probabilities, dtype=np.float32)
    return Case((t, p), _cross_entropy_bounds(t, p), visible=visible)


def _softmax_rows(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _cross_entropy_fixed() -> list[Case]:
    eye = np.eye(3, dtype=np.float32)
    return [
        # One example, the true class at 0.7: -log(0.7).
        _cross_entropy_case([[0, 1, 0]], [[0.2, 0.7, 0.1]], visible=True),
        # A batch: the mean of -log(0.9), -log(0.5), -log(0.1), not their sum.
        _cross_entropy_case(eye, [[0.9, 0.05, 0.05], [0.25, 0.5, 0.25], [0.45, 0.45, 0.1]],
                            visible=True),
        # Sure and wrong: the true class has probability exactly 0.
        _cross_entropy_case([[1, 0, 0], [0, 0, 1]], [[0.0, 1.0, 0.0], [0.1, 0.1, 0.8]],
                            visible=True),
        # Sure and right: -log(1) = 0 exactly, whatever the zeros elsewhere.
        _cross_entropy_case([[0, 0, 1, 0]], [[0.0, 0.0, 1.0, 0.0]], visible=True),
        # Unsure but right a little: a floor as high as 0.01 would change this one.
        _cross_entropy_case([[0, 1], [1, 0]], [[0.995, 0.005], [0.6, 0.4]]),
        # Ten classes, a batch of softmax outputs.
        _cross_entropy_case(np.eye(10)[[3, 1, 4, 1, 5]],
                            _softmax_rows(np.linspace(-2, 2, 50).reshape(5, 10))),
    ]


def _cross_entropy_drawn(rng: np.random.Generator) -> list[Case]:
    cases = []
    for n, k, scale in ((16, 10, 1.0), (7, 3, 4.0), (32, 10, 60.0)):
        labels = np.eye(k)[rng.integers(0, k, size=n)]
        probabilities = _softmax_rows(rng.normal(size=(n, k)) * scale).astype(np.float32)
        cases.append(_cross_entropy_case(labels, probabilities))
    return cases


# --- 06 gradient descent ---------------------------------------------------------------------

def _gradient_step_reference(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray,
                             learning_rate: float) -> tuple[np.ndarray, float]:
    """One step of gradient descent on the mean squared error of a linear neuron."""
    error = x @ w + b - y
    grad_w = 2.0 * x.T @ error / len(y)
    grad_b = 2.0 * float(np.mean(error))
    return w - learning_rate * grad_w, b - learning_rate * grad_b


def _gradient_step_case(w: Any, b: float, x: Any, y: Any, learning_rate: float,
                        visible: bool = True) -> Case:
    w, x, y = (np.array(v, dtype=float) for v in (w, x, y))
    expected = _gradient_step_reference(w.copy(), float(b), x.copy(), y.copy(), learning_rate)
    return Case((w, float(b), x, y, float(learning_rate)), expected, visible=visible)


def _gradient_step_fixed() -> list[Case]:
    return [
        # From w = 0, b = 0 towards y = 2x: both must go up (a sign slip goes down).
        _gradient_step_case([0.0], 0.0, [[1.0], [2.0], [3.0]], [2.0, 4.0, 6.0], 0.1),
        # Two inputs, a bias already set, and errors of both signs.
        _gradient_step_case([0.5, -1.0], 0.25, [[1.0, 2.0], [0.0, 1.0], [3.0, -1.0],
                                                [-2.0, 0.5]], [1.0, -2.0, 3.0, 0.0], 0.05),
        # Already at the minimum: the step changes nothing.
        _gradient_step_case([2.0], 1.0, [[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0], 0.5),
        _gradient_step_case([1.0, 1.0, 1.0], -0.5, [[0.2, 0.4, 0.6]], [2.0], 0.1,
                            visible=False),                       # one example
        _gradient_step_case([0.3, -0.7], 2.0, [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
                            [0.0, 0.0, 0.0], 0.0, visible=False),  # a rate of 0 moves nothing
    ]


def _gradient_step_drawn(rng: np.random.Generator) -> list[Case]:
    cases = []
    for n, d in ((5, 1), (17, 3), (64, 10), (2, 784)):
        x, w, y = rng.normal(size=(n, d)), rng.normal(size=d), rng.normal(size=n) * 3
        cases.append(_gradient_step_case(w, float(rng.normal()), x, y,
                                         float(rng.uniform(0.01, 0.5))))
    return cases


def _largest_stable_rate_reference(x: np.ndarray, y: np.ndarray) -> float:
    """The largest learning rate at which gradient descent on the mean squared error of
    ``w * x + b`` does not diverge.

    The loss L(w, b) = mean((w x + b - y)^2) is quadratic, with the same Hessian everywhere:
    H = 2/n [[sum x^2, sum x], [sum x, n]]. A step moves the error along each eigenvector of H
    by the factor (1 - rate * eigenvalue); it shrinks for every eigenvector exactly when
    rate < 2 / the largest eigenvalue, and the one along the steepest direction grows past
    it. The limit does not depend on ``y``.
    """
    return 2.0 / float(np.linalg.eigvalsh(_line_hessian(x)).max())


def _line_hessian(x: np.ndarray) -> np.ndarray:
    """The Hessian of mean((w x + b - y)^2) with respect to (w, b): 2/n [[sum x^2, sum x],
    [sum x, n]], the same at every (w, b) and for every ``y``."""
    column = np.asarray(x, dtype=float).reshape(len(x), -1)[:, 0]
    n = len(column)
    return 2.0 / n * np.array([[np.sum(column * column), np.sum(column)],
                               [np.sum(column), float(n)]])


def _stable_rate_case(x: Any, y: Any, visible: bool = False, call: str = "") -> Case:
    x = np.asarray(x, dtype=float).reshape(-1, 1)
    y = np.asarray(y, dtype=float).reshape(-1)
    if visible and not call:
        call = (f"largest_stable_rate(x, y) on {len(y)} points with x from "
                f"{x.min():.3g} to {x.max():.3g}")
    return Case((x, y), _largest_stable_rate_reference(x.copy(), y.copy()), visible=visible,
                call=call)


def _notebook_line() -> tuple[np.ndarray, np.ndarray]:
    """Notebook 6's 40 points near y = 2x - 1 (its cell 06-04 draws them the same way)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, size=(40, 1))
    return x, 2 * x[:, 0] - 1 + rng.normal(0, 0.5, size=40)


def _stable_rate_fixed() -> list[Case]:
    rng = np.random.default_rng(6)
    small = rng.uniform(0.0, 0.5, size=(12, 1))           # the bias's direction is the steepest
    large = rng.uniform(60.0, 140.0, size=(20, 1))        # x around 100: a limit near 1e-4
    negative = rng.uniform(-30.0, -10.0, size=(15, 1))
    return [
        # The notebook's own line: about 0.146 (Keras's SGD blew up between 0.14 and 0.15).
        _stable_rate_case(*_notebook_line(), visible=True,
                          call="largest_stable_rate(x_line, y_line)"),
        _stable_rate_case(small, 3 * small[:, 0] + 1 + rng.normal(0, 0.1, 12), visible=True),
        _stable_rate_case(large, 0.5 * large[:, 0] - 20 + rng.normal(0, 2, 20), visible=True),
        _stable_rate_case(negative, -negative[:, 0] + rng.normal(0, 1, 15)),
        # Two examples. Their best line, w = -5, b = 45, lies well away from any start
        # within 4 of (0, 0) along the steepest direction (see _line_targets); the
        # targets 2, -1 left (0, 0) 0.5% of its extra loss there, too little to see
        # the divergence in 100 steps.
        _stable_rate_case([[1.0], [3.0]], [40.0, 30.0]),
    ]


def _stable_rate_drawn(rng: np.random.Generator) -> list[Case]:
    """Lines of 12 to 50 points whose x spans a size drawn from 0.03 to 50 (at most about
    150 away from 0, as the visible cases' largest), so the limit ranges from about 1 down to
    about 1e-4: no one number fits them all. Their targets come from :func:`_line_targets`,
    so that an experiment shows the limit where it is."""
    cases = []
    for n, low, high in ((12, -1.5, 0.0), (30, 0.0, 1.0), (50, 1.0, 1.7)):
        scale = 10 ** rng.uniform(low, high)
        x = scale * (rng.uniform(-1.0, 2.0) + rng.uniform(0.0, 1.0, size=(n, 1)))
        cases.append(_stable_rate_case(x, _line_targets(rng, x)))
    return cases


def _line_targets(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Targets near a line whose best (w, b) lies well away from any start near (0, 0)
    along both directions of the loss's valley: the steepest one (the Hessian's largest
    eigenvalue) holds a quarter to three quarters of the loss the start has above the best
    line's, and the best (w, b) is 10 to 30 away from (0, 0) along it.

    Why: gradient descent moves the offset from the best (w, b) along each eigenvector of the
    Hessian on its own, and at (1 + d) times the limit only the part along the steepest one
    grows, by 1 + 2d per step. If that part is tiny, an experiment cannot see the divergence:
    targets drawn as a plain line left as little as 1e-5 of the start's extra loss there, and
    the master's 200-step bisection from (0, 0) answered up to 1.45% above the limit, refused
    by the 1% band. Here a start within a few units of (0, 0) (the hints' (0, 0), (1, 1),
    notebook 6's walk from (-0.5, 4)) keeps a few percent of its extra loss along the
    steepest direction, which 100 steps at 1% above the limit multiply by 1.02^200 > 50: the
    loss ends above where it started. The noise is made orthogonal to the line's columns,
    so the best line is exactly the one drawn.
    """
    features = np.hstack([x, np.ones((len(x), 1))])
    eigenvalues, eigenvectors = np.linalg.eigh(_line_hessian(x))   # ascending: flat, steep
    steep_share = rng.uniform(0.25, 0.75)
    steep = rng.uniform(10.0, 30.0)
    extra_steep = eigenvalues[1] * steep ** 2 / 2       # the loss's excess is 1/2 H d.d
    flat = np.sqrt(2 * extra_steep * (1 - steep_share) / steep_share / eigenvalues[0])
    best = eigenvectors @ (np.array([flat, steep]) * rng.choice([-1.0, 1.0], size=2))
    noise = rng.normal(0, 0.3, len(x))
    noise -= features @ np.linalg.lstsq(features, noise, rcond=None)[0]
    return features @ best + noise


# --- 07 training -----------------------------------------------------------------------------

def _steps_per_epoch_reference(num_examples: int, batch_size: int) -> int:
    return -(-num_examples // batch_size)


def _steps_case(n: int, batch: int, visible: bool = True) -> Case:
    return Case((n, batch), _steps_per_epoch_reference(n, batch), visible=visible)


def _steps_fixed() -> list[Case]:
    return [_steps_case(60000, 32), _steps_case(100, 32), _steps_case(64, 32),
            _steps_case(7, 100),
            _steps_case(60000, 59999),            # a last batch of 1: int(n / b + 0.999) is 1
            _steps_case(1, 32, False), _steps_case(65, 32, False),
            _steps_case(60000, 128, False), _steps_case(10000, 1, False),
            _steps_case(60000, 60000, False),     # one batch holds them all
            _steps_case(60000, 100_000, False),   # a batch larger than the set: still a step
            _steps_case(60000, 30000, False),     # exact: n // b + 1 is one too many
            _steps_case(1_000_001, 1_000_000, False)]   # int(n / b + 0.99999) is 1


def _steps_drawn(rng: np.random.Generator) -> list[Case]:
    """Six counts up to 100,000 in batches of 1 to 511, as training uses, then sizes that
    refuse the near misses of rounding up, which those (and the visible cases) can let
    through: int(n / b + 0.999) is wrong only when the last batch is under a thousandth of
    a full one, n // b + 1 and ceil(n / b + 1e-9) only when the batches divide evenly.

    - a batch of any size up to twice the examples, on MNIST's 60,000 and on a count up to
      2,000,000: some hold them all, some are larger than the set;
    - a last batch of a single example after 1 to 20 batches of 20,000 to 2,000,000:
      rounding up from 0.9999 short of a step (or from under half of one) is refused;
    - an exact multiple of a batch of 1,000 to 1,000,000.
    """
    cases = [_steps_case(int(n), int(b)) for n, b in
             zip(rng.integers(1, 100_000, 6), rng.integers(1, 512, 6))]
    for n in (60_000, int(rng.integers(1, 2_000_001))):
        cases.append(_steps_case(n, int(10 ** rng.uniform(0.0, np.log10(2 * n)))))
    for _ in range(2):
        batch = int(10 ** rng.uniform(np.log10(20_000), np.log10(2_000_000)))
        cases.append(_steps_case(int(rng.integers(1, 21)) * batch + 1, batch))
    batch = int(10 ** rng.uniform(3.0, 6.0))
    cases.append(_steps_case(int(rng.integers(1, 31)) * batch, batch))
    return cases


def _early_stopping_reference(val_losses: list[float], patience: int) -> tuple[int, int]:
    """``(epochs run, epoch restored)``, both counted from 1, of
    ``keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
    restore_best_weights=True)`` on a run whose validation losses would be ``val_losses``.

    Keras 3.15's ``on_epoch_end`` step for step: the first epoch is the best so far; every
    epoch adds one to ``wait``; a loss strictly below the best (min_delta 0, compared as
    float32, as ``keras.ops.less`` does) becomes the best and sets ``wait`` back to 0;
    otherwise training stops once ``wait >= patience`` (never on the first epoch). At the end
    Keras 3 restores the best epoch's weights whether or not it stopped early. A first loss of
    nan is the best and nothing beats it afterwards (nan compares False), as in Keras.
    tests/test_early_stopping_reference.py runs the real callback against this.
    """
    best: np.float32 | None = None
    best_epoch, wait = 0, 0
    for epoch, value in enumerate(val_losses):
        current = np.float32(value)
        wait += 1
        if best is None or bool(current < best):
            best, best_epoch, wait = current, epoch, 0
            continue
        if wait >= patience and epoch > 0:
            return epoch + 1, best_epoch + 1
    return len(val_losses), best_epoch + 1


def _early_stopping_case(val_losses: Any, patience: int, visible: bool = False) -> Case:
    # Losses of at most 3 decimals: two of them that differ, differ in float32 too, so
    # comparing them as Python floats (the learner) or as float32 (Keras) agrees.
    losses = [round(float(v), 3) for v in val_losses]
    call = f"early_stopping_epochs({losses}, patience={int(patience)})" if visible else ""
    return Case((losses, int(patience)), _early_stopping_reference(losses, patience),
                visible=visible, call=call)


def _early_stopping_fixed() -> list[Case]:
    return [
        # The lowest loss at epoch 3, then three epochs without a lower one: stop after 6.
        _early_stopping_case([0.9, 0.7, 0.6, 0.65, 0.62, 0.61, 0.72, 0.8], 3, visible=True),
        # Ties with the best are not improvements: stop after 4, keep epoch 2.
        _early_stopping_case([0.5, 0.4, 0.4, 0.4, 0.3], 2, visible=True),
        # Never stops early: all 5 epochs run, and the best (epoch 4) is still restored.
        _early_stopping_case([1.0, 0.9, 0.95, 0.85, 0.88], 3, visible=True),
        # The lowest loss on the last epoch.
        _early_stopping_case([0.8, 0.7, 0.6], 1, visible=True),
        # The first epoch is the best: stop after 1 + patience, restore epoch 1.
        _early_stopping_case([0.3, 0.4, 0.5, 0.6, 0.7, 0.8], 2),
        # A tie with the first epoch, then a long plateau.
        _early_stopping_case([0.5, 0.5, 0.45, 0.45, 0.45, 0.45, 0.45, 0.44, 0.3], 4),
        _early_stopping_case([0.5], 2),                                   # one epoch
        _early_stopping_case([0.6, 0.5, 0.55, 0.5, 0.49, 0.6, 0.61, 0.62, 0.63, 0.64], 5),
    ]


def _early_stopping_drawn(rng: np.random.Generator) -> list[Case]:
    """Validation losses as walks of rounded steps (ties and plateaus come often), a walk
    that falls to its end, and one whose best epoch is the first; patience 1 to 5."""
    cases = []
    for _ in range(4):
        epochs = int(rng.integers(5, 31))
        steps = rng.choice([-0.02, -0.01, 0.0, 0.0, 0.01, 0.02], size=epochs - 1)
        walk = np.round(0.5 + np.concatenate([[0.0], np.cumsum(steps)]), 2)
        cases.append(_early_stopping_case(walk, int(rng.integers(1, 6))))
    falling = np.round(np.sort(rng.uniform(0.1, 0.9, size=int(rng.integers(3, 15))))[::-1], 3)
    cases.append(_early_stopping_case(falling, int(rng.integers(1, 6))))
    rising = np.round(np.sort(rng.uniform(0.1, 0.9, size=int(rng.integers(3, 15)))), 3)
    cases.append(_early_stopping_case(rising, int(rng.integers(1, 6))))
    return cases


# --- 08 evaluating ---------------------------------------------------------------------------

def _accuracy_reference(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels)))


def accuracy_case(probabilities: np.ndarray, labels: np.ndarray, visible: bool = True,
                  call: str = "") -> Case:
    """A case of ``accuracy``: the expected value is computed here, from the arguments."""
    return Case((probabilities, labels), _accuracy_reference(probabilities, labels),
                visible=visible, call=call)


def _accuracy_fixed() -> list[Case]:
    probabilities = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5],
                              [0.6, 0.3, 0.1]])
    tens = np.full((5, 10), 0.05, dtype=np.float32)
    tens[np.arange(5), [3, 1, 4, 1, 5]] = 0.55
    return [
        accuracy_case(probabilities, np.array([1, 0, 1, 2])),                    # 0.5
        accuracy_case(tens, np.array([3, 1, 4, 0, 0], dtype=np.uint8)),          # 0.6
        accuracy_case(np.eye(10), np.arange(10)),                                # 1.0
        accuracy_case(np.eye(10)[::-1].copy(), np.arange(10), visible=False),    # 0.0
    ]


def _accuracy_drawn(rng: np.random.Generator) -> list[Case]:
    cases = []
    for rows in (50, 7, 1000):
        p = rng.random((rows, 10))
        labels = np.where(rng.random(rows) < 0.6, p.argmax(axis=1), rng.integers(0, 10, rows))
        cases.append(accuracy_case(p.astype(np.float32), labels.astype(np.uint8)))
    return cases


# --- 09 predicting ---------------------------------------------------------------------------

def predict_digit_cases(model: Any, images: np.ndarray, indices: Any,
                        name: str = "images") -> list[Case]:
    """Cases of ``predict_digit`` for ``images[indices]``; the expected digits are the
    argmax of ``model.predict`` on those images, computed here, before any learner code runs."""
    indices = [int(i) for i in indices]
    batch = np.array(images[indices], dtype=np.float32)
    expected = np.asarray(model.predict(batch, verbose=0)).argmax(axis=1)
    return [Case((model, batch[k].copy()), int(expected[k]),
                 call=f"predict_digit(model, {name}[{index}])")
            for k, index in enumerate(indices)]


#: How many test digits the visible ``predict_digit`` check runs.
PREDICT_DIGIT_VISIBLE = 6
#: The least gap between the stand-in model's two largest logits on a stored digit. The
#: probabilities' ratio is then at least e**2, so float32 rounding (in Keras) against float64
#: (here) can never change which digit is most probable.
PREDICT_DIGIT_MARGIN = 2.0


def _stand_in_weights() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The weights of the small stand-in model the visible ``predict_digit`` check uses, and
    the sample's test images with their 0..1 pixels.

    A nearest-class-mean classifier written as one Dense layer: column ``k`` of the kernel is
    the mean image of digit ``k`` over the MNIST sample shipped with the package, and its bias
    is minus half that mean's squared length, so the largest logit belongs to the closest mean.
    It needs no training and is the same on every machine: the class sums are exact integer
    sums and every later step is one IEEE operation per value.

    Returns:
        ``(kernel (784, 10) float32, bias (10,) float32, test images (n, 28, 28) float32,
        logits (n, 10) float64)``.
    """
    from course_utils.data import read_mnist_npz, sample_path

    (x_train, y_train), (x_test, _) = read_mnist_npz(sample_path())
    flat = x_train.reshape(len(x_train), -1).astype(np.int64)
    sums = np.stack([flat[y_train == digit].sum(axis=0) for digit in range(10)], axis=1)
    counts = np.bincount(y_train, minlength=10)
    means = (sums / (counts * 255.0)).astype(np.float32)                  # (784, 10)
    bias = (-0.5 * np.sum(means.astype(np.float64) ** 2, axis=0)).astype(np.float32)
    images = (x_test.astype(np.float32) / np.float32(255.0))
    logits = images.reshape(len(images), -1).astype(np.float64) @ means.astype(np.float64) \
        + bias.astype(np.float64)
    return means, bias, images, logits


def _predict_digit_visible() -> tuple[list[Case], dict[str, np.ndarray]]:
    """The visible cases of ``predict_digit`` and the stand-in model's weights.

    The images are the first MNIST test digits whose two largest logits differ by at least
    :data:`PREDICT_DIGIT_MARGIN`, each with a different expected digit, so a learner's
    ``predict_digit`` meets several answers. The model argument is left out of each case's
    ``args``: the check builds the stand-in model from the stored weights and passes it first.
    """
    kernel, bias, images, logits = _stand_in_weights()
    ordered = np.sort(logits, axis=1)
    gaps = ordered[:, -1] - ordered[:, -2]
    cases, digits = [], set()
    for index in range(len(images)):
        digit = int(logits[index].argmax())
        if gaps[index] >= PREDICT_DIGIT_MARGIN and digit not in digits:
            digits.add(digit)
            cases.append(Case((images[index].copy(),), digit,
                              call=f"predict_digit(model, x_test[{index}])"))
        if len(cases) == PREDICT_DIGIT_VISIBLE:
            break
    return cases, {"kernel": kernel, "bias": bias}


# --- 10 going further ------------------------------------------------------------------------

def _dataset_megabytes_reference(n: int, dtype: Any) -> float:
    return n * 28 * 28 * np.dtype(dtype).itemsize / 1e6


def _megabytes_case(n: int, dtype: Any, visible: bool = True) -> Case:
    return Case((n, dtype), _dataset_megabytes_reference(n, dtype), visible=visible)


def _megabytes_fixed() -> list[Case]:
    return [_megabytes_case(60000, "uint8"), _megabytes_case(60000, "float32"),
            _megabytes_case(60000, "float64"), _megabytes_case(10, np.float16),
            _megabytes_case(10000, "float16", False), _megabytes_case(1, np.uint8, False),
            _megabytes_case(70000, np.float64, False), _megabytes_case(0, "float32", False)]


def _megabytes_drawn(rng: np.random.Generator) -> list[Case]:
    return [_megabytes_case(int(n), t) for n, t in
            zip(rng.integers(1, 100_000, 4), ("int16", np.float32, "uint8", np.int64))]


# --- the key ---------------------------------------------------------------------------------

def _none() -> list[Case]:
    return []


def _none_drawn(rng: np.random.Generator) -> list[Case]:
    return []


#: Every exercise judged case by case, by name. ``predict_digit``'s cases need a model:
#: :func:`predict_digit_cases` makes them, and its visible cases use a stand-in model.
KEYS: dict[str, Key] = {
    "neuron": Key(_neuron_fixed, _neuron_drawn),
    "dense_forward": Key(_dense_fixed, _dense_drawn),
    "relu": Key(_elementwise_fixed(_relu_reference), _elementwise_drawn(_relu_reference, 10.0)),
    "sigmoid": Key(_elementwise_fixed(_sigmoid_reference),
                   _elementwise_drawn(_sigmoid_reference, 5.0)),
    "softmax": Key(_softmax_fixed, _softmax_drawn),
    "normalize": Key(_normalize_fixed, _normalize_drawn),
    "one_hot": Key(_one_hot_fixed, _one_hot_drawn),
    "cross_entropy": Key(_cross_entropy_fixed, _cross_entropy_drawn),
    "gradient_step": Key(_gradient_step_fixed, _gradient_step_drawn),
    "largest_stable_rate": Key(_stable_rate_fixed, _stable_rate_drawn),
    "steps_per_epoch": Key(_steps_fixed, _steps_drawn),
    "early_stopping_epochs": Key(_early_stopping_fixed, _early_stopping_drawn),
    "accuracy": Key(_accuracy_fixed, _accuracy_drawn),
    "predict_digit": Key(_none, _none_drawn),
    "dataset_megabytes": Key(_megabytes_fixed, _megabytes_drawn),
}


def fixed_cases(name: str) -> list[Case]:
    """Every fixed case of exercise ``name``, visible and hidden, made afresh."""
    return KEYS[name].fixed()


def all_cases(name: str, seed: int | None) -> list[Case]:
    """Every fixed case of exercise ``name``, then the cases drawn from ``seed`` (none when
    it is None). The re-check outside the student's kernel judges an answer on these."""
    cases = fixed_cases(name)
    if seed is not None:
        cases += KEYS[name].drawn(np.random.default_rng(seed))
    return cases


def visible_cases(name: str) -> list[Case]:
    """The cases the learner's check runs (``predict_digit``'s without their model)."""
    if name == "predict_digit":
        return _predict_digit_visible()[0]
    return [case for case in fixed_cases(name) if case.visible]


def _stored_case(case: Case) -> dict[str, Any]:
    return {"args": tuple(case.args), "kwargs": dict(case.kwargs), "expected": case.expected,
            "call": case.call}


def visible_store() -> dict[str, Any]:
    """What ``visible_cases.npz`` holds: the format, each exercise's visible cases and the
    stand-in model's weights (see :mod:`course_utils.exercises` for the reader)."""
    _, weights = _predict_digit_visible()
    return {
        "format": FORMAT,
        "cases": {name: [_stored_case(case) for case in visible_cases(name)] for name in KEYS},
        "predict_digit_model": weights,
    }


def same(a: Any, b: Any) -> bool:
    """Whether two stored values are the same data: same types, shapes, dtypes and values."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def write_visible_cases(path: Path = VISIBLE_CASES_PATH) -> bool:
    """Store the visible cases at ``path``; return whether the file changed.

    The file is only rewritten when what it holds differs (an archive records when it was
    written, so rewriting the same cases would still change its bytes).
    """
    value = visible_store()
    if stale_visible_cases(path, value) == []:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plain.pack(value))
    return True


def stale_visible_cases(path: Path = VISIBLE_CASES_PATH,
                        value: dict[str, Any] | None = None) -> list[str]:
    """How the stored visible cases at ``path`` differ from what :func:`visible_store` makes
    now, one line per exercise; empty when they are up to date."""
    value = visible_store() if value is None else value
    name = path.name
    if not path.is_file():
        return [f"missing: {name}"]
    try:
        stored = plain.unpack(path.read_bytes())
    except plain.PlainDataError as error:
        return [f"unreadable: {name} ({error})"]
    if not isinstance(stored, dict) or set(stored) != set(value):
        return [f"out of date: {name} (another layout)"]
    problems = [f"out of date: {name} ({key})" for key in value
                if key != "cases" and not same(stored[key], value[key])]
    cases = stored["cases"] if isinstance(stored["cases"], dict) else {}
    problems += [f"out of date: {name} (the cases of {exercise})"
                 for exercise in sorted(set(cases) | set(value["cases"]))
                 if not same(cases.get(exercise), value["cases"].get(exercise))]
    return problems
