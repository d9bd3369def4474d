"""Run All keeps going past unfinished and wrong exercises in a learner's kernel, not while grading.

A real kernel is asked to run cells the way JupyterLab's Run All does; what decides whether Run
All goes on is the status of each cell's execute reply ("ok" or "error"), checked here.
"""

from __future__ import annotations

import os
import sys

import pytest
from jupyter_client.manager import start_new_kernel

SETUP = "from course_utils import checks\nfrom course_utils.setup import setup\nsetup(tensorflow=False)"
STUB = "def neuron(inputs, weights, bias):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
WRONG = "import numpy as np\ndef neuron(inputs, weights, bias):\n    return np.dot(inputs, weights)"


def _kernel(grading: bool):
    env = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
    if grading:
        env["NBGRADER_EXECUTION"] = "autograde"
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return start_new_kernel(kernel_name="python3", env=env)


def _run(client, code: str) -> tuple[str, str]:
    """Run one cell; return its reply status and all it showed (streams and errors)."""
    shown: list[str] = []

    def keep(message: dict) -> None:
        content = message["content"]
        if message["msg_type"] == "stream":
            shown.append(content["text"])
        elif message["msg_type"] == "error":
            shown.append("\n".join(content["traceback"]))

    reply = client.execute_interactive(code, timeout=120, output_hook=keep)
    return reply["content"]["status"], "".join(shown)


@pytest.fixture(scope="module")
def learner():
    manager, client = _kernel(grading=False)
    try:
        assert _run(client, SETUP)[0] == "ok"
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_an_unattempted_check_shows_its_message_and_run_all_goes_on(learner):
    assert _run(learner, STUB)[0] == "ok"
    status, shown = _run(learner, "checks.check_neuron(neuron)")
    assert status == "ok"
    assert "Not attempted yet" in shown


def test_a_cell_using_an_unwritten_exercise_says_so_in_one_line(learner):
    _run(learner, STUB)
    status, shown = _run(learner, "print('before')\nneuron([1.0], [2.0], 0.5)")
    assert status == "ok"
    lines = [line for line in shown.splitlines() if line.strip()]
    assert lines[0] == "before"
    assert len(lines) == 2 and "Not written yet" in lines[1] and "`neuron`" in lines[1]
    assert "Traceback" not in shown


def test_a_wrong_answer_shows_incorrect_and_run_all_goes_on(learner):
    _run(learner, WRONG)
    status, shown = _run(learner, "checks.check_neuron(neuron)")
    assert status == "ok"
    assert "Incorrect" in shown


def test_any_other_error_still_stops_run_all(learner):
    status, shown = _run(learner, "1 / 0")
    assert status == "error" and "ZeroDivisionError" in shown
    status, shown = _run(learner, "raise NotImplementedError('a library says so')")
    assert status == "error" and "a library says so" in shown


def test_grading_mode_keeps_every_failure_a_failure():
    manager, client = _kernel(grading=True)
    try:
        assert _run(client, SETUP)[0] == "ok"
        _run(client, STUB)
        assert _run(client, "checks.check_neuron(neuron)")[0] == "error"
        assert _run(client, "neuron([1.0], [2.0], 0.5)")[0] == "error"
        _run(client, WRONG)
        assert _run(client, "checks.check_neuron(neuron)")[0] == "error"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
