"""The README's course command (`make lab`): the learner's JupyterLab on their own work folder.

It makes the work folder, opens on the start page, has nbgrader's instructor tools off, no news
pop-up, Markdown rendered, and culls idle kernels; the instructor's JupyterLab keeps nbgrader.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import ROOT

LEARNER_CONFIG = ROOT / "binder" / "learner"
NBGRADER_SERVER_EXTENSIONS = ("formgrader", "assignment_list", "course_list",
                              "validate_assignment")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 10) -> tuple[int, bytes, str]:
    """GET without following redirects: (status, body, Location header)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read(), response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Location", "")


def test_make_lab_serves_the_learners_work_folder(tmp_path):
    port, token = _free_port(), "course-test"
    prefix = Path(sys.executable).parent.parent
    work = tmp_path / "work"
    # -o: take the environment this test runs in as installed, rather than making a new one.
    command = ["make", "-s", "-o", f"{prefix}/.installed", "lab", f"VENV={prefix}",
               f"WORK={work}",
               f"LAB_ARGS=--no-browser --port={port} --ServerApp.token={token} "
               f"--ServerApp.ip=127.0.0.1 --ServerApp.log_level=WARN"]
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                                   "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")},
                              start_new_session=True)  # make and JupyterLab: one group
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, listing = time.monotonic() + 120, None
        while time.monotonic() < deadline and listing is None:
            try:
                with urllib.request.urlopen(f"{base}/api/contents?token={token}",
                                            timeout=5) as response:
                    listing = json.load(response)
            except OSError:
                assert server.poll() is None, (tmp_path / "lab.log").read_text()
                time.sleep(1)
        assert listing is not None, "JupyterLab did not answer within 2 minutes"

        # It serves the work folder, made on first use: every student notebook + start page.
        names = {item["name"] for item in listing["content"]}
        students = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
        assert students | {"00_start_here.md"} <= names
        assert (work / "01_neurons.ipynb").read_bytes() == \
            (ROOT / "notebooks" / "01_neurons.ipynb").read_bytes()

        # It opens on the start page.
        status, _, location = _get(f"{base}/?token={token}")
        assert status in (301, 302) and "/lab/tree/00_start_here.md" in location, location

        # nbgrader's instructor tools are off: lab extension and server extensions.
        status, page, _ = _get(f"{base}/lab?token={token}")
        assert status == 200 and b"JupyterLab" in page
        start = page.index(b'id="jupyter-config-data"')
        config = json.loads(page[page.index(b">", start) + 1:page.index(b"</script>", start)])
        assert "@jupyter/nbgrader" in config["disabledExtensions"]
        assert config["news"] == {"disabled": True}
        for path in ("formgrader", "assignments", "courses"):
            status, _, _ = _get(f"{base}/{path}?token={token}")
            assert status == 404, f"/{path} answers {status}: an nbgrader tool is on"

        # Defaults: no news or update pop-up; Markdown (the start page) opens rendered.
        def default(plugin: str, key: str):
            _, body, _ = _get(f"{base}/lab/api/settings/{plugin}?token={token}")
            return json.loads(body)["schema"]["properties"][key]["default"]

        assert default("@jupyterlab/apputils-extension:notification", "fetchNews") == "false"
        assert default("@jupyterlab/apputils-extension:notification", "checkForUpdates") is False
        assert default("@jupyterlab/docmanager-extension:plugin", "defaultViewers") == \
            {"markdown": "Markdown Preview"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    # JupyterLab keeps its state (settings, open tabs) in the learner's home, not in the repo.
    written = subprocess.run(["git", "status", "--porcelain", "--ignored", "--", str(LEARNER_CONFIG)],
                             cwd=ROOT, capture_output=True, text=True).stdout
    assert not [line for line in written.splitlines() if "__pycache__" not in line], written


def _jupyter(args: list[str], home: Path, config_dir: Path | None) -> str:
    env = {"HOME": str(home), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    if config_dir:
        env["JUPYTER_CONFIG_DIR"] = str(config_dir)
    done = subprocess.run([str(Path(sys.executable).parent / "jupyter"), *args], env=env,
                          capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


def _enabled(listing: str, name: str) -> bool:
    line = next(line for line in listing.splitlines()
                if name in line and ("enabled" in line or "disabled" in line))
    return "disabled" not in line


def test_nbgrader_tools_off_for_learners_and_on_for_instructors(tmp_path):
    for config_dir, expected in ((LEARNER_CONFIG, False), (None, True)):
        servers = _jupyter(["server", "extension", "list"], tmp_path, config_dir)
        for name in NBGRADER_SERVER_EXTENSIONS:
            assert _enabled(servers, f"nbgrader.server_extensions.{name}") is expected, servers
        labs = _jupyter(["labextension", "list"], tmp_path, config_dir)
        assert _enabled(labs, "@jupyter/nbgrader") is expected, labs


def test_idle_kernels_are_culled():
    from traitlets.config import PyFileConfigLoader

    config = PyFileConfigLoader("jupyter_server_config.py", path=str(LEARNER_CONFIG)).load_config()
    kernels = config.MappingKernelManager
    assert kernels.cull_idle_timeout == 15 * 60 and kernels.cull_interval == 60
    assert kernels.cull_connected is True and kernels.cull_busy is False
    assert Path(config.LabApp.app_settings_dir) == LEARNER_CONFIG / "lab-settings"
    overrides = json.loads((LEARNER_CONFIG / "lab-settings" / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
