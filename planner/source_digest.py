"""What a cached plan depends on besides its inputs: a digest of the planner's own code and bundled data.

`compare` (`planner.pipeline_cli.cache_key`) and `sweep` (`planner.sweep.point.point_key`) key their caches on it, so
an upgraded planner or a refit of the bundled performance data never reuses a plan made by other code or data.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

#: What a plan depends on besides its inputs: the planner's and solvers' code and the bundled performance data
#: (measured table, fitted engine costs, calibration).
PLANNER_ROOTS: tuple[Path, ...] = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "solvers")
_SOURCE_SUFFIXES = (".py", ".csv", ".json", ".yaml")


def source_digest(roots: tuple[Path, ...] = PLANNER_ROOTS) -> str:
    """sha256 over the relative path and bytes of every code and data file under `roots` (sorted; caches and
    bytecode skipped): a cached plan made by other code or other bundled data is not reused."""
    h = hashlib.sha256()
    for root in roots:
        if not root.is_dir():
            continue
        for f in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _SOURCE_SUFFIXES
                        and "__pycache__" not in p.parts):
            h.update(f"{root.name}/{f.relative_to(root).as_posix()}".encode())
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


@functools.cache
def planner_digest() -> str:
    """`source_digest()` of this planner, once per process (its files do not change under a run): what the plan
    caches of `compare` and `sweep` and the on-disk options cache add to their keys, so a model change without a
    refit never reuses plans or options another planner made."""
    return source_digest()
