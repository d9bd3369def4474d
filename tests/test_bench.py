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


def test_a_baseline_cut_into_other_notebooks_is_compared_per_notebook_and_per_course():
    """Before and after may split the course differently (10 notebooks against 11)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    grading = {"students": 1, "notebooks": 11, "baseline_notebooks": 10, "baseline": "/b",
               "jobs1_seconds": 88.0, "jobs1_seconds_per_notebook": 8.0,
               "jobs1_again_seconds_per_notebook": 8.2,
               "baseline_jobs1_seconds_per_notebook": 11.5,
               "baseline_jobs1_again_seconds_per_notebook": 11.7, "after_over_before": 0.7,
               "baseline_jobs1_mean_seconds_per_student": 116.2,
               "jobs1_mean_seconds_per_student": 89.6,
               "jobs2_seconds": 54.0, "jobs2_seconds_per_notebook": 4.9, "throughput_ratio": 1.63}
    table = bench.format_table({"date": "d", "machine": "m", "python": "3", "command": "c",
                                "grading": grading, "bench_seconds": 60})
    assert ("| the whole course per student at --jobs 1 (mean of two), before (10 notebooks) "
            "and after (11) | before 116 s, after 90 s |") in table
    assert "before 11.5 and 11.7 s per notebook, after 8.0 and 8.2 s" in table
