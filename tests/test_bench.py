"""Smoke test: the benchmark runs end to end on a tiny setting and writes its JSON.

It proves the benchmark still works; the figures themselves come from full runs (bench/README.md).
"""

import json
import subprocess
import sys

from conftest import ROOT


def test_bench_quick_run(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick",
                             "--json", str(out)], capture_output=True, text=True, timeout=900,
                            cwd=ROOT)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["notebooks"]["notebooks"][0]["notebook"] == "01_neurons.ipynb"
    assert report["notebooks"]["notebooks"][0]["peak_mb"] > 20
    assert report["recipes"]["speedup"] > 0
    assert 0.5 < report["recipes"]["fast"]["test_accuracies"][0] <= 1.0
    assert report["startup"]["course_utils_imports_tensorflow"] is False
    assert report["grading"]["jobs1_seconds_per_notebook"] > 0
    # Dask on this machine, one worker and two, in the same run, every notebook graded there.
    assert report["grading"]["dask1_seconds_per_notebook"] > 0
    assert report["grading"]["dask2_problems"] == report["grading"]["jobs1_problems"] == 0
    assert report["grading"]["noop"]["jobs"] == 200 and report["grading"]["noop"]["ms_per_job"] > 0
    assert 0 <= report["grading"]["recheck_share_of_notebook"] < 1  # timed in the same run
    assert report["binder"]["peak_mb"] > report["notebooks"]["notebooks"][0]["peak_mb"]
    assert "| measure | value |" in result.stdout
