"""How the course configures nbgrader, in one place for every entry point.

Why it exists: the instructor's ``nbgrader_config.py``, the build of the student versions and
the class-grading command must agree on the assignment's name, the code stub, the cell timeout
and what feedback shows. Each of them calls :func:`configure` on its traitlets ``Config``;
nbgrader itself is configured, never patched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from course_grading.preprocessors import SKIP_WHEN_GRADING

#: nbgrader's name for the course's single assignment (all the numbered notebooks).
ASSIGNMENT = "nn_python"
COURSE_ID = "nn_python"
#: Seconds a cell may run while grading before it is interrupted and scored zero. Grading
#: mode trains on a small slice, so the longest cell takes a few seconds; a minute leaves a
#: wide margin on a busy machine and still stops an infinite loop quickly.
DEFAULT_TIMEOUT = 60

#: The stub that replaces a solution in the student version: valid Python that says what to do.
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"

#: Code the grading kernel runs before the notebook: see course_utils.grading_kernel (the
#: learner's package: the grading kernel cannot import the grading side).
KERNEL_STARTUP = "import course_utils.grading_kernel as _g; _g.prepare()"


def configure(config: Any, course_root: str | os.PathLike[str] | None = None, *,
              timeout: int = DEFAULT_TIMEOUT) -> Any:
    """Apply the course's nbgrader settings to ``config`` (a traitlets ``Config``) and return it.

    Args:
        config: the ``c`` of an ``nbgrader_config.py``, or a fresh ``traitlets.config.Config``.
        course_root: the nbgrader course directory; None keeps nbgrader's default (the
            current folder).
        timeout: seconds per cell while grading.
    """
    config.CourseDirectory.course_id = COURSE_ID
    root = Path(course_root) if course_root is not None else Path.cwd()
    if course_root is not None:
        config.CourseDirectory.root = str(root)
    # The default exchange is a system folder; keep it inside the course directory.
    config.Exchange.root = str(root / "exchange")
    config.ClearSolutions.code_stub = {"python": CODE_STUB}
    config.Execute.timeout = timeout
    config.Execute.interrupt_on_timeout = True
    # Minimal tracebacks: feedback shows the failure message, never hidden test lines.
    # The start-up line makes stderr harmless in grade cells (see course_utils.grading_kernel).
    config.Execute.extra_arguments = [
        "--InteractiveShell.xmode=Minimal",
        "--HistoryManager.hist_file=:memory:",
        f"--IPKernelApp.exec_lines={KERNEL_STARTUP}",
    ]
    # nbgrader's own sanitising steps, with the submission's nbgrader metadata replaced by
    # the master's and duplicated graded cells handled (see course_grading.preprocessors).
    config.Autograde.sanitize_preprocessors = [
        "nbgrader.preprocessors.ClearOutput",
        # First: everything after it reads the master's metadata, never the submission's.
        "course_grading.preprocessors.UseMasterMetadata",
        "course_grading.preprocessors.DeduplicateGradeIds",
        "nbgrader.preprocessors.OverwriteKernelspec",
        "nbgrader.preprocessors.OverwriteCells",
        "nbgrader.preprocessors.CheckCellMetadata",
        # Last: the masters' demonstrations (experiments) are not run while grading.
        "course_grading.preprocessors.SkipDemonstrations",
    ]
    config.Execute.skip_cells_with_tag = SKIP_WHEN_GRADING
    # nbgrader's own grading steps, with its Execute replaced by one that keeps a bounded
    # amount of the kernel's output (see course_grading.preprocessors for why).
    config.Autograde.autograde_preprocessors = [
        "course_grading.preprocessors.BoundedExecute",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
    # Feedback: scores, the learner's code and messages, but not the hidden test code.
    config.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        # Any output that quotes a hidden test is withheld first (see
        # course_grading.preprocessors); then the hidden tests leave the source.
        "course_grading.preprocessors.WithholdHiddenTestOutputs",
        "nbgrader.preprocessors.ClearHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    return config


def use_sandbox_kernel(config: Any, kernel_name: str, runtime: str | os.PathLike[str]) -> Any:
    """Make nbgrader grade with kernelspec ``kernel_name`` over ipc sockets in ``runtime``.

    The sandboxed kernel (see course_grading.sandbox) has no network, not even the
    host's loopback, so nbgrader and the kernel talk through ZeroMQ ``ipc`` socket files in a
    folder both can see; the connection file lives there too.
    """
    config.Execute.kernel_name = kernel_name
    # Takes the runtime folder back from the kernel once its sockets exist (root grader).
    config.Execute.kernel_manager_class = "course_grading.sandbox.SandboxKernelManager"
    config.KernelManager.transport = "ipc"
    config.KernelManager.connection_file = str(Path(runtime) / "kernel.json")
    config.KernelManager.ip = str(Path(runtime) / "kernel")
    return config
