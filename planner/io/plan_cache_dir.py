"""The folder of `planner compare`'s plan cache (`--cache-dir`, default `outputs/.cache`).

The cache writes one `<hash>.json` per plan into its folder, so it never writes among a user's files: the folder
must be new, empty, or a plan cache the planner wrote, recognised by its marker `.fleet-planner-cache` (or, from
before the marker, holding nothing but cache entries). Anything else is refused before planning (exit 2).
"""

from __future__ import annotations

import re
from pathlib import Path

from planner.errors import Problem

MARKER = ".fleet-planner-cache"
#: names the cache writes: entries `<24 hex>.json`, their atomic-write temporaries, the marker
_OWN = re.compile(r"^(?:[0-9a-f]{24}\.json|\.[0-9a-f]{24}\.json\.[0-9a-f]+\.tmp|" + re.escape(MARKER) + r")$")
_SHOWN = 5


def cache_dir_problem(cache_dir: Path, flag: str = "--cache-dir") -> Problem | None:
    """A located problem when `cache_dir` is an existing folder holding anything the plan cache did not write."""
    if not cache_dir.is_dir() or (cache_dir / MARKER).is_file():
        return None
    try:
        foreign = sorted(p.name for p in cache_dir.iterdir() if not _OWN.match(p.name) or not p.is_file())
    except OSError as exc:
        return Problem("command line", flag, f"cannot list {cache_dir}: {exc.strerror or exc}; choose another {flag}.")
    if not foreign:
        return None
    shown = ", ".join(foreign[:_SHOWN]) + (f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else "")
    return Problem("command line", flag, f"{cache_dir} holds files the planner did not write ({shown}); the plan cache "
                   f"writes one file per plan into its folder, so it must be a new or empty folder or an earlier plan "
                   f"cache (marked {MARKER}). Choose another {flag} (default outputs/.cache).")


def claim_cache_dir(cache_dir: Path) -> None:
    """Create the cache folder if needed and mark it as the planner's (before the first entry is written)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    marker = cache_dir / MARKER
    if not marker.is_file():
        marker.write_text("fleet-planner plan cache: one <hash>.json per plan; safe to delete\n", encoding="utf-8")
