# Jupyter server settings for Binder (copied into ~/.jupyter by postBuild).
c = get_config()  # noqa: F821 - provided by Jupyter when it reads this file

# Shut down kernels idle for 5 minutes (checked every minute), even with a tab still open:
# each notebook's kernel holds TensorFlow (0.5 GB or more), and Binder stops at 2 GB in all.
c.MappingKernelManager.cull_idle_timeout = 300
c.MappingKernelManager.cull_interval = 60
c.MappingKernelManager.cull_connected = True
c.MappingKernelManager.cull_busy = False
