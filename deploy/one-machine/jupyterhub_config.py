"""JupyterHub on one machine with local (system) accounts, for a class of up to about 40.

deploy/one-machine/setup.sh installs this file as /etc/jupyterhub/jupyterhub_config.py, with
``nn_python.json`` beside it (the paths it chose: environment, course copies, exchange,
certificate, roster) and runs it as the systemd unit ``jupyterhub.service`` (see
docs/instructors.md, section 2). Local changes go in ``jupyterhub_config.d/*.py`` beside it,
loaded last, which a new run of setup.sh leaves alone. The end-to-end test
(tests/test_jupyterhub.py) runs setup.sh in a temporary folder and adds only ports and its own
settings there.
"""

import importlib.util
import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub

HERE = Path(__file__).resolve().parent
SITE = json.loads((HERE / "nn_python.json").read_text())



def _load_roster_reader():
    """roster.py, installed beside this file by setup.sh: the one reader of the roster, which
    setup.sh also checks it with (so the accounts it made are the users let in here)."""
    spec = importlib.util.spec_from_file_location("nn_python_roster", HERE / "roster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Who may log in: the roster's users, with the password of their system account (PAM); the
# roster's instructors are the hub's admins. A roster that setup.sh would refuse stops the hub
# with the same message.
ROSTER = dict(_load_roster_reader().read(SITE["roster"]))
INSTRUCTORS = {user for user, role in ROSTER.items() if role == "instructor"}
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(ROSTER)
c.Authenticator.admin_users = INSTRUCTORS
c.JupyterHub.spawner_class = "localprocess"

# HTTPS: the proxy terminates it with setup.sh's certificate (yours, or a self-signed one).
c.JupyterHub.bind_url = SITE["bind_url"]
c.JupyterHub.ssl_cert = SITE["ssl_cert"]
c.JupyterHub.ssl_key = SITE["ssl_key"]
c.JupyterHub.db_url = f"sqlite:///{SITE['state']}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{SITE['state']}/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = f"{SITE['state']}/jupyterhub-proxy.pid"

# Each user's server: JupyterLab in their home folder, from the class's environment.
c.Spawner.cmd = [f"{SITE['venv']}/bin/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# What everyone's server (and so their terminals and kernels) sees: the environment first on
# PATH, everyone's nbgrader settings, the course (NN_PYTHON, below: the learners' copy for
# students, the whole checkout for instructors) and the data, when setup.sh was given it.
c.Spawner.environment = {
    "PATH": f"{SITE['venv']}/bin:/usr/local/bin:/usr/bin:/bin",
    "JUPYTER_CONFIG_PATH": SITE["jupyter_config"],
    "NN_PYTHON": SITE["course"],
}
if SITE.get("mnist_path"):
    c.Spawner.environment["MNIST_PATH"] = SITE["mnist_path"]
# A training kernel peaks at about 1.0 GB (bench/README.md). LocalProcessSpawner does not enforce
# limits; they are recorded here for spawners that do (systemdspawner, KubeSpawner).
c.Spawner.mem_limit = "2.5G"
c.Spawner.mem_guarantee = "1.2G"
# Loading TensorFlow on a busy machine is slow: give a server two minutes to come up.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def per_role(spawner) -> None:
    """Instructors get the whole checkout; students their own Jupyter settings first.

    The students' folder (students/jupyter_server_config.json) turns nbgrader's formgrader and
    course list off and shuts their idle kernels down.
    """
    env = dict(spawner.environment)
    if spawner.user.name in INSTRUCTORS:
        env["NN_PYTHON"] = SITE["instructors"]
    else:
        paths = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([SITE["students_config"], *paths])
    spawner.environment = env


c.Spawner.pre_spawn_hook = per_role

# Stop servers idle for an hour (the JupyterHub idle culler, a hub-managed service); the
# students' servers also shut down their own kernels idle for an hour (students/...json).
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]

# Local changes, kept across runs of setup.sh. A pre_spawn_hook set there runs after per_role.
for extra in sorted((HERE / "jupyterhub_config.d").glob("*.py")):
    load_subconfig(str(extra))  # noqa: F821 - provided by traitlets
_local_hook = c.Spawner.pre_spawn_hook
if _local_hook is not per_role:
    def per_role_then_local(spawner) -> None:
        per_role(spawner)
        return _local_hook(spawner)

    c.Spawner.pre_spawn_hook = per_role_then_local
