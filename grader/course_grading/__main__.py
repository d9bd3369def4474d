"""``python -m course_grading``: grade a class (see ``course_grading.grade``)."""

import sys

from course_grading.grade import main

if __name__ == "__main__":  # the grader's worker processes may import this module again
    sys.exit(main())
