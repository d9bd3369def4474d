"""Every plot returns a figure with the expected axes and images, headless."""

import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import plots

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (20, 28, 28), dtype=np.uint8)
LABELS = RNG.integers(0, 10, 20)


def test_show_digits():
    fig = plots.show_digits(IMAGES, LABELS, rows=3, cols=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 9
    assert sum(len(ax.images) for ax in fig.axes) == 9
    assert fig.axes[0].get_title() == f"label {LABELS[0]}"
    assert fig._suptitle.get_text()


def test_show_digits_with_names_predictions_and_fewer_images():
    fig = plots.show_digits(IMAGES[:4], np.eye(10)[LABELS[:4]], predictions=LABELS[:4], rows=2,
                            cols=3, class_names=[f"c{k}" for k in range(10)])
    assert sum(len(ax.images) for ax in fig.axes) == 4
    assert "predicted" in fig.axes[0].get_title() and "c" in fig.axes[0].get_title()


def test_plot_history_styles():
    history = {"loss": [0.5, 0.3], "accuracy": [0.8, 0.9], "val_loss": [0.4, 0.35],
               "val_accuracy": [0.85, 0.88]}
    fig = plots.plot_history(history)
    assert len(fig.axes) == 2
    styles = [line.get_linestyle() for line in fig.axes[0].lines]
    assert styles == ["-", "--"]  # training solid, validation dashed


def test_plot_history_accepts_a_keras_history_like_object():
    class History:
        history = {"loss": [1.0, 0.5, 0.2]}

    fig = plots.plot_history(History())
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1


def test_plot_prediction():
    probabilities = np.full(10, 0.05)
    probabilities[7] = 0.55
    fig = plots.plot_prediction(IMAGES[0], probabilities, label=7)
    assert len(fig.axes) == 2 and len(fig.axes[0].images) == 1
    assert len(fig.axes[1].patches) == 10
    assert "predicted 7" in fig.axes[1].get_title()
    titled = plots.plot_prediction(IMAGES[0], probabilities, title="Before training")
    assert titled._suptitle.get_text() == "Before training"


def test_confusion_matrix():
    counts = plots.confusion_counts([0, 1, 1, 2], [0, 1, 2, 2], num_classes=3)
    assert counts.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    fig = plots.plot_confusion_matrix(LABELS, (LABELS + 1) % 10)
    assert len(fig.axes) == 2 and len(fig.axes[0].images) == 1  # matrix and colour bar
    assert len(fig.axes[0].texts) == 100


def test_show_misclassified():
    predicted = LABELS.copy()
    predicted[[2, 5, 7]] = (predicted[[2, 5, 7]] + 1) % 10
    probabilities = np.eye(10)[predicted] * 0.9 + 0.01
    fig = plots.show_misclassified(IMAGES, LABELS, predicted, probabilities=probabilities,
                                   max_images=15, cols=5)
    assert sum(len(ax.images) for ax in fig.axes) == 3
    assert "3 of the 3" in fig._suptitle.get_text()


def test_confusion_matrix_colour_bar_reads_in_counts():
    labels = np.repeat(np.arange(10), 120)
    fig = plots.plot_confusion_matrix(labels, labels)
    ticks = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert ticks == ["0", "1", "10", "100"]  # counts, though the colours follow log(1 + count)
    assert "count" in fig.axes[1].get_ylabel()


def test_misclassified_confidences_are_told_apart_and_never_a_rounded_100():
    labels = np.zeros(4, dtype=int)
    predicted = np.ones(4, dtype=int)
    probabilities = np.zeros((4, 10))
    probabilities[:, 1] = [0.99999, 0.99998, 0.9987, 0.62]
    fig = plots.show_misclassified(IMAGES[:4], labels, predicted, probabilities=probabilities)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert [t.rsplit("(", 1)[1] for t in titles] == ["99.9990%)", "99.9980%)", "99.87%)", "62%)"]
    assert not any("100%" in t for t in titles)


def test_grid_titles_stay_clear_of_the_row_above():
    names = ["Ankle boot", "T-shirt/top", "Pullover", "Sneaker", "Sandal"] * 2
    fig = plots.show_digits(IMAGES[:10], np.arange(10) % 5, rows=2, cols=5, class_names=names)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    top_row, bottom_row = fig.axes[:5], fig.axes[5:]
    lowest_image = min(ax.get_window_extent(renderer).y0 for ax in top_row)
    highest_title = max(ax.title.get_window_extent(renderer).y1 for ax in bottom_row)
    assert highest_title < lowest_image


def test_draw_neuron():
    fig = plots.draw_neuron(4)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert [t for t in texts if t.startswith("$I_")] == ["$I_1$", "$I_2$", "$I_3$", "$I_4$"]
    assert "$W_4$" in texts and any("ReLU" in t for t in texts)
    import pytest

    with pytest.raises(ValueError):
        plots.draw_neuron(0)


def test_draw_network_is_drawn_from_the_model():
    import keras
    import pytest

    from course_utils import models

    fig = plots.draw_network(models.build_reference_model())
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "input: 28 × 28 image,\nflattened to 784 numbers" in texts
    assert "Dense: 512 units, relu" in texts and "Dense: 10 units, softmax" in texts
    assert "407,050 parameters" in fig.axes[0].get_title()
    other = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(3, "sigmoid")])
    texts = [t.get_text() for t in plots.draw_network(other).axes[0].texts]
    assert texts == ["input: 6", "Dense: 3 units, sigmoid"]  # all units drawn: no dots
    lazy = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="keras.Input"):
        plots.draw_network(lazy)


def _line_loss(w, b):
    x = np.linspace(0, 4, 20)
    return float(np.mean((w * x + b - (2 * x - 1)) ** 2))


def test_loss_landscape_marks_the_lowest_point_and_draws_each_path():
    path = [(-0.5, 4.0), (0.5, 3.0), (1.5, 0.5)]
    fig = plots.plot_loss_landscape(_line_loss, (-1, 5), (-5, 5),
                                    paths={"gradient descent": path, "Adam": path[:2]})
    ax = fig.axes[0]
    star = [line for line in ax.lines if line.get_label() == "lowest loss"][0]
    # The star sits on the grid point nearest the true minimum, w = 2, b = -1.
    assert abs(star.get_xdata()[0] - 2) < 0.06 and abs(star.get_ydata()[0] + 1) < 0.1
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["lowest loss", "gradient descent (2 steps)", "Adam (1 steps)"]
    drawn = [line for line in ax.lines if line.get_label() == "gradient descent (2 steps)"][0]
    assert np.allclose(drawn.get_xydata(), path)
    # The colour bar reads in plain numbers (0.29, 1.3, ..., 101), not 1.01011 x 10^2.
    ticks = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert len(ticks) >= 3 and all(re.fullmatch(r"[\d,]+(\.\d+)?", t) for t in ticks), ticks


@pytest.mark.parametrize("loss, message", [
    (lambda w, b: 0.0, "not zero everywhere"),
    (lambda w, b: 1.0, "the same everywhere"),
    (lambda w, b: float("inf") if w > 0 else 1.0, "finite"),
])
def test_loss_landscape_refuses_a_loss_it_cannot_map(loss, message):
    with pytest.raises(ValueError, match=message):
        plots.plot_loss_landscape(loss, (-1, 1), (-1, 1))


def test_experiment_pairs_training_and_validation_of_the_same_metric_per_run():
    runs = {"rate 0.001": {"loss": [0.5, 0.2, 0.1], "val_loss": [0.6, 0.3, 0.25],
                           "accuracy": [0.9, 0.95, 1.0], "val_accuracy": [0.9, 0.93, 0.95]},
            "rate 1.0": {"loss": [300.0, float("inf"), 2.3, 2.3],
                         "accuracy": [0.1, 0.1, 0.11, 0.1]}}
    fig = plots.plot_experiment(runs)
    loss_ax, error_ax = fig.axes
    # The run legend names each run once; the first run has a validation line, the second not.
    assert [text.get_text() for text in loss_ax.get_legend().get_texts()] == list(runs)
    assert [line.get_linestyle() for line in loss_ax.lines] == ["-", "--", "-"]
    assert [line.get_linestyle() for line in error_ax.lines] == ["-", "--", "-"]
    # Training and validation lines of one run share its colour; runs differ.
    colours = [line.get_color() for line in loss_ax.lines]
    assert colours[0] == colours[1] != colours[2]
    assert loss_ax.get_yscale() == error_ax.get_yscale() == "log"
    assert np.isnan(loss_ax.lines[2].get_ydata()[1])  # an inf loss is left out of the line
    # Errors are 1 - accuracy, with a floor for a perfect epoch (log scale).
    np.testing.assert_allclose(error_ax.lines[1].get_ydata(), [0.1, 0.07, 0.05])
    np.testing.assert_allclose(error_ax.lines[0].get_ydata(), [0.1, 0.05, plots.ERROR_FLOOR])
    assert list(loss_ax.get_xticks()) == [1, 2, 3, 4]  # the longest run's epochs, not the last
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_experiment({})


def test_experiment_errors_are_labelled_as_percentages():
    runs = {"a": {"loss": [1.0, 0.5], "accuracy": [0.0, 0.985], "val_accuracy": [0.7, 0.95]}}
    fig = plots.plot_experiment(runs)
    error_ax = fig.axes[1]
    fig.canvas.draw()
    labels = [tick.get_text() for tick in error_ax.get_yticklabels() if tick.get_text()]
    assert labels and all(re.fullmatch(r"\d+(\.\d+)?%", label) for label in labels), labels
    assert {"2%", "10%", "100%"} <= set(labels), labels


def test_weights_are_drawn_as_images_on_one_symmetric_scale():
    kernel = RNG.normal(size=(784, 40))
    kernel[:, 7] *= 10                                   # the strongest unit comes first
    fig = plots.show_weights(kernel, count=6, cols=3)
    images = [image for ax in fig.axes for image in ax.get_images()]
    assert len(images) == 6
    assert [ax.get_title() for ax in fig.axes if ax.get_images()][0] == "unit 7"
    low, high = images[0].get_clim()
    assert low == -high and high == pytest.approx(np.abs(kernel).max())
    assert images[0].get_array().shape == (28, 28)
    chosen = plots.show_weights(kernel, units=[3, 5])
    assert [ax.get_title() for ax in chosen.axes if ax.get_images()] == ["unit 3", "unit 5"]
    with pytest.raises(ValueError, match="784"):
        plots.show_weights(kernel[:100])
    with pytest.raises(ValueError, match="between 0 and 39"):
        plots.show_weights(kernel, units=[40])
