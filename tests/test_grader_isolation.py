"""Class grading isolates every notebook and every student, and confines student code.

One small class is graded once through the command (two jobs, the sandbox on, a 1 GiB memory
cap, a 48-process cap). Its students hand in a crashing notebook next to a good one, a memory
hog, a network call to a listener this test opens, writes outside the scratch folder, reads of
the masters and of another student's work, more processes than the cap allows, and files named
the way LMS downloads spell them. Each attack sits in the answer cell of the cheap first
notebook: the answer is right, and the cell deletes it when the attack worked, so full marks
mean "the kernel ran and the attack failed". A control run without the sandbox shows that
the same read and network attacks do work unconfined, so the test can fail.
"""

from __future__ import annotations

import csv
import hashlib
import os
import socket
import threading
from pathlib import Path

import nbformat
import pytest

import answers
from conftest import ROOT
from course_grading import discovery, grade, job, pool, sandbox

NEURONS = "01_neurons.ipynb"
DATA_NB = "04_data_and_preprocessing.ipynb"
RIGHT_NEURON = '''
import numpy as np

def neuron(inputs, weights, bias):
    return np.maximum(0.0, np.dot(inputs, weights) + bias)
'''
#: Right in the notebook, then endless and deaf to interrupts only in the grader's re-check
#: (which runs none of the master's own cells, so `checks` is not imported there): a cheat
#: that tries to keep an unconfirmed mark.
STUBBORN = '''
import os, time
if "checks" not in globals():
    while True:
        try:
            time.sleep(1)
        except KeyboardInterrupt:
            pass
'''
MEMORY_MB = 1024
MAX_PROCESSES = 48



def _attack(code: str) -> str:
    """A right answer that deletes itself when ``code`` returns True (the attack worked)."""
    body = "\n".join("    " + line for line in code.strip("\n").splitlines())
    # An unexpected error counts as a worked attack, so it can never pass by accident.
    return (f"{RIGHT_NEURON}\ndef _attack():\n{body}\n\ntry:\n    _worked = _attack()\n"
            f"except Exception:\n    _worked = True\nif _worked:\n    del neuron\n")


def _notebook(name: str, source: str) -> nbformat.NotebookNode:
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    cells = [c for c in notebook.cells
             if c.metadata.get("nbgrader", {}).get("grade_id") in ("neuron", "one_hot")]
    cells[0].source = source.strip("\n")
    return notebook


def _save(folder: Path, name: str, notebook: nbformat.NotebookNode) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / name)
    return folder / name


def _read_attack(masters: Path, other: Path) -> str:
    return f'''
import os
stolen = False
for path in ({str(masters)!r}, {str(other)!r}):
    try:
        stolen = stolen or len(open(path).read()) > 0
    except OSError:
        pass
# The kernel's own folder holds only the student's file: no restored notebook, no tests.
for name in os.listdir("."):
    marker = "BEGIN HIDDEN" + " TESTS"  # spelled apart: this answer is in the folder too
    if os.path.isfile(name) and marker in open(name, errors="replace").read():
        stolen = True
return stolen
'''


def _net_attack(port: int) -> str:
    return f'''
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    return True
except OSError:
    return False
'''


class Listener:
    """A loopback TCP listener that counts the connections it accepts."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.5)
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.server.close()


def _snapshot(*folders: Path) -> dict[str, str]:
    """Path -> content hash of every file below ``folders`` (to prove nothing changed)."""
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    available, why = sandbox.availability()
    if not available:  # never a skip: CI installs bubblewrap (.ci/run), so this is a failure
        pytest.fail(f"the grading sandbox cannot run here ({why})")
    submissions = tmp_path_factory.mktemp("submissions")
    output = tmp_path_factory.mktemp("graded")
    outside = tmp_path_factory.mktemp("outside")
    planted = [outside / "planted.txt", ROOT / "course_utils" / "planted.py",
               submissions / "alice" / "planted.txt"]
    listener = Listener()
    right = _notebook(NEURONS, RIGHT_NEURON)
    alice = _save(submissions / "alice", NEURONS, right)
    _save(submissions / "alice" / ".ipynb_checkpoints", "01_neurons-checkpoint.ipynb", right)
    _save(submissions / ".trash", NEURONS, right)
    _save(submissions / "crash", NEURONS, right)
    _save(submissions / "crash", DATA_NB, _notebook(DATA_NB, answers.KERNEL_EXIT))
    _save(submissions / "hog", NEURONS, _notebook(
        NEURONS, RIGHT_NEURON + "\nhog = np.ones(3 * 2**30, dtype=np.uint8)  # 3 GiB\n"))
    _save(submissions / "endless", NEURONS, _notebook(
        NEURONS, RIGHT_NEURON + "\nwhile True:  # stopped by the cell timeout\n    pass\n"))
    _save(submissions / "stubborn", NEURONS, _notebook(NEURONS, RIGHT_NEURON + STUBBORN))
    _save(submissions / "net", NEURONS, _notebook(NEURONS, _attack(_net_attack(listener.port))))
    _save(submissions / "reader", NEURONS, _notebook(
        NEURONS, _attack(_read_attack(ROOT / "solutions" / NEURONS, alice))))
    writes = "\n".join(f"    ({str(p)!r}, 'w')," for p in planted)
    _save(submissions / "writer", NEURONS, _notebook(NEURONS, _attack(f'''
wrote = False
for path, mode in [
{writes}
]:
    try:
        with open(path, mode) as handle:
            handle.write("planted")
        wrote = True
    except OSError:
        pass
with open("mine.txt", "w") as handle:  # the scratch folder itself is writable
    handle.write("fine")
return wrote
''')))
    _save(submissions / "forker", NEURONS, _notebook(NEURONS, _attack(f'''
import subprocess
children = []
try:
    for _ in range({MAX_PROCESSES + 32}):  # bounded: never an open-ended fork loop
        children.append(subprocess.Popen(["sleep", "60"]))
except OSError:
    pass
for child in children:
    child.kill()
    child.wait()
return len(children) >= {MAX_PROCESSES + 32}
''')))
    _save(submissions / "carol ", "01_NEURONS.IPYNB", right)
    _save(submissions / "bob [2]", "01_neurons (1).ipynb", right)
    _save(submissions / "erin", "01_neurons.ipynb.txt", right)
    before = _snapshot(ROOT / "course_utils", ROOT / "solutions", ROOT / "notebooks",
                       submissions)
    try:
        code = grade.main([str(submissions), "--output", str(output), "--jobs", "2",
                           "--timeout", "30", "--memory-mb", str(MEMORY_MB),
                           "--max-processes", str(MAX_PROCESSES), "--quiet"])
    finally:
        listener.close()
    after = _snapshot(ROOT / "course_utils", ROOT / "solutions", ROOT / "notebooks",
                      submissions)
    rows = _read_csv(output / "grades.csv")
    return {
        "code": code, "output": output, "listener": listener, "planted": planted,
        "before": before, "after": after,
        "scores": {(r["student_id"], r["notebook"], r["grade_id"]): float(r["score"])
                   for r in rows},
        "problems": {(p["student_id"], p["notebook"]): p["problem"]
                     for p in _read_csv(output / "problems.csv")},
    }


def _full(graded, student: str) -> bool:
    return graded["scores"].get((student, NEURONS, "test_neuron")) == 1.0


def test_exit_status_is_1_with_problems(graded):
    assert graded["code"] == 1


def test_crashing_notebook_costs_only_itself(graded):
    assert "kernel died" in graded["problems"][("crash", DATA_NB)]
    assert not [k for k in graded["scores"] if k[:2] == ("crash", DATA_NB)]
    assert _full(graded, "crash")
    assert _full(graded, "alice")


def test_memory_hog_is_capped_and_reported(graded):
    assert f"out of memory (the cap is {MEMORY_MB} MB)" in graded["problems"][("hog", NEURONS)]
    assert _full(graded, "hog")  # the answer defined before the hog is still graded


def test_endless_cell_is_interrupted_inside_the_sandbox(graded):
    # The timeout interrupts the cell (the kernel survives) and the notebook is still graded.
    assert "ran longer than 30 s" in graded["problems"][("endless", NEURONS)]
    assert _full(graded, "endless")


def test_a_recheck_that_never_ends_is_killed_and_confirms_nothing(graded):
    # The notebook's own run passed; the re-check hung past its deadline and was killed.
    assert graded["scores"][("stubborn", NEURONS, "test_neuron")] == 0.0
    flags = [f for f in _read_csv(graded["output"] / "flags.csv")
             if f["student_id"] == "stubborn"]
    assert any(f["cell"] == "neuron" and "not confirmed" in f["finding"]
               and "caused by the student's code" in f["finding"] for f in flags), flags
    # Fail closed, and said: the notebook is listed, blaming the student's code, not the grader.
    problem = graded["problems"][("stubborn", NEURONS)]
    assert "no mark confirmed" in problem and "caused by the student's code" in problem


def test_no_network(graded):
    assert _full(graded, "net")
    assert graded["listener"].accepted == 0


def test_no_reads_of_masters_other_students_or_hidden_tests(graded):
    assert _full(graded, "reader")


def test_no_writes_outside_the_scratch_folder(graded):
    assert _full(graded, "writer")
    assert [p for p in graded["planted"] if p.exists()] == []
    assert graded["after"] == graded["before"]


def test_process_cap(graded):
    assert _full(graded, "forker")


def test_lms_names_and_odd_student_folders_are_graded(graded):
    for student in ("carol ", "bob [2]", "erin"):
        assert _full(graded, student), student
        assert (graded["output"] / "feedback" / student / "01_neurons.html").is_file()


def test_every_file_is_accounted_for(graded):
    # Every non-hidden file ends in grades.csv or problems.csv; hidden ones are not students.
    students = {k[0] for k in graded["scores"]} | {k[0] for k in graded["problems"]}
    assert students == {"alice", "crash", "hog", "endless", "stubborn", "net", "reader", "writer", "forker", "carol ",
                        "bob [2]", "erin"}


def test_control_attacks_work_without_the_sandbox(tmp_path):
    # The same read and network attacks succeed unconfined: the checks above can fail.
    listener = Listener()
    other = _save(tmp_path / "subs" / "alice", NEURONS, _notebook(NEURONS, RIGHT_NEURON))
    _save(tmp_path / "subs" / "net", NEURONS,
          _notebook(NEURONS, _attack(_net_attack(listener.port))))
    _save(tmp_path / "subs" / "reader", NEURONS, _notebook(
        NEURONS, _attack(_read_attack(ROOT / "solutions" / NEURONS, other))))
    try:
        code = grade.main([str(tmp_path / "subs"), "--output", str(tmp_path / "out"),
                           "--jobs", "2", "--no-sandbox", "--quiet"])
    finally:
        listener.close()
    scores = {(r["student_id"], r["grade_id"]): float(r["score"])
              for r in _read_csv(tmp_path / "out" / "grades.csv")}
    assert code == 0
    assert scores[("alice", "test_neuron")] == 1.0
    assert scores[("net", "test_neuron")] == 0.0 and listener.accepted >= 1
    assert scores[("reader", "test_neuron")] == 0.0


def test_without_a_working_sandbox_grading_refuses_unless_told(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "availability", lambda: (False, "no bubblewrap in this test"))
    _save(tmp_path / "subs" / "alice", NEURONS, _notebook(NEURONS, RIGHT_NEURON))
    # The default and --sandbox both refuse, before anything runs, saying why and what to do.
    for extra in ([], ["--sandbox"]):
        code = grade.main([str(tmp_path / "subs"), "--output", str(tmp_path / "out"),
                           "--quiet", *extra])
        err = capsys.readouterr().err
        assert code == 2
        assert "no bubblewrap in this test" in err and "--no-sandbox" in err
        assert not (tmp_path / "out" / "grades.csv").exists()
    # --no-sandbox, on purpose: graded, with one warning.
    code = grade.main([str(tmp_path / "subs"), "--output", str(tmp_path / "out"), "--quiet",
                       "--no-sandbox"])
    err = capsys.readouterr().err
    assert code == 0
    assert err.count("WITHOUT a sandbox") == 1


def test_exit_status_2_when_nothing_is_graded(tmp_path):
    _save(tmp_path / "subs" / "gone", NEURONS,
          _notebook(NEURONS, "import os\nos._exit(1)\n" + RIGHT_NEURON))
    code = grade.main([str(tmp_path / "subs"), "--output", str(tmp_path / "out"), "--quiet"])
    assert code == 2
    assert "kernel died" in (tmp_path / "out" / "problems.csv").read_text()


def test_exit_status_2_for_wrong_arguments(tmp_path, capsys):
    _save(tmp_path / "subs" / "alice", NEURONS, _notebook(NEURONS, RIGHT_NEURON))
    out = str(tmp_path / "out")
    assert grade.main([str(tmp_path / "subs"), "--output", out, "--solutions",
                       str(tmp_path / "nowhere"), "--quiet"]) == 2
    assert "--solutions" in capsys.readouterr().err
    assert grade.main([str(tmp_path / "subs"), "--output", out, "--jobs", "0"]) == 2
    assert grade.main([str(tmp_path / "missing"), "--output", out, "--quiet"]) == 2
    assert grade.main([str(tmp_path / "subs")]) == 2  # --output is required


def test_lms_file_names_match_course_notebooks():
    known = [NEURONS, DATA_NB]
    for name in ("04_DATA_AND_PREPROCESSING.IPYNB", "04_data_and_preprocessing (1).ipynb",
                 "04_data_and_preprocessing.ipynb.txt", "04_data_and_preprocessing(2).ipynb"):
        assert discovery.match_notebook(name, known) == DATA_NB, name
    for name in ("04_data.ipynb", "notes.ipynb", "04_data_and_preprocessing.py"):
        assert discovery.match_notebook(name, known) is None, name


def test_checkpoints_and_hidden_folders_are_ignored(tmp_path):
    right = _notebook(NEURONS, RIGHT_NEURON)
    _save(tmp_path / "alice", NEURONS, right)
    _save(tmp_path / "alice" / ".ipynb_checkpoints", "01_neurons-checkpoint.ipynb", right)
    _save(tmp_path / ".hidden", NEURONS, right)
    (tmp_path / "alice" / "notes.txt").write_text("my notes")
    found = discovery.collect(tmp_path, discovery.course_notebooks(ROOT / "solutions"))
    assert [(j.student_id, j.notebook) for j in found.jobs] == [("alice", NEURONS)]
    assert len(found.ignored) == 2
    assert [(p.student_id, p.notebook) for p in found.problems] == [("alice", "notes.txt")]
    assert not os.path.exists(tmp_path / "alice" / "planted.txt")


def test_a_crashed_job_costs_only_its_own_file(tmp_path):
    # The child process grading one notebook dies (here: its files are missing): the file is
    # reported, and the caller goes on (the queue is threads waiting on child processes).
    import queue

    slots: queue.Queue = queue.Queue()
    slots.put(0)
    dora = discovery.Job("dora", "s0001", NEURONS, str(tmp_path / "missing.ipynb"))
    grades, problems = pool._job_in_child(dora, 0, tmp_path / "no-template", tmp_path,
                                           tmp_path / "out", job.Options(), slots)
    assert grades == []
    assert [(p.student_id, p.notebook) for p in problems] == [("dora", "missing.ipynb")]
    assert "grading this notebook failed (exit status 1)" in problems[0].problem
    assert slots.qsize() == 1  # the slot is handed back for the next job
