"""The HiGHS process environment every HiGHS user of the planner shares (the monolithic backend, fix-and-optimize,
the LP duals of the binding-limit explanation): a quiet solver instance, its version, and the process-wide thread
pool. A small module of its own, so `solvers.backends` and `solvers.decompose` both depend on it and neither reaches
into the other's private state.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: HiGHS's thread pool is process-wide: the first value asked for sticks (`claim_threads`)
_THREADS: list[int] = []


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout (the HiGHS constructor prints a banner even with output off)."""
    try:
        fd = os.dup(1)
    except OSError:  # no real stdout (embedded use)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(fd, 1)
        os.close(fd)


def new_highs():  # type: ignore[no-untyped-def]
    """A HiGHS instance with its output off (every HiGHS solve of the planner is created here)."""
    import highspy

    with quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def read_model(h: Any, model: Any) -> bool:
    """Pass a `solvers.model.PlanModel` to the HiGHS instance `h` through the MPS file PuLP writes (the one path every
    HiGHS solve of the planner takes); False when HiGHS cannot read it. Read before setting options: reading resets
    the run state."""
    import highspy

    with tempfile.TemporaryDirectory(prefix="planner-") as tmp:
        mps = Path(tmp) / "model.mps"
        model.prob.writeMPS(str(mps))
        return h.readModel(str(mps)) != highspy.HighsStatus.kError


@functools.cache
def highs_version() -> str:
    """HiGHS version (asked once per process: it takes a solver instance)."""
    try:
        import highspy

        h = new_highs()
        return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}" if hasattr(h, "versionMajor") else getattr(highspy, "__version__", "?")
    except Exception:  # noqa: BLE001
        return "unknown"


def claim_threads(asked: int) -> tuple[int, str | None]:
    """(threads HiGHS will use, a note when that is not what was asked): the first call's value holds for the
    process, since HiGHS creates its thread pool once."""
    if not _THREADS:
        _THREADS.append(int(asked))
    kept = _THREADS[0]
    return kept, (None if asked == kept else f"HiGHS threads are process-wide: kept {kept} (asked {asked})")
