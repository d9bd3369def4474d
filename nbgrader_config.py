"""nbgrader configuration for instructors who run nbgrader's own commands or formgrader.

The settings live in course_utils.nbgrader_setup so that this file, the student-version build
(python -m course_utils.build) and class grading (python -m course_utils.grade) agree.
"""

from course_utils.nbgrader_setup import configure

c = get_config()  # noqa: F821 - provided by nbgrader when it reads this file
configure(c)
