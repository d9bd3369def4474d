"""Does seeded training repeat exactly, and what does exact repetition cost?

Usage::

    python bench/determinism.py cost [--epochs N] [--repeats N]   # op determinism on vs off
    python bench/determinism.py load [--notebook PATH]             # two runs beside a CPU hog
    python bench/determinism.py train {on,off} EPOCHS              # one run (used by ``cost``)

- ``cost`` trains the classic recipe on all 60,000 training images (the reference model,
  ``data.batches`` of 32, seed 0; notebook 7 trains the same way on 50,000) for ``--epochs``
  epochs in a fresh process per run, alternating op determinism on and off, and reports the
  median ``fit`` seconds of each and their ratio, plus whether the runs of each setting gave
  bit-identical weights.
- ``load`` runs the training notebook twice at the same time, each in a folder of its own,
  while two busy-looping processes keep both cores loaded, then compares what the notebook's
  nbval-checked cells printed and the saved models' weights, bit for bit. This is the
  situation that made a pinned accuracy flaky in CI.

Set MNIST_PATH to the full mnist.npz for real figures. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINING_NOTEBOOK = ROOT / "solutions" / "07_training.ipynb"


def weights_digest(model) -> str:
    """A SHA-256 over every weight array's bytes: equal digests mean bit-identical weights."""
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(array.tobytes())
    return digest.hexdigest()


def train(deterministic: bool, epochs: int) -> dict:
    """One seeded run of the classic recipe (60,000 images, scored on the test set) here."""
    from course_utils import data, models
    from course_utils.setup import setup

    setup(0, deterministic=deterministic)
    (x_train, y_train), (x_test, y_test) = data.load_mnist(verbose=False)
    model = models.build_reference_model()
    start = time.perf_counter()
    model.fit(data.batches(x_train, y_train, models.BATCH_SIZE, shuffle=True),
              epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    _, test_accuracy = model.evaluate(data.batches(x_test, y_test), verbose=0)
    return {"deterministic": deterministic, "epochs": epochs, "fit_seconds": round(seconds, 2),
            "test_accuracy": float(test_accuracy), "weights": weights_digest(model)}


def cost(epochs: int, repeats: int) -> dict:
    """Alternate fresh-process runs with op determinism on and off; medians and ratio."""
    runs: dict[str, list[dict]] = {"on": [], "off": []}
    for _ in range(repeats):
        for setting in ("on", "off"):
            out = subprocess.run([sys.executable, __file__, "train", setting, str(epochs)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            runs[setting].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  determinism {setting}: {runs[setting][-1]['fit_seconds']} s", flush=True)
    result = {}
    for setting, items in runs.items():
        result[setting] = {
            "fit_seconds_median": statistics.median(r["fit_seconds"] for r in items),
            "fit_seconds": [r["fit_seconds"] for r in items],
            "test_accuracy": [round(r["test_accuracy"], 4) for r in items],
            "identical_weights_across_runs": len({r["weights"] for r in items}) == 1,
        }
    result["slowdown"] = round(result["on"]["fit_seconds_median"]
                               / result["off"]["fit_seconds_median"], 3)
    result["epochs"], result["repeats"] = epochs, repeats
    return result


def _checked_outputs(notebook: dict) -> list[str]:
    """The text every nbval-check-output cell printed, in order."""
    texts = []
    for cell in notebook["cells"]:
        if "nbval-check-output" in cell.get("metadata", {}).get("tags", []):
            texts.append("".join(o.get("text", "") for o in cell.get("outputs", [])
                                 if o.get("output_type") == "stream"))
    return texts


def _printed(notebook: dict, needle: str) -> str:
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if needle in line:
                    return line.strip()
    return ""


def under_load(notebook_path: Path) -> dict:
    """Run the notebook twice at once beside a two-core CPU hog; compare outputs and weights."""
    import nbformat

    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    folders = [Path(tempfile.mkdtemp(prefix=f"determinism-{i}-")) for i in range(2)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        script = (
            "import sys, nbformat; from nbclient import NotebookClient\n"
            "nb = nbformat.read(sys.argv[1], as_version=4)\n"
            "NotebookClient(nb, timeout=3600, kernel_name='python3',"
            " resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
            "nbformat.write(nb, sys.argv[3])\n")
        start = time.perf_counter()
        runs = [subprocess.Popen([sys.executable, "-c", script, str(notebook_path), str(folder),
                                  str(folder / "executed.ipynb")], env=env, cwd=folder)
                for folder in folders]
        codes = [run.wait() for run in runs]
        seconds = time.perf_counter() - start
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    if any(codes):
        raise SystemExit(f"a notebook run failed (exit codes {codes}); folders: {folders}")

    from course_utils.setup import quiet_tensorflow

    quiet_tensorflow()
    import keras

    executed = [nbformat.read(folder / "executed.ipynb", as_version=4) for folder in folders]
    saved = sorted((folders[0] / "outputs").glob("*.keras"))
    digests = [weights_digest(keras.models.load_model(folder / "outputs" / saved[0].name))
               for folder in folders]
    result = {
        "notebook": notebook_path.name,
        "wall_seconds_both": round(seconds, 1),
        "checked_outputs_equal": _checked_outputs(executed[0]) == _checked_outputs(executed[1]),
        "weights_bit_identical": digests[0] == digests[1],
        "printed": [_printed(nb, "training accuracy") for nb in executed],
    }
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/determinism.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    cost_parser = sub.add_parser("cost", help="op determinism on vs off, fresh processes")
    cost_parser.add_argument("--epochs", type=int, default=3)
    cost_parser.add_argument("--repeats", type=int, default=3)
    load_parser = sub.add_parser("load", help="the training notebook twice beside a CPU hog")
    load_parser.add_argument("--notebook", type=Path, default=TRAINING_NOTEBOOK)
    train_parser = sub.add_parser("train", help="one run, printed as JSON")
    train_parser.add_argument("setting", choices=("on", "off"))
    train_parser.add_argument("epochs", type=int)
    args = parser.parse_args(argv)

    if args.command == "train":
        print(json.dumps(train(args.setting == "on", args.epochs)))
        return 0
    if args.command == "cost":
        result = cost(args.epochs, args.repeats)
        print(f"| setting | fit seconds (median of {args.repeats}, {args.epochs} epochs) "
              "| test accuracy | bit-identical across runs |")
        print("|---|---|---|---|")
        for setting in ("off", "on"):
            r = result[setting]
            print(f"| op determinism {setting} | {r['fit_seconds_median']} {r['fit_seconds']} "
                  f"| {r['test_accuracy']} | {r['identical_weights_across_runs']} |")
        print(f"| on / off | x{result['slowdown']} | | |")
    else:
        result = under_load(args.notebook)
        print(f"{result['notebook']} twice at once beside a 2-core CPU hog: "
              f"{result['wall_seconds_both']} s")
        print(f"  checked outputs equal: {result['checked_outputs_equal']}")
        print(f"  saved weights bit-identical: {result['weights_bit_identical']}")
        for line in result["printed"]:
            print(f"  printed: {line}")
    print(json.dumps(result))
    ok = (result.get("checked_outputs_equal", True) and result.get("weights_bit_identical", True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
