"""The answer key of ``early_stopping_epochs`` is Keras's own EarlyStopping, replayed.

The reference on the grading side (``course_grading.answers._early_stopping_reference``) claims
to say what ``keras.callbacks.EarlyStopping(monitor="val_loss", patience=p,
restore_best_weights=True)`` does on a run whose validation losses are given. Here the installed
Keras says it itself, two ways: its callback driven epoch by epoch on a stand-in model whose
"weights" are the epoch number (every fixed and drawn case of the answer key, and drawn
sequences with ties, plateaus, nan and patience 0 to 5), and a real ``fit`` of a tiny model
whose validation losses a callback replaces before EarlyStopping reads them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_grading import answers


class _EpochWeights:
    """A stand-in model: its weights are the number of the epoch that just ended."""

    def __init__(self) -> None:
        self.epoch = -1
        self.stop_training = False
        self.restored: int | None = None

    def get_weights(self) -> list[int]:
        return [self.epoch]

    def set_weights(self, weights: list[int]) -> None:
        self.restored = weights[0]


def _keras(val_losses: list[float], patience: int) -> tuple[int, int | None]:
    """``(epochs run, epoch restored)`` by Keras's callback, both counted from 1."""
    import keras

    model = _EpochWeights()
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                             restore_best_weights=True)
    callback.set_model(model)
    callback.on_train_begin()
    ran = 0
    for epoch, loss in enumerate(val_losses):
        model.epoch = epoch
        callback.on_epoch_end(epoch, {"val_loss": loss})
        ran = epoch + 1
        if model.stop_training:
            break
    callback.on_train_end()
    return ran, None if model.restored is None else model.restored + 1


def _sequences(seed: int) -> list[tuple[list[float], int]]:
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(60):
        epochs = int(rng.integers(1, 25))
        steps = rng.choice([-0.02, -0.01, 0.0, 0.0, 0.01, 0.02], size=epochs - 1)
        walk = list(np.round(0.5 + np.concatenate([[0.0], np.cumsum(steps)]), 2))
        if rng.random() < 0.2:                        # a nan somewhere, the first epoch too
            walk[int(rng.integers(0, epochs))] = math.nan
        if rng.random() < 0.2:                        # values float32 cannot tell apart
            walk = [v + float(rng.choice([0.0, 1e-9])) for v in walk]
        found.append(([float(v) for v in walk], int(rng.integers(0, 6))))
    return found


def test_every_case_of_the_answer_key_is_what_keras_does():
    cases = answers.all_cases("early_stopping_epochs", seed=11)
    cases += answers.all_cases("early_stopping_epochs", seed=12)[len(answers.fixed_cases(
        "early_stopping_epochs")):]
    for case in cases:
        assert _keras(*case.args) == tuple(case.expected), case.args


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drawn_runs_with_ties_plateaus_and_nan_match_keras(seed):
    for losses, patience in _sequences(seed):
        assert _keras(losses, patience) == answers._early_stopping_reference(losses, patience), \
            (losses, patience)


def test_keras_restores_the_best_epoch_even_when_it_never_stops():
    assert _keras([1.0, 0.9, 0.95, 0.85, 0.88], 3) == (5, 4)
    assert _keras([0.5, 0.4, 0.4, 0.4, 0.3], 2) == (4, 2)  # a tie is no improvement


def test_a_real_fit_stops_and_restores_as_the_reference_says():
    import keras

    class Replace(keras.callbacks.Callback):
        """Puts the given validation loss into the logs, before EarlyStopping reads them."""

        def __init__(self, losses: list[float]) -> None:
            super().__init__()
            self.losses = losses
            self.weights_after: list[list[np.ndarray]] = []

        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = self.losses[epoch]
            self.weights_after.append([w.copy() for w in self.model.get_weights()])

    x = np.linspace(-1, 1, 16, dtype="float32").reshape(8, 2)
    y = np.arange(8, dtype="float32")
    for losses, patience in [([0.9, 0.7, 0.6, 0.65, 0.62, 0.61, 0.72, 0.8], 3),
                             ([0.5, 0.4, 0.4, 0.4, 0.3], 2),
                             ([1.0, 0.9, 0.95, 0.85, 0.88], 3),
                             ([0.3, 0.4, 0.5, 0.6], 1)]:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        replace = Replace(losses)
        stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                restore_best_weights=True)
        history = model.fit(x, y, validation_data=(x, y), epochs=len(losses), batch_size=8,
                            verbose=0, callbacks=[replace, stopper])
        stopped, restored = answers._early_stopping_reference(losses, patience)
        assert len(history.history["loss"]) == stopped
        kept = model.get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(kept, replace.weights_after[restored - 1]))
        others = [w for k, w in enumerate(replace.weights_after) if k != restored - 1]
        assert not any(all(np.array_equal(a, b) for a, b in zip(kept, w)) for w in others)
