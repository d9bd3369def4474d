"""The class roster, read by one rule: setup.sh checks it with this file and
jupyterhub_config.py reads it with this file, so both agree on who is in the class.

The roster is a CSV file with a header line naming at least ``username`` and ``role`` (the
example, ``roster.example.csv``, has ``username,role,name``), then one line per person:
``username`` a system user name (``[a-z_][a-z0-9_-]{0,31}``), ``role`` ``instructor`` or
``student``. Blank lines and lines whose first field starts with ``#`` are skipped; spaces
around a field are ignored. Anything else is refused with the line it is on: no header, a
missing field, a bad name or role, a name twice, nobody, no instructor.

Standard library only, any Python 3.8 or newer: setup.sh runs it before the class's
environment exists. As a command, ``python3 roster.py ROSTER.csv`` prints ``username role``
per person, or the first problem on stderr with exit status 1.
"""

from __future__ import annotations

import csv
import re
import sys
from typing import List, Tuple

NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
ROLES = ("instructor", "student")
HEADER = ("username", "role")


class RosterError(ValueError):
    """A roster that is not read: the message names the file and the line."""


def read(path: str) -> List[Tuple[str, str]]:
    """``(username, role)`` of each person on the roster at ``path``, in its order."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        lines = handle.read().splitlines()
    header = None
    people: List[Tuple[str, str]] = []
    seen = {}
    for number, fields in enumerate(csv.reader(lines), start=1):
        fields = [field.strip() for field in fields]
        if not any(fields) or fields[0].startswith("#"):
            continue
        where = f"{path} line {number}"
        if header is None:
            if not all(column in fields for column in HEADER):
                raise RosterError(
                    f"{where}: the first line must be the header username,role,name (as in "
                    f"roster.example.csv), not {','.join(fields)!r}")
            header = {column: fields.index(column) for column in HEADER}
            continue
        if len(fields) <= max(header.values()):
            raise RosterError(f"{where}: {','.join(fields)!r} has no "
                              f"{'role' if len(fields) > header['username'] else 'username'}")
        user, role = fields[header["username"]], fields[header["role"]]
        if not NAME.fullmatch(user):
            raise RosterError(f"{where}: bad user name {user!r} (lower case letters, digits, "
                              f"_ and -, starting with a letter or _, at most 32)")
        if role not in ROLES:
            raise RosterError(f"{where}: role must be instructor or student, not {role!r}")
        if user in seen:
            raise RosterError(f"{where}: {user} is already on line {seen[user]}")
        seen[user] = number
        people.append((user, role))
    if header is None:
        raise RosterError(f"{path}: empty; it needs the header username,role,name and a line "
                          f"per person")
    if not people:
        raise RosterError(f"{path} lists nobody")
    if not any(role == "instructor" for _, role in people):
        raise RosterError(f"{path} lists no instructor")
    return people


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print("usage: python3 roster.py ROSTER.csv", file=sys.stderr)
        return 2
    try:
        people = read(argv[0])
    except (RosterError, OSError, UnicodeDecodeError, csv.Error) as error:
        print(error, file=sys.stderr)
        return 1
    for user, role in people:
        print(user, role)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
