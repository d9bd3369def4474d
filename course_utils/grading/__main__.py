"""``python -m course_utils.grading``: grade a class (see ``course_utils.grading.grade``)."""

import sys

from course_utils.grading.grade import main

sys.exit(main())
