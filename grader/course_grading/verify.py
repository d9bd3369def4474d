"""Confirm, outside the student's kernel, every exercise the notebook's own test cell passed.

Why it exists: nbgrader scores a test cell by running it in the student's kernel, after the
student's code. Whatever that kernel holds can lie to the test: a solution cell can replace
``np.array_equal``, the course's checks or Python's builtins, swallow exceptions, rewrite the
test cell before it runs, or return an object that says it equals anything. Blocking such
tricks one by one never ends. So a mark is confirmed where the student's code has no reach:

1. a fresh kernel (in the same sandbox as grading) runs only the student's own code: their
   solution cells and any cells they added, after the master's import lines; never the test
   cells, never the master's data loading or training;
2. the grader sends that kernel inputs it draws from a secret seed, as plain data (``.npz``
   without pickles, and JSON); the kernel calls each exercise's function and sends back what
   it returned, as plain data again;
3. the grader compares those results with the expected values it computed itself, in its own
   process, from the course's contracts (``course_utils.exercises``).

A result cannot be faked without computing it: patching the kernel changes nothing in the
grader, and the inputs are new on every run. ``build_model`` is confirmed by behaviour: the
grader sends secret weights and images, the kernel loads the weights into the student's model
and returns its outputs, its loss on known values and its optimizer's class, and the grader
checks them against a NumPy forward pass of the reference network. An exercise whose test
passed in the notebook but fails here loses that test cell's points, and the grader says why.
"""

from __future__ import annotations

import json
import secrets
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

#: Files the grader writes for the verification kernel and reads back from it.
REQUEST_JSON, REQUEST_NPZ = "verify_request.json", "verify_request.npz"
RESULT_JSON, RESULT_NPZ = "verify_result.json", "verify_result.npz"
#: The reference model's file name inside the verification kernel's folder (09's exercise).
MODEL_FILE = "reference_model.keras"
#: Largest result the grader reads back, in bytes (a result is a few arrays).
MAX_RESULT_BYTES = 64 * 2**20
#: The exercise checked by behaviour rather than by cases.
MODEL_EXERCISE = "build_model"

Executor = Callable[[nbformat.NotebookNode, Path], None]


@dataclass(frozen=True)
class Verdict:
    """What the grader found when it checked one exercise outside the student's kernel."""

    exercise: str
    """The exercise's function name (its test cell is ``test_<exercise>``)."""
    ok: bool
    """True when every secret case came out right."""
    message: str = ""
    """Why not, in one line, when ``ok`` is False."""


# --- plain data in and out -------------------------------------------------------------------

#: Runs in the verification kernel. It reads the request, calls each function, writes results;
#: only NumPy and JSON, no pickles. Whatever the student's code did to this kernel, it can only
#: change what is written back, and the grader judges that.
HARNESS = textwrap.dedent('''
    def __nn_python_verify():
        import json as _json
        import numpy as _np

        request = _json.load(open("verify_request.json"))
        arrays = dict(_np.load("verify_request.npz", allow_pickle=False))
        out_arrays, counter = {}, [0]
        model_cache = {}

        def decode(item):
            kind = item["t"]
            if kind == "nd":
                return arrays[item["k"]].copy()
            if kind == "np":
                return arrays[item["k"]][()]
            if kind in ("list", "tuple"):
                values = [decode(v) for v in item["v"]]
                return values if kind == "list" else tuple(values)
            if kind == "model":
                if "model" not in model_cache:
                    import keras
                    model_cache["model"] = keras.models.load_model(item["path"])
                return model_cache["model"]
            if kind == "dtype":
                return _np.dtype(item["v"]).type
            return item.get("v")

        def encode(value, depth=0):
            # NumPy first: np.float64 is also a Python float, and keeps its own type here.
            if isinstance(value, (_np.ndarray, _np.generic)) and value.dtype != object:
                key = "r%d" % counter[0]
                counter[0] += 1
                out_arrays[key] = _np.asarray(value)
                return {"t": "nd" if isinstance(value, _np.ndarray) else "np", "k": key}
            if value is None:
                return {"t": "none"}
            if type(value) is bool:
                return {"t": "bool", "v": value}
            if type(value) is int:
                return {"t": "int", "v": value}
            if type(value) is float:
                return {"t": "float", "v": value}
            if type(value) is str:
                return {"t": "str", "v": value[:1000]}
            if type(value) in (list, tuple) and depth < 3 and len(value) <= 10000:
                return {"t": type(value).__name__, "v": [encode(v, depth + 1) for v in value]}
            return {"t": "other", "type": type(value).__module__ + "." + type(value).__name__}

        results = {}
        for name, job in request["jobs"].items():
            function = globals().get(name)
            answers = []
            if job.get("model"):
                answers.append(__nn_python_model(function, arrays, encode))
            else:
                for case in job["cases"]:
                    try:
                        args = [decode(a) for a in case["args"]]
                        kwargs = {k: decode(v) for k, v in case["kwargs"].items()}
                        got = function(*args, **kwargs)
                        answers.append({"ok": True, "got": encode(got)})
                    except BaseException as error:
                        answers.append({"ok": False,
                                        "error": type(error).__name__ + ": " + str(error)[:300]})
            results[name] = answers
        _np.savez("verify_result.npz", **out_arrays)
        with open("verify_result.json", "w") as handle:
            _json.dump(results, handle)

    def __nn_python_model(build, arrays, encode):
        import numpy as _np
        try:
            import keras
            model = build()
            probe = arrays["model_images"]
            model(probe[:1])  # builds a model declared without an Input
            shapes = [list(w.shape) for w in model.get_weights()]
            answer = {"ok": True, "shapes": shapes,
                      "optimizer": type(getattr(model, "optimizer", None)).__name__,
                      "new_each_call": build() is not model}
            if shapes == [[784, 512], [512], [512, 10], [10]]:
                model.set_weights([arrays["w1"], arrays["b1"], arrays["w2"], arrays["b2"]])
                answer["outputs"] = encode(_np.asarray(model(probe)))
                loss = model.loss
                if isinstance(loss, str):
                    loss = keras.losses.get(loss)
                value = loss(keras.ops.convert_to_tensor(arrays["y_true"]),
                             keras.ops.convert_to_tensor(arrays["y_pred"]))
                answer["loss"] = encode(_np.asarray(keras.ops.convert_to_numpy(value)))
                scores = model.evaluate(probe, arrays["y_true"], verbose=0, return_dict=True)
                answer["metrics"] = {str(k): float(v) for k, v in scores.items()}
            return answer
        except BaseException as error:
            return {"ok": False, "error": type(error).__name__ + ": " + str(error)[:300]}

    __nn_python_verify()
''')


class _Encoder:
    """Turn case arguments into JSON descriptions plus named arrays, for the request."""

    def __init__(self, model_path: str | None) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.model_path = model_path

    def __call__(self, value: Any) -> dict[str, Any]:
        if isinstance(value, np.ndarray):
            key = f"a{len(self.arrays)}"
            self.arrays[key] = value
            return {"t": "nd", "k": key}
        if isinstance(value, np.generic):
            key = f"a{len(self.arrays)}"
            self.arrays[key] = np.asarray(value)
            return {"t": "np", "k": key}
        if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
            return {"t": "py", "v": value}
        if isinstance(value, (list, tuple)):
            return {"t": "list" if isinstance(value, list) else "tuple",
                    "v": [self(v) for v in value]}
        if isinstance(value, type) and issubclass(value, np.generic):
            return {"t": "dtype", "v": np.dtype(value).str}
        if _is_keras_model(value):
            if self.model_path is None:
                raise ValueError("a case needs the reference model, and none was given")
            return {"t": "model", "path": self.model_path}
        raise TypeError(f"cannot send a {type(value).__name__} to the verification kernel")


class _Opaque:
    """Stands for a result that is not plain data (a tensor, an object): never right."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


def _decode(item: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Rebuild a value the kernel sent back; anything unexpected becomes an ``_Opaque``."""
    if not isinstance(item, dict):
        return _Opaque("malformed result")
    kind = item.get("t")
    if kind == "none":
        return None
    if kind == "bool" and isinstance(item.get("v"), bool):
        return item["v"]
    if kind == "int" and isinstance(item.get("v"), int):
        return item["v"]
    if kind == "float" and isinstance(item.get("v"), float) and not isinstance(item["v"], bool):
        return item["v"]
    if kind == "str" and isinstance(item.get("v"), str):
        return item["v"]
    if kind in ("list", "tuple") and isinstance(item.get("v"), list):
        values = [_decode(v, arrays) for v in item["v"]]
        return values if kind == "list" else tuple(values)
    if kind == "nd" and item.get("k") in arrays:
        return arrays[item["k"]]
    if kind == "np" and item.get("k") in arrays and arrays[item["k"]].ndim == 0:
        return arrays[item["k"]][()]
    return _Opaque(str(item.get("type", "unknown result")))


def _is_keras_model(value: Any) -> bool:
    return any(cls.__name__ in ("Model", "Sequential", "Functional")
               and cls.__module__.split(".")[0] in ("keras", "tf_keras")
               for cls in type(value).__mro__)


# --- which code runs in the verification kernel ----------------------------------------------

def _grade_id(cell: Any) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _import_lines(source: str, used: set[str]) -> list[str]:
    """The import statements of a master cell that bind a name in ``used``, as source lines.

    Only what the student's code uses is imported, so an exercise in NumPy never waits for
    TensorFlow in the verification kernel.
    """
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()
    kept = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound = {(alias.asname or alias.name).split(".")[0] for alias in node.names}
            if bound & used:
                kept.append("\n".join(lines[node.lineno - 1:node.end_lineno]))
    return kept


def _names_used(sources: list[str]) -> set[str]:
    """Every name the sources read or bind; a source that does not parse counts whole words."""
    import ast
    import re

    names: set[str] = set()
    for source in sources:
        try:
            from IPython.core.inputtransformer2 import TransformerManager

            tree = ast.parse(TransformerManager().transform_cell(source))
            names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        except (SyntaxError, ValueError, ImportError):
            names |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", source))
    return names


def verification_notebook(submitted: Any, master: Any) -> nbformat.NotebookNode:
    """The notebook the verification kernel runs: master imports, the student's own code.

    The student's own code is every code cell of the submission that is not one of the
    master's cells: their solution cells and any cells they added. The master's other cells
    (data loading, training, figures), every test cell and the solution cells no test grades
    are left out: they are not needed to call the exercises, and the test cells are what this
    check replaces.
    """
    master_code = {c.source.strip(): c for c in master.cells if c.cell_type == "code"}
    graded_sources = {c.source.strip() for c in master.cells
                      if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {})
                      .get("grade")}
    solution_ids = {_grade_id(c) for c in master.cells
                    if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    test_ids = {f"test_{name}" for name in solution_ids}
    master_ids = {_grade_id(c) for c in master.cells}
    # Solution cells no test grades (the training notebook's own model and calls) confirm
    # nothing, and would only bring their imports (TensorFlow) into the kernel.
    ungraded = {name for name in solution_ids if f"test_{name}" not in master_ids}
    own = []
    for cell in submitted.cells:
        if cell.cell_type != "code":
            continue
        source = cell.source.strip()
        if source in graded_sources or _grade_id(cell) in test_ids | ungraded:
            continue
        if source in master_code and _grade_id(cell) not in solution_ids:
            continue
        own.append(cell.source)
    used = _names_used(own)
    preamble = []
    for cell in master.cells:
        if cell.cell_type == "code" and not cell.get("metadata", {}).get("nbgrader", {}).get(
                "grade"):
            preamble += _import_lines(cell.source, used)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(master.metadata.get("kernelspec", {}))
    nb.cells = [nbformat.v4.new_code_cell("\n".join(dict.fromkeys(preamble)))]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in own]
    nb.cells.append(nbformat.v4.new_code_cell(HARNESS))
    return nb


# --- the model exercise ----------------------------------------------------------------------

def _model_request(rng: np.random.Generator) -> dict[str, np.ndarray]:
    images = rng.random((6, 28, 28)).astype(np.float32)
    y_true = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 6)]
    y_pred = rng.dirichlet(np.ones(10), 6).astype(np.float32)
    return {
        "model_images": images,
        "w1": (rng.normal(size=(784, 512)) * 0.05).astype(np.float32),
        "b1": (rng.normal(size=512) * 0.05).astype(np.float32),
        "w2": (rng.normal(size=(512, 10)) * 0.2).astype(np.float32),
        "b2": (rng.normal(size=10) * 0.1).astype(np.float32),
        "y_true": y_true, "y_pred": y_pred,
    }


def _cross_entropy(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    clipped = np.clip(y_pred.astype(np.float64), 1e-7, 1 - 1e-7)
    clipped = clipped / clipped.sum(axis=-1, keepdims=True)
    return -(y_true * np.log(clipped)).sum(axis=-1)


def judge_model(answer: Any, request: dict[str, np.ndarray],
                arrays: dict[str, np.ndarray]) -> str | None:
    """None when the kernel's account of ``build_model()`` matches the reference network."""
    if not isinstance(answer, dict):
        return "no result came back"
    if not answer.get("ok"):
        return f"build_model() failed: {str(answer.get('error', ''))[:200]}"
    wanted = [[784, 512], [512], [512, 10], [10]]
    if answer.get("shapes") != wanted:
        return (f"the model's weights have shapes {answer.get('shapes')}, expected {wanted} "
                f"(Flatten, Dense(512), Dense(10))")
    x = request["model_images"].reshape(len(request["model_images"]), -1).astype(np.float64)
    hidden = np.maximum(0.0, x @ request["w1"] + request["b1"])
    logits = hidden @ request["w2"] + request["b2"]
    exps = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected = exps / exps.sum(axis=1, keepdims=True)
    outputs = _decode(answer.get("outputs"), arrays)
    if not isinstance(outputs, np.ndarray) or outputs.shape != expected.shape:
        return "the model's outputs on secret images have the wrong shape"
    if not np.allclose(outputs.astype(np.float64), expected, atol=1e-4):
        return ("with the grader's weights the model does not compute "
                "softmax(relu(x W1 + b1) W2 + b2)")
    loss = _decode(answer.get("loss"), arrays)
    want_loss = _cross_entropy(request["y_true"], request["y_pred"])
    if not isinstance(loss, np.ndarray) or not np.isclose(float(np.mean(loss)),
                                                           float(np.mean(want_loss)),
                                                           rtol=1e-3, atol=1e-4):
        return "the compiled loss is not categorical cross-entropy on probabilities"
    if answer.get("optimizer") != "Adam":
        return f"the optimizer is {answer.get('optimizer')}, expected Adam"
    metrics = answer.get("metrics") or {}
    accuracy = float(np.mean(expected.argmax(1) == request["y_true"].argmax(1)))
    if not any("acc" in str(k) and isinstance(v, float) and abs(v - accuracy) < 1e-6
               for k, v in metrics.items()):
        return "the model is not compiled with the accuracy metric"
    if not answer.get("new_each_call"):
        return "build_model() must build a new model on every call"
    return None


# --- putting it together ---------------------------------------------------------------------

def _cases_for(name: str, rng: np.random.Generator, reference_model: Any,
               images: np.ndarray | None) -> list[Any]:
    from course_grading import answers

    if name == "predict_digit":
        if reference_model is None or images is None:
            raise ValueError("predict_digit needs the reference model and some images")
        indices = rng.choice(len(images), size=8, replace=False)
        return answers.predict_digit_cases(reference_model, images, indices)
    return answers.all_cases(name, int(rng.integers(0, 2**63 - 1)))


def verify(submitted: Any, master: Any, names: list[str], folder: Path, execute: Executor, *,
           seed: int | None = None, reference_model_path: Path | None = None,
           images: np.ndarray | None = None) -> list[Verdict]:
    """Check ``names`` (exercise functions) of one submission outside the student's kernel.

    Args:
        submitted: the student's notebook (nbformat node).
        master: the course's master of the same notebook.
        names: the exercises to confirm (those whose test cell passed in the notebook).
        folder: the verification kernel's working folder: the request goes in, results come
            back; nothing else of the grader's is in it.
        execute: runs a notebook in a fresh kernel with ``folder`` as working folder (the
            grading command passes a sandboxed one), errors allowed.
        seed: the secret seed; a fresh one from ``secrets`` when None.
        reference_model_path: the grader's trained reference model (``predict_digit``).
        images: images to draw ``predict_digit``'s cases from (``uint8`` or 0..1 floats).
    """
    from course_utils import exercises

    names = [n for n in names if n == MODEL_EXERCISE or n in exercises.EXERCISES]
    if not names:
        return []
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    reference_model = None
    model_arg = None
    if "predict_digit" in names and reference_model_path is not None:
        import shutil

        import keras

        shutil.copy2(reference_model_path, folder / MODEL_FILE)
        model_arg = MODEL_FILE
        reference_model = keras.models.load_model(reference_model_path)
    encoder = _Encoder(model_arg)
    jobs: dict[str, Any] = {}
    expected: dict[str, list[Any]] = {}
    model_request: dict[str, np.ndarray] = {}
    problems: dict[str, str] = {}
    for name in names:
        if name == MODEL_EXERCISE:
            model_request = _model_request(rng)
            jobs[name] = {"model": True}
            continue
        try:
            cases = _cases_for(name, rng, reference_model,
                               None if images is None else _as_unit(images))
        except ValueError as error:
            problems[name] = f"could not be checked: {error}"
            continue
        expected[name] = cases
        jobs[name] = {"cases": [{"args": [encoder(a) for a in case.args],
                                 "kwargs": {k: encoder(v) for k, v in case.kwargs.items()}}
                                for case in cases]}
    (folder / REQUEST_JSON).write_text(json.dumps({"jobs": jobs}))
    np.savez(folder / REQUEST_NPZ, **encoder.arrays, **model_request)
    for stale in (RESULT_JSON, RESULT_NPZ):
        (folder / stale).unlink(missing_ok=True)
    execute(verification_notebook(submitted, master), folder)
    results, arrays = _read_results(folder)
    verdicts = []
    for name in names:
        if name in problems:
            verdicts.append(Verdict(name, False, problems[name]))
            continue
        answers = results.get(name) if isinstance(results, dict) else None
        if not isinstance(answers, list):
            verdicts.append(Verdict(name, False, f"{name} could not be called outside the "
                                                 f"notebook (is it defined in its own cell?)"))
            continue
        if name == MODEL_EXERCISE:
            problem = judge_model(answers[0] if answers else None, model_request, arrays)
        else:
            problem = _judge_cases(name, expected[name], answers, arrays)
        verdicts.append(Verdict(name, problem is None, problem or ""))
    return verdicts


def _as_unit(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images


def _judge_cases(name: str, cases: list[Any], answers: list[Any],
                 arrays: dict[str, np.ndarray]) -> str | None:
    from course_utils import exercises

    exercise = exercises.EXERCISES[name]
    if len(answers) != len(cases):
        return f"{name} answered {len(answers)} of {len(cases)} secret cases"
    for number, (case, answer) in enumerate(zip(cases, answers), start=1):
        if not isinstance(answer, dict):
            return f"secret case {number}: no result"
        if not answer.get("ok"):
            return f"secret case {number}: {name} raised {str(answer.get('error', ''))[:200]}"
        got = _decode(answer.get("got"), arrays)
        if got is None:
            return f"secret case {number}: {name} returned None"
        passed = case.args  # the grader's own copy; the kernel had its own
        try:
            problem = exercise.compare(got, case, passed)
        except Exception as error:  # a malformed result must not crash the grader
            problem = f"the result could not be judged ({type(error).__name__})"
        if problem:
            return f"secret case {number}: {problem}"
    return None


def _read_results(folder: Path) -> tuple[Any, dict[str, np.ndarray]]:
    """The kernel's results, read defensively: no pickles, bounded sizes."""
    result_json, result_npz = folder / RESULT_JSON, folder / RESULT_NPZ
    try:
        if result_json.stat().st_size > MAX_RESULT_BYTES or (
                result_npz.stat().st_size > MAX_RESULT_BYTES):
            return {}, {}
        results = json.loads(result_json.read_text())
        with np.load(result_npz, allow_pickle=False) as loaded:
            arrays = {key: loaded[key] for key in loaded.files}
    except (OSError, ValueError, json.JSONDecodeError):
        return {}, {}
    return results, arrays
