"""``nbgrader collect`` for a shared machine: it decides on opened files, not on their names.

Why it exists: nbgrader's default collect (run as the instructor) finds each submission in the
exchange's ``inbound`` folder by its name, ``<student>+<assignment>+<time>+<random>``, and
copies it with ``shutil.copytree``, which follows links. ``inbound`` is writable by every
student (mode 0733, as nbgrader makes it), so a student can put there, at any moment, a folder
named after another student (``nbgrader submit --student OTHER``), a link named as a
submission (collect would copy what it points to, the masters or another student's work, as
theirs), or a FIFO (collect stops for the whole class). ``python -m course_grading.lms inbound``
sets those aside first, but a student can plant one, or swap their checked folder for a link,
between that check and the copy.

:class:`OwnedExchangeCollect` closes that gap at the moment of copying. For every submission it
takes it opens the inbound entry with ``O_DIRECTORY | O_NOFOLLOW`` (a link or a FIFO does not
open), checks by ``fstat`` on the opened folder that it is a folder owned by the system user its
name gives (``pwd.getpwnam``; a name that is no user of the machine is refused), and copies the
tree under that descriptor with ``os.open(..., O_NOFOLLOW, dir_fd=...)``: only regular files and
folders owned by that student, each checked again by ``fstat`` once open; links, FIFOs,
devices, sockets and other users' files inside are skipped with a warning, never followed. A
submission over ``CourseDirectory.max_dir_size`` (or deeper than ``max_depth`` folders, or
with more than ``max_entries`` entries) is refused whole. Whatever is swapped after an entry
was opened does not change what is copied: the copy reads the opened folder, not its name.

A refused submission is logged (level ERROR, with the reason), not collected, and renamed in
``inbound`` to ``.forged-by-<owner>-<name>-<random>`` as ``lms inbound`` does (collect skips
names starting with a dot); the student's latest submission that passes is collected instead.
Everything else is nbgrader's: the latest submission per student (or the latest before the
due date with ``--before-duedate``), ``submitted/<student>/<assignment>/``, ``--update``, the
``CourseDirectory.ignore``/``include``/``max_file_size`` filters, the modes and times copied.
Differences: a submission is copied beside its destination first and put in place whole, so
a refused or failed copy leaves nothing half-copied, and the previous submission stays; the
owner check is always made (nbgrader's ``check_owner = False``, which only silenced a warning
there, does not turn it off); set-id bits are not copied.

Used by the one-machine hub's instructors' settings (``deploy/one-machine/
course_nbgrader_config.py``: ``c.ExchangeFactory.collect``); students never import it.
"""

from __future__ import annotations

import datetime
import fnmatch
import os
import pwd
import shutil
import stat
import tempfile
from collections import defaultdict

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import check_mode, parse_utc
from traitlets import Bool, Integer

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in between the look and the open does not hang the open.
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CHUNK = 1 << 20
#: Seconds a submission's claimed time may precede its files' last change (nbgrader submit
#: writes the time first, then copies the notebooks; a slow copy takes a while).
CLAIM_SLACK = 300


class Refused(Exception):
    """A submission that is not collected; the message says why."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a link"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISREG, "a file")):
        if test(mode):
            return name
    return "not a file"


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _remove_tree(path: str) -> None:
    """``shutil.rmtree``, first giving the owner rwx on every folder (a submission collected
    before folders kept the instructor's write bit may hold a 0500 folder)."""
    if not os.path.lexists(path):
        return
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | 0o700)
        for top, folders, _ in os.walk(path):
            for name in folders:
                inner = os.path.join(top, name)
                if not os.path.islink(inner):
                    os.chmod(inner, stat.S_IMODE(os.lstat(inner).st_mode) | 0o700)
    shutil.rmtree(path)


class OwnedExchangeCollect(ExchangeCollect):
    """nbgrader's ``ExchangeCollect``, copying only what the named student made (see the
    module's docstring). Configured as ``c.ExchangeFactory.collect =
    "course_grading.exchange.OwnedExchangeCollect"``; ``ExchangeCollect.*`` settings and the
    ``--update``/``--before-duedate`` flags apply to it as to nbgrader's."""

    set_aside = Bool(
        True, help="Rename a refused inbound entry to .forged-by-<owner>-<name>-<random>, "
                   "which collect skips (as `python -m course_grading.lms inbound` does)."
    ).tag(config=True)
    max_depth = Integer(
        32, help="Folders nested deeper than this in a submission refuse it.").tag(config=True)
    max_entries = Integer(
        10000, help="A submission with more files and folders than this is refused."
    ).tag(config=True)

    # --- which submissions --------------------------------------------------------------

    def init_src(self):
        """nbgrader's, except that an entry whose name nbgrader would misread (its time does
        not parse, or its assignment part is another) is refused instead of stopping the
        collect of the whole class, and each student keeps every candidate, newest first."""
        if self.coursedir.course_id == '':
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, 'inbound')
        if not os.path.isdir(self.inbound_path):
            self.fail("Course not found: {}".format(self.inbound_path))
        if not check_mode(self.inbound_path, read=True, execute=True):
            self.fail("You don't have read permissions for the directory: {}".format(
                self.inbound_path))
        self.refused: list[tuple[str, str]] = []
        self._unreadable: list[tuple[str, str]] = []
        assignment = self.coursedir.assignment_id
        wanted = self.coursedir.student_id or '*'
        records = []
        for name in sorted(os.listdir(self.inbound_path)):
            if name.startswith('.') or not fnmatch.fnmatchcase(
                    name, '{}+{}+*'.format(wanted, assignment)):
                continue
            parts = name.rsplit('+', 3)
            try:
                if len(parts) < 3 or parts[1] != assignment:
                    raise ValueError("its name does not read back as this assignment")
                timestamp = parse_utc(parts[2])
            except Exception as error:  # noqa: BLE001 - nbgrader's collect would stop here
                self._unreadable.append((name, f"a name collect cannot read ({error})"))
                continue
            records.append({'username': parts[0], 'filename': name, 'timestamp': timestamp})
        by_student = defaultdict(list)
        for record in records:
            by_student[record['username']].append(record)

        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                self.duedate = gb.find_assignment(assignment).duedate
            except MissingEntry:
                self.duedate = None
        self.candidates: dict[str, list[dict]] = {}
        for student, found in by_student.items():
            newest = self._sort_by_timestamp(found)
            if self.duedate is not None and self.before_duedate:
                before = [r for r in newest if r['timestamp'] <= self.duedate]
                newest = before + [r for r in newest if r['timestamp'] > self.duedate]
            self.candidates[student] = newest
        self.src_records = [found[0] for found in self.candidates.values()]

    # --- copying ---------------------------------------------------------------------------

    def copy_files(self):
        inbound = os.open(self.inbound_path, _DIRECTORY)
        try:
            for name, why in self._unreadable:
                self._refuse(inbound, name, why)
            if not self.candidates:
                self.log.warning("No submissions of '{}' for course '{}' to collect".format(
                    self.coursedir.assignment_id, self.coursedir.course_id))
            else:
                self.log.info("Processing {} submissions of '{}' for course '{}'".format(
                    len(self.candidates), self.coursedir.assignment_id,
                    self.coursedir.course_id))
            for student in sorted(self.candidates):
                self._collect_student(inbound, student, self.candidates[student])
        finally:
            os.close(inbound)
        if self.refused:
            self.log.error("%d inbound entr%s of '%s' not collected (listed above)%s",
                           len(self.refused), "y" if len(self.refused) == 1 else "ies",
                           self.coursedir.assignment_id,
                           ", set aside as .forged-by-..." if self.set_aside else "")

    def _collect_student(self, inbound: int, student: str, records: list[dict]) -> None:
        assignment = self.coursedir.assignment_id
        dest_path = self.coursedir.format_path(self.coursedir.submitted_directory, student,
                                               assignment)
        for record in records:
            updating = False
            if os.path.isdir(dest_path):
                existing = self._existing_timestamp(dest_path)
                new = record['timestamp']
                if self.update and (existing is None or new > existing):
                    updating = True
                elif self.before_duedate and existing != new:
                    updating = True
                elif self.update:
                    self.log.info("No newer submission to collect: {} {}".format(
                        student, assignment))
                    return
                else:
                    self.log.info("Submission already exists, use --update to update: "
                                  "{} {}".format(student, assignment))
                    return
            try:
                self._take(inbound, record, student, dest_path, updating)
            except Refused as why:
                self._refuse(inbound, record['filename'], str(why))
                continue
            except OSError as error:
                # The copy failed on the grader's side (a destination path over PATH_MAX
                # made of the student's long names, say): this submission is not collected,
                # the class goes on; it is left in inbound, not set aside.
                why = f"the copy failed ({error.strerror or error})"
                self.refused.append((record['filename'], why))
                self.log.error("Not collected: %r in %s: %s", record['filename'],
                               self.inbound_path, why)
                continue
            return

    def _existing_timestamp(self, dest_path: str):
        """nbgrader's ``get_existing_timestamp``, but a timestamp.txt the student made
        unreadable (not a time, not UTF-8, a folder) reads as no time instead of stopping
        the collect of the whole class."""
        try:
            return self.coursedir.get_existing_timestamp(dest_path)
        except Exception as error:  # noqa: BLE001 - the student's file: never fatal
            self.log.warning("Unreadable timestamp.txt in %s (%s): taken as no time",
                             dest_path, type(error).__name__)
            return None

    def _take(self, inbound: int, record: dict, student: str, dest_path: str,
              updating: bool) -> None:
        try:
            uid = pwd.getpwnam(student).pw_uid
        except KeyError:
            raise Refused(f"{student!r} is not a user of this machine") from None
        try:
            folder = os.open(record['filename'], _DIRECTORY, dir_fd=inbound)
        except FileNotFoundError:
            raise Refused("it is gone") from None
        except OSError as error:
            try:
                found = _kind(os.stat(record['filename'], dir_fd=inbound,
                                      follow_symlinks=False).st_mode)
            except OSError:
                found = "not a folder"
            if found == "a folder":
                raise Refused(f"a folder that does not open ({error.strerror})") from None
            raise Refused(f"{found}, not a folder ({error.strerror}): not followed") from None
        try:
            found = os.fstat(folder)
            if not stat.S_ISDIR(found.st_mode):
                raise Refused(f"{_kind(found.st_mode)}, not a folder")
            if found.st_uid != uid:
                raise Refused(f"owned by {_user(found.st_uid)}, not by {student}: handed in "
                              f"under another student's name")
            parent = os.path.dirname(dest_path)
            os.makedirs(parent, exist_ok=True)
            partial = tempfile.mkdtemp(prefix=".collecting-", dir=parent)
            try:
                budget = {"bytes": 1000 * self.coursedir.max_dir_size,
                          "entries": self.max_entries, "changed": found.st_ctime}
                self._copy_tree(folder, partial, uid, record['filename'], 0, budget)
                self._date_honestly(partial, record, student, budget["changed"])
                self._settle(partial, found, directory=True)
                self.log.info("{} submission: {} {}".format(
                    "Updating" if updating else "Collecting", student,
                    self.coursedir.assignment_id))
                if updating:
                    _remove_tree(dest_path)
                os.rename(partial, dest_path)
            except BaseException:
                try:
                    _remove_tree(partial)
                except OSError:
                    pass
                raise
        finally:
            os.close(folder)

    def _copy_tree(self, folder: int, dest: str, uid: int, where: str, depth: int,
                   budget: dict) -> None:
        if depth > self.max_depth:
            raise Refused(f"folders nested deeper than {self.max_depth} (max_depth)")
        ignore = self.coursedir.ignore
        include = self.coursedir.include
        for name in sorted(os.listdir(folder)):
            path = f"{where}/{name}"
            if ignore and any(fnmatch.fnmatch(name, glob) for glob in ignore):
                self.log.debug("Ignoring excluded file '%s' (see config option "
                               "CourseDirectory.ignore)", path)
                continue
            budget["entries"] -= 1
            if budget["entries"] < 0:
                raise Refused(f"more than {self.max_entries} files and folders (max_entries)")
            try:
                seen = os.stat(name, dir_fd=folder, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(seen.st_mode):
                self._copy_folder(folder, name, dest, uid, path, depth, budget)
            elif stat.S_ISREG(seen.st_mode):
                if include and not any(fnmatch.fnmatch(name, glob) for glob in include):
                    self.log.debug("Ignoring non included file '%s' (see config option "
                                   "CourseDirectory.include)", path)
                    continue
                self._copy_file(folder, name, dest, uid, path, seen, budget)
            else:
                self.log.warning("Not collected: %r is %s (not followed)", path,
                                 _kind(seen.st_mode))

    def _copy_folder(self, folder: int, name: str, dest: str, uid: int, path: str,
                     depth: int, budget: dict) -> None:
        try:
            child = os.open(name, _DIRECTORY, dir_fd=folder)
        except OSError as error:
            self.log.warning("Not collected: %r (%s; not followed)", path, error.strerror)
            return
        try:
            found = os.fstat(child)
            budget["changed"] = max(budget["changed"], found.st_ctime)
            if found.st_uid != uid:
                self.log.warning("Not collected: %r is %s's, not the student's", path,
                                 _user(found.st_uid))
                return
            target = os.path.join(dest, name)
            os.mkdir(target, 0o700)
            self._copy_tree(child, target, uid, path, depth + 1, budget)
            self._settle(target, found, directory=True)
        finally:
            os.close(child)

    def _copy_file(self, folder: int, name: str, dest: str, uid: int, path: str,
                   seen: os.stat_result, budget: dict) -> None:
        limit = 1000 * self.coursedir.max_file_size
        if limit and seen.st_size > limit:
            self.log.warning("Ignoring file too large '%s' (see config option "
                             "CourseDirectory.max_file_size)", path)
            return
        try:
            source = os.open(name, _FILE, dir_fd=folder)
        except OSError as error:
            self.log.warning("Not collected: %r (%s; not followed)", path, error.strerror)
            return
        try:
            found = os.fstat(source)
            if not stat.S_ISREG(found.st_mode):
                self.log.warning("Not collected: %r is %s (not followed)", path,
                                 _kind(found.st_mode))
                return
            if found.st_uid != uid:
                self.log.warning("Not collected: %r is %s's, not the student's", path,
                                 _user(found.st_uid))
                return
            budget["changed"] = max(budget["changed"], found.st_ctime)
            os.set_blocking(source, True)
            target = os.path.join(dest, name)
            with open(target, "xb") as out:
                while True:
                    chunk = os.read(source, _CHUNK)
                    if not chunk:
                        break
                    budget["bytes"] -= len(chunk)
                    if budget["bytes"] < 0:
                        raise Refused(f"larger than {self.coursedir.max_dir_size} kB "
                                      f"(CourseDirectory.max_dir_size)")
                    out.write(chunk)
            self._settle(target, found, directory=False)
        finally:
            os.close(source)

    def _date_honestly(self, copy: str, record: dict, student: str, changed: float) -> None:
        """Make the collected ``timestamp.txt`` no earlier than the submission's last change.

        The submission's time is the student's word twice: the inbound name and the
        ``timestamp.txt`` inside, which ``lms collect`` and the late policy read. A student
        handing in late can write an on-time date in both. What they cannot set back is a
        file's change time (ctime: ``utime`` moves mtime, and moves ctime to now), read here
        from the opened files. A claimed time more than ``CLAIM_SLACK`` seconds before the
        last change is replaced by that change's time, and said in the log.
        """
        made = datetime.datetime.fromtimestamp(changed, datetime.timezone.utc).replace(
            tzinfo=None)
        claims = [record['timestamp']]
        stamp_file = os.path.join(copy, "timestamp.txt")
        try:
            with open(stamp_file, encoding="utf-8") as handle:
                claims.append(parse_utc(handle.read().strip()))
        except (OSError, ValueError, TypeError, UnicodeDecodeError):
            claims.append(None)  # missing or unreadable: the change time stands in
        limit = made - datetime.timedelta(seconds=CLAIM_SLACK)
        if all(claim is not None and claim >= limit for claim in claims):
            return
        self.log.warning("Submission %r of %s claims %s, but its files were last changed at "
                         "%s: collected with the later time", record['filename'], student,
                         ", ".join(str(claim) for claim in claims), made)
        if os.path.lexists(stamp_file) and not os.path.isfile(stamp_file):
            _remove_tree(stamp_file)
        elif os.path.lexists(stamp_file):
            os.unlink(stamp_file)
        with open(stamp_file, "x", encoding="utf-8") as handle:
            handle.write(made.strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC")

    def _settle(self, target: str, found: os.stat_result, directory: bool) -> None:
        """The source's permission bits (never set-id) and times, as copytree keeps them;
        group read and write added in a group-shared course directory, as nbgrader does."""
        mode = stat.S_IMODE(found.st_mode) & 0o777
        if directory:
            # The instructor keeps write on every collected folder: a student's 0500 folder
            # copied as 0500 could not be emptied, and the next --update failed in rmtree.
            mode |= 0o700
        if self.coursedir.groupshared:
            mode |= 0o2770 if directory else 0o660
        os.chmod(target, mode)
        os.utime(target, ns=(found.st_atime_ns, found.st_mtime_ns))

    # --- refusing --------------------------------------------------------------------------

    def _refuse(self, inbound: int, name: str, why: str) -> None:
        self.refused.append((name, why))
        self.log.error("Not collected: %r in %s: %s", name, self.inbound_path, why)
        if not self.set_aside:
            return
        from course_grading.lms import aside_name

        try:
            owner = _user(os.stat(name, dir_fd=inbound, follow_symlinks=False).st_uid)
            hidden = aside_name(owner, name)
            os.rename(name, hidden, src_dir_fd=inbound, dst_dir_fd=inbound)
        except OSError as error:
            self.log.error("  could not set it aside (%s): look at it", error.strerror)
            return
        self.log.error("  set aside as %r", hidden)
