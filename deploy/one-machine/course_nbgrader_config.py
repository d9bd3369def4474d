"""The instructor's course directory settings: copy to ~/course/nbgrader_config.py.

The course's own settings (course_grading.settings.configure: course id, cell timeout,
feedback without hidden tests, the grading kernel's start-up) as in the repository's
nbgrader_config.py, then the shared exchange of /etc/jupyter/nbgrader_config.py, because
configure() points the exchange inside the course directory for single-user grading.
"""

from course_grading.settings import configure

c = get_config()  # noqa: F821 - provided by nbgrader
configure(c)
c.Exchange.root = "/srv/nbgrader/exchange"
