"""Read a user-supplied file only when it is a regular file under a size limit; anything else is a located problem.

A named pipe (FIFO) would block the planner forever, a link to `/dev/zero` would never end, a folder or a socket
cannot be read: every file the planner reads on a user's behalf goes through `file_problem` / `read_user_bytes`,
which look at what the path is (after following links) without opening it, and open it non-blocking.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from planner.errors import InputError, Problem

#: default ceiling for a user file
MAX_USER_FILE_BYTES = 50 * 1024 * 1024


def shown(path: Path | str) -> str:
    text = str(path)
    return text if len(text) <= 200 else text[:100] + "..." + text[-60:]


def kind_of_mode(mode: int) -> str:
    """What a file mode is, in words: `a directory`, `a named pipe (FIFO)`, `a character device`, ..."""
    for test, words in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return words
    return "a special file"


def file_kind(path: Path | str) -> str:
    """What a path is, in words (links followed): `a named pipe (FIFO)`, `a directory`, `a socket`, ..."""
    try:
        return kind_of_mode(os.stat(path).st_mode)
    except (OSError, ValueError):
        return "missing or unreadable"


def file_problem(path: Path, label: str, locator: str = "", max_bytes: int = MAX_USER_FILE_BYTES,
                 what: str = "file", hint: str = "") -> Problem | None:
    """Why `path` cannot be read as a user file (missing, a folder, a pipe, a device, too large), or None.

    `hint` follows "Check the path" when the file is not found (e.g. " (relative paths are resolved from ...)")."""
    try:
        st = os.stat(path)  # follows links: a link to /dev/zero is a device
    except FileNotFoundError:
        dangling = " (a link that points nowhere)" if os.path.islink(path) else ""
        return Problem(label, locator, f"{what} not found: {shown(path)}{dangling}. Check the path{hint}.")
    except (OSError, ValueError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return Problem(label, locator, f"cannot read {shown(path)}: {reason}. Check the path and permissions.")
    if not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            return Problem(label, locator, f"{shown(path)} is a directory, expected a {what}.")
        return Problem(label, locator, f"{shown(path)} is {kind_of_mode(st.st_mode)}, not a regular file; expected a "
                                       f"{what} (pipes and devices are not read: they could block or never end).")
    if st.st_size > max_bytes:
        return Problem(label, locator, f"{shown(path)} is {st.st_size / 2**20:.0f} MiB; inputs larger than "
                                       f"{max_bytes / 2**20:g} MiB are refused (split or trim the {what}).")
    return None


def read_user_bytes(path: Path, label: str, locator: str = "", max_bytes: int = MAX_USER_FILE_BYTES,
                    what: str = "file", hint: str = "") -> tuple[bytes | None, list[Problem]]:
    """The bytes of a regular file of at most `max_bytes`, or (None, [problem]); `hint` as for `file_problem`."""
    problem = file_problem(path, label, locator, max_bytes, what, hint)
    if problem:
        return None, [problem]
    try:
        with Path(path).open("rb") as fh:  # a regular file (checked above): opening it cannot block
            raw = fh.read(max_bytes + 1)  # bounded: the file may grow or lie about its size
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return None, [Problem(label, locator, f"cannot read {shown(path)}: {reason}. Check the path and permissions.")]
    if len(raw) > max_bytes:
        return None, [Problem(label, locator, f"{shown(path)} is larger than {max_bytes / 2**20:g} MiB; inputs that large are refused.")]
    return raw, []


def read_user_text(path: Path, label: str, locator: str = "", max_bytes: int = MAX_USER_FILE_BYTES,
                   what: str = "file") -> tuple[str | None, list[Problem]]:
    """UTF-8 text of a regular file: also refuses binary (NUL bytes) and non-UTF-8 content."""
    raw, problems = read_user_bytes(path, label, locator, max_bytes, what)
    if raw is None:
        return None, problems
    if b"\x00" in raw:
        return None, [Problem(label, locator, "file contains NUL bytes: it looks binary, not text. Save it as UTF-8 text.")]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        return None, [Problem(label, locator or f"byte {exc.start}", "file is not valid UTF-8. Save it as UTF-8 text.")]


def require_user_file(path: Path, label: str, locator: str = "", max_bytes: int = MAX_USER_FILE_BYTES,
                      what: str = "file") -> None:
    """Raise InputError unless `path` is a regular file a library may then open itself (pandas, JSON)."""
    problem = file_problem(path, label, locator, max_bytes, what)
    if problem:
        raise InputError([problem])
