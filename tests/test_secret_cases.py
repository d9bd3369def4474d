"""The answer key's secret cases over many seeds: every right method gets through all of
them, and a wrong one does not.

The re-check outside the student's kernel judges a passing answer on the fixed cases and on
cases drawn from a secret seed (:func:`course_grading.answers.all_cases`). A drawing that
now and then makes a case no right method can pass takes a right answer's points at random;
one that never makes a case a wrong method fails lets that method through. So these tests
draw a few thousand cases and judge them with the learner's own comparisons
(:mod:`course_utils.exercises`), in-process and without a kernel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import answer_styles
from course_grading import answers
from course_utils import exercises
from course_utils.exercises import Case

#: Seeds drawn from: 3 drawn cases each for largest_stable_rate, so about 2,000 cases.
STABLE_RATE_SEEDS = range(667)


def _stable_rate_cases() -> list[Case]:
    """The fixed cases, then those drawn from every seed of STABLE_RATE_SEEDS."""
    key = answers.KEYS["largest_stable_rate"]
    cases = key.fixed()
    for seed in STABLE_RATE_SEEDS:
        cases += key.drawn(np.random.default_rng(seed))
    return cases


@pytest.fixture(scope="module")
def stable_rate_cases() -> list[Case]:
    return _stable_rate_cases()


# --- largest_stable_rate: experiments with gradient descent, run on every case at once -----

def _comes_down(x: np.ndarray, y: np.ndarray, rates: np.ndarray, steps: int,
                start: tuple[float, float], dtype: str, strict: bool) -> np.ndarray:
    """For each row (one case's x and y, all with the same number of points): does the loss
    end finite and no higher (``strict``: lower) than it started, after ``steps`` steps of
    gradient descent at that row's rate from ``start``? The sum over the examples of
    ``gradient_step``, on every case at once; in ``dtype`` throughout (float32 as Keras)."""
    x, y, rates = x.astype(dtype), y.astype(dtype), rates.astype(dtype)
    w = np.full(len(x), start[0], dtype=dtype)
    b = np.full(len(x), start[1], dtype=dtype)

    def loss() -> np.ndarray:
        return np.mean((x * w[:, None] + b[:, None] - y) ** 2, axis=1)

    begin = loss()
    with np.errstate(all="ignore"):
        for _ in range(steps):
            errors = x * w[:, None] + b[:, None] - y
            w, b = (w - rates * 2 * np.mean(errors * x, axis=1),
                    b - rates * 2 * np.mean(errors, axis=1))
        end = loss()
        came_down = end < begin if strict else end <= begin
    return np.isfinite(end) & came_down


def _bisection(x: np.ndarray, y: np.ndarray, steps: int = 200,
               start: tuple[float, float] = (0.0, 0.0), dtype: str = "float64",
               strict: bool = False) -> np.ndarray:
    """The master's method (solutions/06, cell largest_stable_rate), on every row at once:
    double a rate from 1e-8 until it blows up, then halve the gap between the last rate that
    came down and the first that did not until it is 0.1% of the rate; the last good one."""
    low, high = np.zeros(len(x)), np.full(len(x), 1e-8)
    growing = np.ones(len(x), dtype=bool)
    while growing.any():
        growing &= _comes_down(x, y, high, steps, start, dtype, strict)
        low, high = np.where(growing, high, low), np.where(growing, 2 * high, high)
    while (gap := (high - low > 0.001 * high)).any():
        middle = (low + high) / 2
        good = _comes_down(x, y, middle, steps, start, dtype, strict)
        low = np.where(gap & good, middle, low)
        high = np.where(gap & ~good, middle, high)
    return low


def _sweep(rates: np.ndarray, steps: int, dtype: str = "float64",
           strict: bool = False) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A sweep from (0, 0) over fixed candidate rates, keeping the largest that came down
    (tests/answer_styles.py's logspace_sweep and keras_sgd_sweep), on every row at once."""
    def sweep(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        best = np.zeros(len(x))
        for rate in rates:
            good = _comes_down(x, y, np.full(len(x), rate), steps, (0.0, 0.0), dtype, strict)
            best = np.where(good, float(np.asarray(rate, dtype=dtype)), best)
        return best
    return sweep


#: The experiments notebook 6 teaches (hints: from (0, 0), a few hundred steps, the loss at
#: the end against the start; a sweep spaced by a constant factor, or doubling then
#: narrowing), the right styles' own among them, and a few a learner may well choose: fewer
#: steps than the text asks, another start (notebook 6's own walk starts from (-0.5, 4)).
EXPERIMENTS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "the master's bisection, 200 steps": _bisection,
    "logspace_sweep, 200 rates of 200 steps": _sweep(np.logspace(-6, 1, 200), 200),
    "keras_sgd_sweep, float32, 300 steps, end < start":
        _sweep(np.geomspace(1e-6, 2.0, 160), 300, "float32", strict=True),
    "a bisection of only 100 steps": lambda x, y: _bisection(x, y, steps=100),
    "a bisection of 300 steps from (-0.5, 4)":
        lambda x, y: _bisection(x, y, steps=300, start=(-0.5, 4.0)),
    "a bisection of 200 steps from (1, 1)":
        lambda x, y: _bisection(x, y, start=(1.0, 1.0)),
}


def _run_on_every_case(method: Callable[[np.ndarray, np.ndarray], np.ndarray],
                       cases: list[Case]) -> list[float]:
    """``method``'s answer for each case, computed on the cases of each size together."""
    answers_found = [0.0] * len(cases)
    for size in sorted({len(case.args[1]) for case in cases}):
        rows = [i for i, case in enumerate(cases) if len(case.args[1]) == size]
        x = np.stack([cases[i].args[0][:, 0] for i in rows])
        y = np.stack([cases[i].args[1] for i in rows])
        for i, value in zip(rows, method(x, y)):
            answers_found[i] = float(value)
    return answers_found


def _masters_function(name: str) -> Callable[..., object]:
    """Notebook 6's master solution cells, run as the learner's would be: the function."""
    import nbformat
    from conftest import ROOT

    notebook = nbformat.read(ROOT / "solutions" / "06_gradient_descent.ipynb", as_version=4)
    names: dict = {"np": np}
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in ("gradient_step", name):
            exec(compile(cell.source, f"<master {name}>", "exec"), names)
    return names[name]


def test_the_bisection_here_is_the_masters(stable_rate_cases):
    """_bisection runs the master's cell on all cases at once: on a few cases it answers as
    the cell itself does (to a step of its bisection: the sums may round differently)."""
    master = _masters_function("largest_stable_rate")
    cases = stable_rate_cases[:14]
    found = _run_on_every_case(_bisection, cases)
    for case, value in zip(cases, found):
        assert master(case.args[0].copy(), case.args[1].copy()) == pytest.approx(value, rel=2e-3)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_taught_experiment_passes_every_stable_rate_case(experiment, stable_rate_cases):
    """Just above the limit, an experiment sees the divergence only if its start holds some
    of its extra loss along the steepest direction of the loss; drawn as a plain line, a case
    could hold 1e-5 of it there, and the master's own bisection answered 1.45% above the
    limit, refused."""
    found = _run_on_every_case(EXPERIMENTS[experiment], stable_rate_cases)
    refused = [(i, value / float(case.expected)) for i, (case, value)
               in enumerate(zip(stable_rate_cases, found))
               if exercises.LARGEST_STABLE_RATE.compare(value, case, case.args)]
    assert refused == [], f"{len(refused)} cases refused (case, answer / limit): {refused[:5]}"


def test_the_closed_form_styles_pass_every_stable_rate_case(stable_rate_cases):
    for style in ("hessian_eigenvalue", "two_by_two_formula"):
        function = answer_styles.define(
            "largest_stable_rate", answer_styles.RIGHT["largest_stable_rate"][style])
        assert exercises.judge(exercises.LARGEST_STABLE_RATE, function,
                               stable_rate_cases) == len(stable_rate_cases), style


@pytest.mark.parametrize("wrong", ["half the limit: 1 / the largest eigenvalue",
                                   "2 / the smallest eigenvalue", "2% above the limit",
                                   "a learning rate that diverges: twice the limit"])
def test_every_stable_rate_case_refuses_a_wrong_limit(wrong, stable_rate_cases):
    factor = {"half the limit: 1 / the largest eigenvalue": 0.5, "2% above the limit": 1.02,
              "a learning rate that diverges: twice the limit": 2.0}
    for case in stable_rate_cases:
        limit = float(case.expected)
        if wrong in factor:
            value = factor[wrong] * limit
        else:
            features = np.hstack([case.args[0], np.ones((len(case.args[1]), 1))])
            hessian = 2 * features.T @ features / len(case.args[1])
            value = 2 / float(np.linalg.eigvalsh(hessian).min())
        assert exercises.LARGEST_STABLE_RATE.compare(value, case, case.args), (wrong, limit)


@pytest.mark.parametrize("style", ["one_over_eigenvalue", "weight_only", "notebook_value",
                                   "every_stable_rate", "no_return"])
def test_every_seed_refuses_the_quick_wrong_stable_rate_styles(style):
    """Each seed's cases, fixed and drawn, refuse the wrong styles of tests/answer_styles.py
    that answer without an experiment (those that run one are refused by the visible cases:
    tests/test_checks.py)."""
    source, _ = answer_styles.WRONG["largest_stable_rate"][style]
    function = answer_styles.define("largest_stable_rate", source)
    for seed in STABLE_RATE_SEEDS:
        with pytest.raises(exercises.Incorrect):
            exercises.judge(exercises.LARGEST_STABLE_RATE, function,
                            answers.all_cases("largest_stable_rate", seed))


# --- steps_per_epoch: rounding up, and its near misses ---------------------------------------

STEPS_SEEDS = range(2000)

#: Near misses of rounding up that the visible cases may let through: only the secret ones
#: refuse them, each on every seed's drawn cases (with the last batch a single example after
#: batches of 20,000 and more, 0.9999 short of a whole step is caught).
STEPS_NEAR_MISSES = {
    "int(n / b + 0.9999)": "int(num_examples / batch_size + 0.9999)",
    "round(n / b + 0.4999)": "round(num_examples / batch_size + 0.4999)",
}


def _steps_source(body: str) -> str:
    """An answer's cell: steps_per_epoch returning ``body``."""
    return f"\ndef steps_per_epoch(num_examples, batch_size):\n    return {body}\n"


def _drawn_steps_cases(seed: int) -> list[Case]:
    return answers.KEYS["steps_per_epoch"].drawn(np.random.default_rng(seed))


@pytest.mark.parametrize("style", ["ceil", "negative_floor", "add_then_floor", "divmod",
                                   "int_of_np_ceil"])
def test_every_seed_passes_a_right_steps_per_epoch(style):
    function = answer_styles.define("steps_per_epoch",
                                    answer_styles.RIGHT["steps_per_epoch"][style])
    for seed in STEPS_SEEDS:
        cases = answers.all_cases("steps_per_epoch", seed)
        assert exercises.judge(exercises.STEPS_PER_EPOCH, function, cases) == len(cases)


def _wrong_steps_styles() -> dict[str, str]:
    wrong = {name: source for name, (source, _) in answer_styles.WRONG["steps_per_epoch"].items()}
    return wrong | {name: _steps_source(body) for name, body in STEPS_NEAR_MISSES.items()}


@pytest.mark.parametrize("style", _wrong_steps_styles())
def test_every_seeds_drawn_cases_refuse_a_wrong_steps_per_epoch(style):
    """int(n / b + 0.999) passed every case of 2,000 seeds when no drawn batch was larger
    than 511: it is wrong only when the last batch is under a thousandth of a full one."""
    function = answer_styles.define("steps_per_epoch", _wrong_steps_styles()[style])
    for seed in STEPS_SEEDS:
        with pytest.raises(exercises.Incorrect):
            exercises.judge(exercises.STEPS_PER_EPOCH, function, _drawn_steps_cases(seed))


def test_a_fixed_secret_case_refuses_rounding_up_from_a_hundred_thousandth():
    function = answer_styles.define("steps_per_epoch",
                                    _steps_source("int(num_examples / batch_size + 0.99999)"))
    with pytest.raises(exercises.Incorrect):
        exercises.judge(exercises.STEPS_PER_EPOCH, function,
                        answers.fixed_cases("steps_per_epoch"))


def test_drawn_steps_cases_reach_batches_as_large_as_the_set_and_beyond():
    """Realistic sizes: a batch of the whole set (one step) and larger ones (still one)."""
    cases = [case for seed in range(200) for case in _drawn_steps_cases(seed)]
    assert all(isinstance(v, int) for case in cases for v in case.args)
    assert any(b > n for n, b in (case.args for case in cases))
    assert any(b >= 100_000 for _, b in (case.args for case in cases))
    assert any(n == 60_000 and b > 30_000 for n, b in (case.args for case in cases))
