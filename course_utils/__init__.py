"""Helpers for the "Neural Networks in Python" course.

The notebooks stay short by keeping here what is too long or too fiddly to write inline:

- for learners: loading and preparing MNIST from wherever it is (``data``), the course's
  figures (``plots``), how each exercise is judged, with its stored visible cases and its
  messages (``exercises``), the instant feedback shown from them (``checks``), the
  reference model the later notebooks build on (``models``) and the notebook set-up call
  (``setup``), the learner/grader switch (``mode``), the learner's own work folder
  (``workspace``) and the draw-a-digit pad (``draw``);
- for instructors, in the ``grading`` subpackage, which no learner's kernel imports: the
  student-version build, class grading on nbgrader and its configuration.

Importing the package does nothing else: it imports no TensorFlow, prints nothing and
writes no files. Import the module you need, for example ``from course_utils import data``.
"""

__version__ = "1.0.0"

__all__ = ["__version__"]
