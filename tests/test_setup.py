"""Seeding makes model initialisation repeat exactly."""

import numpy as np

from course_utils import models
from course_utils.setup import seed_everything


def test_same_seed_same_weights_different_seed_different_weights():
    seed_everything(3)
    first = [w.copy() for w in models.build_reference_model().get_weights()]
    seed_everything(3)
    second = models.build_reference_model().get_weights()
    seed_everything(4)
    third = models.build_reference_model().get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(first[0], third[0])


def test_numpy_only_seeding():
    seed_everything(5, tensorflow=False)
    a = np.random.rand(3)
    seed_everything(5, tensorflow=False)
    assert np.array_equal(a, np.random.rand(3))
