"""JupyterHub on one machine with local (system) accounts, for a class of up to about 40.

Copy to /etc/jupyterhub/jupyterhub_config.py and run `jupyterhub -f` on it as root (see
docs/instructors.md). Everyone logs in with their system account (PAM); each user's server is
JupyterLab with nbgrader's Assignments tab. The end-to-end test (tests/test_jupyterhub.py)
loads this file and overrides only ports, the database location and its own test service.
"""

c = get_config()  # noqa: F821 - provided by JupyterHub

# Who may log in: the instructor and the students, by system user name.
INSTRUCTORS = {"instructor"}
STUDENTS: set[str] = set()  # e.g. {"student01", "student02"}, or use c.Authenticator.allow_all

c.Authenticator.allowed_users = INSTRUCTORS | STUDENTS
c.Authenticator.admin_users = INSTRUCTORS
c.JupyterHub.authenticator_class = "pam"
c.JupyterHub.spawner_class = "localprocess"

# Each user's server: JupyterLab in their home folder; the course's environment must be the one
# that runs jupyterhub-singleuser (its nbgrader server extensions are enabled there).
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# A training kernel peaks at about 1.0 GB (bench/README.md). LocalProcessSpawner does not enforce
# limits; they are recorded here for spawners that do (systemdspawner, KubeSpawner).
c.Spawner.mem_limit = "2.5G"
c.Spawner.mem_guarantee = "1.2G"
# Loading TensorFlow on a busy machine is slow: give a server two minutes to come up.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# Students get nbgrader's Assignments tab, not the instructor's formgrader and course list: their
# servers read deploy/one-machine/students/jupyter_server_config.json (installed at
# /etc/jupyter/students) before the environment's own settings. Admins are the instructors.
import os  # noqa: E402

STUDENT_CONFIG = os.environ.get("NN_PYTHON_STUDENT_CONFIG", "/etc/jupyter/students")


def students_without_formgrader(spawner) -> None:
    """Put the students' Jupyter config folder first on a non-admin user's config path."""
    if spawner.user.admin:
        return
    paths = [p for p in spawner.environment.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    spawner.environment = {**spawner.environment,
                           "JUPYTER_CONFIG_PATH": os.pathsep.join([STUDENT_CONFIG, *paths])}


c.Spawner.pre_spawn_hook = students_without_formgrader

# Stop servers idle for an hour (the JupyterHub idle culler, a hub-managed service).
import sys  # noqa: E402

c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
