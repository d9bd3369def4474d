"""nbgrader configuration for instructors who run nbgrader's own commands or formgrader.

The settings live in course_utils.grading.settings so that this file, the student-version build
(python -m course_utils.grading.build) and class grading (python -m course_utils.grading) agree.
"""

from course_utils.grading.settings import configure

c = get_config()  # noqa: F821 - provided by nbgrader when it reads this file
configure(c)
