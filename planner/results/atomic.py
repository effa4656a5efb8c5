"""Atomic file output: every file the planner writes appears complete or not at all.

The body writes to a temporary file in the destination folder; on success the file is flushed, fsynced
and moved over the destination with `os.replace` (atomic on POSIX and Windows). If the body raises, the
temporary file is deleted and the destination is left untouched.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8",
                 newline: str | None = "") -> Iterator[IO[Any]]:
    """Yield a file object for `path`'s temporary twin; replace `path` with it only if the body succeeds.

    `mode` is "w" (text, UTF-8, no newline translation) or "wb" (binary). The folder must exist.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 lets the umask decide permissions, like a plain open() would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        if mode == "wb":
            fh: IO[Any] = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (POSIX); silently skipped where folders cannot be opened."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def json_ready(obj: Any) -> Any:
    """Plain JSON data from `obj`: NaN/inf -> None, numpy scalars/arrays -> Python, tuples -> lists, sets sorted.

    Key order of mappings is kept as given, so the same object always gives the same text.
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, set | frozenset):
        return [json_ready(v) for v in sorted(obj, key=repr)]
    if isinstance(obj, Path):
        return str(obj)
    tolist = getattr(obj, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return json_ready(tolist())
    raise TypeError(f"cannot write {type(obj).__name__} to JSON: {obj!r:.80}")


def dumps_json(obj: Any) -> str:
    """Deterministic JSON text: 2-space indent, UTF-8 characters kept, no NaN, trailing newline."""
    return json.dumps(json_ready(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write `obj` as deterministic JSON to `path` atomically; returns the path."""
    text = dumps_json(obj)  # serialise first: a bad object never leaves a temp file behind
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    return Path(path)
