"""``nbgrader collect`` as the one-machine hub's instructors run it: with the settings setup.sh
installs (deploy/one-machine/course_nbgrader_config.py), which choose
``course_grading.exchange.OwnedExchangeCollect``.

Each test builds an exchange's ``inbound`` folder as students would leave it (as in
tests/test_lms.py; entries owned by another user are made with ``chown``, so those parts need
root, as CI runs) and collects it through nbgrader's ``ExchangeFactory`` configured by that
file: what the instructor's ``nbgrader collect`` does, without a process per test. The race
is played by running collect's two steps (``init_src``, which finds the submissions by name,
and ``copy_files``) with the swap between them, after ``lms inbound``'s check.
"""

from __future__ import annotations

import datetime
import logging
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOYED = ROOT / "deploy" / "one-machine" / "course_nbgrader_config.py"
ASSIGNMENT = "nn_python"
COURSE = "nn_python"
#: Submission times as nbgrader writes them. Collect takes a claimed time only if it is not
#: earlier than the files' change time (see test_a_late_submission_cannot_claim_an_earlier_time),
#: so the submissions made here claim times after the test run; PAST is a forged, earlier one.
_SOON = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
STAMP = _SOON.strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"
LATER = (_SOON + datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"
PAST = "2026-12-01 10:00:00.000000 UTC"
ME = pwd.getpwuid(os.getuid()).pw_name
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="makes files owned by other users")


def _other_user() -> pwd.struct_passwd:
    """A system user other than the one running the tests (nobody, daemon, ...)."""
    for name in ("nobody", "daemon", "bin"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != os.getuid():
            return entry
    pytest.skip("no second system user")


OTHER = _other_user()


def _config(course: Path, exchange: Path, **collect):
    """The deployed instructors' settings, as nbgrader loads ~/course/nbgrader_config.py,
    with this test's folders."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(DEPLOYED.name, path=str(DEPLOYED.parent)).load_config()
    config.CourseDirectory.root = str(course)
    config.Exchange.root = str(exchange)
    for key, value in collect.items():
        setattr(config.ExchangeCollect, key, value)
    return config


def collector(course: Path, exchange: Path, assignment: str = ASSIGNMENT, **collect):
    """The collect object the instructor's ``nbgrader collect ASSIGNMENT`` makes."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory

    config = _config(course, exchange, **collect)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    factory = ExchangeFactory(config=config)
    return factory.Collect(coursedir=coursedir, authenticator=Authenticator(config=config))


@pytest.fixture
def site(tmp_path: Path):
    course, exchange = tmp_path / "course", tmp_path / "exchange"
    course.mkdir()
    inbound = exchange / COURSE / "inbound"
    inbound.mkdir(parents=True)
    masters = tmp_path / "masters"
    masters.mkdir()
    (masters / "01_neurons.ipynb").write_text("SECRET ANSWER KEY")
    return {"course": course, "exchange": exchange, "inbound": inbound, "masters": masters}


def submission(inbound: Path, student: str, stamp: str = STAMP, tag: str = "abc",
               owner: pwd.struct_passwd | None = None, text: str | None = None) -> Path:
    """A submission as ``nbgrader submit`` leaves it, optionally chowned to ``owner``."""
    folder = inbound / f"{student}+{ASSIGNMENT}+{stamp}+{tag}"
    (folder / "sub").mkdir(parents=True)
    (folder / "01_neurons.ipynb").write_text(text or f"answered by {student} at {stamp}")
    (folder / "sub" / "data.txt").write_text("data")
    (folder / "timestamp.txt").write_text(stamp)
    (folder / "submission_secret.txt").write_text("secret-" + tag)
    if owner is not None:
        for path in (folder, *folder.rglob("*")):
            os.chown(path, owner.pw_uid, owner.pw_gid, follow_symlinks=False)
    return folder


def collected(course: Path) -> dict[str, str]:
    """Every file collect wrote under submitted/, relative path to text."""
    root = course / "submitted"
    return {p.relative_to(root).as_posix(): p.read_text(errors="replace")
            for p in sorted(root.rglob("*")) if p.is_file()} if root.is_dir() else {}


def anything_of(course: Path, text: str) -> bool:
    return any(text in value for value in collected(course).values())


def visible(inbound: Path) -> list[str]:
    return sorted(p.name for p in inbound.iterdir() if not p.name.startswith("."))


def test_the_deployed_settings_choose_the_safe_collect(site):
    from course_grading.exchange import OwnedExchangeCollect

    assert isinstance(collector(site["course"], site["exchange"]), OwnedExchangeCollect)


def test_a_normal_submission_is_collected_as_nbgrader_collects_it(site, tmp_path):
    """The same tree, bytes, modes and times as nbgrader's own collect; its latest one."""
    from nbgrader.exchange.default.collect import ExchangeCollect

    inbound = site["inbound"]
    submission(inbound, ME, STAMP, "old")
    latest = submission(inbound, ME, LATER, "new")
    os.chmod(latest / "01_neurons.ipynb", 0o640)
    collector(site["course"], site["exchange"]).start()

    plain = tmp_path / "plain"
    plain.mkdir()
    config = _config(plain, site["exchange"])
    config.ExchangeFactory.collect = ExchangeCollect
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory

    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = ASSIGNMENT
    theirs = ExchangeFactory(config=config).Collect(coursedir=coursedir)
    assert type(theirs) is ExchangeCollect
    theirs.start()

    ours = collected(site["course"])
    assert ours == collected(plain) and ours  # same files, same bytes
    assert ours[f"{ME}/{ASSIGNMENT}/01_neurons.ipynb"] == f"answered by {ME} at {LATER}"
    for relative in ours:
        a, b = (site["course"] / "submitted" / relative), (plain / "submitted" / relative)
        assert (a.stat().st_mode, a.stat().st_mtime_ns) == (b.stat().st_mode, b.stat().st_mtime_ns)
    top = site["course"] / "submitted" / ME / ASSIGNMENT
    assert top.stat().st_mode == (plain / "submitted" / ME / ASSIGNMENT).stat().st_mode
    assert not [p for p in top.parent.iterdir() if p.name.startswith(".")]  # no partial copy
    assert len(visible(inbound)) == 2  # nothing set aside


def test_update_takes_a_newer_submission_and_only_with_update(site):
    inbound = site["inbound"]
    submission(inbound, ME, STAMP, "old")
    collector(site["course"], site["exchange"]).start()
    submission(inbound, ME, LATER, "new")
    key = f"{ME}/{ASSIGNMENT}/01_neurons.ipynb"
    collector(site["course"], site["exchange"]).start()  # no --update: kept
    assert collected(site["course"])[key] == f"answered by {ME} at {STAMP}"
    collector(site["course"], site["exchange"], update=True).start()
    assert collected(site["course"])[key] == f"answered by {ME} at {LATER}"


def test_a_folder_named_after_another_student_is_not_collected(site):
    """``nbgrader submit --student OTHER``: a folder owned by me, named after another
    student; and one named after a name that is no user here. Neither is collected; both are
    set aside; nbgrader's own collect only warns and copies them."""
    inbound = site["inbound"]
    forged = submission(inbound, OTHER.pw_name, text="FORGED WORK")
    nobody = submission(inbound, "no-such-student-here", text="FORGED WORK")
    collect = collector(site["course"], site["exchange"])
    collect.start()
    assert not anything_of(site["course"], "FORGED WORK")
    assert sorted(name for name, _ in collect.refused) == sorted([forged.name, nobody.name])
    assert visible(inbound) == []  # both set aside
    assert any(p.name.startswith(f".forged-by-{ME}-{OTHER.pw_name}+") for p in inbound.iterdir())


@ROOT_ONLY
def test_a_forged_folder_owned_by_another_uid_is_not_collected(site):
    """A folder named after me but made by another account, later than my own: mine is
    collected, theirs is not (it does not hide mine either)."""
    inbound = site["inbound"]
    mine = submission(inbound, ME, STAMP, "mine")
    forged = submission(inbound, ME, LATER, "forged", owner=OTHER, text="FORGED WORK")
    collect = collector(site["course"], site["exchange"])
    collect.start()
    assert not anything_of(site["course"], "FORGED WORK")
    assert collected(site["course"])[f"{ME}/{ASSIGNMENT}/01_neurons.ipynb"] == \
        f"answered by {ME} at {STAMP}"
    assert [name for name, _ in collect.refused] == [forged.name]
    assert f"owned by {OTHER.pw_name}, not by {ME}" in collect.refused[0][1]
    assert visible(inbound) == [mine.name]


def test_a_link_named_as_a_submission_is_not_followed(site, caplog):
    inbound = site["inbound"]
    link = inbound / f"{ME}+{ASSIGNMENT}+{LATER}+link"
    link.symlink_to(site["masters"])
    caplog.set_level(logging.INFO)
    collect = collector(site["course"], site["exchange"])
    collect.start()
    assert not anything_of(site["course"], "SECRET")
    assert [name for name, _ in collect.refused] == [link.name]
    assert "a link, not a folder" in collect.refused[0][1]
    assert "Not collected" in caplog.text and link.name in caplog.text
    assert visible(inbound) == [] and (site["masters"] / "01_neurons.ipynb").is_file()


def test_links_and_fifos_inside_a_students_folder_are_skipped_and_the_class_goes_on(site):
    inbound = site["inbound"]
    folder = submission(inbound, ME, STAMP, "mine")
    (folder / "answers.ipynb").symlink_to(site["masters"] / "01_neurons.ipynb")
    (folder / "masters").symlink_to(site["masters"])
    os.mkfifo(folder / "pipe.ipynb")
    if os.geteuid() == 0:  # another student's work in my folder (it is mode 0777) and a
        planted = folder / "planted.ipynb"  # second student whose work must still come in
        planted.write_text("PLANTED")
        os.chown(planted, OTHER.pw_uid, OTHER.pw_gid)
        submission(inbound, OTHER.pw_name, STAMP, "theirs", owner=OTHER)
    collect = collector(site["course"], site["exchange"])
    collect.start()
    got = collected(site["course"])
    assert not anything_of(site["course"], "SECRET") and not anything_of(site["course"], "PLANTED")
    assert sorted(k for k in got if k.startswith(f"{ME}/")) == sorted(
        f"{ME}/{ASSIGNMENT}/{name}" for name in ("01_neurons.ipynb", "sub/data.txt",
                                                 "timestamp.txt", "submission_secret.txt"))
    assert collect.refused == []  # skipped inside, not refused whole
    if os.geteuid() == 0:
        assert got[f"{OTHER.pw_name}/{ASSIGNMENT}/01_neurons.ipynb"] == \
            f"answered by {OTHER.pw_name} at {STAMP}"


def test_a_folder_swapped_for_a_link_after_the_checks_is_refused(site):
    """``lms inbound`` checked it, collect found it by name; then the student swaps the folder
    for a link to the masters, and a checked file inside for a link. Nothing of the masters
    is collected; the older genuine submission is."""
    from course_grading.lms import set_aside_forged

    inbound = site["inbound"]
    older = submission(inbound, ME, STAMP, "older")
    swapped = submission(inbound, ME, LATER, "swapped")
    assert set_aside_forged(inbound, ASSIGNMENT) == []  # the earlier check: all plain
    collect = collector(site["course"], site["exchange"])
    collect.set_timestamp()
    collect.init_src()
    collect.init_dest()
    os.rename(swapped, inbound / ".moved")
    swapped.symlink_to(site["masters"])
    (older / "01_neurons.ipynb").unlink()
    (older / "01_neurons.ipynb").symlink_to(site["masters"] / "01_neurons.ipynb")
    collect.copy_files()
    assert not anything_of(site["course"], "SECRET")
    assert [name for name, _ in collect.refused] == [swapped.name]
    got = collected(site["course"])
    assert got[f"{ME}/{ASSIGNMENT}/timestamp.txt"] == STAMP
    assert f"{ME}/{ASSIGNMENT}/01_neurons.ipynb" not in got


def test_what_is_swapped_after_the_folder_was_opened_does_not_change_the_copy(site,
                                                                          monkeypatch):
    """The copy reads the opened folder: renaming it away and putting a link in its place,
    once it is open, changes nothing."""
    from course_grading import exchange

    inbound = site["inbound"]
    folder = submission(inbound, ME, STAMP, "mine")
    real_copy = exchange.OwnedExchangeCollect._copy_tree

    def swap_then_copy(self, handle, dest, uid, where, depth, budget):
        if depth == 0 and folder.is_dir() and not folder.is_symlink():
            os.rename(folder, inbound / ".away")
            folder.symlink_to(site["masters"])
        return real_copy(self, handle, dest, uid, where, depth, budget)

    monkeypatch.setattr(exchange.OwnedExchangeCollect, "_copy_tree", swap_then_copy)
    collector(site["course"], site["exchange"]).start()
    assert collected(site["course"])[f"{ME}/{ASSIGNMENT}/01_neurons.ipynb"] == \
        f"answered by {ME} at {STAMP}"
    assert not anything_of(site["course"], "SECRET")


def test_names_collect_would_misread_or_stop_on_are_refused_not_fatal(site):
    inbound = site["inbound"]
    submission(inbound, ME, STAMP, "good")
    for name in (f"{ME}+x+{ASSIGNMENT}+abc", f"{ME}+{ASSIGNMENT}+not a time"):
        (inbound / name).mkdir()
    os.mkfifo(inbound / f"{ME}+{ASSIGNMENT}+{LATER}+fifo")
    collect = collector(site["course"], site["exchange"])
    collect.start()
    assert len(collect.refused) == 3, collect.refused
    assert collected(site["course"])[f"{ME}/{ASSIGNMENT}/timestamp.txt"] == STAMP


def test_a_submission_over_the_size_limit_is_refused_whole(site):
    inbound = site["inbound"]
    big = submission(inbound, ME, LATER, "big")
    (big / "huge.bin").write_bytes(b"x" * 3000)
    submission(inbound, ME, STAMP, "small")
    config_limit = 2  # kB: CourseDirectory.max_dir_size, in nbgrader's unit
    collect = collector(site["course"], site["exchange"])
    collect.coursedir.max_dir_size = config_limit
    collect.start()
    assert [name for name, _ in collect.refused] == [big.name]
    assert "max_dir_size" in collect.refused[0][1]
    student = site["course"] / "submitted" / ME
    assert sorted(p.name for p in student.iterdir()) == [ASSIGNMENT]  # no partial copy left
    assert collected(site["course"])[f"{ME}/{ASSIGNMENT}/timestamp.txt"] == STAMP


def test_the_nbgrader_command_uses_it(site):
    """``nbgrader collect`` itself, in a course folder holding the deployed settings."""
    inbound = site["inbound"]
    submission(inbound, ME, STAMP, "mine")
    link = inbound / f"{ME}+{ASSIGNMENT}+{LATER}+link"
    link.symlink_to(site["masters"])
    (site["course"] / "nbgrader_config.py").write_text(
        DEPLOYED.read_text().replace("/srv/nbgrader/exchange", str(site["exchange"])))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "grader"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "nbgrader", "collect", ASSIGNMENT],
                            cwd=site["course"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Not collected" in result.stderr and link.name in result.stderr
    assert not anything_of(site["course"], "SECRET")
    assert collected(site["course"])[f"{ME}/{ASSIGNMENT}/01_neurons.ipynb"] == \
        f"answered by {ME} at {STAMP}"


# --- attacks (security review of OwnedExchangeCollect) ---------------------------------------

def _second_student(inbound: Path) -> Path:
    """Another student's good submission, collected after mine (names sort after root)."""
    return submission(inbound, OTHER.pw_name, STAMP, "zz", owner=OTHER,
                      text="OTHER STUDENT'S WORK")


@ROOT_ONLY
def test_a_deep_tree_of_long_names_does_not_stop_the_collect_of_the_class(site):
    """Within max_depth, 20 folders of 250-character names make a destination path longer
    than PATH_MAX: the copy's os.mkdir/open by full path fail with ENAMETOOLONG, which is no
    ``Refused``, and the whole collect stopped, the next student not collected."""
    inbound = site["inbound"]
    mine = submission(inbound, ME, STAMP, "deep")
    fd = os.open(mine, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(20):
            os.mkdir("d" * 250, dir_fd=fd)
            child = os.open("d" * 250, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as out:
            out.write("deep")
    finally:
        os.close(fd)
    _second_student(inbound)
    collect = collector(site["course"], site["exchange"])
    collect.start()
    assert anything_of(site["course"], "OTHER STUDENT'S WORK")
    assert [name for name, _ in collect.refused] == [mine.name]


@ROOT_ONLY
@pytest.mark.parametrize("content", [b"not a time at all", b"\xff\xfe\x00garbage", None])
def test_a_students_own_timestamp_file_does_not_stop_the_next_collect(site, content):
    """timestamp.txt is the student's file, copied as it is. On the next collect
    (``--update``), nbgrader's get_existing_timestamp reads it from submitted/: a time that
    does not parse calls ``self.fail`` (ExchangeError), bytes that are not UTF-8 raise
    UnicodeDecodeError, a folder named timestamp.txt raises IsADirectoryError: each stopped
    the collect of the whole class, the students after this one not collected."""
    inbound = site["inbound"]
    mine = submission(inbound, ME, STAMP, "first")
    (mine / "timestamp.txt").unlink()
    if content is None:
        (mine / "timestamp.txt").mkdir()
    else:
        (mine / "timestamp.txt").write_bytes(content)
    collector(site["course"], site["exchange"]).start()
    submission(inbound, ME, LATER, "second")
    _second_student(inbound)
    collector(site["course"], site["exchange"], update=True).start()
    assert anything_of(site["course"], "OTHER STUDENT'S WORK")


def _as_user(user: pwd.struct_passwd, work) -> int:
    """Run ``work()`` in a child process as ``user`` (an instructor who is not root);
    return its exit status: 0 when it returned, 1 when it raised."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            work()
            code = 0
        except BaseException:  # noqa: BLE001 - reported by the exit status
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@ROOT_ONLY
def test_a_read_only_folder_in_a_submission_does_not_stop_the_next_collect(tmp_path):
    """A student's folder of mode 0500 is collected with that mode; the instructor (not
    root) cannot then delete what is in it, so the next ``collect --update`` failed in
    shutil.rmtree(dest) with PermissionError, stopping the collect of the whole class (and a
    refused copy left its .collecting-* folder behind)."""
    import tempfile

    base = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        site = {"course": base / "course", "exchange": base / "exchange"}
        inbound = site["exchange"] / COURSE / "inbound"
        inbound.mkdir(parents=True)
        site["course"].mkdir()
        first = submission(inbound, OTHER.pw_name, STAMP, "first", text="FIRST")
        (first / "ro").mkdir()
        (first / "ro" / "kept.txt").write_text("read only folder")
        os.chmod(first / "ro", 0o500)
        for path in (base, *base.rglob("*")):
            os.chown(path, OTHER.pw_uid, OTHER.pw_gid, follow_symlinks=False)
        import course_grading.lms  # noqa: F401 - the child may not read the environment
        import nbgrader.api  # noqa: F401

        first_collect = collector(site["course"], site["exchange"])
        with nbgrader.api.Gradebook(first_collect.coursedir.db_url, COURSE):
            pass  # made here: making it runs alembic, which the child may not reach
        for path in (base, *base.rglob("*")):
            os.chown(path, OTHER.pw_uid, OTHER.pw_gid, follow_symlinks=False)
        assert _as_user(OTHER, first_collect.start) == 0
        second = submission(inbound, OTHER.pw_name, LATER, "second", owner=OTHER,
                            text="SECOND")
        assert second.is_dir()
        status = _as_user(OTHER, collector(site["course"], site["exchange"], update=True).start)
        assert status == 0
        assert collected(site["course"])[f"{OTHER.pw_name}/{ASSIGNMENT}/01_neurons.ipynb"] \
            == "SECOND"
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", str(base)], check=False)
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def test_a_late_submission_cannot_claim_an_earlier_time(site):
    """The submission's time is the student's word twice: the inbound name
    (``me+nn_python+<time>+x``, which ``--before-duedate`` and ``--update`` read) and
    ``timestamp.txt`` (which ``lms collect``'s ``submitted_at`` and the late policy read). A
    student submitting after the due date names their folder, and writes timestamp.txt, with a
    time before it: collect copies it as it is, and no late penalty applies. What the student
    cannot choose is the change time (ctime) of the files collect opens: a claimed time far
    earlier than the latest ctime is a forged one, and the collected time must not be earlier
    than that (a few minutes' slack for nbgrader submit's own copy)."""
    inbound = site["inbound"]
    forged = submission(inbound, ME, PAST, "late")  # made now, after the time it claims
    changed = max(p.lstat().st_ctime for p in (forged, *forged.rglob("*")))
    collector(site["course"], site["exchange"]).start()
    stamp = (site["course"] / "submitted" / ME / ASSIGNMENT / "timestamp.txt").read_text()
    from nbgrader.utils import parse_utc

    claimed = parse_utc(stamp.strip())
    made = datetime.datetime.fromtimestamp(changed, datetime.timezone.utc).replace(tzinfo=None)
    assert claimed >= made - datetime.timedelta(minutes=5), (stamp, made)
