"""Run folders: recognisable beyond doubt, written as one set, never replacing what they must not.

A run folder holds a marker file `.fleet-planner-run` (JSON with a run id) and only the planner's own
files (`plan.json`, `plan.xlsx`, `report.html`, `csv/*.csv`). Only such a folder may be replaced, and only
with `--force`; a folder with any other file in it (`--out .` in a working folder) is never replaced.

The set is assembled in a hidden sibling `.NAME.tmp-PID-XXXX` and moved into place:
- without replacing: one `rename` that refuses to replace anything (Linux `renameat2(RENAME_NOREPLACE)`,
  elsewhere an exclusive lock file plus an existence check), so of two runs into one new folder exactly
  one succeeds and the other exits 2;
- replacing (`--force`): the old folder moves to `.NAME.old-XXXX/run`, the new one moves in; if that
  second move fails the old folder is moved back. A kill between the two moves leaves the old run in
  `.NAME.old-XXXX/run`; the next run into NAME moves it back before anything else (or move it by hand).
Leftover `.NAME.tmp-PID-*` folders of processes that no longer run are removed by the next run into NAME.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from planner.errors import EXIT_BAD_INPUT, PlannerError

MARKER = ".fleet-planner-run"
TOP_FILES = frozenset({"plan.json", "plan.xlsx", "report.html", "perf_fit.json", MARKER})
CSV_DIR = "csv"
# Temporary twins left by `atomic_write` if a process died mid-write: `.plan.json.0123456789ab.tmp`.
_ATOMIC_TMP = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")


def _refuse(msg: str) -> PlannerError:
    return PlannerError(msg, EXIT_BAD_INPUT)


def csv_names() -> frozenset[str]:
    """The names of the CSV files a run folder's `csv/` holds (`planner.report.csvs.write_csvs`): `summary.csv`
    and one per plan table; any other file there, even a `.csv`, is not the planner's."""
    from planner.results.tables import TABLE_COLUMNS

    return frozenset({"summary.csv", *(f"{name}.csv" for name in TABLE_COLUMNS)})


def foreign_entries(folder: Path) -> list[str]:
    """Entries of `folder` the planner does not write (symlinks count as foreign); empty for a run folder."""
    foreign: list[str] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_symlink():
            foreign.append(entry.name)
        elif entry.name == CSV_DIR and entry.is_dir(follow_symlinks=False):
            own = csv_names()
            for sub in sorted(os.scandir(entry.path), key=lambda e: e.name):  # `csv/notes.csv` is the user's
                ok = sub.is_file(follow_symlinks=False) and (sub.name in own or _ATOMIC_TMP.match(sub.name))
                if not ok:
                    foreign.append(f"{CSV_DIR}/{sub.name}")
        elif not (entry.is_file(follow_symlinks=False) and (entry.name in TOP_FILES or _ATOMIC_TMP.match(entry.name))):
            foreign.append(entry.name)
    return foreign


def has_marker(folder: Path) -> bool:
    marker = folder / MARKER
    return marker.is_file() and not marker.is_symlink()


def write_marker(folder: Path) -> str:
    """Write the marker with a fresh run id; returns the id."""
    from planner.results.atomic import write_json_atomic

    run_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(4)}"
    write_json_atomic(folder / MARKER, {"tool": "fleet-planner", "run_id": run_id})
    return run_id


def check_target(out: Path, force: bool, flag: str = "--out") -> None:
    """Refuse (exit 2, naming the path) anything the final move could not or must not replace.

    Checked before any work: a file or link where the folder must be, a folder holding foreign files,
    a run folder without `--force`, a folder whose parent cannot be created or written.
    """
    try:
        if out.is_symlink():
            raise _refuse(f"{flag} {out} is a symbolic link; give the real folder or a new name.")
        if out.exists():
            if not out.is_dir():
                raise _refuse(f"{flag} {out} exists and is not a folder; choose another {flag}.")
            foreign = foreign_entries(out)
            if foreign:
                shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
                raise _refuse(f"{out} holds files the planner did not write ({shown}), so it is not a run folder; "
                              f"refusing to replace it (even with --force). Choose another {flag}.")
            if any(out.iterdir()):
                if not has_marker(out) and force:
                    raise _refuse(f"{out} has no {MARKER} marker, so it was not written by this planner as a run "
                                  "folder; refusing to replace it. Delete it yourself or choose another "
                                  f"{flag}.")
                if not force:
                    raise _refuse(f"{out} already holds a run; pass --force to replace it or choose another {flag}.")
        parent = _existing_ancestor(out.parent)
        if not parent.is_dir():
            raise _refuse(f"cannot create {flag} {out}: {parent} is not a folder.")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise _refuse(f"cannot create {flag} {out}: {parent} is not writable.")
    except OSError as exc:
        raise _refuse(f"cannot use {flag} {out}: {exc.strerror or exc}. Choose another {flag}.") from None


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


# ------------------------------------------------------------------ renames


_NOREPLACE: Callable[[str, str], None] | None = None


def _load_renameat2() -> Callable[[str, str], None] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    at_fdcwd, rename_noreplace = -100, 1

    def rename_noreplace_fn(src: str, dst: str) -> None:
        if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), rename_noreplace) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), dst)

    return rename_noreplace_fn


def rename_noreplace(src: Path, dst: Path) -> None:
    """Move `src` to `dst`; raise FileExistsError if `dst` exists (atomically where the OS allows)."""
    global _NOREPLACE
    if _NOREPLACE is None:
        _NOREPLACE = _load_renameat2() or _locked_rename
    try:
        _NOREPLACE(str(src), str(dst))
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise FileExistsError(errno.EEXIST, "exists", str(dst)) from None
        if exc.errno in (errno.ENOSYS, errno.EINVAL) and _NOREPLACE is not _locked_rename:
            _NOREPLACE = _locked_rename  # kernel or file system without RENAME_NOREPLACE
            rename_noreplace(src, dst)
            return
        raise


def _locked_rename(src: str, dst: str) -> None:
    """Fallback: an exclusive lock file beside `dst` serialises planner runs; then check and rename."""
    lock = Path(dst).with_name(f".{Path(dst).name}.lock")
    with _exclusive(lock):
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "exists", dst)
        os.rename(src, dst)


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o666)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        yield
    finally:
        os.close(fd)


# ------------------------------------------------------------------ assembling


def new_temp_folder(out: Path) -> Path:
    """A fresh hidden sibling `.NAME.tmp-PID-XXXX`, created with the umask's permissions (0755 usually)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.mkdir(tmp, 0o777)
            return tmp
        except FileExistsError:
            continue


def recover(out: Path, marked: Callable[[Path], bool] = has_marker, tmp_tag: str = "tmp", what: str = "run",
            tmp_removable: Callable[[Path], bool] | None = None) -> list[str]:
    """Undo what a killed run left behind for `out` (call it before writing `out`); returns notes for the user.

    A `.NAME.old-*/run` (old folder moved aside, new one never moved in) goes back to `out` if `out` is missing and
    `marked(run)` says the planner wrote it (a run folder's marker; `planner.sweep.folder` passes its manifest
    check). Temp folders `.NAME.<tmp_tag>-PID-XXXX` of processes that no longer run are removed, if
    `tmp_removable(folder)` (default: they hold only run-folder files). `what` names the folder in the note.
    """
    removable = tmp_removable or (lambda folder: not foreign_entries(folder))
    notes: list[str] = []
    parent = out.parent
    if not parent.is_dir():
        return notes
    for entry in sorted(parent.glob(f".{glob_escape(out.name)}.old-*")):
        saved = entry / "run"
        if saved.is_dir() and marked(saved) and not os.path.lexists(out):
            try:
                rename_noreplace(saved, out)
                shutil.rmtree(entry, ignore_errors=True)
                notes.append(f"restored the previous {what} {out} from {entry} (an earlier run was stopped mid-swap)")
            except OSError:
                pass
    prefix = f".{out.name}.{tmp_tag}-"
    for entry in parent.glob(f"{glob_escape(prefix)}*"):
        m = re.fullmatch(rf"{re.escape(prefix)}(\d+)-[0-9a-f]+", entry.name)
        if m and not _alive(int(m.group(1))) and entry.is_dir() and not entry.is_symlink() and removable(entry):
            shutil.rmtree(entry, ignore_errors=True)
    return notes


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def install(tmp: Path, out: Path, force: bool) -> None:
    """Move the finished folder `tmp` to `out` (see the module doc); `tmp` is gone afterwards on success."""
    if os.path.isdir(out) and not os.path.islink(out) and not any(os.scandir(out)):
        with contextlib.suppress(OSError):  # an empty folder the user made: take its place (rmdir fails if filled)
            os.rmdir(out)
    if not os.path.lexists(out) or not force:
        _install_new(tmp, out)  # refuses anything that appeared since the checks (another run)
        return
    check_target(out, force)
    aside = Path(out.with_name(f".{out.name}.old-{secrets.token_hex(4)}"))
    os.mkdir(aside, 0o700)
    old = aside / "run"
    os.rename(out, old)
    try:
        rename_noreplace(tmp, out)
    except BaseException as exc:
        try:
            rename_noreplace(old, out)
            os.rmdir(aside)
        except OSError:
            raise _refuse(f"could not move the new run into {out} ({exc}); the previous run is kept in {old}: "
                          f"move it back with `mv {old} {out}`.") from None
        if isinstance(exc, FileExistsError):
            raise _refuse(f"another run wrote {out} at the same time; the previous run was restored and this "
                          "run's results were not written. Run again.") from None
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _install_new(tmp: Path, out: Path) -> None:
    try:
        rename_noreplace(tmp, out)
    except FileExistsError:
        raise _refuse(f"{out} was created by another run (or program) while this one was writing; nothing was replaced and "
                      "this run's results were not written. Choose another --out or pass --force.") from None


@contextlib.contextmanager
def assembling(out: Path, force: bool) -> Iterator[Path]:
    """Yield a temp folder to fill; on success it becomes `out` (with a marker), on failure it is removed."""
    out = Path(os.path.abspath(out))
    for note in recover(out):
        print(f"note: {note}", file=sys.stderr, flush=True)
    check_target(out, force)
    tmp = new_temp_folder(out)
    try:
        yield tmp
        write_marker(tmp)
        install(tmp, out, force)
    finally:
        if os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
