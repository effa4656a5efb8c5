"""Outputs and CLI: GraphML, picture and per-rack CSV; exit codes and messages instead of tracebacks."""

from __future__ import annotations

import argparse
import sys
import types

import networkx as nx
import pandas as pd
import pytest

from planner.errors import InputError, Problem
from planner.schemas.sites import FleetEntry
from planner.topology.cli import add_topology_parser, run_topology
from planner.topology.examples import demo_fleet
from planner.topology.installed import installed_from_rows
from planner.topology.outputs import write_topology_outputs


def test_outputs_written_and_readable(tmp_path):
    sites, chips, installed = demo_fleet()
    out = write_topology_outputs(sites, chips, installed, tmp_path)
    back = nx.read_graphml(out.graphml)
    assert back.number_of_nodes() == out.graph.number_of_nodes()
    edge = next(d for _, _, d in back.edges(data=True) if d["kind"] == "nvswitch")
    assert edge["bandwidth_gbps"] == pytest.approx(8 * edge["bandwidth_gbs"])
    assert out.picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.picture.stat().st_size > 20_000
    table = pd.read_csv(out.racks_csv, keep_default_na=False)
    bad = table[table["problems"] != ""]
    assert list(bad["rack_id"]) == ["dc-west/air150/r0"] and list(bad["problems"]) == ["cooling"]
    assert {"rack_id", "used_kw", "free_kw", "free_units", "cooling", "contents"} <= set(table.columns)


def parse(argv):
    parser = argparse.ArgumentParser(prog="planner")
    add_topology_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def fake_loader(monkeypatch, load):
    module = types.ModuleType("planner.io.loader")
    module.load_inputs = load
    monkeypatch.setitem(sys.modules, "planner.io.loader", module)


def demo_inputs(_path):
    sites, chips, installed = demo_fleet()
    fleet = [FleetEntry(site_id=e.site_id, rack_type_id=e.rack_type_id, chip_id=e.chip_id, servers=e.servers,
                        installed_quarter="2026Q1") for e in installed]
    return types.SimpleNamespace(scenario=types.SimpleNamespace(name="demo"), sites=sites, chips=chips, fleet=fleet)


def test_cli_writes_outputs_and_lists_problems(tmp_path, monkeypatch, capsys):
    fake_loader(monkeypatch, demo_inputs)
    args = parse(["topology", "scenario.yaml", "--out", str(tmp_path / "topo")])
    assert args.func is run_topology
    assert run_topology(args) == 0
    out = capsys.readouterr().out
    assert "[cooling] rack dc-west/air150/r0" in out
    assert {p.name for p in (tmp_path / "topo").iterdir()} == {"topology.graphml", "topology.png", "racks.csv",
                                                               ".fleet-planner-topology"}  # its ownership marker
    assert run_topology(parse(["topology", "s.yaml", "--out", str(tmp_path / "t2"), "--strict"])) == 2


def test_cli_reports_input_errors_with_exit_2(tmp_path, monkeypatch, capsys):
    def bad(_path):
        raise InputError([Problem("sites.yaml", "sites[0].rack_types[1].power_kw", "must be > 0")])
    fake_loader(monkeypatch, bad)
    assert run_topology(parse(["topology", "s.yaml", "--out", str(tmp_path)])) == 2
    err = capsys.readouterr().err
    assert "(sites.yaml, sites[0].rack_types[1].power_kw) | must be > 0" in err and "Traceback" not in err


def test_cli_purchases_with_unknown_chip(tmp_path, monkeypatch, capsys):
    fake_loader(monkeypatch, demo_inputs)
    csv = tmp_path / "purchases.csv"
    csv.write_text("site_id,rack_type_id,chip_id,servers,quarter\ndc-east,air40,h100_sxm,3,2027Q1\ndc-east,air40,h900,1,2027Q2\n")
    assert run_topology(parse(["topology", "s.yaml", "--out", str(tmp_path / "o"), "--purchases", str(csv)])) == 2
    assert "unknown chip 'h900'" in capsys.readouterr().err


def test_cli_internal_errors_become_messages(tmp_path, monkeypatch, capsys):
    def broken(_path):
        raise RuntimeError("boom")
    fake_loader(monkeypatch, broken)
    assert run_topology(parse(["topology", "s.yaml", "--out", str(tmp_path)])) == 1
    assert "internal error (RuntimeError: boom)" in capsys.readouterr().err


def test_purchase_rows_are_validated():
    rows = [{"site_id": "a", "rack_type_id": "t", "chip_id": "c", "servers": "2"},
            {"site_id": "a", "rack_type_id": "t", "chip_id": "c", "servers": "two"},
            {"site_id": "a", "rack_type_id": "", "chip_id": "c", "servers": "1"}]
    with pytest.raises(InputError) as err:
        installed_from_rows(rows, "purchases.csv")
    assert [p.locator for p in err.value.problems] == ["row 3, servers", "row 4"]
    assert installed_from_rows(rows[:1], "p.csv")[0].servers == 2


def test_plan_racks_become_pinned_installed_entries() -> None:
    from planner.topology.installed import installed_from_plan

    plan = {"horizon": {"quarters": ["2027Q1", "2027Q2"]}, "racks": [
        {"quarter": "2027Q1", "site": "s", "rack": "s/air/0001", "rack_type": "air", "chip": "h100_sxm", "servers": 3},
        {"quarter": "2027Q2", "site": "s", "rack": "s/air/0001", "rack_type": "air", "chip": "h100_sxm", "servers": 2},
        {"quarter": "2027Q2", "site": "s", "rack": "s/air/0007", "rack_type": "air", "chip": "b200", "servers": 1},
    ]}
    entries, q = installed_from_plan(plan)
    assert q == "2027Q2"
    assert sorted((e.chip_id, e.servers, e.rack_index) for e in entries) == [("b200", 1, 6), ("h100_sxm", 2, 0)]
    entries, q = installed_from_plan(plan, "2027Q1")
    assert [(e.servers, e.rack_index) for e in entries] == [(3, 0)]


# Every id of a purchases row, or of a plan's racks row, that the scenario lacks is located at its file, row and
# column (issue 24, fourth attack: it was `(installed hardware, plan entry 3 (mars/air40, h100_sxm))`).
GOOD_ROW = {"site_id": "dc-east", "rack_type_id": "air40", "chip_id": "h100_sxm", "servers": "2"}
PLAN_FIELDS = {"site_id": "site", "rack_type_id": "rack_type", "chip_id": "chip"}


@pytest.mark.parametrize("field", ["site_id", "rack_type_id", "chip_id"])
def test_an_unknown_id_in_a_purchases_csv_is_located_at_its_row_and_column(tmp_path, field):
    from planner.topology.installed import read_purchases_csv
    from planner.topology.racking import check_installed

    sites, chips, _ = demo_fleet()
    bad = {**GOOD_ROW, field: "zz-unknown"}
    f = tmp_path / "p.csv"
    f.write_text(",".join(GOOD_ROW) + "\n" + ",".join(GOOD_ROW.values()) + "\n" + ",".join(bad.values()) + "\n")
    with pytest.raises(InputError) as err:
        check_installed(sites, chips, read_purchases_csv(f))
    assert [(p.file, p.locator) for p in err.value.problems] == [("p.csv", f"row 3, {field}")], err.value.problems


@pytest.mark.parametrize("field", ["site_id", "rack_type_id", "chip_id"])
def test_an_unknown_id_in_a_plans_racks_is_located_at_its_row(field):
    from planner.topology.installed import installed_from_plan
    from planner.topology.racking import check_installed

    sites, chips, _ = demo_fleet()
    row = {"quarter": "2027Q1", "site": "dc-east", "rack_type": "air40", "chip": "h100_sxm", "servers": 1}
    row[PLAN_FIELDS[field]] = "zz-unknown"
    row["rack"] = f"{row['site']}/{row['rack_type']}/0001"
    installed, _ = installed_from_plan({"horizon": {"quarters": ["2027Q1"]}, "racks": [row]})
    with pytest.raises(InputError) as err:
        check_installed(sites, chips, installed)
    assert [(p.file, p.locator) for p in err.value.problems] == [("plan.json", f"racks[0].{PLAN_FIELDS[field]}")]


@pytest.mark.parametrize("quarter", ["2027Q5", "2027q1", "27Q1", "2027-Q1", "next year"])
def test_a_purchase_quarter_that_is_not_one_is_refused(quarter):
    with pytest.raises(InputError) as err:
        installed_from_rows([{**GOOD_ROW, "quarter": quarter}], "p.csv")
    assert [p.locator for p in err.value.problems] == ["row 2, quarter"]
    assert installed_from_rows([{**GOOD_ROW, "quarter": ""}], "p.csv")[0].quarter == ""


def _tree(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else None


@pytest.mark.parametrize("earlier", [False, True], ids=["new folder", "earlier topology"])
def test_a_topology_that_fails_midway_leaves_the_folder_as_it_was(tmp_path, monkeypatch, capsys, earlier):
    # The outputs used to be written straight into --out: a full disk after topology.graphml left a new graphml
    # beside the earlier picture, or a folder holding only the marker. Now they are assembled beside it and moved in
    # whole: the failure (ENOSPC while drawing, as on a full disk) leaves --out exactly as it was, and no temp folder.
    import errno

    import planner.topology.outputs as outputs

    fake_loader(monkeypatch, demo_inputs)
    out = tmp_path / "topo"
    if earlier:
        assert run_topology(parse(["topology", "s.yaml", "--out", str(out)])) == 0
    before = _tree(out)

    def full_disk(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs, "draw_topology", full_disk)
    more = tmp_path / "more.csv"  # the second run draws more hardware: its graphml differs from the earlier one
    more.write_text(",".join(GOOD_ROW) + "\n" + ",".join(GOOD_ROW.values()) + "\n")
    assert run_topology(parse(["topology", "s.yaml", "--out", str(out), "--purchases", str(more)])) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == (["more.csv", "topo"] if earlier else ["more.csv"])


@pytest.mark.parametrize("quarter", ["2026Q4", "2027Q3", "2027q1", "soon"])
def test_a_quarter_the_plan_lacks_is_located_at_the_flag(quarter):
    from planner.topology.installed import installed_from_plan

    row = {"quarter": "2027Q1", "site": "dc-east", "rack_type": "air40", "chip": "h100_sxm", "servers": 1,
           "rack": "dc-east/air40/0001"}
    with pytest.raises(InputError) as err:
        installed_from_plan({"horizon": {"quarters": ["2027Q1", "2027Q2"]}, "racks": [row]}, quarter)
    [(file, locator)] = [(p.file, p.locator) for p in err.value.problems]
    assert (file, locator) == ("command line", "--quarter")
