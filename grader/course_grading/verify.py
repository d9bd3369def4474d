"""Confirm, outside the student's kernel, every exercise the notebook's own test cell passed.

Why it exists: nbgrader scores a test cell by running it in the student's kernel, after the
student's code. Whatever that kernel holds can lie to the test: a solution cell can replace
``np.array_equal``, the course's checks or Python's builtins, swallow exceptions, rewrite the
test cell before it runs, or return an object that says it equals anything. Blocking such
tricks one by one never ends. So a mark is confirmed where the student's code has no reach:

1. a fresh kernel (in the same sandbox as grading, in a fresh working folder and runtime
   folder the student's graded kernel never saw) runs only the student's own code: their
   solution cells and any cells they added, after the master's import lines; never the test
   cells, never the master's data loading or training;
2. its last cell carries the inputs the grader drew from a secret seed, as plain data
   (``course_utils.plain``: no pickles); ``course_utils.recheck`` calls each exercise's
   function and sends back what it returned, as plain data again, in one display output. The
   grader writes no file where a kernel can reach, and reads that output within size, depth,
   dtype and shape limits;
3. the grader compares those results with the expected values it computed itself, in its own
   process, from the answer key (the grading side).

**Fail closed.** When the re-check itself fails (the kernel cannot start, dies, runs past its
deadline, or no readable result comes back), :func:`verify` raises :class:`RecheckError`,
saying whether the grader or the student's code is at fault; the grading command then
confirms nothing in that notebook.

A result cannot be faked without computing it: patching the kernel changes nothing in the
grader, and the inputs are new on every run. ``build_model`` returns a model, not a
number, so the kernel sends back only the model's Keras description (``model.to_json()``
and its compile configuration): a second fresh, sandboxed kernel that runs none of the
student's code rebuilds the model from it (Keras's safe mode: no lambdas, no classes of
one's own), loads the grader's secret weights and reports its outputs on secret images,
its loss on known values, its optimizer and what it learns with
(``course_utils.model_facts``); the grader checks them against a NumPy forward pass of the
reference network. A kernel that lies can only send a description, and what is judged is
the model that description builds. An exercise whose test
passed in the notebook but fails here loses that test cell's points, and the grader says why.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
from nbclient import NotebookClient

from course_utils import plain, recheck

#: The exercise checked by behaviour rather than by cases.
MODEL_EXERCISE = recheck.MODEL_EXERCISE
#: What the grader reads back from the re-check kernel, at the most.
RESULT_LIMITS = plain.Limits(max_bytes=64 * 2**20, max_items=200_000)
#: Output the re-check keeps from its kernel, in bytes: only the harness cell's result
#: output is kept at all; the student's cells' outputs are dropped as they arrive.
MAX_OUTPUT_BYTES = 96 * 2**20

Executor = Callable[[nbformat.NotebookNode], nbformat.NotebookNode]


@dataclass(frozen=True)
class Verdict:
    """What the grader found when it checked one exercise outside the student's kernel."""

    exercise: str
    """The exercise's function name (its test cell is ``test_<exercise>``)."""
    ok: bool
    """True when every secret case came out right."""
    message: str = ""
    """Why not, in one line, when ``ok`` is False."""


class RecheckError(Exception):
    """The re-check could not be done; nothing of the notebook is confirmed."""

    def __init__(self, reason: str, *, grader_fault: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        """What happened, in one line."""
        self.grader_fault = grader_fault
        """True when the grading machine is at fault (fix it and grade again), False when
        the student's code stopped the re-check."""


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
        except (SyntaxError, ValueError, ImportError, RecursionError, MemoryError):
            names |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", source))
    return names


def _statements(source: str) -> list[str]:
    """``source`` cut before each top-level statement: the pieces, joined, are ``source``.

    Why: the re-check runs the student's cells without the master's other cells, so a line
    that uses the notebook's data (``print(inputs)`` before the ``def``) fails there, and a
    cell stops at its first error: the function after it would never be defined, and a right
    answer would score 0. With one piece per cell (the re-check carries on after a failing
    cell), every statement runs, in order. Comments and blank lines go with the statement
    after them, decorators with their definition, statements sharing a line stay together. A
    source that does not parse as Python (IPython's magics, a syntax error, nesting past the
    parser) stays whole, to run as it is.
    """
    import ast
    import io

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [source]
    ends: list[int] = []  # the last line of each piece, counted from 1
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        if ends and start <= ends[-1]:
            ends[-1] = max(ends[-1], node.end_lineno or start)
        else:
            ends.append(node.end_lineno or start)
    if len(ends) < 2:
        return [source]
    lines = io.StringIO(source, newline="").readlines()  # the line breaks ast counts
    pieces = ["".join(lines[begin:end]) for begin, end in zip([0] + ends[:-1], ends)]
    pieces[-1] += "".join(lines[ends[-1]:])
    return pieces


def _first_error_cell() -> str:
    """A cell that keeps the first error any later cell raises, as ``"Type: message"``, in
    the kernel's globals under ``recheck.FIRST_ERROR``: when a function never got defined,
    :func:`course_utils.recheck.run` names that error instead of calling ``None``."""
    key = recheck.FIRST_ERROR
    return ("def __nn_keep_first_error(result):\n"
            "    error = result.error_before_exec or result.error_in_exec\n"
            f"    if error is not None and {key!r} not in globals():\n"
            "        try:\n"
            "            text = f'{type(error).__name__}: {error}'\n"
            "        except Exception:\n"
            "            text = type(error).__name__\n"
            f"        globals()[{key!r}] = text[:300]\n"
            "get_ipython().events.register('post_run_cell', __nn_keep_first_error)")


def verification_notebook(submitted: Any, master: Any, request: bytes) -> nbformat.NotebookNode:
    """The notebook the verification kernel runs: master imports, the student's own code, and
    a last cell that answers ``request`` (a plain blob) through ``course_utils.recheck``.

    The student's own code is every code cell of the submission that is not one of the
    master's cells: their solution cells and any cells they added. The master's other cells
    (data loading, training, figures), every test cell and the solution cells no test grades
    are left out: they are not needed to call the exercises, and the test cells are what this
    check replaces. Each top-level statement of the student's code runs in a cell of its own
    (:func:`_statements`), so that one that needs a left-out cell does not stop the rest; a
    first cell notes the first error, for the message when a function is missing.
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
    nb.cells = [nbformat.v4.new_code_cell(_first_error_cell()),
                nbformat.v4.new_code_cell("\n".join(dict.fromkeys(preamble)))]
    nb.cells += [nbformat.v4.new_code_cell(piece) for source in own
                 for piece in _statements(source)]
    encoded = base64.b64encode(request).decode("ascii")
    nb.cells.append(nbformat.v4.new_code_cell(
        f"import course_utils.recheck as __nn_recheck\n__nn_recheck.run({encoded!r}, globals())"))
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


def rebuild_model(answer: Any, request: dict[str, np.ndarray], master: Any,
                  execute: Executor) -> Any:
    """The model the student's kernel described, rebuilt and measured in a kernel of its own.

    That kernel runs none of the student's code: only ``course_utils.recheck.rebuild`` on the
    description (Keras's own, read in safe mode) and the grader's secret weights and images.
    So whatever the student's kernel did, what is judged is a model Keras built from a
    description, measured where the student's code never ran.

    Raises:
        RecheckError: the second kernel could not start (the grader's fault), or the
            description stopped it (the student's).
    """
    if not isinstance(answer, dict) or not answer.get("ok"):
        return None
    described = {key: answer.get(key) for key in ("config", "compile")}
    if not all(isinstance(value, str) for value in described.values()):
        return {"ok": False, "error": "the model's description is not text"}
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(master.metadata.get("kernelspec", {}))
    encoded = base64.b64encode(plain.pack({"description": described, "model": request}))
    nb.cells = [nbformat.v4.new_code_cell(
        f"import course_utils.recheck as __nn_recheck\n"
        f"__nn_recheck.rebuild({encoded.decode('ascii')!r})")]
    return read_results(execute(nb)).get("rebuilt")


def judge_model(answer: Any, rebuilt: Any, request: dict[str, np.ndarray]) -> str | None:
    """None when ``build_model()`` is the reference network.

    ``answer`` is what the student's kernel sent (whether ``build_model()`` ran, and made a new
    model on each call); ``rebuilt`` is what :func:`rebuild_model` measured on the model
    rebuilt from its description, against a NumPy forward pass of the reference network with
    the same secret weights.
    """
    from course_utils import model_facts

    if not isinstance(answer, dict):
        return "no result came back"
    if not answer.get("ok"):
        return f"build_model() failed: {str(answer.get('error', ''))[:200]}"
    if not isinstance(rebuilt, dict):
        return "the model's description could not be checked"
    if not rebuilt.get("ok"):
        return str(rebuilt.get("error", "the model could not be rebuilt"))[:400]
    wanted = [[784, 512], [512], [512, 10], [10]]
    if rebuilt.get("shapes") != wanted:
        return (f"the model's weights have shapes {rebuilt.get('shapes')}, expected {wanted} "
                f"(Flatten, Dense(512), Dense(10))")
    x = request["model_images"].reshape(len(request["model_images"]), -1).astype(np.float64)
    hidden = np.maximum(0.0, x @ request["w1"] + request["b1"])
    logits = hidden @ request["w2"] + request["b2"]
    exps = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected = exps / exps.sum(axis=1, keepdims=True)
    outputs = rebuilt.get("outputs")
    if not isinstance(outputs, np.ndarray) or outputs.shape != expected.shape:
        return "the model's outputs on secret images have the wrong shape"
    if not np.allclose(outputs.astype(np.float64), expected, atol=1e-4):
        return ("with the grader's weights the model does not compute "
                "softmax(relu(x W1 + b1) W2 + b2)")
    try:
        said = model_facts.problems(rebuilt)
    except (TypeError, ValueError, KeyError, IndexError) as error:
        said = [f"its facts could not be read ({type(error).__name__})"]
    if said:
        return said[0]
    if not rebuilt.get("compiled"):
        return "the model is not compiled"
    loss = rebuilt.get("loss")
    want_loss = _cross_entropy(request["y_true"], request["y_pred"])
    if not isinstance(loss, np.ndarray) or not np.isclose(float(np.mean(loss)),
                                                           float(np.mean(want_loss)),
                                                           rtol=1e-3, atol=1e-4):
        return "the compiled loss is not categorical cross-entropy on probabilities"
    optimizer = rebuilt.get("optimizer") or {}
    if optimizer.get("class") != "Adam" or \
            not str(optimizer.get("module", "")).startswith("keras."):
        return f"the optimizer is {optimizer.get('class')}, expected Keras's Adam"
    metrics = rebuilt.get("metrics") or {}
    accuracy = float(np.mean(expected.argmax(1) == request["y_true"].argmax(1)))
    if not isinstance(metrics, dict) or not any(
            "acc" in str(k) and isinstance(v, float) and abs(v - accuracy) < 1e-6
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


def verify(submitted: Any, master: Any, names: list[str], execute: Executor, *,
           seed: int | None = None, reference_model_path: Path | None = None,
           images: np.ndarray | None = None) -> list[Verdict]:
    """Check ``names`` (exercise functions) of one submission outside the student's kernel.

    Args:
        submitted: the student's notebook (nbformat node).
        master: the course's master of the same notebook.
        names: the exercises to confirm (those whose test cell passed in the notebook).
        execute: runs a notebook in a fresh kernel and returns it executed (the grading
            command passes :func:`sandboxed_executor`); raises :class:`RecheckError`.
        seed: the secret seed; a fresh one from ``secrets`` when None.
        reference_model_path: the grader's trained reference model (``predict_digit``); the
            kernel must be able to read it at that path.
        images: images to draw ``predict_digit``'s cases from (``uint8`` or 0..1 floats).

    Raises:
        RecheckError: the re-check could not be done; nothing is confirmed.
    """
    from course_utils import exercises

    names = [n for n in names if n == MODEL_EXERCISE or n in exercises.EXERCISES]
    if not names:
        return []
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    reference_model = None
    if "predict_digit" in names and reference_model_path is not None:
        import keras

        reference_model = keras.models.load_model(reference_model_path)
    model_ref = plain.ModelRef(str(reference_model_path)) if reference_model_path else None
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
        jobs[name] = {"cases": [[_sendable(list(case.args), model_ref),
                                 _sendable(dict(case.kwargs), model_ref)] for case in cases]}
    request = plain.pack({"jobs": jobs, "model": model_request})
    results = read_results(execute(verification_notebook(submitted, master, request)))
    rebuilt = None
    if MODEL_EXERCISE in jobs and isinstance(results.get(MODEL_EXERCISE), list):
        rebuilt = rebuild_model((results[MODEL_EXERCISE] or [None])[0], model_request,
                                master, execute)
    verdicts = []
    for name in names:
        if name in problems:
            verdicts.append(Verdict(name, False, problems[name]))
            continue
        answers = results.get(name)
        if not isinstance(answers, list):
            verdicts.append(Verdict(name, False, f"{name} could not be called outside the "
                                                 f"notebook (is it defined in its own cell?)"))
            continue
        if name == MODEL_EXERCISE:
            problem = judge_model(answers[0] if answers else None, rebuilt, model_request)
        else:
            problem = _judge_cases(name, expected[name], answers)
        verdicts.append(Verdict(name, problem is None, problem or ""))
    return verdicts


def _sendable(value: Any, model_ref: plain.ModelRef | None) -> Any:
    """Case arguments as plain data: the reference model travels as a reference to its file."""

    def send(leaf: Any) -> Any:
        if not _is_keras_model(leaf):
            return leaf
        if model_ref is None:
            raise ValueError("a case needs the reference model, and none was given")
        return model_ref

    return plain.map_leaves(value, send)


def _as_unit(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images


def _judge_cases(name: str, cases: list[Any], answers: list[Any]) -> str | None:
    from course_utils import exercises

    exercise = exercises.EXERCISES[name]
    if len(answers) != len(cases):
        return f"{name} answered {len(answers)} of {len(cases)} secret cases"
    for number, (case, answer) in enumerate(zip(cases, answers), start=1):
        if not isinstance(answer, dict):
            return f"secret case {number}: no result"
        if not answer.get("ok"):
            return f"secret case {number}: {name} raised {str(answer.get('error', ''))[:200]}"
        got = answer.get("got")
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


def read_results(executed: nbformat.NotebookNode) -> dict[str, Any]:
    """The results the re-check kernel's last cell sent back, read within limits.

    Raises:
        RecheckError: no result came back, or it is not plain data within the limits (the
            student's code stopped or tampered with the harness).
    """
    cell = executed.cells[-1] if executed.cells else None
    blobs = [output.get("data", {}).get(recheck.MIME) for output in
             (cell.get("outputs", []) if cell is not None else [])
             if output.get("output_type") == "display_data"]
    blobs = [blob for blob in blobs if isinstance(blob, str)]
    if not blobs:
        errors = [f"{o.get('ename')}: {str(o.get('evalue'))[:200]}" for o in
                  (cell.get("outputs", []) if cell is not None else [])
                  if o.get("output_type") == "error"]
        raise RecheckError("no result came back from the re-check (the student's code "
                           "stopped it or replaced it" + (f": {errors[0]}" if errors else "")
                           + ")", grader_fault=False)
    try:
        if len(blobs[0]) > RESULT_LIMITS.max_bytes * 4 // 3 + 4:
            raise plain.PlainDataError("the result is larger than allowed")
        results = plain.unpack(base64.b64decode(blobs[0], validate=True), RESULT_LIMITS)
    except (plain.PlainDataError, ValueError) as error:
        raise RecheckError(f"the re-check's result is not plain data within the limits "
                           f"({str(error)[:200]})", grader_fault=False) from None
    if not isinstance(results, dict):
        raise RecheckError("the re-check's result is not a mapping", grader_fault=False)
    return results


#: Seconds the re-check may take beyond its cells' own time: the kernel's start and the
#: exercise calls (a few seconds when measured, TensorFlow's import included).
RECHECK_ALLOWANCE = 30
#: Most seconds the cells of one re-check may take together, unless one cell's ``timeout``
#: is longer: a student's own slow cells are allowed for, but not without end.
MAX_RECHECK_CELLS_SECONDS = 600


def recheck_deadline(timeout: int, cells: int = 1) -> int:
    """Seconds the whole re-check of one notebook may take, however its cells behave.

    Every one of the ``cells`` the re-check runs may use the full per-cell ``timeout``, as in
    the notebook's own run (where it is interrupted then), so a right answer next to a few
    slow cells of the student's own is still confirmed; together they get at most
    :data:`MAX_RECHECK_CELLS_SECONDS` (or one ``timeout``, when that is longer), plus
    :data:`RECHECK_ALLOWANCE`. Past it the kernel is killed and nothing of the notebook is
    confirmed, so a solution cell that never ends, or ignores the interrupt, cannot dodge the
    re-check.
    """
    cells_time = max(timeout, min(timeout * max(cells, 1), MAX_RECHECK_CELLS_SECONDS))
    return cells_time + RECHECK_ALLOWANCE


class _BoundedClient(NotebookClient):
    """nbclient, keeping only the last cell's result output, within a byte budget.

    The student's cells may print without end; what they print is not needed here, so it
    is dropped as it arrives instead of growing the grader's memory.
    """

    started = False
    kept = 0

    async def async_start_new_kernel_client(self):  # noqa: ANN201 - nbclient's signature
        client = await super().async_start_new_kernel_client()
        self.started = True
        return client

    def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001, ANN201
        if cell_index != len(self.nb.cells) - 1:
            return None
        content = msg.get("content", {})
        data = content.get("data", {}) if isinstance(content, dict) else {}
        size = sum(len(v) for v in data.values() if isinstance(v, str)) if isinstance(
            data, dict) else 0
        self.kept += size + len(str(content.get("evalue", "")))
        if self.kept > MAX_OUTPUT_BYTES:
            return None
        return super().output(outs, msg, display_id, cell_index)


def run_notebook(notebook: nbformat.NotebookNode, manager: Any, timeout: int,
                 cwd: str | None = None) -> nbformat.NotebookNode:
    """Run ``notebook`` with ``manager``'s kernel within :func:`recheck_deadline` of its cells.

    Raises:
        RecheckError: the kernel could not start (the grader's fault), or died or ran past
            the deadline (the student's code).
    """
    from course_grading.sandbox import BoundedKernelClient

    manager.client_factory = BoundedKernelClient  # the kernel's output waits in the kernel
    client = _BoundedClient(notebook, km=manager, timeout=timeout, allow_errors=True,
                            interrupt_on_timeout=True, startup_timeout=60)
    deadline = recheck_deadline(timeout, sum(c.cell_type == "code" for c in notebook.cells))
    expired: list[bool] = []  # set when the deadline, not the kernel, stopped the run

    def stop(task: asyncio.Future) -> None:
        expired.append(True)
        task.cancel()

    async def run() -> None:
        task = asyncio.ensure_future(client.async_execute(cwd=cwd))
        timer = asyncio.get_running_loop().call_later(deadline, stop, task)
        try:
            await task
        except asyncio.CancelledError:  # a BaseException: name it, as nbclient may not
            raise TimeoutError(f"ran past {deadline} s") from None
        finally:
            timer.cancel()
            if manager.has_kernel:  # stopped at the deadline: kill it, never wait on it
                await manager.shutdown_kernel(now=True)

    try:
        asyncio.run(run())
    except Exception as error:  # noqa: BLE001 - every failure is named below
        text = f"{type(error).__name__}: {str(error).strip()[:200]}"
        if not client.started:
            raise RecheckError(f"the grader's re-check kernel could not start ({text}): fix "
                               f"the grading machine and grade again",
                               grader_fault=True) from None
        if expired:  # nbclient reports the cancelled cell as a dead kernel: say what it was
            text = f"it ran past its {deadline} s deadline"
        raise RecheckError(f"the student's code stopped the re-check ({text})",
                           grader_fault=False) from None
    return notebook
