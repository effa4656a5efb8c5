"""`planner sweep` on the twins scenario: grid, cache/resume, outputs, and Ray giving the same rows as local."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from planner.errors import InputError
from planner.sweep.engine import run_points
from planner.sweep.params import parse_param, parse_params, points
from tests.whatif_cases import write_twins

PARAM = "chip_terms.twin_b.price_usd_per_server=80000:120000:20000"


def _compare(rows: list[dict]) -> list[tuple]:
    return [(r["point"], r["status"], r["objective_usd"], r.get("servers_twin_a", 0), r.get("servers_twin_b", 0)) for r in rows]


def test_params_grid_and_samples() -> None:
    p = parse_param(PARAM)
    assert p.values == (80000, 100000, 120000) and p.integer
    assert parse_param("chip_terms.twin_b.discount_fraction=0:0.4:0.1").values == (0, 0.1, 0.2, 0.3, 0.4)
    grid = points([p, parse_param("policy.redundancy=none,n_plus_1")])
    assert len(grid) == 6 and grid[1] == {"chip_terms.twin_b.price_usd_per_server": 80000, "policy.redundancy": "n_plus_1"}
    s1, s2 = points([p], samples=5, seed=3), points([p], samples=5, seed=3)
    assert s1 == s2 and all(80000 <= x[p.path] <= 120000 for x in s1)
    with pytest.raises(InputError) as exc:
        parse_params(["chip_terms.twin_b.prise_usd_per_server=1:2:1", "policy.headroom_fraction=2:1:1"])
    assert len(exc.value.problems) == 2 and "did you mean" in exc.value.problems[0].message


def test_local_sweep_caches_and_resumes(tmp_path: Path) -> None:
    sc = str(write_twins(tmp_path / "sc"))
    pts = points(parse_params([PARAM]))
    rows = run_points(sc, pts, {}, tmp_path / "out", workers=1)
    # twin_a costs 100k: twin_b (identical) is bought at 80k, twin_a at 120k; the 100k tie may go either way.
    assert rows[0]["servers_twin_b"] == 1 and rows[0]["objective_usd"] == pytest.approx(80_000, abs=10)
    assert rows[2].get("servers_twin_a") == 1 and rows[2]["objective_usd"] == pytest.approx(100_000, abs=10)
    again = run_points(sc, pts, {}, tmp_path / "out", workers=2)
    assert all(r["cached"] for r in again) and _compare(again) == _compare(rows)
    from planner.sweep.outputs import write_outputs

    files = write_outputs(rows, [PARAM.split("=")[0]], tmp_path / "out")
    assert {f.name for f in files} >= {"sweep.csv", "sweep.xlsx", "tornado.png"}
    assert len(pd.read_csv(tmp_path / "out" / "sweep.csv")) == 3


def test_ray_sweep_matches_local(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray not installed (pip install 'fleet-planner[ray]')")
    sc = str(write_twins(tmp_path / "sc"))
    pts = points(parse_params([PARAM]))
    local = run_points(sc, pts, {}, tmp_path / "local", workers=1)
    t0 = time.monotonic()
    ray_rows = run_points(sc, pts, {}, tmp_path / "ray", workers=2, engine="ray")
    print(f"ray sweep of {len(pts)} points: {time.monotonic() - t0:.1f} s")
    assert not any(r["cached"] for r in ray_rows)
    assert _compare(ray_rows) == _compare(local)


def test_sweep_refuses_a_folder_of_foreign_files(tmp_path: Path) -> None:
    """A sweep writes sweep.csv etc. into --out: a folder holding files no sweep wrote is refused (exit 2) before
    any point is planned, and nothing in it changes; an earlier sweep's folder is accepted (resume)."""
    import subprocess
    import sys

    scenario = write_twins(tmp_path / "case")
    cmd = [sys.executable, "-m", "planner.cli", "sweep", str(scenario), "--param",
           "policy.headroom_fraction=0:0.1:0.1", "--workers", "1", "--quiet", "--out"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "sweep.csv").write_text("my own numbers\n")
    r = subprocess.run([*cmd, str(mine)], capture_output=True, text=True, check=False)
    assert r.returncode == 2, r.stderr
    assert "no sweep wrote" in r.stderr
    assert [f.name for f in mine.iterdir()] == ["sweep.csv"]
    assert (mine / "sweep.csv").read_text() == "my own numbers\n"
    fresh = tmp_path / "fresh"
    assert subprocess.run([*cmd, str(fresh)], capture_output=True, text=True, check=False).returncode == 0
    from planner.cli import main  # the resume in-process: the two runs above are the end-to-end CLI runs

    assert main([*cmd[3:], str(fresh)]) == 0  # resume
