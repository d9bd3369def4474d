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


def test_a_learners_kernel_shows_no_tensorflow_error_after_setup_and_predict(tmp_path):
    """What a learner sees: setup(), build, predict; no red standard-error box in the notebook."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
                    "from course_utils.setup import setup\nsetup(seed=0)\n"
                    "from course_utils import models\nimport numpy as np\n"
                    "model = models.build_reference_model()"),
                nbformat.v4.new_code_cell(
                    "print(model.predict(np.zeros((2, 28, 28), 'float32'), verbose=0).shape)")]
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    stderr = [o.text for c in nb.cells for o in c.outputs if o.get("name") == "stderr"]
    assert stderr == [], stderr
    assert nb.cells[1].outputs[0].text.strip() == "(2, 10)"
