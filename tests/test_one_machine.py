"""The one-machine deployment's roster: setup.sh and the hub read it by one rule.

setup.sh makes an account for each roster line and the hub (jupyterhub_config.py) lets in the
roster's users; both read it with deploy/one-machine/roster.py, setup.sh as a command
(``python3 roster.py ROSTER``), the hub's settings as a module installed beside them. These
tests run that command as setup.sh runs it and load the hub's settings as JupyterHub does
(traitlets' file loader), in a folder laid out as setup.sh installs them. setup.sh itself
refusing a headerless roster is tested in tests/test_jupyterhub.py (it needs root).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "one-machine"
EXAMPLE = DEPLOY / "roster.example.csv"


def setup_reads(roster: Path) -> subprocess.CompletedProcess:
    """What setup.sh runs to read the roster (a test below checks it does)."""
    return subprocess.run([sys.executable, str(DEPLOY / "roster.py"), str(roster)],
                          capture_output=True, text=True, timeout=60)


def hub_reads(roster: Path, tmp_path: Path):
    """The hub's settings as JupyterHub loads them from /etc/jupyterhub, with this roster."""
    from traitlets.config.loader import PyFileConfigLoader

    etc = tmp_path / "etc-jupyterhub"
    etc.mkdir(exist_ok=True)
    for name in ("jupyterhub_config.py", "roster.py"):  # what setup.sh installs there
        shutil.copy(DEPLOY / name, etc / name)
    (etc / "nn_python.json").write_text(json.dumps({
        "venv": "/opt/nn-python/venv", "course": "/opt/nn-python/course",
        "instructors": "/opt/nn-python/instructors", "jupyter_config": "/etc/jupyter",
        "students_config": "/etc/jupyter/students", "exchange": "/srv/nbgrader/exchange",
        "state": "/srv/jupyterhub", "roster": str(roster), "bind_url": "https://:443",
        "ssl_cert": "cert.pem", "ssl_key": "key.pem", "mnist_path": ""}))
    return PyFileConfigLoader("jupyterhub_config.py", path=str(etc)).load_config()


def test_setup_reads_the_roster_with_roster_py():
    setup = (DEPLOY / "setup.sh").read_text()
    assert 'python3 "$HERE/roster.py" "$ROSTER"' in setup
    assert "csv" not in (DEPLOY / "jupyterhub_config.py").read_text()  # no second reader
    assert 'cp "$HERE/jupyterhub_config.py" "$HERE/roster.py" "$ETC/jupyterhub/"' in setup


def test_setup_and_the_hub_read_the_same_users_from_the_example_roster(tmp_path):
    result = setup_reads(EXAMPLE)
    assert result.returncode == 0, result.stderr
    people = [tuple(line.split()) for line in result.stdout.splitlines()]
    assert people == [("instructor", "instructor"), ("student01", "student"),
                      ("student02", "student")]
    config = hub_reads(EXAMPLE, tmp_path)
    assert config.Authenticator.allowed_users == {user for user, _ in people}
    assert config.Authenticator.admin_users == {u for u, role in people if role == "instructor"}


def test_a_roster_without_its_header_is_refused_by_both(tmp_path):
    """Without the header, the hub's old reader (csv.DictReader) took the first person for
    the header and let nobody of that line in, while setup.sh made their account."""
    roster = tmp_path / "roster.csv"
    roster.write_text("teacher,instructor,A Teacher\npupil,student,A Pupil\n")
    result = setup_reads(roster)
    assert result.returncode == 1 and result.stdout == ""
    assert f"{roster} line 1: the first line must be the header username,role,name" in \
        result.stderr, result.stderr
    with pytest.raises(Exception, match="the first line must be the header"):
        hub_reads(roster, tmp_path)


@pytest.mark.parametrize("text, line, message", [
    ("username,role,name\nteacher,instructor\npupil\n", 3, "'pupil' has no role"),
    ("username,role\nteacher,instructor\npupil,teacher\n", 3, "role must be instructor or student"),
    ("username,role\nteacher,instructor\nBad Name,student\n", 3, "bad user name"),
    ("username,role\nteacher,instructor\n\n# a comment\nteacher,student\n", 5,
     "teacher is already on line 2"),
])
def test_a_malformed_row_is_refused_naming_its_line(tmp_path, text, line, message):
    roster = tmp_path / "roster.csv"
    roster.write_text(text)
    result = setup_reads(roster)
    assert result.returncode == 1, result.stdout
    assert f"line {line}: " in result.stderr and message in result.stderr, result.stderr


def test_comments_blank_lines_spaces_and_windows_line_ends_are_read_alike(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_bytes(b"# the class\r\nname, username ,role\r\n\r\nA Teacher, teacher ,"
                       b"instructor\r\n# left: pupil0\r\nA Pupil,pupil1, student\r\n")
    result = setup_reads(roster)
    assert result.stdout.split() == ["teacher", "instructor", "pupil1", "student"], result
    config = hub_reads(roster, tmp_path)
    assert config.Authenticator.allowed_users == {"teacher", "pupil1"}
