"""The course's figures: digits, training curves, predictions, errors, and diagrams of a neuron
and of a network.

Why it exists: these plots take a dozen lines of matplotlib each, which would bury the one
idea a notebook cell is about. Every function returns the matplotlib ``Figure`` (so a test or
a learner can inspect or save it), works without a screen, and gives the figure a title that
says what the reader should see. Digits are drawn dark on light (``gray_r``); lines differ by
style as well as colour (training solid, validation dashed) so no figure relies on colour alone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter


def _labels_of(labels: Any) -> np.ndarray:
    """Integer class labels from integers or one-hot rows."""
    labels = np.asarray(labels)
    return labels.argmax(axis=-1) if labels.ndim == 2 else labels.astype(int)


def show_digits(images: np.ndarray, labels: Any | None = None, *, predictions: Any | None = None,
                rows: int = 3, cols: int = 3, class_names: Sequence[str] | None = None,
                title: str | None = None, cmap: str = "gray_r") -> Figure:
    """Draw the first ``rows * cols`` images in a grid, each titled with its label.

    Args:
        images: ``(n, 28, 28)`` pixels (0..255 or 0..1).
        labels: integer labels or one-hot rows, shown above each image.
        predictions: optional predicted labels, shown beside the true ones.
        rows, cols: the grid size.
        class_names: names to show instead of numbers (for Fashion-MNIST).
        title: the figure's title; a default one says what is shown.
        cmap: the grey map. Both MNIST and Fashion-MNIST store the object bright on a 0
            background; digits are drawn as dark ink on light paper (``"gray_r"``), and
            Fashion-MNIST is usually shown as stored, bright on black (``"gray"``).
    """
    count = min(rows * cols, len(images))
    # Constrained layout keeps each title clear of the image above it (tight_layout let the
    # titles of a second row touch the first row's images).
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 2.0 * rows), squeeze=False,
                             layout="constrained")
    true = _labels_of(labels) if labels is not None else None
    pred = _labels_of(predictions) if predictions is not None else None
    name = (lambda k: class_names[k]) if class_names else str
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= count:
            continue
        ax.imshow(np.asarray(images[index]).reshape(28, 28), cmap=cmap)
        parts = []
        if true is not None:
            parts.append(f"label {name(int(true[index]))}")
        if pred is not None:
            parts.append(f"predicted {name(int(pred[index]))}")
        ax.set_title("\n".join(parts), fontsize=9)
    fig.suptitle(title or f"The first {count} images with their labels")
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
    fig.suptitle(title or "Each epoch on the training images (solid) and the validation images "
                          "(dashed)")
    fig.tight_layout()
    return fig


def plot_loss_landscape(loss: Callable[[float, float], float], w_range: tuple[float, float],
                        b_range: tuple[float, float], *,
                        paths: Mapping[str, Any] | None = None,
                        title: str | None = None) -> Figure:
    """Draw the loss of a one-input neuron over its weight ``w`` and bias ``b``, as contours.

    Args:
        loss: ``loss(w, b)`` for one weight and one bias.
        w_range, b_range: the ranges of ``w`` (x axis) and ``b`` (y axis) to draw.
        paths: optional ``{name: points}``, each an ``(steps, 2)`` array of ``(w, b)``
            visited by an optimizer, drawn as a line of dots from start to finish.
        title: the figure's title; a default one says what is shown.
    """
    ws = np.linspace(*w_range, 121)
    bs = np.linspace(*b_range, 121)
    grid = np.array([[loss(float(w), float(b)) for w in ws] for b in bs])
    fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    # Contours at spaced loss levels (a log scale), so the valley floor shows its shape too; a
    # loss of exactly 0 is drawn at a floor, since a log scale cannot show it.
    high = float(grid.max())
    if not np.all(np.isfinite(grid)) or high <= 0 or float(grid.min()) < 0:
        raise ValueError("plot_loss_landscape needs a loss that is finite, never negative and "
                         "not zero everywhere in the ranges drawn")
    low = max(float(grid.min()), high * 1e-6)
    if low >= high:
        raise ValueError("the loss is the same everywhere in the ranges drawn: nothing to map")
    shown = np.maximum(grid, low)
    levels = np.geomspace(low, high, 14)
    filled = ax.contourf(ws, bs, shown, levels=levels, cmap="viridis_r", norm=LogNorm())
    ax.contour(ws, bs, shown, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
    colorbar = fig.colorbar(filled, ax=ax, ticks=levels[::3], format=FuncFormatter(
        lambda value, _: f"{value:,.0f}" if value >= 10 else f"{value:.2g}"))
    colorbar.minorticks_off()
    colorbar.set_label("loss (log scale)")
    best = np.unravel_index(np.argmin(grid), grid.shape)
    ax.plot(ws[best[1]], bs[best[0]], "*", color="white", markersize=14,
            markeredgecolor="black", label="lowest loss")
    styles = ("-o", "--s", ":^", "-.D")
    for (name, points), style in zip((paths or {}).items(), itertools.cycle(styles)):
        points = np.asarray(points, dtype=float)
        ax.plot(points[:, 0], points[:, 1], style, markersize=3.5, linewidth=1.4,
                label=f"{name} ({len(points) - 1} steps)")
        ax.plot(points[0, 0], points[0, 1], "o", color="black", markersize=6)
    ax.set_xlim(*w_range)
    ax.set_ylim(*b_range)
    ax.set_xlabel("weight $w$")
    ax.set_ylabel("bias $b$")
    ax.legend(loc="upper right", fontsize=8)
    walked = "training walks downhill to the star" if paths else "the star marks the lowest"
    ax.set_title(title or f"The loss over every (w, b): {walked}")
    return fig


def plot_experiment(histories: Mapping[str, Any], *, title: str | None = None) -> Figure:
    """Compare training runs side by side: loss, and errors (1 - accuracy), per epoch.

    Each panel pairs one metric on the training images (solid) with the same metric on the
    validation images (dashed), one colour per run, so a gap between the two (overfitting)
    is read as a gap between two lines of one colour. Both panels use a log scale: runs that
    differ by one point of accuracy near the top (4% errors against 5%) stay apart, and a
    diverged run (90% errors, a loss in the hundreds) still fits on the same axes.

    Args:
        histories: ``{setting: History}`` (or ``.history`` dicts), one per run, in the order
            to draw them.
        title: the figure's title; a default one says what is compared.
    """
    if not histories:
        raise ValueError("plot_experiment needs at least one History")
    fig, (loss_ax, error_ax) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = ("o", "s", "^", "D", "v", "P")
    longest = 0
    for (name, history), colour, marker in zip(histories.items(), itertools.cycle(colours),
                                               itertools.cycle(markers)):
        logs = getattr(history, "history", history)
        longest = max(longest, len(logs["loss"]))
        for ax, metric, as_shown in ((loss_ax, "loss", _finite),
                                     (error_ax, "accuracy", _error_rate)):
            for prefix, line in (("", "-"), ("val_", "--")):
                if prefix + metric not in logs:
                    continue
                values = as_shown(logs[prefix + metric])
                epochs = np.arange(1, len(values) + 1)
                label = str(name) if prefix == "" else "_nolegend_"
                ax.plot(epochs, values, line, marker=marker, color=colour, markersize=4,
                        label=label, fillstyle="full" if prefix == "" else "none")
    loss_ax.set_title("Loss (log scale): lower is better")
    loss_ax.set_ylabel("loss")
    error_ax.set_title("Errors, 1 - accuracy (log scale): lower is better")
    error_ax.set_ylabel("share of images wrong")
    for ax in (loss_ax, error_ax):
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_xticks(np.arange(1, longest + 1))
        ax.grid(alpha=0.3, which="both")
    # Errors as percentages at 1, 2 and 5 of each power of ten (set after the log scale, which
    # brings its own ticks): 2%, 5%, 10%, 20% read faster than 2 x 10^-2.
    error_ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    error_ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value * 100:.3g}%"))
    error_ax.yaxis.set_minor_formatter(NullFormatter())
    # One legend for the runs (colours), one for the two kinds of line.
    loss_ax.legend(fontsize=8, title="run", title_fontsize=8)
    error_ax.legend(handles=[plt.Line2D([], [], color="black", linestyle="-", marker="o",
                                        label="training images"),
                             plt.Line2D([], [], color="black", linestyle="--", marker="o",
                                        fillstyle="none", label="validation images")],
                    fontsize=8)
    fig.suptitle(title or "The same model trained with different settings")
    return fig


def _finite(values: Sequence[float]) -> np.ndarray:
    """The values as floats, inf and nan (a diverged run) left out of the line."""
    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values), values, np.nan)


#: The smallest error rate drawn: a log scale cannot show 0 (every training image right).
ERROR_FLOOR = 1e-4


def _error_rate(accuracies: Sequence[float]) -> np.ndarray:
    """1 - accuracy, at least :data:`ERROR_FLOOR`, for a log scale."""
    return np.maximum(1.0 - _finite(accuracies), ERROR_FLOOR)


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
    # The colours follow log(1 + count), so a cell with 5 mistakes is visibly lit beside a
    # diagonal of 1,000; the colour bar is labelled in counts all the same.
    colorbar = fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = [t for t in (0, 1, 10, 100, 1000, 10000) if t <= max(1, counts.max())]
    colorbar.set_ticks(np.log1p(ticks), labels=[f"{t:,}" for t in ticks])
    colorbar.set_label("count (log scale: small counts stand out)")
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
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.2 * rows), squeeze=False,
                             layout="constrained")
    name = (lambda k: class_names[k]) if class_names else str
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, wrong):
        ax.imshow(np.asarray(images[index]).reshape(28, 28), cmap="gray_r")
        text = f"#{index}: true {name(int(true[index]))}\npredicted {name(int(pred[index]))}"
        if confidence is not None:
            text += f" ({_confidence_text(confidence[index])})"
        ax.set_title(text, fontsize=8)
    total = int((true != pred).sum())
    fig.suptitle(f"{len(wrong)} of the {total:,} misclassified images"
                 + (", most confident mistakes first" if confidence is not None else ""))
    return fig


def _confidence_text(probability: float) -> str:
    """A probability as a percentage with just enough decimals to show what is left for the
    other classes (two significant digits of it): ``62%``, ``99.87%``, ``99.9990%``. A model
    is rarely certain, so a rounded ``100%`` would hide which mistake was the most confident;
    only a probability within 1e-7 of 1 is shown as ``≈100%``."""
    rest = (1.0 - float(probability)) * 100
    if rest < 1e-5:
        return "\N{ALMOST EQUAL TO}100%"
    decimals = max(0, 1 - math.floor(round(math.log10(rest), 9)))  # 0.001 is not 0.000999...
    return f"{probability * 100:.{decimals}f}%"


def show_weights(kernel: Any, *, units: Sequence[int] | None = None, count: int = 16,
                 cols: int = 8, title: str | None = None) -> Figure:
    """Draw a first dense layer's weights as images: one 28x28 picture per hidden unit.

    Each hidden unit's weighted sum gives every pixel a weight; laid out as the image they
    multiply, the weights show what the unit looks for. Red pixels raise the sum where the
    image has ink, blue ones lower it; white pixels do not matter. One colour scale, symmetric
    around 0, is shared by all the pictures, so they can be compared.

    Args:
        kernel: the layer's weight matrix, shape ``(784, units)`` (Keras's ``layer.kernel``).
        units: which units to draw; by default the ``count`` units with the largest weights
            (the most decided ones: many units of a trained layer look like noise).
        count, cols: how many units to draw by default, and how many per row.
        title: the figure's title; a default one says what is shown.
    """
    weights = np.asarray(kernel, dtype=float)
    if weights.ndim != 2 or weights.shape[0] != 28 * 28:
        raise ValueError(f"show_weights needs a (784, units) weight matrix, got shape "
                         f"{weights.shape}: is it the first Dense layer after Flatten?")
    if units is None:
        units = np.argsort(-np.linalg.norm(weights, axis=0), kind="stable")[:count]
    units = [int(unit) for unit in units]
    if not units or not all(0 <= unit < weights.shape[1] for unit in units):
        raise ValueError(f"units must be between 0 and {weights.shape[1] - 1}")
    limit = float(np.abs(weights[:, units]).max()) or 1.0
    rows = math.ceil(len(units) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols + 1, 1.6 * rows + 0.6),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, unit in zip(axes.flat, units):
        shown = ax.imshow(weights[:, unit].reshape(28, 28), cmap="RdBu_r", vmin=-limit,
                          vmax=limit)
        ax.set_title(f"unit {unit}", fontsize=8)
    colorbar = fig.colorbar(shown, ax=axes, shrink=0.8)
    colorbar.set_label("weight: red raises the sum, blue lowers it")
    fig.suptitle(title or f"What {len(units)} hidden units look for: each one's 784 weights "
                          f"laid out as an image")
    return fig


# --- diagrams --------------------------------------------------------------------------------

def draw_neuron(num_inputs: int = 3, *, activation: str = "ReLU") -> Figure:
    """Draw one neuron: inputs, a weight on each connection, the sum with the bias, the
    activation, and the output, labelled with the symbols notebook 1 uses (``I``, ``W``,
    ``b``, ``y_sum``, ``f``).

    Args:
        num_inputs: how many inputs to draw (1 to 6).
        activation: the activation's name, written in the neuron.
    """
    if not 1 <= num_inputs <= 6:
        raise ValueError(f"num_inputs must be 1 to 6, got {num_inputs}")
    fig, ax = plt.subplots(figsize=(8, 4.2))
    ax.set_xlim(0, 10.8)
    ax.set_ylim(-0.4, 5.0)
    ax.set_aspect("equal")
    ax.axis("off")
    heights = np.linspace(4.2, 0.4, num_inputs) if num_inputs > 1 else np.array([2.3])
    body = (5.6, 2.3)
    for k, y in enumerate(heights, start=1):
        ax.add_patch(plt.Circle((1.0, y), 0.38, facecolor="white", edgecolor="black"))
        ax.text(1.0, y, f"$I_{k}$", ha="center", va="center", fontsize=13)
        ax.annotate("", xy=(body[0] - 1.2, body[1]), xytext=(1.4, y),
                    arrowprops={"arrowstyle": "->", "color": "0.35", "lw": 1.2})
        ax.text(2.6, y + (body[1] - y) * 0.3 + 0.18, f"$W_{k}$", fontsize=12, color="#3b528b")
    ax.add_patch(plt.Circle(body, 1.15, facecolor="#eef1f8", edgecolor="black", lw=1.5))
    ax.text(body[0], body[1] + 0.2, r"$y_{sum} = \sum_j W_j I_j + b$", ha="center",
            fontsize=10.5)
    ax.text(body[0], body[1] - 0.55, f"$y$ = {activation}$(y_{{sum}})$", ha="center",
            fontsize=10.5)
    ax.annotate("", xy=(body[0], body[1] + 1.15), xytext=(body[0], body[1] + 2.4),
                arrowprops={"arrowstyle": "->", "color": "0.35", "lw": 1.2})
    ax.text(body[0] + 0.15, body[1] + 1.75, "bias $b$", fontsize=12, color="#3b528b")
    ax.annotate("", xy=(9.0, body[1]), xytext=(body[0] + 1.15, body[1]),
                arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.5})
    ax.text(9.1, body[1], "output $y$", va="center", fontsize=12)
    ax.set_title("One neuron: weigh each input, add them up with the bias, apply the activation")
    return fig


def _layer_sizes(model: Any) -> list[tuple[int, str]]:
    """(units, label) of each layer of a Keras model, the input first."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    shape = None
    if getattr(model, "inputs", None):
        shape = tuple(model.inputs[0].shape[1:])
    if shape is None or None in shape:
        raise ValueError("the model has no input shape yet: build it with keras.Input(...) "
                         "first, or call it on a batch")
    size = int(np.prod(shape))
    sizes = [(size, f"input: {size:,} pixels" if len(shape) > 1 else f"input: {size:,}")]
    for layer in layers:
        kind = type(layer).__name__
        if kind == "Dense":
            name = getattr(layer.activation, "__name__", "linear")
            sizes.append((int(layer.units), f"Dense: {layer.units:,} units, {name}"))
        elif kind == "Flatten" and len(shape) > 1:
            dims = " × ".join(str(d) for d in shape)
            sizes[0] = (size, f"input: {dims} image,\nflattened to {size:,} numbers")
    return sizes


def draw_network(model: Any, *, max_drawn: int = 10) -> Figure:
    """Draw a Keras model's dense layers as columns of units joined by every connection.

    The sizes, activations and the parameter count come from ``model`` itself, so the
    picture always matches the code. A layer larger than ``max_drawn`` shows ``max_drawn - 1``
    units with dots in the middle for the rest; every unit of a dense layer is connected to
    every unit of the layer before.
    """
    sizes = _layer_sizes(model)
    fig, ax = plt.subplots(figsize=(3.2 * len(sizes), 5.0))
    ax.axis("off")
    slots = np.linspace(0.95, 0.05, max_drawn)
    columns = []
    for units, _ in sizes:
        if units <= max_drawn:
            ys, gap = slots[(max_drawn - units) // 2:][:units], None
        else:  # the middle slot holds the dots that stand for the units not drawn
            gap = max_drawn // 2
            ys = np.delete(slots, gap)
        columns.append((ys, gap))
    for x, ((ys0, _), (ys1, _)) in enumerate(zip(columns, columns[1:])):
        for y0 in ys0:
            for y1 in ys1:
                ax.plot([x, x + 1], [y0, y1], color="0.8", lw=0.5, zorder=1)
    for x, ((ys, gap), (units, label)) in enumerate(zip(columns, sizes)):
        ax.scatter(np.full(len(ys), x), ys, s=220, facecolor="white", edgecolor="black",
                   zorder=2)
        if gap is not None:
            ax.text(x, slots[gap], "⋮", ha="center", va="center", fontsize=18, zorder=3,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        ax.text(x, -0.02, label, ha="center", va="top", fontsize=10)
    ax.set_xlim(-0.6, len(sizes) - 0.4)
    ax.set_ylim(-0.14, 1.0)
    ax.set_title(f"The model, drawn from its layers: {model.count_params():,} parameters\n"
                 f"(every line is a weight; a column of dots stands for the units not drawn)")
    return fig
