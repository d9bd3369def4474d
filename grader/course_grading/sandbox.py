"""Run a grading kernel inside a bubblewrap sandbox.

Why it exists: nbgrader runs a student's notebook in an ordinary kernel with the grader's
rights, so student code could read the masters and the gradebook, write anywhere the grader
can, open network connections and take all the memory. This module wraps each grading kernel
in bubblewrap (``bwrap``, Debian package ``bubblewrap``), which nbgrader reaches through an
ordinary Jupyter kernelspec (see :func:`write_kernelspec`), so nbgrader itself is configured,
not patched. Inside the sandbox the kernel sees:

- the operating system (``/usr``, ``/etc``, ...), the Python environment and the course package,
  all read-only, and the MNIST file named by ``MNIST_PATH`` and the grader's reference model
  named by ``COURSE_REFERENCE_MODEL`` (read-only);
- its scratch folder, read-write, which holds only the student's notebook file, as its working
  folder (nbgrader's restored notebook, the masters, the gradebook and other students' work
  stay outside its view);
- the folder with its connection file and ZeroMQ socket files: the kernel talks to nbgrader
  over ``ipc`` sockets, since the sandbox has no network at all, not even the host's loopback;
- a private ``/tmp`` of limited size, its own process and host-name namespaces.

The kernel's memory (``RLIMIT_DATA``, which counts what a process allocates; ``RLIMIT_AS`` would
also count TensorFlow's large address-space reservations and break it) and its number of
processes (``RLIMIT_NPROC``) are capped by :func:`launch`, which runs first inside the sandbox.
When the grader runs as root, :func:`launch` also drops to an unprivileged user id, because the
kernel ignores ``RLIMIT_NPROC`` for root. Run as a normal user, bubblewrap puts the kernel in a
user namespace of its own instead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: The kernelspec name the grading configuration asks nbgrader to run.
KERNEL_NAME = "nn-python-sandbox"
#: Default memory cap of one grading kernel, in MiB (grading mode needs well under 1 GiB).
DEFAULT_MEMORY_MB = 2048
#: Default cap on processes and threads of one grading kernel (TensorFlow starts about two
#: threads per core; a kernel on a 64-core machine needs about 150).
DEFAULT_MAX_PROCESSES = 256
#: Size of the sandbox's private /tmp, in MiB.
TMP_MB = 256
#: Largest file the kernel may write, in MiB.
MAX_FILE_MB = 512
#: Unprivileged user ids the kernels run as when the grader is root (one per parallel job, so
#: that the process cap of one kernel does not count another's processes).
UID_BASE = 61000

_SYSTEM_DIRS = ("/usr", "/etc", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/opt")
#: The variables that name files or folders the kernel may read.
_PATH_ENV = ("MNIST_PATH", "FASHION_MNIST_DIR", "COURSE_REFERENCE_MODEL")
_PASSED_ENV = ("MNIST_PATH", "FASHION_MNIST_DIR", "COURSE_REFERENCE_MODEL", "LANG", "LC_ALL",
               "TZ", "LD_LIBRARY_PATH")


@dataclass(frozen=True)
class SandboxSpec:
    """What one sandboxed grading kernel may see and use."""

    scratch: Path
    """The kernel's working folder, read-write, holding only the student's file."""
    runtime: Path
    """The folder of the connection file and the ZeroMQ ipc socket files, read-write."""
    memory_mb: int = DEFAULT_MEMORY_MB
    """Memory the kernel may allocate, in MiB."""
    max_processes: int = DEFAULT_MAX_PROCESSES
    """Processes and threads the kernel's user may run at once inside the sandbox."""
    slot: int = 0
    """Which parallel job this is: picks the unprivileged user id when the grader is root."""


@lru_cache(maxsize=1)
def availability() -> tuple[bool, str]:
    """Whether bubblewrap can run a sandbox here, and if not, why not (one line).

    It tries a tiny sandbox with the same namespaces the grading kernels use, so a machine
    without user namespaces (or a container that forbids them) is detected up front.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, ("bubblewrap (bwrap) is not installed: on Debian or Ubuntu, "
                       "`apt-get install bubblewrap`")
    command = [bwrap, *_namespaces(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
               "true"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"bubblewrap does not run here ({error})"
    if result.returncode != 0:
        return False, f"bubblewrap cannot make a sandbox here: {result.stderr.strip()[:200]}"
    return True, f"bubblewrap at {bwrap}"


def _namespaces() -> list[str]:
    spaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
              "--unshare-cgroup-try", "--die-with-parent"]
    if os.geteuid() != 0:
        # A normal user needs a user namespace to make the others; root keeps the real ids
        # and drops to an unprivileged one in launch().
        spaces.insert(0, "--unshare-user")
    return spaces


def _read_only_paths() -> list[Path]:
    """The Python installation, the environment and the course package, without duplicates."""
    import course_utils

    package = Path(course_utils.__file__).resolve().parent
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), package}
    # The interpreter the environment links to may live outside base_prefix (a symlinked venv).
    paths.add(Path(os.path.realpath(sys.executable)).parent.parent)
    # An environment's site-packages may be a link to another environment's (a shared
    # install): bind where the packages really are. Only site-packages, never sys.path[0],
    # which is the grader's working folder with every student's submission.
    paths.update(Path(p).resolve() for p in site.getsitepackages() if Path(p).is_dir())
    # A Python built with its shared library outside the system folders needs it to start.
    for entry in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
        if entry and Path(entry).is_dir():
            paths.add(Path(entry).resolve())
    for name in _PATH_ENV:
        value = os.environ.get(name)
        if value and Path(value).exists():
            paths.add(Path(value).resolve())
    return sorted(p for p in paths if not str(p).startswith(_SYSTEM_DIRS))


def bwrap_command(spec: SandboxSpec) -> list[str]:
    """The command that starts the sandbox, up to (not including) the kernel's arguments.

    Its last items run :func:`launch` with the sandbox's limits; the kernel's own arguments
    (``-f {connection_file}`` and nbgrader's extras) are appended by the kernelspec.
    """
    bwrap = shutil.which("bwrap") or "bwrap"
    command = [bwrap, *_namespaces()]
    for path in _SYSTEM_DIRS:
        command += ["--ro-bind-try", path, path]
    command += ["--dev", "/dev", "--proc", "/proc",
                "--perms", "1777", "--size", str(TMP_MB * 2**20), "--tmpfs", "/tmp"]
    read_only = _read_only_paths()
    read_write = [spec.scratch.resolve(), spec.runtime.resolve()]
    # bubblewrap makes missing parent folders of a mount point private to root (0700): make
    # them traversable, or the unprivileged kernel could not reach what is mounted below.
    parents = sorted({parent for path in read_only + read_write for parent in path.parents
                      if parent not in (Path("/"), Path("/tmp")) and not str(parent).startswith(_SYSTEM_DIRS)},
                     key=lambda p: len(p.parts))
    for parent in parents:
        command += ["--perms", "0755", "--dir", str(parent)]
    for path in read_only:
        command += ["--ro-bind", str(path), str(path)]
    for path in read_write:
        command += ["--bind", str(path), str(path)]
    command += ["--chdir", str(spec.scratch), "--hostname", "sandbox", "--clearenv"]
    env = {"HOME": "/tmp", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib",
           "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "NBGRADER_EXECUTION": "autograde", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({k: os.environ[k] for k in _PASSED_ENV if k in os.environ})
    # Files are bound at their real paths (see _read_only_paths): a path through a symbolic
    # link outside the sandbox would not exist inside it.
    for name in _PATH_ENV:
        if name in env and Path(env[name]).exists():
            env[name] = str(Path(env[name]).resolve())
    for key, value in sorted(env.items()):
        command += ["--setenv", key, value]
    command += ["--", sys.executable, "-m", "course_grading.sandbox",
                "--memory-mb", str(spec.memory_mb), "--max-processes", str(spec.max_processes),
                "--uid", str(UID_BASE + spec.slot), "--"]
    return command


def write_kernelspec(spec: SandboxSpec, folder: Path) -> Path:
    """Write the sandboxed kernelspec under ``folder/kernels/``; return ``folder``.

    Put ``folder`` on ``JUPYTER_PATH`` and set nbgrader's ``Execute.kernel_name`` to
    :data:`KERNEL_NAME` to grade with it.
    """
    target = folder / "kernels" / KERNEL_NAME
    target.mkdir(parents=True, exist_ok=True)
    kernel = {
        "argv": [*bwrap_command(spec), "-f", "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)",
        "language": "python",
        # A SIGINT to the kernel's process group would reach bubblewrap first and end the
        # sandbox: interrupt (nbgrader's timeout) by a message, which ipykernel turns into
        # a SIGINT to itself inside the sandbox.
        "interrupt_mode": "message",
        "metadata": {"debugger": False},
    }
    (target / "kernel.json").write_text(json.dumps(kernel, indent=1))
    return folder


def launch(argv: list[str] | None = None) -> None:
    """Inside the sandbox: cap memory and processes, drop root, then become the kernel.

    ``argv`` is ``--memory-mb N --max-processes N --uid N -- <ipykernel arguments>``.
    """
    parser = argparse.ArgumentParser(prog="course_grading.sandbox")
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--max-processes", type=int, required=True)
    parser.add_argument("--uid", type=int, required=True)
    parser.add_argument("kernel_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    kernel_args = args.kernel_args[1:] if args.kernel_args[:1] == ["--"] else args.kernel_args
    memory = args.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (args.max_processes, args.max_processes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_MB * 2**20, MAX_FILE_MB * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() == 0:
        # The kernel must not be root: root ignores RLIMIT_NPROC and owns every file.
        connection = kernel_args[kernel_args.index("-f") + 1]
        for path in (Path(connection).parent, Path(connection), *_tree(Path.cwd())):
            os.chown(path, args.uid, args.uid)
        os.setgroups([])
        os.setgid(args.uid)
        os.setuid(args.uid)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *kernel_args])


def _tree(folder: Path) -> list[Path]:
    return [folder, *folder.rglob("*")]


if __name__ == "__main__":
    launch()
