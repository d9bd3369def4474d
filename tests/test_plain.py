"""Plain data across the trust boundary: a blob is refused by what it decodes to, not only by
its own size, so a small blob cannot make the reader allocate without bound."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from course_utils import plain


def _naming(array: np.ndarray, references: int) -> bytes:
    """A blob holding ``array`` once, whose description names it ``references`` times (no
    encoder makes this: it is what a hostile re-check kernel can send)."""
    description = {"t": "dict", "v": [["neuron", {
        "t": "list", "v": [{"t": "nd", "k": "a0"}] * references}]]}
    buffer = io.BytesIO()
    np.savez(buffer, a0=array,
             __value__=np.frombuffer(json.dumps(description).encode(), dtype=np.uint8))
    return buffer.getvalue()


def test_an_array_named_many_times_counts_once_per_reference():
    limits = plain.Limits(max_bytes=8 * 2**20)
    array = np.ones(2**20 // 8)  # 1 MiB; the blob itself is a little over that
    assert len(plain.unpack(_naming(array, 8), limits)["neuron"]) == 8  # 8 MiB decoded
    with pytest.raises(plain.PlainDataError, match="decodes to more than"):
        plain.unpack(_naming(array, 9), limits)


def test_an_honest_result_still_decodes_within_the_graders_limits():
    from course_grading import verify

    rng = np.random.default_rng(0)
    result = {
        "neuron": [{"ok": True, "got": np.float64(0.25)}, {"ok": True, "got": 1.5}],
        "one_hot": [{"ok": True, "got": np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]}],
        "predict_digit": [{"ok": True, "got": rng.random((512, 28, 28)).astype(np.float32)}],
        "build_model": [{"ok": True, "outputs": rng.random((6, 10)), "loss": rng.random(6),
                         "shapes": [[784, 512], [512], [512, 10], [10]],
                         "optimizer": "Adam", "metrics": {"accuracy": 0.5}}],
    }
    back = plain.unpack(plain.pack(result), verify.RESULT_LIMITS)
    assert back.keys() == result.keys()
    assert np.array_equal(back["predict_digit"][0]["got"], result["predict_digit"][0]["got"])
    assert back["build_model"][0]["shapes"] == result["build_model"][0]["shapes"]


_AMPLIFIED = """
import base64, io, json, resource, sys
import nbformat, numpy as np
from course_grading import verify

resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
description = {"t": "dict", "v": [["neuron", {"t": "list", "v": [{"t": "nd", "k": "a0"}]
                                              * 199_000}]]}
buffer = io.BytesIO()
np.savez(buffer, a0=np.zeros(2**20), __value__=np.frombuffer(json.dumps(description).encode(),
                                                             dtype=np.uint8))
cell = nbformat.v4.new_code_cell("")
cell.outputs = [nbformat.v4.new_output("display_data", data={
    verify.recheck.MIME: base64.b64encode(buffer.getvalue()).decode()})]
notebook = nbformat.v4.new_notebook()
notebook.cells = [cell]
try:
    verify.read_results(notebook)
except verify.RecheckError as error:
    print("refused:", error.reason, "grader_fault:", error.grader_fault)
"""


def test_the_amplifying_result_from_a_recheck_kernel_is_refused_with_bounded_memory():
    # The attack: ~12 MB that names one 8 MiB array 199,000 times (~1.5 TiB decoded). Run
    # in a child whose address space is capped at 3 GiB, so the old reader fails there with
    # MemoryError instead of taking the machine down.
    done = subprocess.run([sys.executable, "-c", _AMPLIFIED], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused:" in done.stdout and "decodes to more than" in done.stdout
    assert "grader_fault: False" in done.stdout
