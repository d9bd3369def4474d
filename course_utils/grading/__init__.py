"""The instructor's side of the course: code that builds, runs and judges student notebooks.

Nothing here runs in a learner's kernel, and the learner's side (``course_utils.data``,
``plots``, ``checks``, ``models``, ``setup``) never imports it; this side may import that one.

- ``build``: the student versions in ``notebooks/``, made from the masters in ``solutions/``
  with nbgrader (``python -m course_utils.grading.build``);
- ``grade``: class grading on nbgrader, one folder per student (``python -m course_utils.grading``);
- ``settings``: the nbgrader configuration shared by both and by ``nbgrader_config.py``;
- ``preprocessors``: the nbgrader preprocessor the settings configure;
- ``kernel``: what the grading kernel runs before a student's notebook.

Importing the package does nothing else.
"""
