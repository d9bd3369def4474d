"""The README's course command (`make lab`) starts JupyterLab serving the student notebooks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_lab_serves_the_notebooks(tmp_path):
    port, token = _free_port(), "course-test"
    prefix = Path(sys.executable).parent.parent
    # -o: take the environment this test runs in as installed, rather than making a new one.
    command = ["make", "-s", "-o", f"{prefix}/.installed", "lab", f"VENV={prefix}",
               f"LAB_ARGS=--no-browser --port={port} --ServerApp.token={token} "
               f"--ServerApp.ip=127.0.0.1 "
               f"--LabApp.news_url=None --ServerApp.log_level=WARN"]
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                                   "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")},
                              start_new_session=True)  # make and JupyterLab: one group
    try:
        deadline, listing = time.monotonic() + 120, None
        while time.monotonic() < deadline and listing is None:
            try:
                url = f"http://127.0.0.1:{port}/api/contents?token={token}"
                with urllib.request.urlopen(url, timeout=5) as response:
                    listing = json.load(response)
            except OSError:
                assert server.poll() is None, (tmp_path / "lab.log").read_text()
                time.sleep(1)
        assert listing is not None, "JupyterLab did not answer within 2 minutes"
        names = {item["name"] for item in listing["content"]}
        assert {p.name for p in (ROOT / "notebooks").glob("*.ipynb")} <= names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}",
                                    timeout=10) as page:
            assert b"JupyterLab" in page.read()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
