"""A class on a real JupyterHub, end to end: release, fetch, submit, collect, grade, feedback.

The test runs docs/instructors.md on this machine. It starts JupyterHub with the one-machine
configuration in deploy/one-machine/ (configurable-http-proxy on 127.0.0.1, free ports), with
one instructor and two students who are system users it creates. Each user's server is
JupyterLab with nbgrader's server extensions, started by the hub as that user. Students act
only through their own server, with a JupyterHub API token of their own, on the REST endpoints
of nbgrader's Assignments tab (``nbgrader/server_extensions/assignment_list/handlers.py``:
``GET assignments``, ``POST assignments/fetch``, ``assignments/submit``,
``assignments/fetch_feedback``) and Jupyter's contents API (what the editor does when it saves).
The instructor runs the guide's commands in a shell as their own user.

It needs root (to create users and for the hub to start servers as them), as in CI. Without
root it is skipped with that reason; a developer runs it in a throw-away container or VM as
root: ``sudo env PATH="$PWD/.venv/bin:$PATH" .venv/bin/python -m pytest tests/test_jupyterhub.py
-rP`` (-rP prints the session transcript). It needs ``jupyterhub`` and
``jupyterhub-idle-culler`` in .venv and ``configurable-http-proxy`` on PATH (.ci/run installs
them). Every process it starts is stopped at the end, also on failure; the users it made are
removed.
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEPLOY = ROOT / "deploy" / "one-machine"
COURSE = "nn_python"
ASSIGNMENT = "nn_python"
NOTEBOOKS = ["01_neurons.ipynb", "04_data_and_preprocessing.ipynb"]
INSTRUCTOR = "nnp-instructor"
RIGHT, WRONG = "nnp-student1", "nnp-student2"
USERS = [INSTRUCTOR, RIGHT, WRONG]
HUB_TOKEN = secrets.token_hex(32)
#: The ``bin`` other users run and its extra variables, set by the fixture (bin_for_everyone).
USER_BIN: list = [BIN, {}]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: it creates system users and the hub starts servers as them "
           "(CI runs as root; see this module's docstring to run it as a developer)")

# The instructor's commands, as docs/instructors.md gives them (a test below checks they are
# there, word for word). $NN_PYTHON is the course's checkout.
GUIDE_SETUP = [
    f"mkdir -p ~/course/source/{ASSIGNMENT}",
    "cp " + " ".join(f"$NN_PYTHON/solutions/{nb}" for nb in NOTEBOOKS)
    + f" ~/course/source/{ASSIGNMENT}/",
    "cp $NN_PYTHON/deploy/one-machine/course_nbgrader_config.py ~/course/nbgrader_config.py",
]
GUIDE_RELEASE = [f"nbgrader generate_assignment {ASSIGNMENT}",
                 f"nbgrader release_assignment {ASSIGNMENT}"]
GRADER = "python -m course_grading submissions"
GUIDE_GRADE = [
    f"nbgrader collect {ASSIGNMENT}",
    "python -m course_grading.lms collect exchange submitted --output submissions",
    f"{GRADER} --output graded --jobs 2",
    "python -m course_grading.lms feedback graded --course .",
    f"nbgrader release_feedback {ASSIGNMENT}",
    "python -m course_grading.lms totals graded/grades.csv --format canvas "
    f"--solutions source/{ASSIGNMENT} --output canvas.csv",
]

ANSWERS = {
    "neuron": "def neuron(inputs, weights, bias):\n"
              "    # answered by {user}\n"
              "    return max(0.0, float(np.dot(inputs, weights) + bias))\n",
    "normalize": "def normalize(images):\n"
                 "    # answered by {user}\n"
                 "    return images.astype('float32') / 255\n",
    "one_hot_right": "def one_hot(labels, num_classes=10):\n"
                     "    # answered by {user}\n"
                     "    return np.eye(num_classes, dtype='float32')[np.asarray(labels, dtype=int)]\n",
    # The typical wrong answer: every label shifted by one.
    "one_hot_wrong": "def one_hot(labels, num_classes=10):\n"
                     "    # answered by {user}\n"
                     "    labels = np.asarray(labels, dtype=int)\n"
                     "    return np.eye(num_classes)[(labels + 1) % num_classes]\n",
}


# --- processes and users ---------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reachable(path: Path) -> bool:
    """Whether any user can reach ``path``: every folder above it is world-traversable."""
    return all(os.stat(parent).st_mode & 0o001 for parent in path.parents)


def bin_for_everyone(base: Path) -> tuple[Path, dict[str, str]]:
    """The environment's ``bin`` as other users can run it, and the variables it needs.

    When the interpreter lives where other users cannot reach it (a pyenv under ``/root``,
    for example), the users get a copy of the interpreter and its standard library in ``base``
    and a virtual environment over the course environment's own ``site-packages``, ``etc``
    and ``share``; the
    environment's scripts are copied with their first line pointing at it.
    """
    real = Path(os.path.realpath(sys.executable))
    if _reachable(real) and _reachable(BIN / "python"):
        return BIN, {}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    prefix, python, venv = Path(sys.base_prefix), base / "python", base / "venv"
    (python / "bin").mkdir(parents=True)
    (python / "lib").mkdir()
    shutil.copy2(real, python / "bin" / real.name)
    for library in prefix.glob("lib/libpython*.so*"):
        shutil.copy2(library, python / "lib" / library.name)
    shutil.copytree(prefix / "lib" / version, python / "lib" / version, symlinks=True,
                    ignore=shutil.ignore_patterns("site-packages", "test", "idlelib",
                                                  "tkinter", "turtledemo"))
    (venv / "bin").mkdir(parents=True)
    (venv / "lib" / version).mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {python / 'bin'}\n"
                                     "include-system-site-packages = false\n")
    for name in ("python", "python3", version):
        (venv / "bin" / name).symlink_to(python / "bin" / real.name)
    (venv / "lib" / version / "site-packages").symlink_to(
        Path(sys.prefix) / "lib" / version / "site-packages")
    for shared in ("etc", "share"):  # Jupyter's config (enabled extensions) and data
        if (Path(sys.prefix) / shared).is_dir():
            (venv / shared).symlink_to(Path(sys.prefix) / shared)
    shebang = f"#!{BIN}/python"
    for script in BIN.iterdir():
        if script.name.startswith("python") or not script.is_file():
            continue
        text = script.read_bytes()
        if text.startswith(shebang.encode()):
            target = venv / "bin" / script.name
            target.write_bytes(f"#!{venv}/bin/python".encode() + text.split(b"\n", 1)[0][
                len(shebang):] + b"\n" + text.split(b"\n", 1)[1])
            target.chmod(0o755)
    return venv / "bin", {"LD_LIBRARY_PATH": str(python / "lib")}


def _user_env(user: str, base: Path) -> dict[str, str]:
    entry = pwd.getpwnam(user)
    env = {
        "HOME": entry.pw_dir, "USER": user, "LOGNAME": user, "SHELL": "/bin/bash",
        "PATH": f"{USER_BIN[0]}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LANG": "C.UTF-8", "JUPYTER_CONFIG_PATH": str(base / "etc-jupyter"),
        "TMPDIR": str(base / "tmp"), "NN_PYTHON": str(ROOT), **USER_BIN[1],
    }
    if os.environ.get("MNIST_PATH"):
        env["MNIST_PATH"] = os.environ["MNIST_PATH"]
    if os.environ.get("PYTHONPATH"):  # a developer's checkout ahead of the environment's own
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def as_user(user: str, command: str, cwd: Path, base: Path, log: list[str],
            timeout: int = 600, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """Run a shell command line as ``user`` (their groups only), as they would type it."""
    entry = pwd.getpwnam(user)
    started = time.monotonic()
    result = subprocess.run(["bash", "-c", command], cwd=cwd, env=_user_env(user, base),
                            user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                            capture_output=True, text=True, timeout=timeout)
    log.append(f"[{user}] $ {command}   (exit {result.returncode}, "
               f"{time.monotonic() - started:.1f} s)")
    # nbgrader only logs a config file it cannot read, and goes on without its settings.
    assert "Exception while loading config file" not in result.stderr, result.stderr[-3000:]
    problems = cwd / "graded" / "problems.csv"  # what the grader says went wrong, if it ran
    assert result.returncode in ok, (
        f"{user}: `{command}` exited {result.returncode}\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-3000:]}\n"
        f"{problems.read_text()[-3000:] if problems.is_file() else ''}\n"
        + "".join(f"{log}:\n{log.read_text()[-2000:]}\n"
                  for log in sorted((cwd / "graded" / "logs").glob("*/*.log"))[:1]))
    return result


def _create_user(name: str, homes: Path) -> None:
    if subprocess.run(["id", name], capture_output=True).returncode == 0:
        subprocess.run(["userdel", "--remove", name], capture_output=True)
    subprocess.run(["useradd", "--create-home", "--home-dir", str(homes / name),
                    "--shell", "/bin/bash", name], check=True, capture_output=True)


def _stop(process: subprocess.Popen, grace: float = 20) -> None:
    """Stop a process started in its own session: SIGTERM its group, then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass


def _kill_leftovers(uids: set[int], proxy_pid_file: Path) -> None:
    """Kill what the hub may have left: the users' servers and kernels, and the proxy."""
    import psutil

    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real in uids:
                proc.kill()
        except psutil.Error:
            pass
    if proxy_pid_file.is_file():
        try:
            proc = psutil.Process(int(proxy_pid_file.read_text().strip()))
            if "configurable-http-proxy" in " ".join(proc.cmdline()):
                proc.kill()
        except (ValueError, psutil.Error):
            pass


# --- talking to the hub and to a user's server -----------------------------------------------

class Hub:
    """The hub's REST API, with the test's service token (it spawns servers, makes tokens)."""

    def __init__(self, url: str):
        import requests

        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {HUB_TOKEN}"

    def api(self, method: str, path: str, **kwargs):
        response = self.session.request(method, f"{self.url}/hub/api/{path}", timeout=60,
                                        **kwargs)
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def wait_up(self, process: subprocess.Popen, log: Path, limit: float = 90) -> None:
        import requests

        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the hub exited:\n{log.read_text()[-4000:]}"
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise AssertionError(f"the hub did not answer in {limit} s:\n{log.read_text()[-4000:]}")

    def wait_ready(self, user: str, limit: float = 240) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            server = self.api("GET", f"users/{user}").get("servers", {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(1)
        raise AssertionError(f"{user}'s server was not ready in {limit} s")


class Server:
    """One user's single-user server, reached through the proxy with that user's own token."""

    def __init__(self, hub_url: str, user: str, token: str):
        import requests

        self.user = user
        self.base = f"{hub_url}/user/{user}/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        # The page JupyterLab loads sets the _xsrf cookie its POSTs echo; do the same.
        self.session.get(self.base + "lab", timeout=60)
        xsrf = self.session.cookies.get("_xsrf")
        if xsrf:
            self.session.headers["X-XSRFToken"] = xsrf

    def get(self, path: str, **kwargs):
        response = self.session.get(self.base + path, timeout=120, **kwargs)
        return response

    def assignments(self, action: str | None = None) -> list[dict]:
        """What the Assignments tab shows (after ``action``: fetch, submit, fetch_feedback)."""
        if action is None:
            response = self.get("assignments", params={"course_id": COURSE})
        else:
            response = self.session.post(self.base + f"assignments/{action}", timeout=300,
                                         data={"course_id": COURSE, "assignment_id": ASSIGNMENT})
        assert response.status_code == 200, f"{self.user} {action}: {response.status_code} " \
                                             f"{response.text[:2000]}"
        body = response.json()
        assert body["success"], f"{self.user} {action}: {body['value']}"
        return [a for a in body["value"] if a["assignment_id"] == ASSIGNMENT]

    def contents(self, path: str) -> dict:
        response = self.get(f"api/contents/{path}", params={"content": 1})
        assert response.status_code == 200, f"{self.user} GET {path}: {response.status_code}"
        return response.json()

    def save_notebook(self, path: str, notebook: dict) -> None:
        response = self.session.put(self.base + f"api/contents/{path}", timeout=60,
                                    json={"type": "notebook", "format": "json",
                                          "content": notebook})
        assert response.status_code in (200, 201), f"{self.user} PUT {path}: {response.text}"


def _answer(notebook: dict, answers: dict[str, str]) -> None:
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]


# --- the session -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def classroom() -> Iterator[dict]:
    """Run the whole class once; yield what each person saw, for the tests below."""
    if shutil.which("configurable-http-proxy") is None:
        pytest.fail("configurable-http-proxy is not on PATH: npm install -g "
                    "configurable-http-proxy (.ci/run does)")
    if not (BIN / "jupyterhub").exists():
        pytest.fail(f"jupyterhub is not installed in {BIN}: pip install jupyterhub "
                    "jupyterhub-idle-culler (.ci/run does)")
    if not _reachable(ROOT / "solutions"):
        pytest.fail(f"the checkout {ROOT} is not readable by other users, and the class's "
                    "servers run as its users: check it out under a world-readable folder")
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="nn-python-hub-"))
    base.chmod(0o755)
    transcript: list[str] = []
    hub_process = None
    uids: set[int] = set()
    hub_dir = base / "hub"
    try:
        for folder, mode in (("homes", 0o755), ("hub", 0o700), ("etc-jupyter", 0o755),
                             ("tmp", 0o1777), ("exchange", 0o1777)):
            (base / folder).mkdir()
            (base / folder).chmod(mode)
        exchange = base / "exchange"
        USER_BIN[:] = bin_for_everyone(base)
        # Everyone's nbgrader settings (deploy/one-machine/nbgrader_config.py, the guide's
        # /etc/jupyter/nbgrader_config.py), with this test's exchange folder.
        (base / "etc-jupyter" / "nbgrader_config.py").write_text(
            (DEPLOY / "nbgrader_config.py").read_text()
            + f"\nc.Exchange.root = {str(exchange)!r}  # the test's exchange\n")
        for user in USERS:
            _create_user(user, base / "homes")
            uids.add(pwd.getpwnam(user).pw_uid)
        port, hub_port, api_port = _free_port(), _free_port(), _free_port()
        url = f"http://127.0.0.1:{port}"
        env_for_servers = {"JUPYTER_CONFIG_PATH": str(base / "etc-jupyter"),
                           "TMPDIR": str(base / "tmp"), **USER_BIN[1]}
        if os.environ.get("MNIST_PATH"):
            env_for_servers["MNIST_PATH"] = os.environ["MNIST_PATH"]
        (hub_dir / "jupyterhub_config.py").write_text(f"""
load_subconfig({str(DEPLOY / 'jupyterhub_config.py')!r})
c.Authenticator.allowed_users = {set(USERS)!r}
c.Authenticator.admin_users = {{{INSTRUCTOR!r}}}
c.JupyterHub.bind_url = {url!r}
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.pid_file = {str(hub_dir / 'proxy.pid')!r}
c.JupyterHub.db_url = "sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(hub_dir / 'cookie_secret')!r}
c.JupyterHub.cleanup_servers = True
c.Spawner.ip = "127.0.0.1"
c.Spawner.cmd = [{str(USER_BIN[0] / 'jupyterhub-singleuser')!r}]
c.Spawner.environment = {env_for_servers!r}
c.JupyterHub.services.append({{"name": "classroom-test", "api_token": {HUB_TOKEN!r}}})
c.JupyterHub.load_roles.append({{"name": "classroom-test",
    "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"],
    "services": ["classroom-test"]}})
""")
        hub_log = hub_dir / "jupyterhub.log"
        with hub_log.open("w") as log_handle:
            hub_process = subprocess.Popen(
                [str(BIN / "jupyterhub"), "-f", str(hub_dir / "jupyterhub_config.py")],
                cwd=hub_dir, stdout=log_handle, stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ,
                     "PATH": f"{USER_BIN[0]}{os.pathsep}{os.environ.get('PATH', '')}",
                     "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
                     "NN_PYTHON_STUDENT_CONFIG": str(DEPLOY / "students")})
        hub = Hub(url)
        hub.wait_up(hub_process, hub_log)
        transcript.append(f"[hub] up at {url} ({time.monotonic() - started:.1f} s)")
        for user in USERS:
            hub.api("POST", f"users/{user}/server")
        servers: dict[str, Server] = {}
        for user in USERS:
            hub.wait_ready(user)
            token = hub.api("POST", f"users/{user}/tokens",
                            json={"note": "classroom test", "expires_in": 3600})["token"]
            servers[user] = Server(url, user, token)
        transcript.append(f"[hub] three servers ready ({time.monotonic() - started:.1f} s)")

        # The instructor makes the course directory and releases the assignment (guide, 3 and 4).
        home = Path(pwd.getpwnam(INSTRUCTOR).pw_dir)
        course = home / "course"
        for command in GUIDE_SETUP:
            as_user(INSTRUCTOR, command, home, base, transcript)
        # Test only: the shared exchange is the test's folder, not /srv/nbgrader/exchange.
        as_user(INSTRUCTOR, f'echo "c.Exchange.root = {str(exchange)!r}" >> '
                "course/nbgrader_config.py", home, base, transcript)
        for command in GUIDE_RELEASE:
            as_user(INSTRUCTOR, command, course, base, transcript)

        saw: dict[str, dict] = {user: {} for user in (RIGHT, WRONG)}
        for student, one_hot in ((RIGHT, "one_hot_right"), (WRONG, "one_hot_wrong")):
            server = servers[student]
            listed = server.assignments()
            saw[student]["listed"] = [a["status"] for a in listed]
            fetched = server.assignments("fetch")
            saw[student]["after_fetch"] = [a["status"] for a in fetched]
            saw[student]["fetched_files"] = sorted(
                item["name"] for item in server.contents(ASSIGNMENT)["content"])
            answers = {key: ANSWERS[value].format(user=student) for key, value in (
                ("neuron", "neuron"), ("normalize", "normalize"), ("one_hot", one_hot))}
            for name in NOTEBOOKS:
                path = f"{ASSIGNMENT}/{name}"
                notebook = server.contents(path)["content"]
                _answer(notebook, answers)
                server.save_notebook(path, notebook)
            submitted = server.assignments("submit")
            saw[student]["after_submit"] = sorted(a["status"] for a in submitted)
            transcript.append(f"[{student}] listed {saw[student]['listed']}, fetched "
                              f"{saw[student]['fetched_files']}, answered one_hot "
                              f"{'right' if one_hot.endswith('right') else 'wrong'}, submitted")

        # The instructor collects, grades, returns feedback and exports grades (guide, 6).
        grading = None
        for command in GUIDE_GRADE:
            result = as_user(INSTRUCTOR, command, course, base, transcript,
                             ok=(0, 1) if command.startswith(GRADER) else (0,))
            if command.startswith(GRADER):
                grading = result
        with (course / "graded" / "grades.csv").open() as handle:
            grades = list(csv.DictReader(handle))
        with (course / "canvas.csv").open() as handle:
            gradebook = list(csv.reader(handle))

        for student in (RIGHT, WRONG):
            server = servers[student]
            after = server.assignments("fetch_feedback")
            saw[student]["feedback_flags"] = [a.get("has_local_feedback") for a in after
                                              if a["status"] == "submitted"]
            feedback: dict[str, str] = {}
            for stamp in server.contents(f"{ASSIGNMENT}/feedback")["content"]:
                for item in server.contents(stamp["path"])["content"]:
                    response = server.get(f"files/{item['path']}")
                    assert response.status_code == 200, item["path"]
                    feedback[item["name"]] = response.text
            saw[student]["feedback"] = feedback
            scores = {name: "/".join(m.groups()) for name, html in sorted(feedback.items())
                      if (m := re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", html))}
            transcript.append(f"[{student}] fetched feedback, scores {scores}")
        transcript.append(f"[all] done in {time.monotonic() - started:.1f} s")
        print("\n".join(transcript))
        yield {"saw": saw, "grades": grades, "gradebook": gradebook,
               "grading_exit": grading.returncode, "transcript": transcript,
               "servers": servers, "seconds": time.monotonic() - started}
    finally:
        if hub_process is not None:
            _stop(hub_process)
        _kill_leftovers(uids, hub_dir / "proxy.pid")
        for user in USERS:
            subprocess.run(["userdel", "--remove", user], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _score(grades: list[dict], student: str, grade_id: str) -> tuple[float, float]:
    rows = [r for r in grades if r["student_id"] == student and r["grade_id"] == grade_id]
    assert len(rows) == 1, (student, grade_id, grades)
    return float(rows[0]["score"]), float(rows[0]["max_score"])


def test_students_fetch_and_submit_through_the_assignments_tab(classroom):
    for student in (RIGHT, WRONG):
        saw = classroom["saw"][student]
        assert saw["listed"] == ["released"], saw
        assert saw["after_fetch"] == ["fetched"], saw
        assert set(NOTEBOOKS) <= set(saw["fetched_files"]), saw
        assert "submitted" in saw["after_submit"], saw


def test_the_right_answer_gets_the_points_and_the_wrong_one_loses_them(classroom):
    grades = classroom["grades"]
    # Every notebook graded and nothing listed as a problem (the roster `lms collect` wrote
    # beside the student folders included): exit status 0.
    assert classroom["grading_exit"] == 0, classroom["transcript"]
    assert {r["student_id"] for r in grades} == {RIGHT, WRONG}
    assert _score(grades, RIGHT, "test_one_hot") == (3.0, 3.0)
    assert _score(grades, WRONG, "test_one_hot")[0] == 0.0
    for student in (RIGHT, WRONG):  # the rest was answered right by both
        for grade_id in ("test_neuron", "test_normalize"):
            score, most = _score(grades, student, grade_id)
            assert score == most > 0, (student, grade_id)


def test_each_student_gets_their_own_feedback_and_nothing_of_the_others(classroom):
    grades = classroom["grades"]
    for student, other in ((RIGHT, WRONG), (WRONG, RIGHT)):
        feedback = classroom["saw"][student]["feedback"]
        assert sorted(feedback) == sorted(nb.replace(".ipynb", ".html") for nb in NOTEBOOKS)
        for name, html in feedback.items():
            notebook = name.replace(".html", ".ipynb")
            got = sum(float(r["score"]) for r in grades
                      if r["student_id"] == student and r["notebook"] == notebook)
            most = sum(float(r["max_score"]) for r in grades
                       if r["student_id"] == student and r["notebook"] == notebook)
            header = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", html)
            assert header, f"{student} {name}: no score in the feedback"
            assert (float(header[1]), float(header[2])) == (got, most), (student, name)
            assert f"answered by {student}" in html
            assert f"answered by {other}" not in html and other not in html
            assert "BEGIN HIDDEN TESTS" not in html


def test_the_gradebook_export_has_each_students_total(classroom):
    rows = classroom["gradebook"]
    # One column per released notebook, no total (Canvas would make it an assignment); hub
    # user names in SIS Login ID, the column Canvas matches after its own ID.
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       *[f"{Path(nb).stem} (points)" for nb in NOTEBOOKS]]
    assert rows[1][0] == "Points Possible"
    by_login = {row[3]: row for row in rows[2:]}
    assert set(by_login) == {RIGHT, WRONG}
    possible = sum(float(x) for x in rows[1][5:])
    assert sum(float(x) for x in by_login[RIGHT][5:]) == possible
    assert sum(float(x) for x in by_login[WRONG][5:]) == possible - 3


def test_the_guide_gives_the_instructors_commands_word_for_word():
    guide = (ROOT / "docs" / "instructors.md").read_text()
    for command in GUIDE_SETUP + GUIDE_RELEASE + GUIDE_GRADE:
        assert f"\n{command}\n" in guide, f"docs/instructors.md lacks: {command}"


def test_only_the_instructor_gets_the_formgrader(classroom):
    for student in (RIGHT, WRONG):
        response = classroom["servers"][student].get("formgrader")
        assert response.status_code == 404, (student, response.status_code)
    response = classroom["servers"][INSTRUCTOR].get("formgrader")
    assert response.status_code == 200, response.status_code
