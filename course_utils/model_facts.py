"""What a Keras model is made to learn with, as plain facts, and what the course's model may not have.

Why it exists: the course's model (Flatten, Dense(512, relu), Dense(10, softmax), compiled with
categorical cross-entropy, Adam and accuracy) can be written in many right ways, and also in
ways that compute the right outputs yet cannot learn: weights that start all equal, frozen
layers, a regularizer or a constraint, a Dropout layer, an Adam whose step is far too large or
that decays the weights. Outputs alone do not show these. :func:`facts` reads them from a model
as plain data, and :func:`problems` says, in the learner's words, which the model has.

Both sides use them: the learner's check on the model in their own kernel, and the grader on
the model it rebuilt from the Keras description alone (``model.to_json()`` and
``model.get_compile_config()``), in a kernel that never ran the student's code
(:func:`rebuild`). Nothing here is secret: the facts asked for are Keras's defaults.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

#: Adam's learning rates a learner may choose and still train the course's model: Keras's
#: default (0.001) give or take a factor of ten.
LEARNING_RATES = (1e-4, 1e-2)
#: A kernel's starting weights must spread like Keras's own initializers do (Glorot's
#: sqrt(2 / (fan_in + fan_out)), He's and LeCun's are within a factor of two of it).
SPREAD_FACTORS = (0.2, 5.0)
#: Largest starting bias a learner may choose (Keras starts biases at 0).
MAX_START_BIAS = 1.0
#: Longest Keras description of a model the grader rebuilds, in characters.
MAX_DESCRIPTION_CHARS = 1_000_000
#: TensorFlow's own activations that Keras writes under a name it cannot read back: the same
#: function, under the name Keras reads.
_TENSORFLOW_ACTIVATIONS = {"softmax_v2": "softmax"}


def facts(model: Any, probe: np.ndarray) -> dict[str, Any]:
    """What ``model`` (built, compiled or not) starts from and learns with, as plain data.

    ``probe`` is a batch of inputs; the model is called on it once in inference mode and once
    in training mode. Its weights are read, never changed.
    """
    weights = model.get_weights()
    inference = np.asarray(model(probe, training=False))
    training = np.asarray(model(probe, training=True))
    found: dict[str, Any] = {
        "shapes": [list(w.shape) for w in weights],
        "spread": [[float(np.std(w)), float(np.max(np.abs(w))) if w.size else 0.0]
                   for w in weights],
        "weights": len(model.weights), "trainable": len(model.trainable_weights),
        "penalties": len(model.losses),
        "constrained": sorted({type(layer).__name__ for layer in model.layers
                               if any(getattr(layer, name, None) is not None for name in
                                      ("kernel_constraint", "bias_constraint"))}),
        "training_differs": bool(inference.shape != training.shape
                                 or not np.allclose(inference, training, atol=1e-6)),
        "compiled": bool(getattr(model, "compiled", False)
                         and getattr(model, "optimizer", None) is not None),
    }
    if found["compiled"]:
        optimizer = model.optimizer
        found["optimizer"] = {
            "class": type(optimizer).__name__, "module": type(optimizer).__module__,
            "learning_rate": float(np.asarray(optimizer.learning_rate)),
            "weight_decay": float(getattr(optimizer, "weight_decay", None) or 0.0)}
    return found


def problems(found: dict[str, Any]) -> list[str]:
    """What in ``found`` (from :func:`facts`) keeps the model from being the course's model,
    one sentence each; empty when nothing does.

    Only facts a model of the right shape can get wrong are judged here: the layers, the
    outputs and the loss are judged apart.
    """
    said = []
    for index, (std, largest) in enumerate(found.get("spread", [])):
        shape = found["shapes"][index]
        if len(shape) == 2:
            glorot = math.sqrt(2.0 / (shape[0] + shape[1]))
            low, high = (glorot * factor for factor in SPREAD_FACTORS)
            if not low <= std <= high:
                said.append(f"the weights of shape {tuple(shape)} start with a spread of "
                            f"{std:.3g}, where Keras's initializers give about {glorot:.2g}: "
                            f"weights that start all equal (or huge) cannot learn. Keep the "
                            f"default kernel_initializer.")
        elif len(shape) == 1 and largest > MAX_START_BIAS:
            said.append(f"the biases of shape {tuple(shape)} start as large as {largest:.3g}; "
                        f"Keras starts them at 0. Keep the default bias_initializer.")
    if found.get("trainable") != found.get("weights"):
        said.append(f"only {found.get('trainable')} of the model's {found.get('weights')} "
                    f"weight arrays can learn: a layer is frozen (trainable=False).")
    if found.get("penalties"):
        said.append("the model adds a penalty to its loss (a kernel, bias or activity "
                    "regularizer): the description has none.")
    if found.get("constrained"):
        said.append(f"the model constrains its weights ({', '.join(found['constrained'])} "
                    f"with kernel_constraint or bias_constraint): the description has none.")
    if found.get("training_differs"):
        said.append("the model computes something else while it trains than when it "
                    "predicts (a Dropout or noise layer?): the description has no such layer.")
    optimizer = found.get("optimizer")
    if found.get("compiled") and isinstance(optimizer, dict) and optimizer.get("class") == "Adam":
        rate = optimizer.get("learning_rate", math.nan)
        low, high = LEARNING_RATES
        if not low <= rate <= high:
            said.append(f"Adam's learning rate is {rate:.3g}; Keras's default, 0.001, trains "
                        f"this model (anything from {low:g} to {high:g} does). Write "
                        f"optimizer='adam'.")
        if optimizer.get("weight_decay"):
            said.append("the optimizer decays the weights (weight_decay): the description asks "
                        "for Adam as it comes.")
    return said


def description(model: Any) -> dict[str, str]:
    """``model``'s Keras description: its architecture and how it was compiled, as JSON text.

    Raises:
        ValueError: the model cannot be described (a model class of one's own, a layer or an
            activation written as a Python function); the grader could not rebuild it.
    """
    try:
        config = model.to_json()
    except Exception as error:
        raise ValueError(f"model.to_json() failed ({type(error).__name__}: "
                         f"{str(error)[:200]})") from None
    compiled = model.get_compile_config() if hasattr(model, "get_compile_config") else None
    return {"config": config, "compile": json.dumps(compiled) if compiled else ""}


def rebuilt(described: dict[str, str]) -> Any:
    """A new model from ``described`` (:func:`description`) alone, compiled as it was.

    Keras's safe mode refuses Python code in a description (lambdas), and a class that is not
    Keras's own cannot be found: only what Keras itself can build comes back.

    Raises:
        ValueError: it cannot be rebuilt, with the reason.
    """
    import keras

    config = described.get("config", "")
    compiled = described.get("compile", "")
    if not isinstance(config, str) or not isinstance(compiled, str) or \
            len(config) + len(compiled) > MAX_DESCRIPTION_CHARS:
        raise ValueError("the model's description is not text of a sensible size")
    try:
        model = keras.models.model_from_json(json.dumps(_readable(json.loads(config))))
        if compiled:
            model.compile_from_config(json.loads(compiled))
    except Exception as error:
        raise ValueError(f"{type(error).__name__}: {str(error).strip()[:200]}") from None
    return model


def _readable(config: Any) -> Any:
    """``config`` with TensorFlow's own activations under the names Keras reads back."""
    if isinstance(config, dict):
        if config.get("class_name") == "function" and config.get("module") == "builtins" \
                and config.get("config") in _TENSORFLOW_ACTIVATIONS:
            return _TENSORFLOW_ACTIVATIONS[config["config"]]
        return {key: _readable(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_readable(value) for value in config]
    return config
