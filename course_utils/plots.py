"""The course's figures: digits, training curves, predictions and errors.

Why it exists: these plots take a dozen lines of matplotlib each, which would bury the one
idea a notebook cell is about. Every function returns the matplotlib ``Figure`` (so a test or
a learner can inspect or save it), works without a screen, and gives the figure a title that
says what the reader should see. Digits are drawn dark on light (``gray_r``); lines differ by
style as well as colour (training solid, validation dashed) so no figure relies on colour alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def _labels_of(labels: Any) -> np.ndarray:
    """Integer class labels from integers or one-hot rows."""
    labels = np.asarray(labels)
    return labels.argmax(axis=-1) if labels.ndim == 2 else labels.astype(int)


def show_digits(images: np.ndarray, labels: Any | None = None, *, predictions: Any | None = None,
                rows: int = 3, cols: int = 3, class_names: Sequence[str] | None = None,
                title: str | None = None) -> Figure:
    """Draw the first ``rows * cols`` images in a grid, each titled with its label.

    Args:
        images: ``(n, 28, 28)`` pixels (0..255 or 0..1).
        labels: integer labels or one-hot rows, shown above each image.
        predictions: optional predicted labels, shown beside the true ones.
        rows, cols: the grid size.
        class_names: names to show instead of numbers (for Fashion-MNIST).
        title: the figure's title; a default one says what is shown.
    """
    count = min(rows * cols, len(images))
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 2.0 * rows), squeeze=False)
    true = _labels_of(labels) if labels is not None else None
    pred = _labels_of(predictions) if predictions is not None else None
    name = (lambda k: class_names[k]) if class_names else str
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= count:
            continue
        ax.imshow(np.asarray(images[index]).reshape(28, 28), cmap="gray_r")
        parts = []
        if true is not None:
            parts.append(f"label {name(int(true[index]))}")
        if pred is not None:
            parts.append(f"predicted {name(int(pred[index]))}")
        ax.set_title("\n".join(parts), fontsize=9)
    fig.suptitle(title or f"The first {count} images with their labels")
    fig.tight_layout()
    return fig


def plot_history(history: Any, *, title: str | None = None) -> Figure:
    """Plot loss and accuracy per epoch from a Keras ``History`` (or its ``.history`` dict).

    Training is drawn solid with circles, validation (when present) dashed with squares.
    """
    logs: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    if "loss" not in logs:
        raise ValueError("plot_history needs a History from model.fit (no 'loss' in it)")
    epochs = np.arange(1, len(logs["loss"]) + 1)
    metrics = [m for m in ("loss", "accuracy") if m in logs]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        ax.plot(epochs, logs[metric], "-o", label=f"training {metric}")
        if f"val_{metric}" in logs:
            ax.plot(epochs, logs[f"val_{metric}"], "--s", label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title(f"{metric.capitalize()} per epoch")
    fig.suptitle(title or "Training curves: loss falls and accuracy rises as the model learns")
    fig.tight_layout()
    return fig


def plot_prediction(image: np.ndarray, probabilities: Any, *, label: int | None = None,
                    class_names: Sequence[str] | None = None,
                    title: str | None = None) -> Figure:
    """Show one image beside a bar chart of the ten probabilities the model gives it.

    The predicted class's bar is drawn solid and hatched, the others light, so the answer
    stands out without colour. ``title``, when given, goes above both.
    """
    probabilities = np.asarray(probabilities, dtype=float).reshape(-1)
    predicted = int(probabilities.argmax())
    names = list(class_names) if class_names else [str(k) for k in range(len(probabilities))]
    fig, (ax_image, ax_bars) = plt.subplots(
        1, 2, figsize=(9, 3.5), gridspec_kw={"width_ratios": [1, 2]})
    ax_image.imshow(np.asarray(image).reshape(28, 28), cmap="gray_r")
    ax_image.axis("off")
    ax_image.set_title("the image" + (f" (label {names[label]})" if label is not None else ""))
    bars = ax_bars.bar(range(len(probabilities)), probabilities, color="0.75", edgecolor="black")
    bars[predicted].set_color("#3b528b")
    bars[predicted].set_hatch("//")
    bars[predicted].set_edgecolor("black")
    ax_bars.set_xticks(range(len(probabilities)), names,
                       rotation=45 if class_names else 0, ha="right" if class_names else "center")
    ax_bars.set_ylim(0, 1)
    ax_bars.set_xlabel("class")
    ax_bars.set_ylabel("probability")
    ax_bars.set_title(f"predicted {names[predicted]} with probability "
                      f"{probabilities[predicted]:.1%}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_counts(true_labels: Any, predicted_labels: Any, num_classes: int = 10) -> np.ndarray:
    """Count how often each true class (row) was predicted as each class (column)."""
    true, pred = _labels_of(true_labels), _labels_of(predicted_labels)
    counts = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(counts, (true, pred), 1)
    return counts


def plot_confusion_matrix(true_labels: Any, predicted_labels: Any, *,
                          class_names: Sequence[str] | None = None) -> Figure:
    """Draw the confusion matrix with its counts written in every cell.

    Uses the perceptual ``cividis`` colormap on a log-like scale of counts so the rare mistakes
    are visible beside the large diagonal.
    """
    counts = confusion_counts(true_labels, predicted_labels,
                              len(class_names) if class_names else 10)
    names = list(class_names) if class_names else [str(k) for k in range(counts.shape[0])]
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    shown = np.log1p(counts)
    image = ax.imshow(shown, cmap="cividis")
    for (row, col), value in np.ndenumerate(counts):
        ax.text(col, row, str(value), ha="center", va="center", fontsize=8,
                color="black" if shown[row, col] > shown.max() / 2 else "white")
    ax.set_xticks(range(len(names)), names, rotation=45 if class_names else 0)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    errors = counts.sum() - np.trace(counts)
    ax.set_title(f"Confusion matrix: the diagonal holds the {np.trace(counts):,} right answers,\n"
                 f"the {errors:,} mistakes are off it")
    colorbar = fig.colorbar(image, ax=ax, shrink=0.8)
    colorbar.set_label("log(1 + count)")
    fig.tight_layout()
    return fig


def show_misclassified(images: np.ndarray, true_labels: Any, predicted_labels: Any, *,
                       probabilities: Any | None = None, max_images: int = 15, cols: int = 5,
                       class_names: Sequence[str] | None = None) -> Figure:
    """Show up to ``max_images`` images the model got wrong, with true and predicted labels.

    When ``probabilities`` are given, the most confident mistakes come first and each title
    gives the confidence.
    """
    true, pred = _labels_of(true_labels), _labels_of(predicted_labels)
    wrong = np.flatnonzero(true != pred)
    confidence = None
    if probabilities is not None:
        confidence = np.asarray(probabilities).max(axis=-1)
        wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]
    wrong = wrong[:max_images]
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.2 * rows), squeeze=False)
    name = (lambda k: class_names[k]) if class_names else str
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, wrong):
        ax.imshow(np.asarray(images[index]).reshape(28, 28), cmap="gray_r")
        text = f"#{index}: true {name(int(true[index]))}\npredicted {name(int(pred[index]))}"
        if confidence is not None:
            text += f" ({confidence[index]:.0%})"
        ax.set_title(text, fontsize=8)
    total = int((true != pred).sum())
    fig.suptitle(f"{len(wrong)} of the {total:,} misclassified images"
                 + (", most confident mistakes first" if confidence is not None else ""))
    fig.tight_layout()
    return fig
