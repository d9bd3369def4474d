"""Draw a digit with the mouse (or upload a photo of one) and see what the model reads.

Why it exists: "a digit of your own" should not mean saving a file and typing its path. The
predicting notebook shows :class:`DigitPad`: a canvas to draw on, a Predict button, a Clear
button and an upload button, and beside them the prepared 28x28 image with the model's ten
probabilities.

The path from a picture to a prediction is plain NumPy and tested on its own:
:func:`strokes_to_pixels` (pen strokes -> greyscale picture), then
:func:`course_utils.data.prepare_digit_image` (any picture -> MNIST-like 28x28 array), then
:func:`digit_probabilities` (array -> the model's probabilities). The pad keeps the strokes in
Python and draws them itself, so a prediction never depends on pixels read back from the
browser: the notebook gives the same answer when run without one (under nbval, say), on the
sample digit the pad starts with.

Nothing is imported on import: ipywidgets and ipycanvas only when a pad is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from course_utils import data

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import ipywidgets

Point = tuple[float, float]
Stroke = list[Point]

#: Side of the drawing canvas in screen pixels (7 times MNIST's 28).
CANVAS_SIZE = 196
#: Pen width in canvas pixels: about MNIST's stroke width relative to its digits.
PEN_WIDTH = 16
#: The digit the pad starts with: a 7 in two strokes (top bar, then the long stroke down).
SAMPLE_STROKES: tuple[Stroke, ...] = (
    [(54.0, 40.0), (142.0, 40.0)],
    [(142.0, 40.0), (126.0, 80.0), (106.0, 124.0), (88.0, 164.0)],
)


def strokes_to_pixels(strokes: Sequence[Sequence[Point]], size: int = CANVAS_SIZE,
                      pen_width: int = PEN_WIDTH) -> np.ndarray:
    """Draw pen ``strokes`` as light ink on black; return a ``float32`` (size, size) array 0..1.

    Each stroke is a list of ``(x, y)`` canvas points joined by round-ended lines; a stroke of
    one point is a dot. This is what the learner drew, in the picture format that
    :func:`course_utils.data.prepare_digit_image` takes.
    """
    from PIL import Image, ImageDraw

    picture = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(picture)
    radius = pen_width / 2
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        if len(points) > 1:
            pen.line(points, fill=255, width=pen_width, joint="curve")
        for x, y in points:  # round ends and joints, like the canvas's round line caps
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(picture, dtype=np.float32) / 255.0


def digit_probabilities(model: Any, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prepare any greyscale picture of one digit like MNIST and ask ``model`` about it.

    Args:
        model: a trained Keras model taking ``(batch, 28, 28)`` images.
        pixels: a 2-D picture (any size, 0..1 or 0..255, dark-on-light or light-on-dark).

    Returns:
        ``(image, probabilities)``: the prepared ``(28, 28)`` image and the model's ten
        probabilities for it, shape ``(10,)``.

    Raises:
        ValueError: the picture is not 2-D, or blank.
    """
    image = data.prepare_digit_image(pixels)
    probabilities = np.asarray(model.predict(image[np.newaxis], verbose=0)).reshape(-1)
    return image, probabilities


class DigitPad:
    """A canvas to draw a digit on, a Predict button, an upload button, and the model's answer.

    Show it with ``pad.widget()`` (or by leaving ``pad`` last in a cell). It starts with
    :data:`SAMPLE_STROKES` drawn, so :meth:`predict` works before anyone draws.

    Args:
        model: the trained model to ask.
        strokes: the strokes to start with (default: a sample 7); ``()`` for a blank pad.
    """

    def __init__(self, model: Any, strokes: Sequence[Stroke] = SAMPLE_STROKES) -> None:
        self.model = model
        self.strokes: list[Stroke] = [list(stroke) for stroke in strokes]
        self.image: np.ndarray | None = None
        self.probabilities: np.ndarray | None = None
        self._pen_down = False
        self._widget: ipywidgets.Widget | None = None

    # --- what a prediction is made of (no widgets needed) ------------------------------------

    def pixels(self) -> np.ndarray:
        """The drawing as a light-on-dark picture the size of the canvas."""
        return strokes_to_pixels(self.strokes)

    def predict(self) -> int:
        """Ask the model about the drawing; update the display; return the predicted digit.

        Raises:
            ValueError: nothing is drawn.
        """
        self.image, self.probabilities = digit_probabilities(self.model, self.pixels())
        self._show_prediction("drawing")
        return int(np.argmax(self.probabilities))

    def predict_upload(self, content: bytes) -> int:
        """Prepare the bytes of an uploaded picture like MNIST and ask the model about it."""
        self.image = data.load_digit_image(bytes(content))
        self.probabilities = np.asarray(
            self.model.predict(self.image[np.newaxis], verbose=0)).reshape(-1)
        self._show_prediction("uploaded picture")
        return int(np.argmax(self.probabilities))

    def clear(self) -> None:
        """Forget the drawing and blank the canvas."""
        self.strokes = []
        if self._widget is not None:
            self._canvas.clear()
            self._paper()
            self._status.value = "Draw a digit, then press Predict."

    # --- the mouse ----------------------------------------------------------------------------

    def pen_down(self, x: float, y: float) -> None:
        """Start a stroke at ``(x, y)`` (canvas pixels)."""
        self._pen_down = True
        self.strokes.append([(x, y)])
        self._draw_segment((x, y), (x, y))

    def pen_move(self, x: float, y: float) -> None:
        """Continue the current stroke to ``(x, y)`` while the button is held."""
        if not self._pen_down:
            return
        previous = self.strokes[-1][-1]
        self.strokes[-1].append((x, y))
        self._draw_segment(previous, (x, y))

    def pen_up(self, x: float, y: float) -> None:
        """End the current stroke."""
        if self._pen_down:
            self.pen_move(x, y)
        self._pen_down = False

    # --- the widgets ----------------------------------------------------------------------------

    def widget(self) -> ipywidgets.Widget:
        """Build (once) and return the pad: canvas and buttons on the left, the answer right."""
        if self._widget is not None:
            return self._widget
        import ipywidgets as widgets
        from ipycanvas import Canvas

        self._canvas = Canvas(width=CANVAS_SIZE, height=CANVAS_SIZE,
                              layout=widgets.Layout(width=f"{CANVAS_SIZE}px",
                                                    height=f"{CANVAS_SIZE}px",
                                                    border="1px solid #555"))
        self._canvas.line_width = PEN_WIDTH
        self._canvas.line_cap = "round"
        self._canvas.line_join = "round"
        self._paper()
        for stroke in self.strokes:
            for start, end in zip(stroke, stroke[1:] or stroke):
                self._draw_segment(start, end)
        self._canvas.on_mouse_down(self.pen_down)
        self._canvas.on_mouse_move(self.pen_move)
        self._canvas.on_mouse_up(self.pen_up)
        self._canvas.on_mouse_out(self.pen_up)

        predict = widgets.Button(description="Predict", button_style="primary",
                                 tooltip="Ask the model which digit this is")
        clear = widgets.Button(description="Clear", tooltip="Blank the canvas")
        upload = widgets.FileUpload(accept="image/*", multiple=False,
                                    description="Upload a photo",
                                    layout=widgets.Layout(width="auto"))
        predict.on_click(lambda _: self._safely(self.predict))
        clear.on_click(lambda _: self.clear())
        upload.observe(lambda change: self._on_upload(change["new"]), names="value")
        self._status = widgets.HTML("Draw a digit, then press Predict.")
        self._answer = widgets.Output(layout=widgets.Layout(min_width="480px"))
        self._upload = upload
        left = widgets.VBox([self._canvas, widgets.HBox([predict, clear]), upload,
                             self._status])
        self._widget = widgets.HBox([left, self._answer])
        return self._widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())

    def _paper(self) -> None:
        self._canvas.fill_style = "white"
        self._canvas.fill_rect(0, 0, CANVAS_SIZE, CANVAS_SIZE)
        self._canvas.stroke_style = "black"
        self._canvas.fill_style = "black"

    def _draw_segment(self, start: Point, end: Point) -> None:
        if self._widget is None and not hasattr(self, "_canvas"):
            return
        self._canvas.stroke_line(start[0], start[1], end[0], end[1])

    def _safely(self, action: Callable[[], int]) -> None:
        try:
            action()
        except ValueError as error:  # a blank canvas: say so where the learner looks
            self._status.value = f"Nothing to read: {error}. Draw a digit first."

    def _on_upload(self, files: Any) -> None:
        if not files:
            return
        # ipywidgets 8: a tuple of dicts with "content"; 7: a dict of name -> dict.
        upload = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
        try:
            self.predict_upload(upload["content"])
        except data.DataFileError as error:
            self._status.value = str(error)

    def _show_prediction(self, source: str) -> None:
        if self._widget is None or self.image is None or self.probabilities is None:
            return
        import matplotlib.pyplot as plt
        from IPython.display import display

        from course_utils import plots

        digit = int(np.argmax(self.probabilities))
        self._answer.clear_output(wait=True)
        with self._answer:
            figure = plots.plot_prediction(self.image, self.probabilities,
                                           title=f"What the model sees: your {source} at "
                                                 f"28x28, and its ten probabilities")
            display(figure)
            plt.close(figure)
        # Last, so that the words never run ahead of the figure beside them.
        self._status.value = (f"The model reads your {source} as a <b>{digit}</b> "
                              f"(probability {self.probabilities[digit]:.0%}).")
