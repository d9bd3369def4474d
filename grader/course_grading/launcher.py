"""The first program of every grading sandbox: limits, then bubblewrap.

Why it exists: the kernelspec nbgrader starts for each grading kernel runs this file, by its
path, as ``python -I`` on the grading machine (outside the sandbox, as the grader's user,
often root). It caps the memory, processes and file size the sandbox may use (limits are
inherited across ``exec``) and, when the grader is root, hands the kernel's connection file to
the unprivileged user the kernel will run as; then it becomes bubblewrap. It imports the
standard library only, so it runs the same wherever the grading side is installed, and
nothing in its working folder or the environment can replace it (see
:mod:`course_grading.sandbox`).
"""

from __future__ import annotations

import argparse
import os
import resource
from pathlib import Path

#: The lowest user id a root grader may hand a kernel (see ``sandbox.UID_BASE``).
MIN_UID = 1000


def launch(argv: list[str] | None = None) -> None:
    """Cap memory, processes and file size, hand over the connection file, exec the command.

    ``argv`` is ``--memory-mb N --max-processes N --max-file-mb N [--uid N] -- COMMAND``.
    """
    parser = argparse.ArgumentParser(prog="course_grading.launcher")
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--max-processes", type=int, required=True)
    parser.add_argument("--max-file-mb", type=int, required=True)
    parser.add_argument("--uid", type=int)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    memory = args.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (args.max_processes, args.max_processes))
    size = args.max_file_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() == 0:
        if args.uid is None or args.uid < MIN_UID:
            raise SystemExit("course_grading.launcher: as root, --uid must name an "
                             "unprivileged user id")
        if "-f" in command:
            # The connection file (written by the grader as root) must be readable by the
            # kernel's user; the grader takes it back once the kernel is up.
            connection = Path(command[command.index("-f") + 1])
            if connection.is_symlink() or not connection.is_file():
                raise SystemExit("course_grading.launcher: the connection file is not a "
                                 "plain file")
            os.chown(connection, args.uid, args.uid, follow_symlinks=False)
    os.execv(command[0], command)


if __name__ == "__main__":
    launch()
