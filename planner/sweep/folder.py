"""Output folders of `sweep`, `compare` and `topology`: owned by a manifest, locked while written, installed whole
(`topology` only uses the ownership rule: its three files are rewritten in place).

A folder the planner writes holds a manifest (`.fleet-planner-sweep` / `.fleet-planner-compare`, JSON): the kind,
the identity of what it holds (for a sweep: a hash of every point's full resolved inputs) and the files it wrote.
The rules, as for `planner plan --out` (`planner.results.run_folder`):

- a folder holding anything its manifest does not list (or, for a folder of an older planner without a manifest,
  anything that is not one of the known output names) is never written into or replaced, even with `--force`;
- a folder holding other results (another sweep, any comparison) is replaced only with `--force`;
- the results are assembled in a hidden sibling `.NAME.<kind>-tmp-PID-XXXX` and moved into place whole: the old
  folder moves aside to `.NAME.old-XXXX/run`, the new one moves in, the old one is removed. A failure leaves the
  previous folder as it was; a kill between the two moves is undone by the next run into NAME;
- while it runs, a command holds an exclusive lock on the sibling `.NAME.lock` (removed when it ends): a second
  command into the same folder exits 2 at once instead of racing it.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import json
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import EXIT_BAD_INPUT, PlannerError
from planner.results.run_folder import recover as run_folder_recover
from planner.results.run_folder import rename_noreplace

_ATOMIC_TMP = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")
#: a cached point (`planner.sweep.point.point_key`: 24 hex digits)
_CACHE_ENTRY = re.compile(r"^[0-9a-f]{24}\.json$")


@dataclass(frozen=True)
class Kind:
    """What a folder kind holds: its manifest name, the output names an older planner wrote without a manifest,
    and subfolders of cached files (`points/`: `*.json`) kept across runs of the same command."""

    name: str
    manifest: str
    legacy: tuple[str, ...]
    cache_dirs: tuple[str, ...] = ()
    #: an older planner wrote this kind without any marker: a folder holding only `legacy` names is its output
    legacy_unmarked: bool = False


SWEEP = Kind("sweep", ".fleet-planner-sweep", ("sweep.csv", "sweep.xlsx", "chart_*.png", "tornado.png"), ("points",))
COMPARE = Kind("compare", ".fleet-planner-compare", ("comparison.xlsx", "comparison.html"), legacy_unmarked=True)
#: `planner topology --out`: its three outputs; an unmarked folder is never taken for one (a user's own
#: topology.png has the same name)
TOPOLOGY = Kind("topology", ".fleet-planner-topology", ("topology.graphml", "topology.png", "racks.csv"))


def _refuse(msg: str) -> PlannerError:
    return PlannerError(msg, EXIT_BAD_INPUT)


def read_manifest(out: Path, kind: Kind) -> dict[str, Any] | None:
    """The manifest of `out`: None without one; `{}` for the empty marker of an older planner or a damaged one."""
    f = out / kind.manifest
    if f.is_symlink() or not f.is_file():
        return None
    try:
        data = json.loads(f.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def foreign_entries(out: Path, kind: Kind, manifest: dict[str, Any] | None) -> list[str]:
    """Entries of `out` the planner did not write (by the manifest, or by the known names for an older folder)."""
    listed = set(manifest.get("files") or []) if manifest else set()
    foreign = []
    for entry in sorted(os.scandir(out), key=lambda e: e.name):
        name = entry.name
        if entry.is_symlink():
            foreign.append(name)
        elif name in kind.cache_dirs and entry.is_dir(follow_symlinks=False):
            for sub in os.scandir(entry.path):  # cache entries are `<24 hex>.json`: `points/mine.json` is the user's
                if not (sub.is_file(follow_symlinks=False) and (_CACHE_ENTRY.match(sub.name) or _ATOMIC_TMP.match(sub.name))):
                    foreign.append(f"{name}/{sub.name}")
        elif not entry.is_file(follow_symlinks=False) or not (name == kind.manifest or name in listed or _ATOMIC_TMP.match(name)
                  or (not listed and any(fnmatch.fnmatchcase(name, p) for p in kind.legacy))):
            foreign.append(name)
    return foreign


def check_target(out: Path, kind: Kind, identity: str, force: bool, flag: str = "--out") -> dict[str, Any] | None:
    """Refuse (exit 2) an --out the planner must not write; returns its manifest (None for a new/empty folder).

    An earlier run of the same `identity` is resumed without `--force`; other results need `--force`."""
    try:
        if out.is_symlink():
            raise _refuse(f"{flag} {out} is a symbolic link; give the real folder or a new name.")
        if not out.exists():
            return None
        if not out.is_dir():
            raise _refuse(f"{flag} {out} exists and is not a folder; choose another {flag}.")
        if not any(out.iterdir()):
            return None
        manifest = read_manifest(out, kind)
        if manifest is None and kind.legacy_unmarked and not foreign_entries(out, kind, {}):
            manifest = {}  # the output of an older planner, which wrote no marker
        if manifest is None:
            raise _refuse(f"{flag} {out} holds files that no {kind.name} wrote (no {kind.manifest} marker); the "
                          f"{kind.name} would overwrite them. Choose a new or empty folder"
                          + (", or the folder of an earlier sweep to resume it." if kind is SWEEP else "."))
        foreign = foreign_entries(out, kind, manifest)
        if foreign:
            shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            raise _refuse(f"{out} holds files the planner did not write ({shown}); refusing to write into or "
                          f"replace it (even with --force). Move them away or choose another {flag}.")
        if manifest.get("identity") != identity and not force:
            what = ("another sweep (other scenario, inputs, parameters, samples or solver settings)"
                    if kind is SWEEP else "an earlier comparison")
            raise _refuse(f"{out} already holds {what}; pass --force to replace it, or choose another {flag}.")
        parent = out.parent
        if not os.access(parent, os.W_OK | os.X_OK):
            raise _refuse(f"cannot replace {flag} {out}: its folder {parent} is not writable.")
        return manifest
    except OSError as exc:
        raise _refuse(f"cannot use {flag} {out}: {exc.strerror or exc}. Choose another {flag}.") from None


# ------------------------------------------------------------------ lock


@contextlib.contextmanager
def locked(out: Path, kind: Kind, flag: str = "--out") -> Iterator[None]:
    """Hold the exclusive lock of `out` (the sibling `.NAME.lock`), or exit 2 if another command holds it.

    The lock file is removed on release (while still locked); a command that locked a file already removed
    that way sees another inode at the path and tries again, so two commands never both hold the lock."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.with_name(f".{out.name}.lock")
    for _ in range(5):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise _refuse(f"cannot lock {flag} {out} ({lock}: {exc.strerror or exc}); choose another {flag}.") from None
        try:
            if not _try_lock(fd):
                raise _refuse(f"another planner command is writing {out} right now (it holds {lock}); wait for it "
                              f"to finish, or choose another {flag}. Nothing was written.")
            try:
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)  # the holder removed this file as it finished: lock the new one
    else:
        raise _refuse(f"could not lock {flag} {out} ({lock}); try again.")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)  # closing the descriptor releases the lock


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


# ------------------------------------------------------------------ assembling


def _tmp_prefix(out: Path, kind: Kind) -> str:
    return f".{out.name}.{kind.name}-tmp-"  # recover() removes those of dead processes


def recover(out: Path, kind: Kind) -> list[str]:
    """Undo what a killed run left (called under the lock): put back a folder moved aside mid-swap; remove the
    temp folders of processes that no longer run (`planner.results.run_folder.recover`, with this kind's manifest
    as the marker)."""
    return run_folder_recover(out, marked=lambda saved: read_manifest(saved, kind) is not None,
                              tmp_tag=f"{kind.name}-tmp", what=f"{kind.name} folder", tmp_removable=lambda _folder: True)


def _swap(tmp: Path, out: Path) -> None:
    if os.path.isdir(out) and not os.path.islink(out) and not any(os.scandir(out)):
        with contextlib.suppress(OSError):
            os.rmdir(out)
    if not os.path.lexists(out):
        try:
            rename_noreplace(tmp, out)
        except FileExistsError:
            raise _refuse(f"{out} was created by another program while this run was writing; nothing was replaced "
                          "and this run's results were not written.") from None
        return
    aside = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
    os.mkdir(aside, 0o700)
    os.rename(out, aside / "run")
    try:
        rename_noreplace(tmp, out)
    except BaseException:
        os.rename(aside / "run", out)
        os.rmdir(aside)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@contextlib.contextmanager
def assembling(out: Path, kind: Kind, identity: str, info: dict[str, Any],
               keep: dict[str, list[str]] | None = None) -> Iterator[Path]:
    """Yield an empty temp folder to fill; on success it gets the manifest (listing its top-level files) and the
    `keep` cache files of `out` (`{"points": ["<key>.json", ...]}`, hard-linked) and replaces `out` whole. On any
    failure the temp folder is removed and `out` is left as it was. Call under `locked(out)`."""
    tmp = Path(f"{out.parent / _tmp_prefix(out, kind)}{os.getpid()}-{secrets.token_hex(4)}")
    os.mkdir(tmp, 0o777)
    try:
        yield tmp
        for sub, names in (keep or {}).items():
            (tmp / sub).mkdir(exist_ok=True)
            for name in names:
                src = out / sub / name
                if src.is_file() and not (tmp / sub / name).exists():
                    _link_or_copy(src, tmp / sub / name)
        from planner.results.atomic import write_json_atomic

        files = sorted(e.name for e in os.scandir(tmp) if e.is_file(follow_symlinks=False))
        write_json_atomic(tmp / kind.manifest, {
            "tool": "fleet-planner", "kind": kind.name, "identity": identity, "files": files,
            "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **info})
        _swap(tmp, out)
    finally:
        if os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def start_folder(out: Path, kind: Kind, identity: str, info: dict[str, Any]) -> None:
    """Create a new `out` for a run that caches as it goes (a sweep's points/) with a manifest saying no results
    are written yet; an existing planner folder is left as it is until `assembling` replaces it."""
    from planner.results.atomic import write_json_atomic

    if os.path.lexists(out) and any(os.scandir(out)):
        return
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / kind.manifest, {"tool": "fleet-planner", "kind": kind.name, "identity": identity,
                                            "files": [], "complete": False, **info})


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
