"""The draw-a-digit pad: strokes -> picture -> MNIST-like array -> prediction, and its widgets."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

from course_utils import data, draw


class FakeModel:
    """Stands in for a trained model: records what it was given, answers fixed probabilities."""

    def __init__(self, digit: int = 7) -> None:
        self.inputs: list[np.ndarray] = []
        self.digit = digit

    def predict(self, batch, verbose="auto"):
        assert verbose == 0, "the pad must keep Keras's progress bar quiet"
        self.inputs.append(np.array(batch))
        probabilities = np.full((len(batch), 10), 0.02, dtype=np.float32)
        probabilities[:, self.digit] = 0.82
        return probabilities


def test_strokes_become_light_ink_on_black():
    pixels = draw.strokes_to_pixels([[(20.0, 100.0), (180.0, 100.0)]])
    assert pixels.shape == (draw.CANVAS_SIZE, draw.CANVAS_SIZE) and pixels.dtype == np.float32
    assert pixels[100, 100] == 1.0 and pixels[10, 10] == 0.0
    rows = np.nonzero(pixels[:, 100] > 0.5)[0]
    assert abs(len(rows) - draw.PEN_WIDTH) <= 2, "the line is as thick as the pen"
    dot = draw.strokes_to_pixels([[(50.0, 50.0)]])  # a click without moving draws a dot
    assert dot[50, 50] == 1.0 and dot.sum() > 10
    assert draw.strokes_to_pixels([]).max() == 0.0


def test_sample_digit_is_prepared_like_mnist():
    image, probabilities = draw.digit_probabilities(FakeModel(), draw.strokes_to_pixels(
        draw.SAMPLE_STROKES))
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.max() > 0.9
    rows, cols = np.nonzero(image > 0.1)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 20, "fitted into MNIST's 20x20 box"
    centre = [np.average(np.indices(image.shape)[axis], weights=image) for axis in (0, 1)]
    assert np.allclose(centre, 13.5, atol=1.0), "centred by its centre of mass"
    assert image[:2].max() == 0 and image[:, :2].max() == 0, "black border, as in MNIST"
    assert probabilities.shape == (10,) and int(np.argmax(probabilities)) == 7


def test_digit_probabilities_gives_the_model_one_mnist_batch():
    model = FakeModel(digit=3)
    paper = np.ones((60, 40))                 # dark ink on white paper, values 0..1
    paper[10:50, 18:22] = 0.0
    image, probabilities = draw.digit_probabilities(model, paper)
    (batch,) = model.inputs
    assert batch.shape == (1, 28, 28) and batch.dtype == np.float32
    assert np.array_equal(batch[0], image)
    assert image.max() > 0.9 and image[0, 0] == 0.0, "inverted to light ink on black"
    assert int(np.argmax(probabilities)) == 3
    with pytest.raises(ValueError, match="blank"):
        draw.digit_probabilities(model, np.ones((30, 30)))


def test_the_pad_without_a_browser():
    model = FakeModel()
    pad = draw.DigitPad(model)
    assert pad.predict() == 7 and pad.image is not None        # the sample, before any drawing
    pad.widget()                                               # widgets exist, no front end
    pad.clear()
    with pytest.raises(ValueError, match="blank"):
        pad.predict()
    pad.pen_move(5, 5)                                         # moving without a button: nothing
    assert pad.strokes == []
    pad.pen_down(98, 30)
    pad.pen_move(98, 100)
    pad.pen_up(98, 170)
    pad.pen_move(150, 150)                                     # after release: nothing
    assert pad.strokes == [[(98, 30), (98, 100), (98, 170)]]
    pad.predict()
    assert "as a <b>7</b>" in pad._status.value
    upright = model.inputs[-1][0]
    rows, cols = np.nonzero(upright > 0.1)
    assert np.ptp(rows) > 3 * np.ptp(cols), "a vertical stroke stays a tall, thin digit"


def test_predict_button_and_blank_canvas_message():
    model = FakeModel()
    pad = draw.DigitPad(model, strokes=())
    box = pad.widget()
    predict, clear = box.children[0].children[1].children
    predict.click()                                            # blank: a message, no exception
    assert "Nothing to read" in pad._status.value and model.inputs == []
    pad.pen_down(60, 60)
    pad.pen_up(140, 150)
    predict.click()
    assert len(model.inputs) == 1 and "reads your drawing" in pad._status.value
    clear.click()
    assert pad.strokes == [] and "Draw a digit" in pad._status.value


def test_upload_reads_a_photo():
    from PIL import Image, ImageDraw

    photo = Image.new("RGB", (120, 160), "white")              # a dark 1 on white paper
    ImageDraw.Draw(photo).line([(60, 20), (60, 140)], fill="black", width=12)
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG")
    model = FakeModel(digit=1)
    pad = draw.DigitPad(model)
    pad.widget()
    pad._on_upload(({"name": "one.jpg", "content": memoryview(buffer.getvalue())},))
    assert "uploaded picture as a <b>1</b>" in pad._status.value
    assert np.array_equal(model.inputs[-1][0], data.load_digit_image(buffer.getvalue()))
    pad._on_upload(({"name": "notes.txt", "content": b"not a picture"},))
    assert "Could not read the image you uploaded" in pad._status.value


def test_importing_draw_imports_no_widgets_or_tensorflow():
    code = ("import sys, course_utils.draw; "
            "bad = [m for m in ('tensorflow', 'ipywidgets', 'ipycanvas') if m in sys.modules]; "
            "assert not bad, bad")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
