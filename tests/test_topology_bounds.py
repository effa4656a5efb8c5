"""Topology size bounds (issue #24, class 2): one `planner topology` run builds at most MAX_TOPOLOGY_SERVERS servers
and MAX_TOPOLOGY_CHIPS chips (fleet, plan and purchases together). Past it the command exits 2 at once with the file,
row and field that pass the limit, before any graph is built; at the limit it draws.

The real limit takes ~30 s to draw, so the at-limit cases lower the module constants (the checks read them at call
time); the over-limit cases run the real CLI in a subprocess with a timeout, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.topology import installed as inst
from planner.topology.installed import (
    MAX_TOPOLOGY_SERVERS,
    Installed,
    check_topology_size,
    installed_from_plan,
    installed_from_rows,
)
from tests.conftest import EXAMPLE, REPO, run_cli

HEADER = "site_id,rack_type_id,chip_id,servers\n"
FLEET_SERVERS = 632  # the bundled example's fleet: 400 + 32 h100/a100 at ashburn, 200 h100 at quincy


def _purchases(tmp_path: Path, *rows: str, name: str = "p.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def _topology_subprocess(tmp_path: Path, purchases: Path, timeout: float = 60) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "planner", "topology", str(EXAMPLE), "--purchases", str(purchases),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=REPO)
    return proc.returncode, proc.stderr, time.perf_counter() - t0


def test_a_row_of_a_trillion_servers_exits_2_at_once(tmp_path: Path) -> None:
    path = _purchases(tmp_path, "ashburn,air40,h100_sxm,1000000000000")
    code, err, seconds = _topology_subprocess(tmp_path, path)
    assert code == 2, err
    assert f"(p.csv, row 2, servers) | must be at most {MAX_TOPOLOGY_SERVERS:,} servers" in err, err
    assert "got 1,000,000,000,000" in err and "one site" in err, err
    assert seconds < 30 and not (tmp_path / "out").exists()


def test_rows_each_within_the_limit_but_over_it_together_exit_2_at_the_row_that_passes_it(tmp_path: Path) -> None:
    half = MAX_TOPOLOGY_SERVERS // 2
    path = _purchases(tmp_path, f"ashburn,air40,h100_sxm,{half}", f"quincy,air40,h100_sxm,{half}",
                      "quincy,air40,h100_sxm,1")
    code, err, seconds = _topology_subprocess(tmp_path, path)
    assert code == 2, err
    total = FLEET_SERVERS + 2 * half
    assert f"(p.csv, row 3, servers) | this entry ({half:,} servers of h100_sxm) brings the topology to " \
           f"{total + 1:,} servers" in err, err
    assert f"at most {MAX_TOPOLOGY_SERVERS:,} servers" in err
    assert seconds < 30 and not (tmp_path / "out").exists()


def test_servers_with_many_links_each_meet_the_graph_limit_first(tmp_path: Path) -> None:
    """8-chip xGMI servers are a full mesh (28 links each): 30,000 of them pass the graph limit, not the server one."""
    path = _purchases(tmp_path, "ashburn,air40,mi300x,30000")
    code, err, seconds = _topology_subprocess(tmp_path, path)
    assert code == 2, err
    assert "(p.csv, row 2, servers) | this entry (30,000 servers of mi300x) brings the topology to about" in err, err
    assert "one server of mi300x adds 46, so at most 23,913 of it alone" in err, err
    assert seconds < 30 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra, code", [(0, 0), (-1, 0), (1, 2)])
def test_at_and_below_the_limit_draws_above_it_does_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str], extra: int, code: int) -> None:
    monkeypatch.setattr(inst, "MAX_TOPOLOGY_SERVERS", FLEET_SERVERS + 10)
    path = _purchases(tmp_path, "quincy,air40,h100_sxm,4", f"quincy,air40,h100_sxm,{6 + extra}")
    got, out, err = run_cli(["topology", str(EXAMPLE), "--out", str(tmp_path / "t"), "--purchases", str(path)], capsys)
    assert got == code, err
    if code == 0:
        assert f"{FLEET_SERVERS + 10 + extra:,} servers" in out and (tmp_path / "t" / "topology.graphml").exists()
    else:
        assert f"(p.csv, row 3, servers) | this entry (7 servers of h100_sxm) brings the topology to " \
               f"{FLEET_SERVERS + 11:,} servers" in err, err
        assert not (tmp_path / "t").exists()


def test_a_single_row_over_the_limit_is_refused_by_the_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inst, "MAX_TOPOLOGY_SERVERS", 10)
    row = {"site_id": "a", "rack_type_id": "r", "chip_id": "c"}
    assert installed_from_rows([{**row, "servers": "10"}], "p.csv")[0].servers == 10
    with pytest.raises(InputError) as exc:
        installed_from_rows([{**row, "servers": "10"}, {**row, "servers": "11"}], "p.csv")
    (p,) = exc.value.problems
    assert (p.file, p.locator) == ("p.csv", "row 3, servers") and "at most 10 servers" in p.message and "got 11" in p.message


def test_the_chip_limit_counts_chips_per_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inst, "MAX_TOPOLOGY_CHIPS", 80)
    rows = [Installed("a", "r", "h100", 5, where=("p.csv", "row 2, servers")),
            Installed("a", "r", "nvl72", 1, where=("p.csv", "row 3, servers"))]
    check_topology_size(rows[:1], {"h100": 8, "nvl72": 72})  # 40 chips
    check_topology_size([Installed("a", "r", "h100", 10)], {"h100": 8})  # 80 chips: at the limit
    with pytest.raises(InputError) as exc:
        check_topology_size(rows, {"h100": 8, "nvl72": 72})
    (p,) = exc.value.problems
    assert (p.file, p.locator) == ("p.csv", "row 3, servers")
    assert "112 chips (6 servers)" in p.message and "at most" in p.message and "80 chips" in p.message


def test_the_graph_limit_counts_nodes_and_links_per_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.topology.examples import example_chip
    from planner.topology.fabric import graph_size_per_server
    from planner.topology.templates import template_from_chip

    assert graph_size_per_server(template_from_chip(example_chip("h100_sxm"))) == 27  # 8 chips, a switch, 17 links
    monkeypatch.setattr(inst, "MAX_TOPOLOGY_GRAPH", 100)
    rows = [Installed("a", "r", "h100", 2, where=("p.csv", "row 2, servers")),
            Installed("a", "r", "mesh", 2, where=("p.csv", "row 3, servers"))]
    check_topology_size(rows[:1], {"h100": 8}, {"h100": 27, "mesh": 46})  # 54
    check_topology_size([Installed("a", "r", "x", 4)], {"x": 8}, {"x": 25})  # 100: at the limit
    with pytest.raises(InputError) as exc:
        check_topology_size(rows, {"h100": 8, "mesh": 8}, {"h100": 27, "mesh": 46})
    (p,) = exc.value.problems
    assert (p.file, p.locator) == ("p.csv", "row 3, servers")
    assert "brings the topology to about 146 graph nodes and links (4 servers;" in p.message, p.message
    assert "at most 40,000 servers, 320,000 chips and 100 graph nodes and links in one run" in p.message
    assert "one server of mesh adds 46, so at most 2 of it alone" in p.message


def test_the_fleet_counts_and_is_located_in_the_sites_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(inst, "MAX_TOPOLOGY_SERVERS", 400)  # the example's first fleet entry has 400 servers
    code, _, err = run_cli(["topology", str(EXAMPLE), "--out", str(tmp_path / "t")], capsys)
    assert code == 2, err
    assert "(sites.yaml, fleet[1].servers) | this entry (32 servers of a100_80gb_sxm) brings the topology to " \
           f"{FLEET_SERVERS:,} servers" in err, err


def _plan(servers: list[int]) -> dict:
    racks = [{"quarter": "2027Q4", "site": "s", "rack_type": "air", "rack": f"s/air/{k + 1:04d}", "chip": "h100",
              "servers": n} for k, n in enumerate(servers)]
    racks.append({"quarter": "2027Q3", "site": "s", "rack_type": "air", "rack": "s/air/0001", "chip": "h100",
                  "servers": 10**6})  # another quarter: not drawn, not counted
    return {"horizon": {"quarters": ["2027Q3", "2027Q4"]}, "racks": racks}


def test_the_plan_path_counts_the_drawn_quarter_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inst, "MAX_TOPOLOGY_SERVERS", 8)
    entries, quarter = installed_from_plan(_plan([4, 4]), label="plan.json")
    assert quarter == "2027Q4"
    check_topology_size(entries, {"h100": 8})  # 8 servers: at the limit
    entries, _ = installed_from_plan(_plan([4, 4, 1]), label="plan.json")
    with pytest.raises(InputError) as exc:
        check_topology_size(entries, {"h100": 8})
    (p,) = exc.value.problems
    assert (p.file, p.locator) == ("plan.json", "racks[2].servers") and "9 servers" in p.message


def test_topology_plan_respects_the_limit(example_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import json

    plan = json.loads((example_run / "plan.json").read_text())
    last = plan["horizon"]["quarters"][-1]
    total = sum(int(r["servers"]) for r in plan["racks"] if r["quarter"] == last)
    args = ["topology", str(EXAMPLE), "--plan", str(example_run / "plan.json")]
    monkeypatch.setattr(inst, "MAX_TOPOLOGY_SERVERS", total)
    code, out, err = run_cli([*args, "--out", str(tmp_path / "at")], capsys)
    assert code == 0 and f"{total:,} servers" in out, err
    monkeypatch.setattr(inst, "MAX_TOPOLOGY_SERVERS", total - 1)
    code, _, err = run_cli([*args, "--out", str(tmp_path / "over")], capsys)
    assert code == 2, err
    assert "(plan.json, racks[" in err and f"brings the topology to {total:,} servers" in err, err
    assert f"at most {total - 1:,} servers" in err and not (tmp_path / "over").exists()
