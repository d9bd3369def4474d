"""A class on a real JupyterHub, installed as the guide says: release, fetch, submit, collect,
grade, feedback, and what students must not be able to do.

The test runs docs/instructors.md on this machine. It takes the fenced bash block of the guide's
section 2 (the one command, ``deploy/one-machine/setup.sh roster.csv``) and runs it as written,
with ``PREFIX``, ``ETC``, ``SRV`` and ``HOMES`` in a temporary folder, a roster of one instructor
and two students (system users the script creates, with random passwords), ``SKIP_PACKAGES=1
SKIP_PIP=1`` (CI's environment, installed by .ci/run, stands in for the class's environment)
and ``START=0``. It then starts the hub with the ``ExecStart`` of the systemd unit the script
installed, in the unit's working folder with the unit's ``PATH``; its only additions, in the
``jupyterhub_config.d`` folder the guide gives for local changes, are free ports, a service
token to start servers and make tokens, and a kernel cull timeout of seconds instead of an hour.

Everyone logs in over HTTPS with the password the script printed, the self-signed certificate
checked against the one the script made. Students act only through their own server, with the
cookies of their login, on the REST endpoints of nbgrader's Assignments tab
(``nbgrader/server_extensions/assignment_list/handlers.py``) and Jupyter's contents API (what
the editor does when it saves). The instructor runs the guide's commands in a shell as their
own user with their own groups, as a terminal of their server would; so do the attacks of
students. Limit of the stand-in environment: its packages are CI's (editable installs from the
checkout), so the test checks the class's copies of the course, not the environment's
site-packages, for what a student can read.

It needs root (to create users and for the hub to start servers as them), as in CI. Without
root it is skipped with that reason; a developer runs it in a throw-away container or VM as
root: ``sudo env PATH="$PWD/.venv/bin:$PATH" .venv/bin/python -m pytest tests/test_jupyterhub.py
-rP`` (-rP prints the session transcript). It needs ``jupyterhub`` and
``jupyterhub-idle-culler`` in .venv and ``configurable-http-proxy``, ``bwrap`` and ``openssl``
on PATH (.ci/run installs them). Every process it starts is stopped at the end, also on
failure; the users and the group it made are removed.
"""

from __future__ import annotations

import configparser
import csv
import grp
import json
import shlex
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
GROUP = "nnp-instructors"
#: Seconds a student's idle kernel lives in the test (an hour in the class).
CULL_SECONDS = 20
HUB_TOKEN = secrets.token_hex(32)
#: The ``bin`` other users run and its extra variables, set by the fixture (bin_for_everyone).
USER_BIN: list = [BIN, {}]
#: What setup.sh chose (its nn_python.json), set by the fixture.
SITE: dict = {}

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: it creates system users and the hub starts servers as them "
           "(CI runs as root; see this module's docstring to run it as a developer)")

# The instructor's commands, as docs/instructors.md gives them (a test below checks they are
# there, word for word). $NN_PYTHON is the instructors' copy of the course, made by setup.sh.
GUIDE_SETUP = [
    f"mkdir -p ~/course/source/{ASSIGNMENT}",
    "cp " + " ".join(f"$NN_PYTHON/solutions/{nb}" for nb in NOTEBOOKS)
    + f" ~/course/source/{ASSIGNMENT}/",
    "cp $NN_PYTHON/deploy/one-machine/course_nbgrader_config.py ~/course/nbgrader_config.py",
]
GUIDE_RELEASE = [f"nbgrader generate_assignment {ASSIGNMENT}",
                 f"nbgrader release_assignment {ASSIGNMENT}"]
GRADER = "python -m course_grading submissions"
INBOUND = f"python -m course_grading.lms inbound {ASSIGNMENT}"
GUIDE_GRADE = [
    INBOUND,
    f"nbgrader collect {ASSIGNMENT}",
    "python -m course_grading.lms collect exchange submitted --output submissions",
    f"{GRADER} --output graded --jobs 2",
    "python -m course_grading.lms feedback graded --course .",
    f"nbgrader release_feedback {ASSIGNMENT}",
    "python -m course_grading.lms totals graded/grades.csv --format canvas "
    f"--solutions source/{ASSIGNMENT} --output canvas.csv",
]

# A weekly assignment: one notebook, its own name and due date (guide, section 6).
WEEKLY = "02_layers"
WEEKLY_DUE = "2026-11-30T23:59+00:00"
GUIDE_WEEKLY_RELEASE = [
    f"mkdir -p ~/course/source/{WEEKLY}",
    f"cp $NN_PYTHON/solutions/{WEEKLY}.ipynb ~/course/source/{WEEKLY}/",
    f"nbgrader generate_assignment {WEEKLY}",
    f"nbgrader release_assignment {WEEKLY}",
]
GUIDE_WEEKLY_GRADE = [
    f"python -m course_grading.lms inbound {WEEKLY}",
    f"nbgrader collect {WEEKLY}",
    "python -m course_grading.lms collect exchange submitted --output submissions",
    f"{GRADER} --output graded --notebook {WEEKLY} --due {WEEKLY}={WEEKLY_DUE} "
    "--late-penalty 10 --late-cap 50",
    f"python -m course_grading.lms feedback graded --course . --assignment {WEEKLY}",
    f"nbgrader release_feedback {WEEKLY}",
    "python -m course_grading.lms totals graded/grades.csv --format canvas --solutions source "
    "--output canvas.csv",
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
    """What a terminal of ``user``'s server has (jupyterhub_config.py's Spawner.environment)."""
    entry = pwd.getpwnam(user)
    instructor = user == INSTRUCTOR
    config = SITE["jupyter_config"]
    env = {
        "HOME": entry.pw_dir, "USER": user, "LOGNAME": user, "SHELL": "/bin/bash",
        "PATH": f"{USER_BIN[0]}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8", "TMPDIR": str(base / "tmp"),
        "JUPYTER_CONFIG_PATH": config if instructor
        else os.pathsep.join([SITE["students_config"], config]),
        "NN_PYTHON": SITE["instructors"] if instructor else SITE["course"],
        "PYTHONPATH": _pythonpath(user), **USER_BIN[1],
    }
    if SITE.get("mnist_path"):
        env["MNIST_PATH"] = SITE["mnist_path"]
    return env


def _pythonpath(user: str) -> str:
    """Where the class's environment would import the course from (see setup.sh's pip step):
    the learners' copy, and for instructors the grading side from their copy too."""
    if user == INSTRUCTOR:
        return os.pathsep.join([SITE["course"], f"{SITE['instructors']}/grader"])
    return SITE["course"]


def as_user(user: str, command: str, cwd: Path, base: Path, log: list[str],
            timeout: int = 600, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """Run a shell command line as ``user`` (with their groups), as they would type it."""
    entry = pwd.getpwnam(user)
    started = time.monotonic()
    groups = [g for g in os.getgrouplist(user, entry.pw_gid) if g != entry.pw_gid]
    result = subprocess.run(["bash", "-c", command], cwd=cwd, env=_user_env(user, base),
                            user=entry.pw_uid, group=entry.pw_gid, extra_groups=groups,
                            capture_output=True, encoding="utf-8", errors="replace",
                            timeout=timeout)  # an attack that works may print binary data
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


def guide_setup_block() -> str:
    """The first fenced bash block of docs/instructors.md's section 2, as written."""
    guide = (ROOT / "docs" / "instructors.md").read_text()
    section = guide[guide.index("\n## 2. "):guide.index("\n## 3. ")]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "docs/instructors.md section 2 has no bash block"
    return match[1]


def read_unit(path: Path) -> dict[str, str]:
    """The [Service] keys of a systemd unit (each key once; Environment= lines merged)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read_string(path.read_text())
    return dict(parser["Service"]) | {"_sections": ",".join(parser.sections())}


def _idle_culler(hub_pid: int, limit: float = 30) -> list[str]:
    """The command line of the hub's idle-culler service (a child of the hub), once running."""
    import psutil

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for child in psutil.Process(hub_pid).children(recursive=True):
            try:
                command = child.cmdline()
            except psutil.Error:
                continue
            if "jupyterhub_idle_culler" in command:
                return command
        time.sleep(1)
    return []


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

def _session(cert: str):
    """A requests session that trusts only ``cert`` (not REQUESTS_CA_BUNDLE, which would
    override a session's own ``verify``) and uses no proxy from the environment."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.verify = cert
    return session


class Hub:
    """The hub's REST API, with the test's service token (it starts servers)."""

    def __init__(self, url: str, cert: str):
        self.url = url
        self.cert = cert
        self.session = _session(cert)
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
                if _session(self.cert).get(f"{self.url}/hub/api/",
                                           timeout=5).status_code == 200:
                    return
            except requests.exceptions.SSLError:
                raise
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

    def login(self, user: str, password: str):
        """Log in on the hub's login page as a browser does; the session and the response."""
        session = _session(self.cert)
        session.get(f"{self.url}/hub/login", timeout=60)
        response = session.post(f"{self.url}/hub/login", timeout=60, allow_redirects=False,
                                data={"username": user, "password": password,
                                      "_xsrf": session.cookies.get("_xsrf", path="/hub/")})
        return session, response

    def logged_in(self, session) -> bool:
        """Whether ``session`` is logged in: the hub's home page answers, not a redirect."""
        response = session.get(f"{self.url}/hub/home", timeout=60, allow_redirects=False)
        return response.status_code == 200


class Server:
    """One user's single-user server, reached through the proxy with that user's login."""

    def __init__(self, hub_url: str, user: str, session):
        self.user = user
        self.base = f"{hub_url}/user/{user}/"
        self.session = session
        self.hub_url = hub_url
        self.xsrf()

    def xsrf(self) -> None:
        """Open JupyterLab as a browser does (the hub's OAuth gives the server's cookie); its
        page sets the _xsrf cookie that POSTs echo."""
        response = self.session.get(self.base + "lab", timeout=120)
        assert response.status_code == 200, (self.user, response.status_code, response.url)
        xsrf = self.session.cookies.get("_xsrf", path=f"/user/{self.user}/")
        if xsrf:
            self.session.headers["X-XSRFToken"] = xsrf

    def get(self, path: str, **kwargs):
        return self.session.get(self.base + path, timeout=120, **kwargs)

    def assignments(self, action: str | None = None, assignment: str = ASSIGNMENT,
                    **extra) -> list[dict]:
        """What the Assignments tab shows (after ``action``: fetch, submit, fetch_feedback)."""
        for attempt in range(3):
            import requests

            try:
                if action is None:
                    response = self.get("assignments", params={"course_id": COURSE})
                else:
                    response = self.session.post(
                        self.base + f"assignments/{action}", timeout=300,
                        data={"course_id": COURSE, "assignment_id": assignment, **extra})
                break
            except requests.ConnectionError:  # a dropped keep-alive connection: once more
                if attempt == 2:
                    raise
                time.sleep(2)
        assert response.status_code == 200, f"{self.user} {action}: {response.status_code} " \
                                             f"{response.text[:2000]}"
        body = response.json()
        assert body["success"], f"{self.user} {action}: {body['value']}"
        return [a for a in body["value"] if a["assignment_id"] == assignment]

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

def _setup(base: Path, transcript: list[str]) -> tuple[dict[str, str], subprocess.CompletedProcess]:
    """Run the guide's section 2 block as written, in ``base``; the passwords it gave."""
    roster = base / "roster.csv"
    roster.write_text("username,role,name\n"
                      f"{INSTRUCTOR},instructor,Test Instructor\n"
                      f"{RIGHT},student,Right Answers\n{WRONG},student,Wrong Answers\n")
    env = {**os.environ, "NN_PYTHON": str(ROOT), "PREFIX": str(base / "opt"),
           "ETC": str(base / "etc"), "SRV": str(base / "srv"), "HOMES": str(base / "homes"),
           "VENV": str(USER_BIN[0].parent), "BIND_URL": SITE["bind_url"],
           "HUB_HOSTNAME": "localhost", "INSTRUCTORS_GROUP": GROUP,
           "SKIP_PACKAGES": "1", "SKIP_PIP": "1", "START": "0",
           "PATH": f"{USER_BIN[0]}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    started = time.monotonic()
    result = subprocess.run(["bash", "-c", "set -euo pipefail\n" + guide_setup_block()],
                            cwd=base, env=env, capture_output=True, text=True, timeout=600)
    transcript.append(f"[root] setup.sh (exit {result.returncode}, "
                      f"{time.monotonic() - started:.1f} s)")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with (base / "etc" / "jupyterhub" / "initial-passwords.csv").open() as handle:
        passwords = {row["username"]: row["password"] for row in csv.DictReader(handle)}
    # Run again, as after editing the roster or updating the course: nothing is lost.
    again = subprocess.run(["bash", "-c", "set -euo pipefail\n" + guide_setup_block()],
                           cwd=base, env=env, capture_output=True, text=True, timeout=600)
    transcript.append(f"[root] setup.sh again (exit {again.returncode})")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    return passwords, result, again


@pytest.fixture(scope="module")
def classroom() -> Iterator[dict]:
    """Install and run the whole class once; yield what each person saw, for the tests below."""
    if shutil.which("configurable-http-proxy") is None:
        pytest.fail("configurable-http-proxy is not on PATH: npm install -g "
                    "configurable-http-proxy (.ci/run does)")
    if not (BIN / "jupyterhub").exists():
        pytest.fail(f"jupyterhub is not installed in {BIN}: pip install jupyterhub "
                    "jupyterhub-idle-culler (.ci/run does)")
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="nn-python-hub-"))
    base.chmod(0o755)
    transcript: list[str] = []
    hub_process = None
    uids: set[int] = set()
    state = base / "srv" / "jupyterhub"
    try:
        for folder, mode in (("homes", 0o755), ("tmp", 0o1777)):
            (base / folder).mkdir()
            (base / folder).chmod(mode)
        USER_BIN[:] = bin_for_everyone(base)
        port, hub_port, api_port = _free_port(), _free_port(), _free_port()
        url = f"https://127.0.0.1:{port}"
        SITE.clear()
        SITE["bind_url"] = url
        passwords, setup, setup_again = _setup(base, transcript)
        SITE.update(json.loads((base / "etc" / "jupyterhub" / "nn_python.json").read_text()))
        course_exchange = {
            part: (pwd.getpwuid(folder.stat().st_uid).pw_name, folder.stat().st_mode & 0o7777)
            for part, folder in ((COURSE, Path(SITE["exchange"]) / COURSE),
                                 *((p, Path(SITE["exchange"]) / COURSE / p)
                                   for p in ("outbound", "inbound", "feedback")))}
        uids |= {pwd.getpwnam(user).pw_uid for user in USERS}
        # The test's local settings, where the guide puts local changes.
        hook_env = {"TMPDIR": str(base / "tmp"), **USER_BIN[1]}
        (base / "etc" / "jupyterhub" / "jupyterhub_config.d" / "test.py").write_text(f"""
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.Spawner.ip = "127.0.0.1"
# Kernels idle for {CULL_SECONDS} s are shut down (the class: an hour).
c.Spawner.args = ["--MappingKernelManager.cull_idle_timeout={CULL_SECONDS}",
                  "--MappingKernelManager.cull_interval=5"]
c.JupyterHub.services.append({{"name": "classroom-test", "api_token": {HUB_TOKEN!r}}})
c.JupyterHub.load_roles.append({{"name": "classroom-test",
    "scopes": ["admin:servers", "list:users", "read:users"], "services": ["classroom-test"]}})
_pythonpath = {dict((user, _pythonpath(user)) for user in USERS)!r}
def _test_hook(spawner):  # runs after the class's own hook
    # The stand-in environment imports the course as the class's environment would.
    spawner.environment = {{**spawner.environment, **{hook_env!r},
                           "PYTHONPATH": _pythonpath[spawner.user.name]}}
c.Spawner.pre_spawn_hook = _test_hook
""")
        # Start the hub as the systemd unit would: its ExecStart, folder and PATH.
        unit = read_unit(base / "etc" / "systemd" / "system" / "jupyterhub.service")
        environment = dict(item.split("=", 1) for item in shlex.split(unit["Environment"]))
        hub_log = base / "jupyterhub.log"
        with hub_log.open("w") as log_handle:
            hub_process = subprocess.Popen(
                shlex.split(unit["ExecStart"]), cwd=unit["WorkingDirectory"],
                stdout=log_handle, stderr=subprocess.STDOUT, start_new_session=True,
                env={**environment, "LANG": "C.UTF-8", **USER_BIN[1]})
        hub = Hub(url, SITE["ssl_cert"])
        hub.wait_up(hub_process, hub_log)
        culler = _idle_culler(hub_process.pid)
        transcript.append(f"[hub] up at {url} ({time.monotonic() - started:.1f} s)")

        # Everyone logs in with the password setup.sh printed; a wrong one gets nowhere.
        sessions, login_status = {}, {}
        for user in USERS:
            session, response = hub.login(user, passwords[user])
            login_status[user] = response.status_code
            assert hub.logged_in(session), (user, response.status_code, response.text[:500])
            sessions[user] = session
        intruder, response = hub.login(INSTRUCTOR, passwords[RIGHT])
        wrong_password = {"status": response.status_code, "logged_in": hub.logged_in(intruder)}
        for user in USERS:
            hub.api("POST", f"users/{user}/server")
        servers: dict[str, Server] = {}
        for user in USERS:
            hub.wait_ready(user)
            servers[user] = Server(url, user, sessions[user])
        transcript.append(f"[hub] three logged in, servers ready "
                          f"({time.monotonic() - started:.1f} s)")

        # The instructor makes the course directory and releases the assignment (guide, 3 and 4).
        home = Path(pwd.getpwnam(INSTRUCTOR).pw_dir)
        course = home / "course"
        for command in GUIDE_SETUP:
            as_user(INSTRUCTOR, command, home, base, transcript)
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
            # The submit request names another student: the tab has no such field, and the
            # submission must still be this student's.
            submitted = server.assignments("submit", student_id=RIGHT if student == WRONG
                                           else WRONG)
            saw[student]["after_submit"] = sorted(a["status"] for a in submitted)
            transcript.append(f"[{student}] listed {saw[student]['listed']}, fetched "
                              f"{saw[student]['fetched_files']}, answered one_hot "
                              f"{'right' if one_hot.endswith('right') else 'wrong'}, submitted")
        inbound = Path(SITE["exchange"]) / COURSE / "inbound"
        submission_owners = {p.name: pwd.getpwuid(p.stat().st_uid).pw_name
                             for p in inbound.iterdir()}
        # From a terminal, the wrong student hands their work in under the other's name, later:
        # nbgrader's collect would take it as the other's latest submission.
        time.sleep(1.1)  # nbgrader's time stamps: a later one than the genuine submission
        forgery = as_user(WRONG, f"nbgrader submit {ASSIGNMENT} --student {RIGHT}",
                          Path(pwd.getpwnam(WRONG).pw_dir), base, transcript,
                          ok=tuple(range(256)))

        # The instructor collects, grades, returns feedback and exports grades (guide, 6).
        grading = set_aside = collect = None
        race_name = ""
        for command in GUIDE_GRADE:
            result = as_user(INSTRUCTOR, command, course, base, transcript,
                             ok=(0, 1) if command.startswith((GRADER, INBOUND)) else (0,))
            if command.startswith(GRADER):
                grading = result
            if command.startswith("nbgrader collect"):
                collect = result
            if command == INBOUND:
                set_aside = result
                # Between that check and the collect, the wrong student puts in a link named
                # as their own later submission, to the masters: collect, run as the
                # instructor, must not copy them as the student's work.
                stamp = time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime())
                race_name = f"{WRONG}+{ASSIGNMENT}+{stamp}+race"
                as_user(WRONG, f"ln -s {SITE['instructors']}/solutions "
                               f"{shlex.quote(str(inbound / race_name))}",
                        Path(pwd.getpwnam(WRONG).pw_dir), base, transcript)
        submissions = sorted(p.name for p in inbound.iterdir())
        grades, gradebook = _grades_and_gradebook(course)

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

        weekly = _weekly(servers, base, course, transcript)
        kernel_environments = _kernel_environments(servers)
        transcript.append(f"[kernels] {kernel_environments}")
        attacks = _attacks(servers, base, course, transcript)
        transcript.append(f"[all] done in {time.monotonic() - started:.1f} s")
        print("\n".join(transcript))
        yield {"saw": saw, "grades": grades, "gradebook": gradebook,
               "grading_exit": grading.returncode, "transcript": transcript,
               "servers": servers, "seconds": time.monotonic() - started,
               "setup": setup, "setup_again": setup_again, "passwords": passwords, "wrong_password": wrong_password,
               "login_status": login_status, "attacks": attacks, "base": base,
               "submissions": submissions, "submission_owners": submission_owners,
               "forgery": forgery, "set_aside": set_aside, "weekly": weekly,
               "kernel_environments": kernel_environments, "idle_culler": culler,
               "unit": unit, "course_exchange": course_exchange, "collect": collect,
               "race": race_name}
    finally:
        if hub_process is not None:
            _stop(hub_process)
        _kill_leftovers(uids, state / "jupyterhub-proxy.pid")
        for user in USERS:
            subprocess.run(["userdel", "--remove", user], capture_output=True)
        subprocess.run(["groupdel", GROUP], capture_output=True)
        if (base / "jupyterhub.log").is_file():  # shown by pytest when something failed
            print("--- jupyterhub.log (end) ---\n" + (base / "jupyterhub.log").read_text()[-6000:])
        shutil.rmtree(base, ignore_errors=True)


def _weekly(servers: dict, base: Path, course: Path, transcript: list[str]) -> dict:
    """A weekly assignment (one notebook) after the whole-course one, through the same hub:
    released, fetched, answered (right by one student, left as given by the other), submitted,
    collected, graded with its own due date into the same ``graded/``, feedback returned."""
    for command in GUIDE_WEEKLY_RELEASE:
        as_user(INSTRUCTOR, command, course, base, transcript)
    master = json.loads((ROOT / "solutions" / f"{WEEKLY}.ipynb").read_text())
    answers = {}
    for cell in master["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            lines = "".join(cell["source"]).splitlines()
            answers[meta["grade_id"]] = "\n".join(
                ["# answered by {user}"]
                + [line for line in lines if "BEGIN SOLUTION" not in line
                   and "END SOLUTION" not in line])
    assert answers, "the weekly master has no solution cell"
    saw: dict[str, dict] = {}
    for student in (RIGHT, WRONG):
        server = servers[student]
        saw[student] = {"after_fetch": [a["status"] for a in
                                        server.assignments("fetch", assignment=WEEKLY)]}
        path = f"{WEEKLY}/{WEEKLY}.ipynb"
        notebook = server.contents(path)["content"]
        if student == RIGHT:
            _answer(notebook, {key: value.format(user=student) for key, value in answers.items()})
        server.save_notebook(path, notebook)
        saw[student]["after_submit"] = sorted(
            a["status"] for a in server.assignments("submit", assignment=WEEKLY))
    exits = {}
    for command in GUIDE_WEEKLY_GRADE:
        exits[command] = as_user(INSTRUCTOR, command, course, base, transcript,
                                 ok=(0, 1) if command.startswith(GRADER) else (0,)).returncode
    grades, gradebook = _grades_and_gradebook(course)
    for student in (RIGHT, WRONG):
        server = servers[student]
        server.assignments("fetch_feedback", assignment=WEEKLY)
        pages = {}
        for stamp in server.contents(f"{WEEKLY}/feedback")["content"]:
            for item in server.contents(stamp["path"])["content"]:
                pages[item["name"]] = server.get(f"files/{item['path']}").text
        saw[student]["feedback"] = pages
    transcript.append(f"[weekly] {WEEKLY}: {saw[RIGHT]['after_submit']}, "
                      f"feedback {sorted(saw[RIGHT]['feedback'])}")
    return {"saw": saw, "grades": grades, "gradebook": gradebook, "exits": exits}


def run_in_kernel(server: "Server", kernel: str, code: str) -> str:
    """Execute ``code`` in a kernel of ``server`` over its websocket, as JupyterLab does; what
    it printed (or its traceback)."""
    import uuid

    import websocket

    prefix = f"/user/{server.user}/"
    cookie = "; ".join(f"{c.name}={c.value}" for c in server.session.cookies
                       if c.path in ("/", prefix) or c.path.startswith(prefix))
    url = server.base.replace("https://", "wss://", 1) + f"api/kernels/{kernel}/channels"
    ws = websocket.create_connection(url, cookie=cookie, timeout=120,
                                     sslopt={"ca_certs": SITE["ssl_cert"]})
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": server.user,
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False}}))
    out = []
    try:
        while True:
            message = json.loads(ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                out.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                out.append("\n".join(message["content"]["traceback"]))
            elif (message["msg_type"] == "status"
                  and message["content"]["execution_state"] == "idle"):
                break
    finally:
        ws.close()
    return "".join(out)


#: What a kernel of a user's server reports of its environment (the guide promises these).
ENVIRONMENT_PROBE = """
import getpass, json, os, course_utils
print(json.dumps({"user": getpass.getuser(),
                  **{k: os.environ.get(k) for k in ("NN_PYTHON", "MNIST_PATH",
                                                     "JUPYTER_CONFIG_PATH")},
                  "course_utils": os.path.dirname(course_utils.__file__),
                  "notebooks": os.path.isdir(os.path.join(os.environ.get("NN_PYTHON", "/-"),
                                                          "notebooks"))}))
"""


def _kernel_environments(servers: dict) -> dict:
    """Each user's kernel environment, from a kernel of their own server."""
    seen = {}
    for user in (INSTRUCTOR, WRONG):
        server = servers[user]
        response = server.session.post(server.base + "api/kernels", json={"name": "python3"},
                                       timeout=120)
        assert response.status_code == 201, response.text
        kernel = response.json()["id"]
        output = run_in_kernel(server, kernel, ENVIRONMENT_PROBE)
        try:
            seen[user] = json.loads(output.strip().splitlines()[-1])
        except (ValueError, IndexError):
            seen[user] = {"error": output[-2000:]}
        server.session.delete(server.base + f"api/kernels/{kernel}", timeout=60)
    return seen


def _attacks(servers: dict, base: Path, course: Path, transcript: list[str]) -> dict:
    """What a student tries against the answer key, the gradebook and the other student:
    each command's exit status and output, from a shell as the student (their terminal)."""
    other_home = Path(pwd.getpwnam(RIGHT).pw_dir)
    exchange = Path(SITE["exchange"]) / COURSE
    tries = {
        "read the masters": f"cat {SITE['instructors']}/solutions/01_neurons.ipynb",
        "list the masters": f"ls {SITE['instructors']}/solutions",
        "read the grader": f"cat {SITE['instructors']}/grader/course_grading/answers.py",
        "read the hidden tests in the instructors' release": f"ls {course}/source",
        "read the gradebook": f"cat {course}/graded/grades.csv",
        "read nbgrader's gradebook": f"cat {course}/gradebook.db",
        "list the exchange's submissions": f"ls {exchange}/inbound",
        "list the exchange's feedback": f"ls {exchange}/feedback",
        "take the course's exchange folder over": f"mkdir {exchange}/outbound/{ASSIGNMENT}x "
                                                  f"|| mv {exchange} {exchange}.mine",
        "read the other's fetched work": f"cat {other_home}/{ASSIGNMENT}/{NOTEBOOKS[0]}",
        "read the other's feedback": f"ls {other_home}/{ASSIGNMENT}/feedback",
    }
    results = {}
    for name, command in tries.items():
        result = as_user(WRONG, command, Path(pwd.getpwnam(WRONG).pw_dir), base, transcript,
                         ok=tuple(range(256)))
        results[name] = (result.returncode, (result.stdout + result.stderr)[-500:])
    # The learners' copy is there for them (a control: the same shell can read files).
    result = as_user(WRONG, f"cat {SITE['course']}/notebooks/01_neurons.ipynb",
                     Path(pwd.getpwnam(WRONG).pw_dir), base, transcript, ok=tuple(range(256)))
    results["control: read the learners' notebooks"] = (result.returncode, "")
    # The formgrader: not in the student's own server, and the instructor's refuses them.
    student = servers[WRONG]
    results["own formgrader"] = student.get("formgrader").status_code
    response = student.session.get(f"{student.hub_url}/user/{INSTRUCTOR}/formgrader",
                                   timeout=60)
    results["instructor's formgrader"] = (response.status_code, response.url)
    # An idle kernel is shut down by the student's server.
    response = student.session.post(student.base + "api/kernels", json={"name": "python3"},
                                    timeout=120)
    assert response.status_code == 201, response.text
    kernel = response.json()["id"]
    started = time.monotonic()
    gone = None
    while time.monotonic() - started < CULL_SECONDS + 90:
        ids = [k["id"] for k in student.get("api/kernels").json()]
        if kernel not in ids:
            gone = time.monotonic() - started
            break
        time.sleep(2)
    results["idle kernel culled after"] = gone
    transcript.append(f"[{WRONG}] attacks: {results}")
    return results


def _score(grades: list[dict], student: str, grade_id: str) -> tuple[float, float]:
    rows = [r for r in grades if r["student_id"] == student and r["grade_id"] == grade_id]
    assert len(rows) == 1, (student, grade_id, grades)
    return float(rows[0]["score"]), float(rows[0]["max_score"])


def _grades_and_gradebook(course: Path) -> tuple[list[dict[str, str]], list[list[str]]]:
    """The grader's grades.csv rows and the Canvas gradebook's rows, as the guide left them."""
    with (course / "graded" / "grades.csv").open() as handle:
        grades = list(csv.DictReader(handle))
    with (course / "canvas.csv").open() as handle:
        gradebook = list(csv.reader(handle))
    return grades, gradebook


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
    assert _score(grades, RIGHT, "test_one_hot") == (2.0, 2.0)
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
    # The wrong student lost exactly one_hot's points (read from the gradebook, not restated).
    one_hot_points = _score(classroom["grades"], RIGHT, "test_one_hot")[1]
    assert sum(float(x) for x in by_login[WRONG][5:]) == possible - one_hot_points


def test_the_guide_gives_the_instructors_commands_word_for_word():
    guide = (ROOT / "docs" / "instructors.md").read_text()
    for command in (GUIDE_SETUP + GUIDE_RELEASE + GUIDE_GRADE + GUIDE_WEEKLY_RELEASE
                    + GUIDE_WEEKLY_GRADE):
        assert f"\n{command}\n" in guide, f"docs/instructors.md lacks: {command}"


def test_only_the_instructor_gets_the_formgrader(classroom):
    for student in (RIGHT, WRONG):
        response = classroom["servers"][student].get("formgrader")
        assert response.status_code == 404, (student, response.status_code)
    response = classroom["servers"][INSTRUCTOR].get("formgrader")
    assert response.status_code == 200, response.status_code


def test_the_guide_installs_with_one_command_as_written():
    block = [line for line in guide_setup_block().splitlines() if line.strip()]
    assert block == ["$NN_PYTHON/deploy/one-machine/setup.sh roster.csv"], block


def test_setup_installs_a_service_that_runs_the_hub(classroom):
    unit = classroom["unit"]
    base = classroom["base"]
    assert unit["_sections"] == "Unit,Service,Install"
    assert unit["ExecStart"] == (f"{SITE['venv']}/bin/jupyterhub -f "
                                 f"{base}/etc/jupyterhub/jupyterhub_config.py")
    assert unit["WorkingDirectory"] == f"{base}/srv/jupyterhub"
    assert unit["User"] == "root" and unit["Restart"] == "on-failure"
    assert "@" not in "".join(v for k, v in unit.items() if not k.startswith("_"))
    # The hub came up from it over HTTPS, with the certificate setup.sh made (checked by
    # every request of the test), and nobody else can read that certificate's key.
    assert Path(SITE["ssl_key"]).stat().st_mode & 0o077 == 0
    assert SITE["bind_url"].startswith("https://")


def test_the_service_unit_passes_systemd_analyze(tmp_path):
    """systemd's own check of the unit's syntax, with the paths filled in as setup.sh does."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the unit's keys are checked by "
                    "test_setup_installs_a_service_that_runs_the_hub")
    unit = tmp_path / "jupyterhub.service"
    unit.write_text((DEPLOY / "jupyterhub.service").read_text()
                    .replace("@VENV@", str(BIN.parent)).replace("@ETC@", str(tmp_path))
                    .replace("@STATE@", str(tmp_path)))
    (tmp_path / "jupyterhub").mkdir()
    (tmp_path / "jupyterhub" / "jupyterhub_config.py").write_text("")
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    # Without a running systemd it still parses the unit (a bad ExecStart is a fatal error,
    # exit status 1); only complaints about this unit count.
    complaints = [line for line in (result.stdout + result.stderr).splitlines()
                  if "jupyterhub.service" in line]
    assert result.returncode == 0 and not complaints, (result.returncode, complaints)


def test_setup_gives_each_account_a_password_once_and_keeps_it_private(classroom):
    passwords = classroom["passwords"]
    assert set(passwords) == set(USERS)
    assert len(set(passwords.values())) == 3 and all(len(p) >= 10 for p in passwords.values())
    printed = classroom["setup"].stdout
    for user, password in passwords.items():
        assert f"{user},{password}" in printed
    for private in ("initial-passwords.csv", "roster.csv"):
        kept = classroom["base"] / "etc" / "jupyterhub" / private
        assert kept.stat().st_mode & 0o077 == 0 and kept.stat().st_uid == 0, private
    for user in USERS:
        assert Path(pwd.getpwnam(user).pw_dir).stat().st_mode & 0o077 == 0, user
    assert grp.getgrnam(GROUP).gr_mem == [INSTRUCTOR]


def test_setup_keeps_students_out_of_the_instructors_copy(classroom):
    instructors = Path(SITE["instructors"])
    course = Path(SITE["course"])
    assert instructors.stat().st_mode & 0o007 == 0
    assert grp.getgrgid(instructors.stat().st_gid).gr_name == GROUP
    for folder in ("solutions", "grader", "tests"):
        assert (instructors / folder).is_dir(), folder
    assert sorted(p.name for p in course.iterdir()) == [
        "README.md", "course_utils", "notebooks", "pyproject.toml", "requirements.txt"]
    for copy in (instructors, course):
        for excluded in ("build", ".venv", ".git", "grader/build"):
            assert not (copy / excluded).exists(), (copy, excluded)


def test_a_wrong_password_gets_nowhere(classroom):
    assert classroom["wrong_password"] == {"status": 403, "logged_in": False}
    assert all(status == 302 for status in classroom["login_status"].values())


@pytest.mark.parametrize("attack", [
    "read the masters", "list the masters", "read the grader",
    "read the hidden tests in the instructors' release", "read the gradebook",
    "read nbgrader's gradebook", "list the exchange's submissions",
    "list the exchange's feedback", "take the course's exchange folder over",
    "read the other's fetched work",
    "read the other's feedback"])
def test_a_student_cannot(classroom, attack):
    status, output = classroom["attacks"][attack]
    assert status != 0 and "Permission denied" in output, (attack, status, output)


def test_the_attacks_shell_can_read_what_learners_need(classroom):
    assert classroom["attacks"]["control: read the learners' notebooks"][0] == 0


def test_a_student_cannot_open_any_formgrader(classroom):
    assert classroom["attacks"]["own formgrader"] == 404
    status, final_url = classroom["attacks"]["instructor's formgrader"]
    assert status == 403, (status, final_url)


def test_a_submission_is_its_authors_whatever_the_request_says(classroom):
    owners = classroom["submission_owners"]
    assert len(owners) == 2, owners
    for name, owner in owners.items():
        assert name.split("+")[0] == owner, (name, owner)


def test_a_submission_under_another_students_name_is_set_aside(classroom):
    # nbgrader lets the forgery in (it is a file in a shared folder) ...
    assert classroom["forgery"].returncode == 0, classroom["forgery"].stderr[-2000:]
    # ... and the guide's first grading command sets it aside before nbgrader collects ...
    assert classroom["set_aside"].returncode == 1, classroom["set_aside"].stdout
    assert f"handed in by {WRONG} under another student's name" in classroom["set_aside"].stderr
    hidden = [name for name in classroom["submissions"]
              if name.startswith(f".forged-by-{WRONG}-{RIGHT}+")]
    assert len(hidden) == 1, classroom["submissions"]
    # ... so the other student is graded on their own work (test_the_right_answer_... checks
    # the score, test_each_student_gets_their_own_feedback_... the feedback's code).


def test_a_link_planted_between_the_check_and_the_collect_is_not_collected(classroom):
    """nbgrader collect itself refuses it (course_grading.exchange, chosen by the deployed
    instructors' settings): it does not follow the link, sets it aside, and collects the
    student's own earlier submission, so the masters never count as their work
    (test_the_right_answer_... checks the wrong student's score is still theirs)."""
    race = classroom["race"]
    collect = classroom["collect"]
    assert collect.returncode == 0
    assert "Not collected" in collect.stderr and race in collect.stderr, collect.stderr[-3000:]
    assert race not in classroom["submissions"]
    assert any(name.startswith(f".forged-by-{WRONG}-{race}") for name in
               classroom["submissions"]), classroom["submissions"]


def test_an_idle_students_kernel_is_shut_down(classroom):
    gone = classroom["attacks"]["idle kernel culled after"]
    assert gone is not None, "the idle kernel was still running"
    assert gone >= CULL_SECONDS - 1, gone


def test_a_weekly_assignment_goes_through_the_hub_with_its_own_due_date(classroom):
    weekly = classroom["weekly"]
    for student in (RIGHT, WRONG):
        assert weekly["saw"][student]["after_fetch"] == ["fetched"], weekly["saw"][student]
        assert "submitted" in weekly["saw"][student]["after_submit"]
    assert all(code == 0 for code in weekly["exits"].values()), weekly["exits"]
    grades = weekly["grades"]
    notebook = f"{WEEKLY}.ipynb"
    assert _score(grades, RIGHT, "test_dense_forward") == (1.0, 1.0)
    assert _score(grades, WRONG, "test_dense_forward")[0] == 0.0
    # Its own due date: late, so a penalty on the weekly notebook, none on the others.
    late = {(r["student_id"], r["notebook"]): float(r["score"]) for r in grades
            if r["grade_id"] == "late_penalty" and float(r["score"])}
    assert set(late) == {(RIGHT, notebook)}, late  # the wrong answer has no points to lose
    assert -0.5 <= late[(RIGHT, notebook)] < 0  # 10 % a day, at most 50 % of 1 point
    # The whole-course grades stay as they were.
    assert _score(grades, RIGHT, "test_one_hot") == (2.0, 2.0)
    assert {r["notebook"] for r in grades} == {*NOTEBOOKS, notebook}
    # Each student's weekly feedback: that notebook only, their own.
    for student, other in ((RIGHT, WRONG), (WRONG, RIGHT)):
        pages = weekly["saw"][student]["feedback"]
        assert sorted(pages) == [f"{WEEKLY}.html"], sorted(pages)
        assert other not in pages[f"{WEEKLY}.html"]
    assert f"answered by {RIGHT}" in weekly["saw"][RIGHT]["feedback"][f"{WEEKLY}.html"]
    # The term's gradebook: every notebook released so far, from the whole source/ folder.
    rows = weekly["gradebook"]
    columns = rows[0][5:]
    assert columns == [f"{Path(nb).stem} (points)" for nb in sorted([*NOTEBOOKS, notebook])]
    by_login = {row[3]: dict(zip(columns, row[5:])) for row in rows[2:]}
    assert float(by_login[RIGHT][f"{WEEKLY} (points)"]) == 1.0 + late[(RIGHT, notebook)]
    assert float(by_login[WRONG][f"{WEEKLY} (points)"]) == 0.0


def test_each_users_kernels_get_the_course_and_the_data(classroom):
    seen = classroom["kernel_environments"]
    student, instructor = seen[WRONG], seen[INSTRUCTOR]
    assert student.get("user") == WRONG and instructor.get("user") == INSTRUCTOR, seen
    assert student["NN_PYTHON"] == SITE["course"] and student["notebooks"], student
    assert instructor["NN_PYTHON"] == SITE["instructors"] and instructor["notebooks"], instructor
    assert student["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == SITE["students_config"]
    assert instructor["JUPYTER_CONFIG_PATH"] == SITE["jupyter_config"]
    # MNIST_PATH when setup.sh was given one (the test passes its own, if it has one).
    for env in (student, instructor):
        assert env["MNIST_PATH"] == (SITE["mnist_path"] or None), env


def test_setup_run_again_keeps_accounts_and_passwords(classroom):
    again = classroom["setup_again"].stdout
    for user in USERS:
        assert f"{user} (" in again and "exists, password unchanged" in again, again
    assert "initial passwords" not in again
    kept = classroom["base"] / "etc" / "jupyterhub" / "initial-passwords.csv"
    assert len(kept.read_text().splitlines()) == 1 + len(USERS)
    # Everyone logged in after the second run with the first run's password (the fixture).


@pytest.mark.parametrize("roster, error", [
    ("username,role\nnnp-bad,teacher\n", "role must be instructor or student"),
    ("username,role\nnnp-bad,student\n", "lists no instructor"),
    ("username,role\nBad Name,student\n", "bad user name"),
    # No header: the hub's settings read the roster by its header (deploy/one-machine/roster.py,
    # as setup.sh does), so a headerless roster is refused here rather than read two ways.
    ("nnp-bad,instructor\nnnp-bad2,student\n", "line 1: the first line must be the header"),
    ("username,role\nnnp-bad,instructor\nnnp-bad2\n", "line 3: 'nnp-bad2' has no role"),
])
def test_setup_refuses_a_bad_roster_before_changing_anything(tmp_path, roster, error):
    (tmp_path / "roster.csv").write_text(roster)
    env = {**os.environ, "PREFIX": str(tmp_path / "opt"), "ETC": str(tmp_path / "etc"),
           "SRV": str(tmp_path / "srv"), "HOMES": str(tmp_path / "homes"),
           "SKIP_PACKAGES": "1", "SKIP_PIP": "1", "START": "0"}
    result = subprocess.run([str(DEPLOY / "setup.sh"), "roster.csv"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and error in result.stderr, (result.returncode, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roster.csv"]
    assert subprocess.run(["id", "nnp-bad"], capture_output=True).returncode != 0


@pytest.mark.parametrize("planted", ["a student's folder", "a link to a student's folder"])
def test_setup_refuses_a_course_exchange_folder_made_by_someone_else(tmp_path, planted):
    """The exchange is writable by everyone: a student who makes the course's folder in it
    before the first release would own it (the release fails, or the student controls what is
    released and handed in). setup.sh refuses it, naming it, before changing anything."""
    (tmp_path / "roster.csv").write_text("username,role\nnnp-bad,instructor\n")
    exchange = tmp_path / "srv" / "nbgrader" / "exchange"
    exchange.mkdir(parents=True)
    exchange.chmod(0o1777)
    nobody = pwd.getpwnam("nobody")
    theirs = tmp_path / "srv" / "theirs"
    theirs.mkdir()
    for folder in (theirs, exchange / COURSE) if planted == "a student's folder" else (theirs,):
        folder.mkdir(exist_ok=True)
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    if planted != "a student's folder":
        (exchange / COURSE).symlink_to(theirs)
        os.chown(exchange / COURSE, nobody.pw_uid, nobody.pw_gid, follow_symlinks=False)
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    env = {**os.environ, "PREFIX": str(tmp_path / "opt"), "ETC": str(tmp_path / "etc"),
           "SRV": str(tmp_path / "srv"), "HOMES": str(tmp_path / "homes"),
           "SKIP_PACKAGES": "1", "SKIP_PIP": "1", "START": "0"}
    result = subprocess.run([str(DEPLOY / "setup.sh"), "roster.csv"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert (f"{exchange / COURSE} exists and is not a folder of root or an instructor of the "
            "roster") in result.stderr, result.stderr
    assert "owned by nobody" in result.stderr
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    assert subprocess.run(["id", "nnp-bad"], capture_output=True).returncode != 0


def test_setup_gives_the_courses_exchange_folder_to_the_instructor(classroom):
    """Made by setup.sh for the instructor with nbgrader's own modes; the release worked in it
    (the fixture), and a student cannot make anything in it."""
    assert classroom["course_exchange"] == {
        COURSE: (INSTRUCTOR, 0o755), "outbound": (INSTRUCTOR, 0o755),
        "inbound": (INSTRUCTOR, 0o2733), "feedback": (INSTRUCTOR, 0o711)}
    assert any(f"nbgrader release_assignment {ASSIGNMENT}" in line and "(exit 0," in line
               for line in classroom["transcript"])


def test_setup_installs_the_python_environment_from_any_folder(tmp_path):
    """setup.sh's pip step, run from a folder that is not the checkout (requirements.txt's
    ``-e .`` is resolved against pip's folder: setup.sh runs it in the learners' copy).

    To stay fast and offline-friendly, the class's environment is a fresh virtual environment
    that also sees this test environment's packages (a ``.pth`` file), so pip finds every
    dependency installed and builds only the course's two packages; the scripts setup.sh
    checks for are linked from this environment. Nothing is installed into this environment.
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    venv = tmp_path / "venv"
    subprocess.run([str(Path(sys.base_prefix) / "bin" / "python3"), "-m", "venv", str(venv)],
                   check=True, capture_output=True)
    site = venv / "lib" / version / "site-packages"
    (site / "zz-test-environment.pth").write_text(
        str(Path(sys.prefix) / "lib" / version / "site-packages") + "\n")
    for script in ("jupyterhub", "jupyterhub-singleuser"):
        (venv / "bin" / script).symlink_to(BIN / script)
    # A copy of the checkout with what a developer's checkout also holds, never to be copied
    # for the class: build outputs and an environment.
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT, checkout, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "__pycache__", "*.egg-info"))
    for decoy in ("build", "grader/build", ".venv/bin"):
        (checkout / decoy).mkdir(parents=True)
        (checkout / decoy / "decoy.txt").write_text("not for the class")
    user = "nnp-pipcheck"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "roster.csv").write_text(f"username,role\n{user},instructor\n")
    # The institution's certificate, given by path (here a self-made one standing in for it).
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=hub.example.org", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    env = {**os.environ, "PREFIX": str(tmp_path / "opt"), "ETC": str(tmp_path / "etc"),
           "SRV": str(tmp_path / "srv"), "HOMES": str(tmp_path / "homes"),
           "VENV": str(venv), "INSTRUCTORS_GROUP": "nnp-pipcheck-group",
           "SSL_CERT": str(cert), "SSL_KEY": str(key),
           "SKIP_PACKAGES": "1", "START": "0"}
    env.pop("PYTHONPATH", None)
    try:
        result = subprocess.run([str(checkout / "deploy" / "one-machine" / "setup.sh"),
                                 "roster.csv"], cwd=elsewhere,
                                env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        probe = subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import course_utils, course_grading; "
             "print(course_utils.__file__); print(course_grading.__file__)"],
            cwd="/", env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
        assert probe.returncode == 0, probe.stderr
        course_utils, course_grading = probe.stdout.split()
        assert course_utils.startswith(str(tmp_path / "opt" / "course") + "/"), course_utils
        assert course_grading.startswith(str(tmp_path / "opt" / "instructors" / "grader") + "/")
        site_settings = json.loads((tmp_path / "etc" / "jupyterhub" / "nn_python.json")
                                   .read_text())
        assert (site_settings["ssl_cert"], site_settings["ssl_key"]) == (str(cert), str(key))
        assert list((tmp_path / "etc" / "jupyterhub" / "ssl").iterdir()) == []  # none made
        copied = [p for p in (tmp_path / "opt").rglob("decoy.txt")]
        assert copied == [], copied
        assert (tmp_path / "opt" / "instructors" / "grader" / "course_grading").is_dir()
    finally:
        subprocess.run(["userdel", "--remove", user], capture_output=True)
        subprocess.run(["groupdel", "nnp-pipcheck-group"], capture_output=True)


def test_the_hub_runs_the_idle_culler_for_servers(classroom):
    command = classroom["idle_culler"]
    assert command[-2:] == ["jupyterhub_idle_culler", "--timeout=3600"], command
