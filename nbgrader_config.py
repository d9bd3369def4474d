"""nbgrader configuration for instructors who run nbgrader's own commands or formgrader.

The settings live in course_grading.settings so that this file, the student-version build
(python -m course_grading.build) and class grading (python -m course_grading) agree.
"""

from course_grading.settings import configure

c = get_config()  # noqa: F821 - provided by nbgrader when it reads this file
configure(c)
