"""Everyone's nbgrader settings on one machine: copy to /etc/jupyter/nbgrader_config.py.

Students' Assignments tab and the instructor's nbgrader commands read it; it names the course and
the exchange folder they share. Make that folder once, as root (docs/instructors.md):
``mkdir -p /srv/nbgrader/exchange && chmod 1777 /srv/nbgrader/exchange``.
"""

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "nn_python"
c.Exchange.root = "/srv/nbgrader/exchange"
