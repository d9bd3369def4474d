"""Everyone's nbgrader settings on one machine: setup.sh installs it as
/etc/jupyter/nbgrader_config.py, with its own exchange folder in place of /srv/nbgrader/exchange.

Students' Assignments tab and the instructor's nbgrader commands read it; it names the course and
the exchange folder they share (setup.sh makes that folder, mode 1777).
"""

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "nn_python"
c.Exchange.root = "/srv/nbgrader/exchange"
