"""Hints on request for every exercise: a nudge first, more on each further ask.

Why it exists: a self-paced learner who is stuck needs help that does not give the answer
away at once. ``checks.hint("relu")`` (or ``hint(relu)``) shows the first hint of that
exercise; asking again shows the next, more specific one, up to the last, which is the same
hint a wrong answer's message gives. No hint holds a line of a solution (tests/test_hints.py
checks it): the learner still writes the code. The checks' messages say how to ask (see
:mod:`course_utils.checks`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from course_utils import exercises

#: The first hints of each exercise, gentlest first. The last hint is the exercise's own
#: (``exercises.EXERCISES[name].hint``, ``exercises.BUILD_MODEL_HINT``, or :data:`LAST_HINTS`).
FIRST_HINTS: dict[str, tuple[str, ...]] = {
    "neuron": (
        "A neuron multiplies each input by its weight, adds the products up, adds the bias "
        "once, and then applies ReLU to that one number.",
        "np.dot(inputs, weights) does the multiply-and-add in one call. ReLU keeps a positive "
        "number as it is and turns a negative one into 0."),
    "dense_forward": (
        "A dense layer is many neurons reading the same inputs: each unit has its own column "
        "of weights and its own bias. For a batch, every row of x goes through all of them.",
        "A matrix product computes every unit's weighted sum for every example at once: "
        "(batch, n) @ (n, units) gives (batch, units). Adding bias, of shape (units,), adds "
        "each unit's bias to its own column."),
    "relu": (
        "ReLU works on each number on its own: a negative number becomes 0, a positive one "
        "(and 0) stays the same. The result has the same shape as x.",
        "np.maximum(a, b) takes the larger of a and b at every position, and b may be a "
        "single number. Make a new array rather than changing x itself."),
    "sigmoid": (
        "The sigmoid squashes any number into the range (0, 1): very negative numbers go "
        "near 0, 0 goes to 0.5, very positive numbers go near 1.",
        "Its formula is 1 / (1 + e^(-x)). np.exp works element by element on a whole array, "
        "and so do +, - and /."),
    "softmax": (
        "Softmax turns each row of scores into probabilities: exponentiate every score (they "
        "all become positive), then divide each by the sum of its own row.",
        "Large scores make np.exp overflow to inf. Subtracting the row's largest score from "
        "every score first changes nothing in the result (it cancels in the division) and "
        "keeps the numbers small."),
    "normalize": (
        "Pixels are whole numbers from 0 to 255; the network learns best from inputs between "
        "0 and 1. Every pixel is divided by the same number.",
        "That number is the largest value a pixel can take, whatever the largest value in "
        "these particular images is. Keras works in float32, while NumPy's division gives "
        "float64 unless told otherwise."),
    "one_hot": (
        "One-hot turns each label into a row of num_classes numbers: all 0.0 except a 1.0 in "
        "the column of that label. n labels give an (n, num_classes) array.",
        "Row k of the identity matrix np.eye(num_classes) has its 1.0 in column k: it is the "
        "one-hot row of label k. Indexing an array with an array of labels picks one row per "
        "label."),
    "cross_entropy": (
        "Each example's loss is -log of the probability the model gave its true class. The "
        "one-hot label has a single 1, in that class's column, so a product with the label "
        "picks that probability out of the row; the batch's loss is the mean of the examples' "
        "losses.",
        "Try your function on a row whose true class has probability 0. What is log(0)? A "
        "model that is sure and wrong should get a large loss, but a number: decide how to "
        "keep the log away from 0 without changing the loss of any probability a model "
        "really gives (0.005 is a real prediction, 1e-12 hardly)."),
    "build_model": (
        "Translate the description one line at a time, as the tiny network was written: "
        "what the model receives, which layer unrolls an image into a row, which layer type "
        "has units, how many units each layer has, and which activation gives probabilities "
        "that sum to 1.",
        "keras.Sequential([...]) stacks layers, with keras.Input(shape=(28, 28)) first and a "
        "Flatten layer after it. The function must also compile the model (the loss for "
        "one-hot labels, the optimizer and the metric of the compiling section), build a new "
        "model on every call and return it."),
    "gradient_step": (
        "Three moves: predict with the current w and b, measure each prediction's error "
        "(prediction minus target), then move w and b a little against the gradient of the "
        "mean squared error.",
        "The loss is the mean of error², so each example contributes 2 · error · input to the "
        "gradient of w and 2 · error to the gradient of b; average those over the examples. "
        "Compute both gradients from the same errors before changing anything."),
    "largest_stable_rate": (
        "Try it: start from w = 0, b = 0, take a few hundred steps of your gradient_step at "
        "one rate, and compare the loss at the end with the loss at the start. Below the "
        "limit it has come down; above it, it has grown (or become inf or nan). Then try a "
        "larger rate, and a smaller one.",
        "A loop over candidate rates does it: for each rate, run the steps from the same start "
        "and keep the largest rate whose loss stayed finite and did not grow. The limit can be "
        "anywhere from about 1 down to 0.00001 depending on x, so space the candidates by a "
        "constant factor (np.logspace, or doubling), then narrow down between the last rate "
        "that came down and the first that blew up, until they are within a few percent."),
    "steps_per_epoch": (
        "An epoch shows the model every training example once, one batch per step. Count how "
        "many batches of batch_size it takes to cover num_examples.",
        "When num_examples is not a multiple of batch_size, the last batch is smaller but is "
        "still a step. Plain division gives a fraction: you need the whole number just above "
        "it, as an int."),
    "early_stopping_epochs": (
        "Replay the callback by hand: after each epoch, in order, it looks at that epoch's "
        "validation loss, remembers the best one so far (and its epoch), and counts the "
        "epochs since the best changed. Work one out on paper: [0.9, 0.7, 0.6, 0.65, 0.62, "
        "0.61, 0.72, 0.8] with patience 3 gives (6, 3): the best is epoch 3, and epochs 4, 5 "
        "and 6 bring nothing lower.",
        "One loop over enumerate(val_losses) does it, keeping three things: the best loss so "
        "far, its epoch, and how many epochs have gone by since. Two cases need a decision: "
        "a loss exactly equal to the best (try the callback on a list with a tie: the text "
        "shows how), and a run that never loses patience (what is restored then?)."),
    "fit_call": (
        "model.fit takes the training data first, then settings by name: how many epochs to "
        "train, which data to validate on after each epoch, and how much to print.",
        "The training data here is train_batches: batches of images with their labels, so fit "
        "needs no separate labels. fit returns a History object; the next cells read it from "
        "the name history."),
    "evaluate_call": (
        "model.evaluate measures a model on data without training it. It returns the loss "
        "first, then each metric given to compile: two numbers here.",
        "Like fit, evaluate can take batches that hold the images and their labels together. "
        "Unpack the two numbers it returns into two names at once: a, b = ..."),
    "accuracy": (
        "The model's answer for one image is the class with the highest probability in its "
        "row. Accuracy is the fraction of images whose answer equals the label.",
        "np.argmax(..., axis=1) gives the most probable class of every row. Comparing two "
        "arrays with == gives one True or False per element, and the mean of booleans is the "
        "fraction of Trues."),
    "predict_digit": (
        "model.predict works on batches, never on one image alone: give it a batch that holds "
        "your one image, then take that image's row of probabilities from what it returns.",
        "image[np.newaxis] (or image.reshape(1, 28, 28)) is a batch of one. "
        "model.predict(batch, verbose=0) then returns shape (1, 10): row 0 holds the ten "
        "probabilities."),
    "dataset_megabytes": (
        "Every image has 28 × 28 = 784 pixels, and every pixel takes as many bytes as its "
        "dtype needs: 1 for uint8, 4 for float32, 8 for float64.",
        "np.dtype(dtype).itemsize gives the bytes per value of any dtype. Multiply images × "
        "784 × bytes per value to get bytes, then turn bytes into megabytes."),
}

#: The last hints of the training notebook's two calls (not exercises with cases).
LAST_HINTS: dict[str, str] = {
    "fit_call": "call model.fit(train_batches, epochs=EPOCHS, validation_data=val_batches, "
                "verbose=2) and assign what it returns to history.",
    "evaluate_call": "call model.evaluate(val_batches, verbose=0) and unpack the two numbers "
                     "it returns into loss and accuracy.",
}

_asked: dict[str, int] = {}


def all_hints(name: str) -> tuple[str, ...]:
    """Every hint of exercise ``name``, gentlest first."""
    if name == "build_model":
        last = exercises.BUILD_MODEL_HINT
    elif name in LAST_HINTS:
        last = LAST_HINTS[name]
    else:
        last = exercises.EXERCISES[name].hint
    return (*FIRST_HINTS[name], last[0].upper() + last[1:])


def hint(exercise: str | Callable[..., Any]) -> None:
    """Print the next hint of ``exercise`` (its name, or the function itself).

    The first call gives the gentlest hint; each further call the next one, up to the last,
    which is then repeated with a word on what else to try.
    """
    name = exercise if isinstance(exercise, str) else getattr(exercise, "__name__", "")
    if name not in FIRST_HINTS:
        known = ", ".join(repr(n) for n in FIRST_HINTS)
        print(f"There is no exercise called {name!r}. Ask for one of: {known}.")
        return
    hints = all_hints(name)
    index = min(_asked.get(name, 0), len(hints) - 1)
    _asked[name] = index + 1
    print(f"\N{ELECTRIC LIGHT BULB} Hint {index + 1} of {len(hints)} for {name}: {hints[index]}")
    if index + 1 < len(hints):
        print(f"   Still stuck? Run checks.hint({name!r}) again for a more specific one.")
    else:
        print("   That was the last hint. Try your function on a tiny example you can work out "
              "by hand, print what it returns, and compare.")
