"""Attacks on the grader's trust boundary, graded through the command as an instructor would.

One small class is graded once (two jobs, the sandbox on). Each student's answer cell is an
attack on the grader itself rather than on the sandbox's walls (tests/test_grader_isolation.py
covers those): reaching for the answer key, making the in-notebook test lie while the re-check
is sabotaged, planting links, FIFOs and folders under the names a grader might use, planting
start-up files for the next Python to run, and filling the disk. A right answer that survives
its own attack keeps full marks; a wrong one must get 0. Around the run a sampler watches the
disk's free space, and afterwards no process the run started may be left.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from conftest import ROOT
from course_grading import discovery, grade, sandbox
from test_grader_isolation import DATA_NB, NEURONS, RIGHT_NEURON, _notebook, _save

#: What a planted start-up file does if it ever runs: leave a mark the answer can see.
MARK = "/tmp/planted-code-ran"
#: Every name a grader has used, or might, in a kernel's folder.
NAMES = ("verify_request.json", "verify_request.npz", "verify_result.json",
         "verify_result.npz", "reference_model.keras", "kernel.json", "request.json")

#: Wrong (all zeros), with every comparison the in-notebook test could use made to lie, and
#: the re-check's old request file name taken by a folder: the fail-open combination.
FAIL_OPEN = '''
import os
import numpy as np
np.array_equal = lambda *a, **k: True
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: np.ones(np.broadcast(*a[:2]).shape, dtype=bool)
for name in ("verify_request.json", "verify_request.npz"):
    os.makedirs(name, exist_ok=True)

def one_hot(labels, num_classes=10):
    return np.zeros((len(np.asarray(labels).reshape(-1)), num_classes))
'''

#: Spellings of reaching for the grading side's answer key from a solution cell.
KEY_SPELLINGS = {
    "import": "from course_grading import verify as _key\n",
    "importlib": "import importlib\n_key = importlib.import_module('course_' + 'grading.verify')\n",
    "dunder": "_key = __import__('course_grading.sandbox')\n",
    "path": (f"import sys\nsys.path.insert(0, {str(ROOT / 'grader')!r})\n"
             "import course_grading.verify as _key\n"),
}


def _key_answer(spelling: str) -> str:
    """A right neuron that only exists when the answer key could be imported."""
    return (f"import numpy as np\n{spelling}"
            f"def neuron(inputs, weights, bias):\n"
            f"    return np.maximum(0.0, np.dot(inputs, weights) + bias)\n")


def _planter(outside: Path) -> str:
    plants = "\n".join(f"    {name!r}," for name in NAMES)
    return f'''{RIGHT_NEURON}
import os, sys
def _plant(folder):
    for name in [
{plants}
    ]:
        path = os.path.join(folder, name)
        for make in (lambda: os.symlink({str(outside / "target.txt")!r}, path),
                     lambda: os.symlink("/dev/zero", path + ".zero"),
                     lambda: os.mkfifo(path + ".fifo"),
                     lambda: os.makedirs(path + ".dir")):
            try:
                make()
            except OSError:
                pass
    code = "open({MARK!r}, 'w').write('ran')\\n"
    for name in ("sitecustomize.py", "usercustomize.py"):
        try:
            open(os.path.join(folder, name), "w").write(code)
        except OSError:
            pass
    for package in ("course_grading", "course_utils"):
        try:
            os.makedirs(os.path.join(folder, package), exist_ok=True)
            open(os.path.join(folder, package, "__init__.py"), "w").write(code)
            open(os.path.join(folder, package, "sandbox.py"), "w").write(code)
            open(os.path.join(folder, package, "recheck.py"), "w").write(code)
        except OSError:
            pass
    try:
        open(os.path.join(folder, "zz.pth"), "w").write("import os; " + code)
    except OSError:
        pass
runtime = os.path.dirname(sys.argv[sys.argv.index("-f") + 1]) if "-f" in sys.argv else None
for folder in filter(None, (".", "/tmp", os.path.expanduser("~"), runtime)):
    _plant(folder)
_right = neuron
def neuron(inputs, weights, bias):
    if os.path.exists({MARK!r}):  # a planted file ran in this kernel: the attack worked
        return -1.0
    return _right(inputs, weights, bias)
'''


#: Writes up to 10 GB in 64 MiB pieces to every folder it can find; the answer stays right.
FILLER = RIGHT_NEURON + '''
import os, sys
_chunk = b"x" * (64 * 2**20)
runtime = os.path.dirname(sys.argv[sys.argv.index("-f") + 1]) if "-f" in sys.argv else None
for folder in filter(None, (".", "/tmp", "/dev/shm", os.path.expanduser("~"), runtime)):
    for number in range(160):  # 160 x 64 MiB = 10 GiB at the most, per folder
        try:
            with open(os.path.join(folder, f"fill-{number}"), "wb") as handle:
                handle.write(_chunk)
        except OSError:
            break
'''


#: Right only in a kernel with no privileges that sees neither the masters nor the grading
#: side: not root, no capability at all, no /opt, nothing of the checkout but course_utils.
UNPRIVILEGED = RIGHT_NEURON + f'''
import os
_status = open("/proc/self/status").read()
_caps = [line.split()[1] for line in _status.splitlines() if line.startswith("Cap")]
_bad = (os.getuid() == 0 or os.geteuid() == 0 or any(int(c, 16) for c in _caps)
        or os.path.exists("/opt/") and os.listdir("/opt")
        or any(os.path.exists(p) for p in ({str(ROOT / "solutions")!r}, {str(ROOT / "grader")!r},
                                           {str(ROOT / "notebooks")!r})))
if _bad:
    del neuron
'''


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _our_processes(work: Path) -> set[int]:
    """Processes of this test's run: children of pytest, and anything naming its temporary
    folder ``work`` (a sandbox or kernel that lost its parent); never another grader's."""
    me = psutil.Process()
    found = {p.pid for p in me.children(recursive=True)}
    for process in psutil.process_iter(["cmdline"]):
        if str(work) in " ".join(process.info["cmdline"] or []):
            found.add(process.pid)
    return found


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    available, why = sandbox.availability()
    if not available:  # never a skip: CI installs bubblewrap (.ci/run), so this is a failure
        pytest.fail(f"the grading sandbox cannot run here ({why})")
    submissions = tmp_path_factory.mktemp("submissions")
    output = tmp_path_factory.mktemp("graded")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "target.txt").write_text("untouched")
    Path(MARK).unlink(missing_ok=True)
    _save(submissions / "honest", NEURONS, _notebook(NEURONS, RIGHT_NEURON))
    for name, spelling in KEY_SPELLINGS.items():
        _save(submissions / f"key-{name}", NEURONS, _notebook(NEURONS, _key_answer(spelling)))
    _save(submissions / "failopen", DATA_NB, _notebook(DATA_NB, FAIL_OPEN))
    _save(submissions / "planter", NEURONS, _notebook(NEURONS, _planter(outside)))
    _save(submissions / "filler", NEURONS, _notebook(NEURONS, FILLER))
    _save(submissions / "unprivileged", NEURONS, _notebook(NEURONS, UNPRIVILEGED))
    work = tmp_path_factory.mktemp("work")
    work.chmod(0o755)
    before = _our_processes(work)
    disk = shutil.disk_usage(tempfile_root()).free
    lowest = [disk]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            lowest[0] = min(lowest[0], shutil.disk_usage(tempfile_root()).free)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    import tempfile

    saved, tempfile.tempdir = tempfile.tempdir, str(work)  # the run's folders go below work
    try:
        code = grade.main([str(submissions), "--output", str(output), "--jobs", "2",
                           "--timeout", "60", "--quiet"])
    finally:
        tempfile.tempdir = saved
        done.set()
        sampler.join()
    time.sleep(1)
    left = _our_processes(work) - before
    return {
        "code": code, "outside": outside, "drop": disk - lowest[0],
        "left": [" ".join(psutil.Process(p).cmdline()) for p in left if psutil.pid_exists(p)],
        "scores": {(r["student_id"], r["grade_id"]): float(r["score"])
                   for r in _rows(output / "grades.csv")},
        "problems": {r["student_id"]: r["problem"] for r in _rows(output / "problems.csv")},
        "flags": _rows(output / "flags.csv"),
    }


def tempfile_root() -> str:
    import tempfile

    return tempfile.gettempdir()


def test_the_honest_student_keeps_full_marks(attacked):
    assert attacked["scores"][("honest", "test_neuron")] == 1.0
    assert "honest" not in attacked["problems"]


@pytest.mark.parametrize("spelling", sorted(KEY_SPELLINGS))
def test_reaching_for_the_answer_key_scores_zero(attacked, spelling):
    assert attacked["scores"][(f"key-{spelling}", "test_neuron")] == 0.0


def test_lying_comparisons_and_a_sabotaged_request_file_score_zero(attacked):
    assert attacked["scores"][("failopen", "test_one_hot")] == 0.0
    assert any(f["student_id"] == "failopen" and f["cell"] == "one_hot"
               for f in attacked["flags"]), attacked["flags"]


def test_planted_links_fifos_folders_and_startup_files_change_nothing(attacked):
    assert (attacked["outside"] / "target.txt").read_text() == "untouched"
    assert not Path(MARK).exists()
    # The answer was right and no planted file ran in the re-check: full marks.
    assert attacked["scores"][("planter", "test_neuron")] == 1.0, attacked["problems"]


def test_ten_gigabytes_fill_only_the_capped_scratch(attacked):
    assert attacked["scores"][("filler", "test_neuron")] == 1.0, attacked["problems"]
    # Everything the kernel may write is tmpfs; the disk lost at most the noise of grading.
    assert attacked["drop"] < 300 * 2**20, f"free disk dropped by {attacked['drop']} bytes"


def test_the_kernel_holds_no_privilege_and_sees_no_answer_key(attacked):
    assert attacked["scores"][("unprivileged", "test_neuron")] == 1.0, attacked["problems"]


def test_the_run_leaves_no_process_behind(attacked):
    assert attacked["left"] == []


def test_exit_status_is_0_when_every_attack_was_graded(attacked):
    assert attacked["code"] == 0, attacked["problems"]


def test_planted_startup_files_never_run_in_the_launcher(tmp_path):
    """The kernelspec's launcher runs outside the sandbox (as root, often) with nbgrader's
    folder as its working folder: ``python -I`` keeps every planted file and ``PYTHONPATH``
    off its path. Without ``-I`` (the control) a planted ``sitecustomize`` runs, so this test
    can fail."""
    mark = tmp_path / "ran"
    code = f"open({str(mark)!r}, 'w').write('ran')\n"
    (tmp_path / "course_grading").mkdir()
    (tmp_path / "course_grading" / "__init__.py").write_text(code)
    (tmp_path / "course_grading" / "sandbox.py").write_text(code)
    (tmp_path / "sitecustomize.py").write_text(code)
    (tmp_path / "usercustomize.py").write_text(code)
    (tmp_path / "zz.pth").write_text("import os; " + code)
    runtime = sandbox.prepare_runtime(tmp_path / "runtime", 0)
    command = sandbox.sandbox_command(sandbox.SandboxSpec(runtime), "print('inside')")
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0 and "inside" in result.stdout, result.stderr
    assert not mark.exists()
    # The control: the same command with the launcher's own -I removed.
    unisolated = command.copy()
    unisolated.remove("-I")
    control = subprocess.run(unisolated, cwd=tmp_path, capture_output=True, text=True,
                             timeout=120, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert mark.exists(), control.stderr


def test_a_failed_recheck_confirms_nothing_and_blames_the_grader(tmp_path, monkeypatch):
    """Forced: the verification kernel cannot start. Every in-notebook pass of that notebook
    scores 0, problems.csv names the grading machine, and the exit status is 1."""
    from course_grading import verify

    def broken(*args, **kwargs):
        raise verify.RecheckError("the grader's re-check kernel could not start (forced)",
                                  grader_fault=True)

    monkeypatch.setattr(verify, "verify", broken)
    _save(tmp_path / "subs" / "alice", NEURONS, _notebook(NEURONS, RIGHT_NEURON))
    job = discovery.collect(tmp_path / "subs", discovery.course_notebooks(ROOT / "solutions")).jobs[0]
    grades, problems, flags = grade.grade_job_in_process(job, tmp_path / "out")
    assert [(g.grade_id, g.score) for g in grades] == [("test_neuron", 0.0)]
    (problem,) = problems
    assert "fault of the grading machine" in problem.problem and "forced" in problem.problem
    assert [(f.cell, "not confirmed" in f.finding) for f in flags] == [("neuron", True)]
    assert grade.exit_status(grades, problems) == 1


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_an_interrupted_run_leaves_no_process_behind(tmp_path, how):
    """Stopped while a sandboxed kernel runs an endless cell: every process the run started
    (the job processes, their sandboxes and kernels, the fork server, multiprocessing's
    resource tracker) is gone once the command has exited."""
    import signal

    _save(tmp_path / "subs" / "loop", NEURONS, _notebook(
        NEURONS, RIGHT_NEURON + "\nwhile True:\n    pass\n"))
    command = subprocess.Popen(
        [sys.executable, "-m", "course_grading", str(tmp_path / "subs"), "--output",
         str(tmp_path / "out"), "--timeout", "600", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    parent = psutil.Process(command.pid)
    started: set[int] = set()
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and command.poll() is None:
            family = parent.children(recursive=True)
            started |= {p.pid for p in family}
            if any("launch_new_instance" in " ".join(_cmdline(p)) for p in family):
                break  # the student's kernel runs its endless cell in the sandbox
            time.sleep(0.2)
        else:
            pytest.fail(f"no kernel started: {command.stderr.read() if command.stderr else ''}")
        time.sleep(2)
        started |= {p.pid for p in parent.children(recursive=True)}
        command.send_signal(getattr(signal, how))
        code = command.wait(timeout=120)
    finally:
        if command.poll() is None:
            command.kill()
    assert code != 0, (code, command.stderr.read())
    time.sleep(2)
    alive = [" ".join(_cmdline(psutil.Process(p))) for p in started if psutil.pid_exists(p)
             and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == []


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


@pytest.mark.skipif(os.geteuid() != 0, reason="as a normal user, a file of one's own is "
                    "readable in the sandbox; CI runs as root and checks this")
def test_the_preflight_names_a_file_the_kernels_user_cannot_read(tmp_path, monkeypatch):
    private = tmp_path / "private" / "mnist.npz"
    private.parent.mkdir()
    private.write_bytes(b"not for the kernel")
    private.chmod(0o600)
    monkeypatch.setenv("MNIST_PATH", str(private))
    runtime = sandbox.prepare_runtime(tmp_path / "runtime", 0)
    problem = sandbox.preflight(sandbox.SandboxSpec(runtime))
    assert problem and "MNIST_PATH" in problem and str(private) in problem


def test_the_kernel_can_always_read_its_connection_file_while_the_runtime_is_locked(
        tmp_path, monkeypatch):
    """The grader takes the runtime folder back while the kernel is still starting and reads
    its connection file: after every single chmod or chown of ``lock_runtime`` the kernel's
    user can still traverse the folder and read the file (taking the folder first, at 0700,
    made kernels die at start-up on a busy machine). A link planted under a file's name is
    not followed. At the end the kernel can write nothing there."""
    runtime = sandbox.prepare_runtime(tmp_path / "runtime", 0)
    kernel_uid = runtime.stat().st_uid
    connection = runtime / "kernel.json"
    connection.write_text("{}")
    connection.chmod(0o600)
    os.chown(connection, kernel_uid, kernel_uid)  # as the launcher does
    outside = tmp_path / "outside"
    outside.write_text("secret")
    outside.chmod(0o600)
    (runtime / "planted").symlink_to(outside)

    def allowed(path: Path, bits: int) -> bool:
        info = os.stat(path)
        return bool((info.st_mode >> 6 if info.st_uid == kernel_uid else info.st_mode) & bits)

    states = []

    def watched(function):
        def call(*args, **kwargs):
            result = function(*args, **kwargs)
            states.append((function.__name__, allowed(runtime, 0o1), allowed(connection, 0o4)))
            return result
        return call

    for name in ("chmod", "chown", "fchmod", "fchown"):
        monkeypatch.setattr(os, name, watched(getattr(os, name)))
    sandbox.lock_runtime(runtime)
    monkeypatch.undo()
    assert states and all(traverse and read for _, traverse, read in states), states
    assert (runtime.stat().st_mode & 0o777, connection.stat().st_mode & 0o777) == (0o755, 0o644)
    if os.geteuid() == 0:
        assert (runtime.stat().st_uid, connection.stat().st_uid) == (0, 0)
    assert outside.stat().st_mode & 0o777 == 0o600 and outside.read_text() == "secret"


def test_the_preflight_passes_here(tmp_path):
    runtime = sandbox.prepare_runtime(tmp_path / "runtime", 0)
    assert sandbox.preflight(sandbox.SandboxSpec(runtime)) is None


def test_hostile_metadata_and_deep_code_do_not_break_the_report_or_the_flags(tmp_path):
    """A decoy file whose cells carry a list or a mapping as grade_id, and code nested past
    Python's parser, are read as untrusted: the similarity check skips them, the flags give
    up on the cell, neither raises."""
    import nbformat

    from course_grading import flags, report

    for student, grade_id in (("list", ["x"]), ("mapping", {"a": 1})):
        notebook = _notebook(NEURONS, RIGHT_NEURON)
        bad = nbformat.v4.new_code_cell("x = 1")
        bad.metadata["nbgrader"] = {"grade_id": grade_id}
        notebook.cells.append(bad)
        _save(tmp_path / "subs" / student, NEURONS, notebook)
    _save(tmp_path / "subs" / "plain", NEURONS, _notebook(NEURONS, RIGHT_NEURON))
    assert isinstance(report.similar_pairs(tmp_path / "subs", ROOT / "solutions"), list)
    assert flags._parse("z = a" + ".b" * 200_000) is None
