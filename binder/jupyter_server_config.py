
# --- Binder's additions (binder/jupyter_server_config.py, appended by postBuild) -------------
# Shut down kernels idle for 5 minutes, not 15: each notebook's kernel holds TensorFlow
# (0.6-0.9 GB), and Binder stops the whole session at 2 GB; it also ends a session idle for
# 10 minutes, so a longer time would keep nothing.
c.MappingKernelManager.cull_idle_timeout = 5 * 60  # noqa: F821 - `c` is the learner config's
