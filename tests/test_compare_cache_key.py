"""`compare` reuses a cached plan only for the same inputs on the same planner (code and bundled data)."""

from __future__ import annotations

from pathlib import Path

from planner.pipeline_cli import cache_key
from planner.source_digest import PLANNER_ROOTS, source_digest


def test_source_digest_follows_code_and_data_files(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "data").mkdir(parents=True)
    (root / "mod.py").write_text("x = 1\n")
    (root / "data" / "table.csv").write_text("a,b\n1,2\n")
    (root / "notes.txt").write_text("not code or data the planner reads\n")
    first = source_digest((root,))
    assert source_digest((root,)) == first  # deterministic
    (root / "notes.txt").write_text("changed\n")
    assert source_digest((root,)) == first  # files of other kinds do not count
    (root / "data" / "table.csv").write_text("a,b\n1,3\n")
    second = source_digest((root,))
    assert second != first  # a bundled data file changed
    (root / "mod.py").write_text("x = 2\n")
    assert source_digest((root,)) != second  # the code changed
    (root / "new.py").write_text("")
    assert source_digest((root,)) != second


def test_cache_key_includes_the_planner_itself() -> None:
    """The bundled measured table and fitted costs live under the planner package: they are in the digest."""
    roots = [r.name for r in PLANNER_ROOTS]
    assert roots == ["planner", "solvers"]
    data = PLANNER_ROOTS[0] / "perf" / "data"
    assert (data / "measured.csv").is_file() and (data / "engine_costs.json").is_file()
    key = cache_key("inputs/scenarios/example.yaml", {"mip_gap": 0.01})
    assert key == cache_key("inputs/scenarios/example.yaml", {"mip_gap": 0.01})
    assert key != cache_key("inputs/scenarios/example.yaml", {"mip_gap": 0.02})
