"""``python -m course_utils.grading``: grade a class (see ``course_utils.grading.grade``)."""

import sys

from course_utils.grading.grade import main

if __name__ == "__main__":  # the grader's worker processes may import this module again
    sys.exit(main())
