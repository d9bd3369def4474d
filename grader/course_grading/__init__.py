"""The instructor's side of the course: code that builds, runs and judges student notebooks.

Nothing here runs in a learner's kernel, and the learner's side (``course_utils.data``,
``plots``, ``checks``, ``exercises``, ``models``, ``setup``, ...) never imports it; this side
may import that one. It is a distribution of its own (``grader/``, ``course-grading``),
installed only where grading runs, and the grading sandbox never binds it.

- ``answers``: the answer key (reference implementations, every case, the drawn cases) and
  the visible cases it stores for the learner's checks;
- ``build``: the student versions in ``notebooks/``, made from the masters in ``solutions/``
  with nbgrader (``python -m course_grading.build``);
- ``grade``: the class-grading command, every notebook on its own (``python -m course_grading``),
  over ``discovery`` (what was handed in), ``pool`` (a child process per job), ``job`` (one
  notebook: autograde, re-check, feedback) and ``records`` (the CSV rows);
- ``sandbox``: the bubblewrap sandbox each grading kernel runs in;
- ``answers``: the answer key (reference implementations, every case, drawn cases);
- ``verify``: the re-check of every passed exercise outside the student's kernel, which fails
  closed (its kernel runs ``course_utils.recheck``);
- ``flags``: what an instructor should look at in a student's code (``flags.csv``);
- ``lms``: Canvas and Moodle downloads in, files their importers accept out (``python -m course_grading.lms``);
- ``exchange``: ``nbgrader collect`` that copies only what the student a submission names
  made, checked on opened files (the one-machine hub's instructors' settings choose it);
- ``term``: due dates, extensions, the late policy, overrides and regrades on top of a run
  (``python -m course_grading.term``);
- ``report``: the class report, ``report.html``;
- ``settings``: the nbgrader configuration shared by all of them and by ``nbgrader_config.py``;
- ``preprocessors``: the nbgrader preprocessors the settings configure;

Importing the package does nothing else.
"""
