"""``data.batches``: what every training and evaluation cell of the course is fed with."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import data

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (70, 28, 28), dtype=np.uint8)
LABELS = RNG.integers(0, 10, 70).astype(np.uint8)


def _epoch(dataset) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """One pass over the dataset: all pixels, all labels, and the size of each batch."""
    pixels, targets, sizes = [], [], []
    for x, y in dataset:
        pixels.append(x.numpy())
        targets.append(y.numpy())
        sizes.append(len(x))
    return np.concatenate(pixels), np.concatenate(targets), sizes


def _row_ids(pixels: np.ndarray) -> list[int]:
    """Which image of IMAGES each served row is (the random images are all different)."""
    flat = (IMAGES.reshape(len(IMAGES), -1).astype(np.float32) / 255.0)
    served = pixels.reshape(len(pixels), -1)
    return [int(np.flatnonzero((flat == row).all(axis=1))[0]) for row in served]


def test_unshuffled_batches_keep_order_shapes_and_types():
    dataset = data.batches(IMAGES, LABELS, batch_size=32)
    pixels, targets, sizes = _epoch(dataset)
    assert sizes == [32, 32, 6] and len(dataset) == 3
    assert pixels.dtype == np.float32 and targets.dtype == np.float32
    assert pixels.shape == (70, 28, 28) and targets.shape == (70, 10)
    # The same preprocessing as the course's references (notebook 4), in the original order.
    assert np.array_equal(pixels, data.normalize_images(IMAGES))
    assert np.array_equal(targets, data.one_hot_labels(LABELS))


def test_shuffled_batches_pair_each_image_with_its_label_and_reshuffle_every_epoch():
    dataset = data.batches(IMAGES, LABELS, batch_size=16, shuffle=True, seed=3)
    first_pixels, first_targets, _ = _epoch(dataset)
    second_pixels, _, _ = _epoch(dataset)
    first, second = _row_ids(first_pixels), _row_ids(second_pixels)
    assert sorted(first) == list(range(70)) and sorted(second) == list(range(70))
    assert first != list(range(70)), "training batches must be shuffled"
    assert first != second, "each epoch must be shuffled anew"
    assert np.array_equal(first_targets, data.one_hot_labels(LABELS[first]))


def test_the_seed_decides_the_order():
    def order(seed: int) -> list[int]:
        return _row_ids(_epoch(data.batches(IMAGES, LABELS, 16, shuffle=True, seed=seed))[0])

    assert order(1) == order(1)
    assert order(1) != order(2)


def test_rejects_images_that_were_already_normalised():
    with pytest.raises(ValueError, match="uint8"):
        data.batches(IMAGES / 255.0, LABELS)
