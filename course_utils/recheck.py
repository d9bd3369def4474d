"""The program of the kernel in which the grader re-checks a submission's answers.

Why it exists: a mark is confirmed outside the student's own kernel (see the grading side's
``course_grading.verify``). The grader starts a fresh, sandboxed kernel that runs only the
student's own code, then one last cell that calls :func:`run` with a request: for each
exercise, the inputs to call it with (drawn by the grader, plain data). :func:`run` calls the
student's functions and sends back what they returned, as plain data (``course_utils.plain``),
in one display output. It never sees an expected value: the grader judges the results in its
own process. Whatever the student's code did to this kernel can only change what is sent
back, and the grader treats that as untrusted input.

``build_model`` is answered by the model's Keras description instead; :func:`rebuild` is
the program of the second kernel, which rebuilds that model without the student's code.

It lives in the learner's package because the grading side is never importable in a kernel.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_utils import plain

#: The MIME type of the one display output that carries the results.
MIME = "application/x-nn-python-recheck"
#: The exercise checked by behaviour rather than by cases.
MODEL_EXERCISE = "build_model"
#: What to do when a model cannot be rebuilt from its description.
REBUILD_ADVICE = ("build it from Keras's own layers, activations, loss and optimizer "
                  "(no class, function or lambda of your own), so that it can be rebuilt "
                  "from model.to_json() alone")
#: Where the re-check notebook's first cell keeps the first error the student's cells raised.
FIRST_ERROR = "__nn_first_error"
#: Longest error text sent back for one call.
_ERROR_CHARS = 300


def run(request: str, namespace: Mapping[str, Any]) -> None:
    """Answer the grader's ``request`` (base64 of a plain blob) with ``namespace``'s functions.

    Args:
        request: ``{"jobs": {name: {"cases": [[args, kwargs], ...]} | {"model": True}},
            "model": {arrays for build_model}}`` packed by :func:`course_utils.plain.pack`.
        namespace: where the student's functions are (the kernel's ``globals()``).
    """
    from IPython.display import display

    asked = plain.unpack(base64.b64decode(request))
    models: dict[str, Any] = {}
    results: dict[str, Any] = {}
    for name, job in asked["jobs"].items():
        if name not in namespace:  # the student's cells stopped before defining it
            first = namespace.get(FIRST_ERROR)
            first = first[:_ERROR_CHARS] if isinstance(first, str) else "none raised an error"
            missing = {"ok": False, "error": f"NameError: {name} was not defined when your "
                                             f"cells ran without the notebook's other cells: "
                                             f"{first}"}
            results[name] = [missing] * (len(job["cases"]) if "cases" in job else 1)
            continue
        function = namespace.get(name)
        if job.get("model"):
            results[name] = [_model(function, asked["model"])]
            continue
        answers = []
        for args, kwargs in job["cases"]:
            try:
                got = function(*_load(args, models), **_load(kwargs, models))
                answers.append({"ok": True, "got": got})
            except BaseException as error:  # noqa: BLE001 - every failure is an answer
                answers.append({"ok": False, "error": _error(error)})
        results[name] = answers
    display({MIME: base64.b64encode(plain.pack(results)).decode("ascii")}, raw=True)


def _error(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:_ERROR_CHARS]}"


def _load(value: Any, models: dict[str, Any]) -> Any:
    """Arguments as the function takes them: a model reference becomes the loaded model."""

    def load(leaf: Any) -> Any:
        if not isinstance(leaf, plain.ModelRef):
            return leaf
        if leaf.path not in models:
            import keras

            models[leaf.path] = keras.models.load_model(leaf.path)
        return models[leaf.path]

    return plain.map_leaves(value, load)


def _model(build: Callable[[], Any] | None, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """What ``build()`` made, as its Keras description (``course_utils.model_facts``): the
    grader rebuilds the model from it in a kernel of its own and judges that model, so nothing
    this kernel computes about the model decides anything."""
    try:
        from course_utils import model_facts

        model = build()  # type: ignore[misc]
        model(arrays["model_images"][:1])  # builds a model declared without an Input
        return {"ok": True, **model_facts.description(model),
                "new_each_call": build() is not model}
    except BaseException as error:  # noqa: BLE001 - every failure is an answer
        return {"ok": False, "error": _error(error)}


def rebuild(request: str) -> None:
    """Rebuild a model from its Keras description alone and say what it computes.

    The program of the grader's second kernel for ``build_model``: that kernel runs none of the
    student's code, only this, on ``request`` (base64 of a plain blob: ``{"description":
    {"config", "compile"}, "model": {arrays}}``). With the grader's weights set, it sends back
    the model's outputs on the grader's images, its loss on known values and its metrics,
    beside :func:`course_utils.model_facts.facts`.
    """
    from IPython.display import display

    asked = plain.unpack(base64.b64decode(request))
    display({MIME: base64.b64encode(plain.pack({"rebuilt": _rebuilt(
        asked["description"], asked["model"])})).decode("ascii")}, raw=True)


def _rebuilt(described: Mapping[str, str], arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    import keras

    from course_utils import model_facts

    try:
        model = model_facts.rebuilt(dict(described))
    except ValueError as error:
        return {"ok": False, "error": f"the model could not be rebuilt from its Keras "
                                      f"description ({str(error)[:300]}): {REBUILD_ADVICE}"}
    try:
        probe = arrays["model_images"]
        model(probe[:1])
        answer: dict[str, Any] = {"ok": True, **model_facts.facts(model, probe)}
        if answer["shapes"] == [[784, 512], [512], [512, 10], [10]]:
            model.set_weights([arrays["w1"], arrays["b1"], arrays["w2"], arrays["b2"]])
            answer["outputs"] = np.asarray(model(probe))
            if answer["compiled"]:
                loss = model.loss
                if isinstance(loss, str):
                    loss = keras.losses.get(loss)
                value = loss(keras.ops.convert_to_tensor(arrays["y_true"]),
                             keras.ops.convert_to_tensor(arrays["y_pred"]))
                answer["loss"] = np.asarray(keras.ops.convert_to_numpy(value))
                scores = model.evaluate(probe, arrays["y_true"], verbose=0, return_dict=True)
                answer["metrics"] = {str(k): float(v) for k, v in scores.items()}
        return answer
    except BaseException as error:  # noqa: BLE001 - every failure is an answer
        return {"ok": False, "error": _error(error)}
