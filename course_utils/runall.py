"""Run All that keeps going: in a learner's notebook, an unfinished exercise stops nothing.

Why it exists: JupyterLab's Run All stops at the first cell that fails, so a learner who has
not yet written ``steps_per_epoch`` never sees the training curves below it, and nothing says
why the run stopped. :func:`keep_going` (called by ``setup()``) makes two kinds of failure
count as "shown, carry on" in the learner's own kernel:

- the course's check messages (``checks.NotAttempted`` and ``checks.Incorrect``): the message
  is shown as before, and the next cells still run;
- the stub of an unwritten exercise (nbgrader's ``raise NotImplementedError()``), reached by a
  cell that uses the function: one line names the function and what to do, instead of a
  traceback.

Every other error stops Run All as usual. In grading mode nothing is installed: nbgrader needs
a failing test cell to fail.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from course_utils.mode import grading_mode

#: Marks a shell this module has already prepared.
_INSTALLED = "_course_utils_keep_going"


def _ipython() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _is_stub(value: BaseException) -> bool:
    """An exercise not written yet: a bare NotImplementedError raised by the learner's code."""
    return type(value) is NotImplementedError and not value.args


def _unwritten(tb: TracebackType | None) -> str:
    """The name of the learner's function that raised the stub (the innermost frame)."""
    name = "<module>"
    while tb is not None:
        name = tb.tb_frame.f_code.co_name
        tb = tb.tb_next
    return name


def not_written_message(function: str) -> str:
    """The one line a learner sees when a cell reaches an exercise that is not written yet."""
    if function == "<module>":
        return ("\N{BALLOT X} Not written yet: this cell is an exercise. Replace "
                "`raise NotImplementedError()` with your code and run it again.")
    return (f"\N{BALLOT X} Not written yet: this cell needs `{function}`, an exercise above. "
            f"Write it, run its cell and its check, then run this cell again.")


class NotWritten(Exception):
    """Shown (never raised) when a cell reaches an exercise that is not written yet."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[1;31m{self}\x1b[0m"]  # IPython shows this one line, no traceback


def _show_stub(shell: Any, etype: type, value: BaseException, tb: TracebackType | None,
               tb_offset: int | None = None) -> None:
    """IPython's handler for NotImplementedError: one line for a stub, else the usual."""
    if _is_stub(value):
        shown = NotWritten(not_written_message(_unwritten(tb)))
        shell.showtraceback((NotWritten, shown, None))
    else:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def _shown_and_harmless(error: BaseException | None) -> bool:
    from course_utils import checks

    return error is not None and (isinstance(error, checks._Feedback) or _is_stub(error))


def _carry_on(result: Any) -> None:
    """After a cell: a check's message or an unwritten exercise does not stop Run All."""
    if result is not None and _shown_and_harmless(result.error_in_exec):
        result.error_in_exec = None


def keep_going(shell: Any = None) -> bool:
    """Let Run All continue past unfinished and wrong exercises in this learner's kernel.

    Returns True when installed (or already), False outside IPython and in grading mode.
    """
    shell = shell if shell is not None else _ipython()
    if shell is None or grading_mode() or not hasattr(shell, "set_custom_exc"):
        return False
    if getattr(shell, _INSTALLED, False):
        return True
    shell.set_custom_exc((NotImplementedError,), _show_stub)
    shell.events.register("post_run_cell", _carry_on)
    setattr(shell, _INSTALLED, True)
    return True
