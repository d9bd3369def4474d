"""Run a grading kernel inside a bubblewrap sandbox.

Why it exists: nbgrader runs a student's notebook in an ordinary kernel with the grader's
rights, so student code could read the masters and the gradebook, write anywhere the grader
can, open network connections and take all the memory. This module wraps each grading kernel
in bubblewrap (``bwrap``, Debian package ``bubblewrap``), which nbgrader reaches through an
ordinary Jupyter kernelspec (see :func:`write_kernelspec`), so nbgrader itself is configured,
not patched. Inside the sandbox the kernel sees:

- the operating system (``/usr``, ``/etc``, ``/lib*``, ``/bin``, ``/sbin``), the Python
  environment and the learner's package ``course_utils``, all read-only, and the MNIST file
  named by ``MNIST_PATH`` and the grader's reference model (read-only). The grading side
  (``course_grading``: the answer key) is never there: where it is installed inside a bound
  folder it is hidden under an empty tmpfs;
- a private, size-capped tmpfs as its working folder, another as ``/tmp`` and ``/dev/shm``:
  whatever it writes costs memory up to the cap, never the grading machine's disk;
- the folder with its connection file and ZeroMQ socket files: the kernel talks to nbgrader
  over ``ipc`` sockets, since the sandbox has no network at all, not even the host's loopback.
  Run as root, the grader takes that folder back (owner root, read-only for the kernel) as
  soon as the kernel has made its sockets, before any student code runs
  (:class:`SandboxKernelManager`);
- its own user, process, IPC, network, UTS and cgroup namespaces, no capabilities, a new
  terminal session, and no further user namespaces.

:mod:`course_grading.launcher` runs first, *outside* the sandbox, started by its file's path
as ``python -I`` (so neither the working folder, nor ``PYTHONPATH``, nor a planted
``sitecustomize``/``.pth`` is on its path, and the grading side need not be importable
there): it caps the kernel's
memory (``RLIMIT_DATA``, which counts what a process allocates; ``RLIMIT_AS`` would also count
TensorFlow's large address-space reservations and break it), processes (``RLIMIT_NPROC``) and
file size, then starts bubblewrap. Run by a normal user, bubblewrap makes a user namespace
with no capabilities and no further user namespaces. Run by root, bubblewrap keeps only
``CAP_SETUID``, ``CAP_SETGID`` and ``CAP_SETPCAP``, and its first command inside is
``setpriv``, which becomes an unprivileged user (ids from :data:`UID_BASE`, one per parallel
job: root is exempt from the process cap) with no capabilities (an empty bounding set too), no
groups and ``no_new_privs``, before any Python runs. The
kernel then starts isolated too (``python -I``, with the grader's own ``course_utils`` first
on its path and the working folder off it).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import site
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

from course_grading import launcher
from course_utils.data import MNIST_PATH_ENV
from course_utils.mode import GRADING_ENV_VAR
from course_utils.models import REFERENCE_MODEL_ENV

#: The kernelspec name the grading configuration asks nbgrader to run.
KERNEL_NAME = "nn-python-sandbox"
#: Default memory cap of one grading kernel, in MiB (grading mode needs well under 1 GiB).
DEFAULT_MEMORY_MB = 2048
#: Default cap on processes and threads of one grading kernel (TensorFlow starts about two
#: threads per core; a kernel on a 64-core machine needs about 150).
DEFAULT_MAX_PROCESSES = 256
#: Size of the kernel's private working folder (a tmpfs), in MiB.
SCRATCH_MB = 512
#: Size of the sandbox's private /tmp and /dev/shm, in MiB each.
TMP_MB = 256
#: Largest file the kernel may write, in MiB (no file can outgrow its tmpfs anyway).
MAX_FILE_MB = SCRATCH_MB
#: Unprivileged user ids the kernels run as when the grader is root (one per parallel job, so
#: that the process cap of one kernel does not count another's processes).
UID_BASE = 61000
#: Where the kernel's working folder is, inside the sandbox.
SCRATCH = "/home/student"

_SYSTEM_DIRS = ("/usr", "/etc", "/lib", "/lib32", "/lib64", "/bin", "/sbin")
_SYSTEM_PREFIXES = tuple(path + "/" for path in _SYSTEM_DIRS)
#: The variables that name files or folders the kernel may read.
_PATH_ENV = (MNIST_PATH_ENV, "FASHION_MNIST_DIR", REFERENCE_MODEL_ENV)
_PASSED_ENV = (*_PATH_ENV, "LANG", "LC_ALL", "TZ", "LD_LIBRARY_PATH")
#: The grading side's top-level package: never visible inside the sandbox.
GRADING_PACKAGE = "course_grading"


@dataclass(frozen=True)
class SandboxSpec:
    """What one sandboxed grading kernel may see and use."""

    runtime: Path
    """The folder of the connection file and the ZeroMQ ipc socket files (fresh per kernel)."""
    memory_mb: int = DEFAULT_MEMORY_MB
    """Memory the kernel may allocate, in MiB."""
    max_processes: int = DEFAULT_MAX_PROCESSES
    """Processes and threads the kernel's user may run at once inside the sandbox."""
    slot: int = 0
    """Which parallel job this is: picks the unprivileged user id when the grader is root."""
    reference_model: Path | None = None
    """The grader's reference model, readable inside (the evaluating notebooks need it)."""
    scratch_mb: int = SCRATCH_MB
    """Size of the working folder's tmpfs, in MiB."""

    @property
    def uid(self) -> int | None:
        """The user id the kernel runs as: its own when the grader is root, else None."""
        return UID_BASE + self.slot if os.geteuid() == 0 else None


@lru_cache(maxsize=1)
def availability() -> tuple[bool, str]:
    """Whether bubblewrap can run a sandbox here, and if not, why not (one line).

    It tries a tiny sandbox with the same namespaces and the same unprivileged user the
    grading kernels use, so a machine without user namespaces (or a container that forbids
    them) is detected up front.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, ("bubblewrap (bwrap) is not installed: on Debian or Ubuntu, "
                       "`apt-get install bubblewrap`")
    root = os.geteuid() == 0
    if root and shutil.which("setpriv") is None:
        return False, "setpriv (util-linux) is missing: as root the sandbox needs it"
    command = [bwrap, *_namespaces(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
               *_become_unprivileged(UID_BASE), "true"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        return False, f"bubblewrap does not run here ({error})"
    if result.returncode != 0:
        return False, (f"bubblewrap cannot make a sandbox here (user namespaces off?): "
                       f"{result.stderr.strip()[:200]}")
    return True, f"bubblewrap at {bwrap}"


def _namespaces() -> list[str]:
    """bubblewrap's isolation flags. A normal user's sandbox is a user namespace with no
    capabilities at all. Run by root, bubblewrap needs root to reach the files it binds
    (an environment under /root, say) and must not map the kernel to root's ids (root is
    exempt from the process cap), so it keeps only the three capabilities that
    :func:`_become_unprivileged` uses, once, to become an unprivileged user and empty the
    capability bounding set."""
    common = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
              "--unshare-cgroup-try", "--new-session", "--die-with-parent", "--cap-drop", "ALL"]
    if os.geteuid() == 0:
        return [*common, "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                "--cap-add", "CAP_SETPCAP"]
    return ["--unshare-user", "--disable-userns", *common]


def _become_unprivileged(uid: int) -> list[str]:
    """Inside a root-started sandbox: setpriv becomes ``uid`` with no capabilities, no
    groups and no way back (``no_new_privs``) before anything else runs; nothing for a
    normal user's sandbox, which never had privileges."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    return [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def learner_package() -> Path:
    """The folder of the ``course_utils`` the grader itself imports: the kernel gets this one."""
    import course_utils

    return Path(course_utils.__file__).resolve().parent


def _read_only_paths(spec: SandboxSpec) -> list[Path]:
    """The Python installation, the environment, the learner's package and the data files."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), learner_package()}
    # The interpreter the environment links to may live outside base_prefix (a symlinked venv).
    paths.add(Path(os.path.realpath(sys.executable)).parent.parent)
    # An environment's site-packages may be a link to another environment's (a shared
    # install): bind where the packages really are. Never the grader's working folder.
    paths.update(Path(p).resolve() for p in site.getsitepackages() if Path(p).is_dir())
    # A Python built with its shared library outside the system folders needs it to start.
    for entry in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
        if entry and Path(entry).is_dir():
            paths.add(Path(entry).resolve())
    for value in [os.environ.get(name) for name in _PATH_ENV] + [spec.reference_model]:
        if value and Path(value).exists():
            paths.add(Path(value).resolve())
    return sorted(p for p in paths if not _is_system(p))


def _is_system(path: Path) -> bool:
    return str(path) in _SYSTEM_DIRS or str(path).startswith(_SYSTEM_PREFIXES)


def hidden_paths() -> list[Path]:
    """Where the grading side is installed, when that is a folder the sandbox binds.

    An editable install of ``grader/`` lives outside every bound folder and needs nothing; an
    ordinary install puts ``course_grading`` (and its metadata) into site-packages, which the
    sandbox binds, so those folders are covered by an empty tmpfs inside.
    """
    import importlib.util

    found: set[Path] = set()
    spec = importlib.util.find_spec(GRADING_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        found.add(Path(location).resolve())
    for folder in site.getsitepackages():
        for meta in Path(folder).glob("course_grading-*.dist-info"):
            found.add(meta.resolve())
    return sorted(found)


def bwrap_command(spec: SandboxSpec) -> list[str]:
    """The bubblewrap command, up to (not including) the kernel's own arguments."""
    bwrap = shutil.which("bwrap") or "bwrap"
    command = [bwrap, *_namespaces()]
    for path in _SYSTEM_DIRS:
        command += ["--ro-bind-try", path, path]
    command += ["--dev", "/dev", "--proc", "/proc"]
    for path, size in (("/tmp", TMP_MB), ("/dev/shm", TMP_MB), (SCRATCH, spec.scratch_mb)):
        command += ["--perms", "1777", "--size", str(size * 2**20), "--tmpfs", path]
    read_only = _read_only_paths(spec)
    runtime = spec.runtime.resolve()
    # bubblewrap makes missing parent folders of a mount point private (0700): make them
    # traversable, or the kernel's user could not reach what is mounted below.
    parents = sorted({parent for path in [*read_only, runtime] for parent in path.parents
                      if parent != Path("/") and not _is_system(parent)},
                     key=lambda p: len(p.parts))
    for parent in parents:
        if parent not in read_only:
            command += ["--perms", "0755", "--dir", str(parent)]
    for path in read_only:
        command += ["--ro-bind", str(path), str(path)]
    command += ["--bind", str(runtime), str(runtime)]
    for path in hidden_paths():
        if any(path == bound or bound in path.parents for bound in read_only):
            command += ["--size", str(2**20), "--tmpfs", str(path)]
    command += ["--chdir", SCRATCH, "--hostname", "sandbox", "--clearenv"]
    env = {"HOME": SCRATCH, "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib",
           "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           GRADING_ENV_VAR: "autograde", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.update({k: os.environ[k] for k in _PASSED_ENV if k in os.environ})
    if spec.reference_model is not None:
        env[REFERENCE_MODEL_ENV] = str(spec.reference_model)
    # Files are bound at their real paths (see _read_only_paths): a path through a symbolic
    # link outside the sandbox would not exist inside it.
    for name in _PATH_ENV:
        if name in env and Path(env[name]).exists():
            env[name] = str(Path(env[name]).resolve())
    for key, value in sorted(env.items()):
        command += ["--setenv", key, value]
    return command


def sandbox_command(spec: SandboxSpec, code: str) -> list[str]:
    """Launcher, bubblewrap and ``python -I -c CODE`` inside, with the limits of ``spec``.

    Python inside is isolated: neither its working folder, nor ``PYTHONPATH``, nor a user
    site folder is on its path; the grader's own ``course_utils`` comes first, so the kernel
    always imports the same learner's package as the grader.
    """
    start = f"import sys; sys.path.insert(0, {str(learner_package().parent)!r}); {code}"
    return [sys.executable, "-I", str(Path(launcher.__file__).resolve()),
            "--memory-mb", str(spec.memory_mb), "--max-processes", str(spec.max_processes),
            "--max-file-mb", str(MAX_FILE_MB),
            *(["--uid", str(spec.uid)] if spec.uid is not None else []),
            "--", *bwrap_command(spec), "--",
            *_become_unprivileged(spec.uid if spec.uid is not None else UID_BASE),
            sys.executable, "-I", "-c", start]


def kernel_command(spec: SandboxSpec) -> list[str]:
    """The kernelspec's ``argv`` without ``-f {connection_file}``: launcher, bwrap, kernel."""
    return [*sandbox_command(spec, "from ipykernel import kernelapp; "
                                   "kernelapp.launch_new_instance()"),
            "--IPKernelApp.ignore_cwd=True"]


#: What the preflight asks a sandboxed Python: which course package it imports, whether the
#: grading side or anything of the grader's working folder is reachable, and the kernel's
#: own imports.
_PROBE = """
import importlib.util, json, os
import course_utils, course_utils.grading_kernel, ipykernel, numpy
unreadable = []
for name in ("MNIST_PATH", "COURSE_REFERENCE_MODEL"):  # the names of _PATH_ENV
    path = os.environ.get(name)
    if path:
        try:
            open(path, "rb").close()
        except OSError as error:
            unreadable.append(f"{name}={path} ({error.strerror})")
found = {"course_utils": course_utils.__file__, "unreadable": unreadable,
         "grading_side": importlib.util.find_spec("course_grading.grade") is not None
                         if importlib.util.find_spec("course_grading") else False,
         "uid": os.getuid(), "cwd": os.getcwd()}
print("PREFLIGHT " + json.dumps(found))
"""


def preflight(spec: SandboxSpec) -> str | None:
    """Start one sandbox as grading will; None when it works, else what is wrong (one line).

    Whatever would keep every kernel from starting (bubblewrap refused, a path its user
    cannot reach, a package the sandbox cannot see, another copy of the course package) is
    found here, before any student is graded.
    """
    import json as json_module

    try:
        result = subprocess.run(sandbox_command(spec, _PROBE), capture_output=True, text=True,
                                timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as error:
        return f"the sandbox did not start ({error})"
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("PREFLIGHT ")), None)
    if result.returncode != 0 or line is None:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1][:300]
        hint = ""
        if "Permission denied" in result.stderr or "No such file" in result.stderr:
            who = f"user {spec.uid}" if spec.uid is not None else "your user"
            hint = (f" (the sandbox runs as {who}: every folder of the Python environment, "
                    f"the course package and MNIST_PATH must be readable by it, and the "
                    f"folders above them traversable)")
        return f"a sandboxed Python could not start: {last}{hint}"
    found = json_module.loads(line[len("PREFLIGHT "):])
    mine = str(learner_package() / "__init__.py")
    if found["course_utils"] != mine:
        return (f"the sandboxed kernel imports course_utils from {found['course_utils']}, "
                f"not the grader's {mine}: install the course package once, in the "
                f"environment that runs the grader")
    if found["grading_side"]:
        return "the grading side (course_grading) is importable inside the sandbox"
    if found["unreadable"]:
        who = f"user {spec.uid}" if spec.uid is not None else "your user"
        return (f"the sandboxed kernel (as {who}) cannot read {', '.join(found['unreadable'])}: "
                f"make the file readable by others and its folders traversable")
    return None


def write_kernelspec(spec: SandboxSpec, folder: Path) -> Path:
    """Write the sandboxed kernelspec under ``folder/kernels/``; return ``folder``.

    Put ``folder`` on ``JUPYTER_PATH`` and set nbgrader's ``Execute.kernel_name`` to
    :data:`KERNEL_NAME` to grade with it.
    """
    target = folder / "kernels" / KERNEL_NAME
    target.mkdir(parents=True, exist_ok=True)
    kernel = {
        "argv": [*kernel_command(spec), "-f", "{connection_file}"],
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


def prepare_runtime(runtime: Path, slot: int) -> Path:
    """A fresh folder for one kernel's connection file and sockets; refuses an existing one.

    Made by the grader, never by a kernel, so nothing a kernel left can be in it.
    """
    runtime.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(runtime, UID_BASE + slot, UID_BASE + slot)
    return runtime


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager that takes the runtime folder back once the kernel made its sockets.

    The kernel needs to write its ipc socket files into the runtime folder, which is on the
    grading machine's disk; as soon as they exist (before any student code runs), a grader
    running as root makes the folder root's and read-only for the kernel, so student code can
    write nothing outside its capped tmpfs folders. A kernel that never makes its sockets is
    killed.
    """

    async def _async_post_start_kernel(self, **kw) -> None:  # noqa: ANN003 - jupyter_client's
        await super()._async_post_start_kernel(**kw)
        if self.transport != "ipc":
            return
        info = self.get_connection_info()
        sockets = [Path(f"{self.ip}-{info[name]}") for name in
                   ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")]
        deadline = time.monotonic() + 60
        while not all(p.exists() for p in sockets):
            if time.monotonic() > deadline or not await self._async_is_alive():
                await self._async_kill_kernel()
                raise RuntimeError("the sandboxed kernel did not open its sockets")
            await asyncio.sleep(0.02)
        folder = Path(self.connection_file).parent
        lock_runtime(folder)


#: Most messages the grader queues from a kernel's IOPub channel before it reads them; past
#: it, the kernel's side of the socket holds them (in the kernel's capped memory).
IOPUB_QUEUE = 8
#: Largest message the grader accepts from a kernel's IOPub channel, in bytes: a larger one
#: is refused and the connection made again (the re-check's result is at most 64 MiB, base64).
MAX_IOPUB_MESSAGE = 96 * 2**20


class BoundedKernelClient(AsyncKernelClient):
    """A kernel client whose IOPub socket queues a few messages of bounded size, at most.

    Why it exists: ZeroMQ's receiving side reads a kernel's messages into the grader's
    memory ahead of the code that handles them, up to 1,000 messages of any size by default.
    A cell printing megabyte lines faster than the grader handles them (nbgrader's run
    and the re-check both) so grew the grading job by hundreds of megabytes, outside the
    sandbox's memory cap, however little of that output is kept. With a short queue the
    backlog waits in the kernel, whose memory the sandbox caps.
    """

    def connect_iopub(self, identity: bytes | None = None) -> zmq.Socket:
        """The IOPub socket, made with this client's limits (socket options must be set
        before it connects); this client's other sockets keep ZeroMQ's defaults."""
        limits = {zmq.RCVHWM: IOPUB_QUEUE, zmq.MAXMSGSIZE: MAX_IOPUB_MESSAGE}
        for option, value in limits.items():
            self.context.setsockopt(option, value)
        try:
            return super().connect_iopub(identity)
        finally:
            for option in limits:
                self.context.sockopts.pop(option, None)


def lock_runtime(folder: Path) -> None:
    """Make ``folder`` (and the files in it) unwritable for the kernel's user.

    The kernel is running while this happens and still reads its connection file, so every
    step keeps the folder traversable and the file readable for it: modes are opened to
    others first, and only then does root take ownership. (Taking ownership of a 0700 folder
    first left a window, wide on a busy machine, in which the kernel could not find its own
    connection file and died at start-up.)
    """
    folder.chmod(0o755)
    # Files are changed through a descriptor opened without following links, so a name the
    # kernel swapped for a link cannot send root's chmod or chown elsewhere.
    descriptors = []
    try:
        for entry in folder.iterdir():
            try:
                fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:  # a link, a socket, or gone: nothing to lock
                continue
            descriptors.append(fd)
        files = [fd for fd in descriptors if stat.S_ISREG(os.fstat(fd).st_mode)]
        for fd in files:
            os.fchmod(fd, 0o644)
        if os.geteuid() == 0:
            for fd in files:
                os.fchown(fd, 0, 0)
            os.chown(folder, 0, 0, follow_symlinks=False)
    finally:
        for fd in descriptors:
            os.close(fd)
