"""The instructor's course directory settings: copy to ~/course/nbgrader_config.py.

The course's own settings (course_grading.settings.configure: course id, cell timeout,
feedback without hidden tests, the grading kernel's start-up) as in the repository's
nbgrader_config.py, then the shared exchange of /etc/jupyter/nbgrader_config.py, because
configure() points the exchange inside the course directory for single-user grading.

``nbgrader collect`` copies only what each student made: course_grading.exchange's collect opens
each submission without following links, checks on the opened folder that its owner is the
student it names, and copies only that student's plain files and folders (nbgrader's own
follows links and trusts the name). It is here, on the instructors' side, because only
instructors collect; students' settings (/etc/jupyter/nbgrader_config.py) do not name it.
"""

from course_grading.settings import configure

c = get_config()  # noqa: F821 - provided by nbgrader
configure(c)
c.Exchange.root = "/srv/nbgrader/exchange"
c.ExchangeFactory.collect = "course_grading.exchange.OwnedExchangeCollect"
