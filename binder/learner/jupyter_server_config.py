"""The learner's Jupyter settings, for `make lab` (JUPYTER_CONFIG_DIR) and Binder (postBuild).

This folder is a Jupyter configuration directory. Beside this file:
- jupyter_server_config.json turns off nbgrader's server extensions (formgrader, course and
  assignment lists, validation): instructor tools, of no use to a learner on their own;
- labconfig/page_config.json turns off nbgrader's JupyterLab extensions (its menu, the Create
  Assignment sidebar, formgrader and the course list);
- lab-settings/overrides.json sets JupyterLab's defaults: no news or update pop-up, and
  Markdown files (the start page) open rendered.
The instructor's JupyterLab (`make instructor-lab`) reads none of it and has nbgrader's tools.
"""

import os

c = get_config()  # noqa: F821 - provided by Jupyter when it reads this file

HERE = os.path.dirname(os.path.abspath(__file__))  # noqa: F821 - set by Jupyter's loader

# JupyterLab's default settings for the learner (see lab-settings/overrides.json).
c.LabApp.app_settings_dir = os.path.join(HERE, "lab-settings")
# This folder is the configuration, not the learner's: JupyterLab keeps the settings they change
# and the layout of their open tabs where it does without this folder, in ~/.jupyter/lab/.
c.LabApp.user_settings_dir = os.path.expanduser(os.path.join("~", ".jupyter", "lab", "user-settings"))
c.LabApp.workspaces_dir = os.path.expanduser(os.path.join("~", ".jupyter", "lab", "workspaces"))
# No news feed: the learner is here for the course, and offline classrooms would wait on it.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"

# Shut down kernels idle for 15 minutes (checked every minute), even with their tab open.
# Each notebook that uses TensorFlow holds 0.6-0.9 GB in its kernel, and a learner who works
# down the course leaves one behind per notebook: ten of them need 6-9 GB. A quarter of an
# hour lets a learner read and think without losing their kernel; after it, re-running the
# notebook costs seconds (the trained model is saved in outputs/ and loaded again).
c.MappingKernelManager.cull_idle_timeout = 15 * 60
c.MappingKernelManager.cull_interval = 60
c.MappingKernelManager.cull_connected = True
c.MappingKernelManager.cull_busy = False
