"""The Python API keeps the CLI's promises (issue #24, leftovers 4 and the API review).

`planner.topology.build_topology` is bounded like `planner topology`: past each limit (servers, chips, graph size)
it raises `InputError` at once, before building anything, and a count that is not a whole number >= 0 is refused.
`plan()`, `Plan.table` and `Plan.write` raise `InputError` (the documented type) for every bad argument kind. The
over-limit entries are computed from the module limits and each chip's per-server figures, for every chip the
example's sites can hold.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from planner.api import TABLES, Plan, check_arguments
from planner.errors import InputError
from planner.io.loader import load_inputs
from planner.topology import Installed, build_topology
from planner.topology import installed as inst
from planner.topology.fabric import graph_size_per_server
from planner.topology.templates import template_from_chip
from tests.conftest import EXAMPLE

INPUTS = load_inputs(EXAMPLE)
SITE = next(iter(INPUTS.sites.values()))
RACK = SITE.rack_types[0].rack_type_id


def _over_each_limit() -> list[tuple[str, str, int]]:
    """(chip, limit name, servers just past that limit alone) for every catalog chip, per limit it reaches first."""
    out = []
    for chip_id, chip in INPUTS.chips.items():
        t = template_from_chip(chip)
        per_graph = graph_size_per_server(t)
        limits = {"servers": inst.MAX_TOPOLOGY_SERVERS, "chips": inst.MAX_TOPOLOGY_CHIPS // t.chips_per_server,
                  "graph": inst.MAX_TOPOLOGY_GRAPH // max(per_graph, 1)}
        first = min(limits, key=lambda k: limits[k])
        out.append((chip_id, first, limits[first] + 1))
    return out


OVER = _over_each_limit()


def test_the_generated_cases_reach_every_limit() -> None:
    assert {limit for _, limit, _ in OVER} == {"servers", "chips", "graph"}, OVER


@pytest.mark.parametrize(("chip", "limit", "servers"), OVER, ids=[f"{c}-{k}" for c, k, _ in OVER])
def test_build_topology_refuses_one_server_past_its_first_limit_at_once(chip: str, limit: str, servers: int) -> None:
    t0 = time.perf_counter()
    with pytest.raises(InputError) as info:
        build_topology(INPUTS.sites, INPUTS.chips, [Installed(SITE.site_id, RACK, chip, servers)])
    assert time.perf_counter() - t0 < 2
    message = info.value.problems[0].message
    assert f"{servers:,} servers of {chip}" in message and "draws at most 40,000 servers" in message, message


@pytest.mark.parametrize("servers", [10**12, 10**400])
def test_an_absurd_count_is_refused_at_once(servers: int) -> None:
    t0 = time.perf_counter()
    with pytest.raises(InputError):
        build_topology(INPUTS.sites, INPUTS.chips, [Installed(SITE.site_id, RACK, "h100_sxm", servers)])
    assert time.perf_counter() - t0 < 2


@pytest.mark.parametrize("field", ["servers", "rack_index"])
@pytest.mark.parametrize("value", [-1, 1.0, 1e12, "3", True, None, [1]])
def test_a_count_that_is_not_a_whole_number_is_an_input_error(field: str, value: Any) -> None:
    if field == "rack_index" and value is None:
        pytest.skip("None is a valid rack_index (pack freely)")
    kw = {"servers": 1, field: value}
    with pytest.raises(InputError) as info:
        build_topology(INPUTS.sites, INPUTS.chips, [Installed(SITE.site_id, RACK, "h100_sxm", **kw)])
    assert "whole numbers >= 0" in str(info.value)


def test_a_small_fleet_still_builds() -> None:
    g = build_topology(INPUTS.sites, INPUTS.chips, [Installed(SITE.site_id, RACK, "h100_sxm", 2)])
    assert sum(1 for _, d in g.nodes(data=True) if d["kind"] == "server") == 2


# ------------------------------------------------------------------------------------------------ plan() arguments

BAD_ARGUMENTS = {
    "a set of overrides": ({"scenario_path": str(EXAMPLE), "overrides": {"policy.headroom_fraction=0.2"}}, "overrides"),
    "a frozenset of overrides": ({"scenario_path": str(EXAMPLE), "overrides": frozenset({"a.b=1"})}, "overrides"),
    "a path with a leading space": ({"scenario_path": f" {EXAMPLE}"}, "scenario_path"),
    "a path with a trailing newline": ({"scenario_path": f"{EXAMPLE}\n"}, "scenario_path"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_plan_arguments_are_located_input_errors(case: str) -> None:
    kwargs, locator = BAD_ARGUMENTS[case]
    with pytest.raises(InputError) as info:
        check_arguments(kwargs["scenario_path"], kwargs.get("overrides"), None, None)
    assert [(p.file, p.locator) for p in info.value.problems] == [("plan() arguments", locator)], str(info.value)


DOC = {"status": "optimal", "kpis": {"a": 1}, "purchases": [{"chip": "b200", "servers": 3}], "notes": ["x"],
       "capacity": []}
PLAN = Plan(SimpleNamespace(plan=DOC), {})  # type: ignore[arg-type] - only `plan` is read by these methods


@pytest.mark.parametrize("name", ["status", "kpis", "notes", "purchase", "", 3, None])
def test_a_name_that_is_not_a_table_is_an_input_error(name: Any) -> None:
    with pytest.raises(InputError) as info:
        PLAN.table(name)
    assert info.value.problems[0].locator == "name"
    if name == "purchase":
        assert "did you mean 'purchases'" in str(info.value)


@pytest.mark.parametrize("name", TABLES)
def test_every_documented_table_reads_also_when_absent(name: str) -> None:
    frame = PLAN.table(name)
    assert len(frame) == len(DOC.get(name) or [])


@pytest.mark.parametrize(("out_dir", "force", "locators"), [
    (None, False, ["out_dir"]), (5, False, ["out_dir"]), (b"x", False, ["out_dir"]), ("", False, ["out_dir"]),
    ("x", "yes", ["force"]), ("x", 1, ["force"]), (None, None, ["out_dir", "force"]),
])
def test_write_refuses_bad_arguments_before_writing(tmp_path, monkeypatch, out_dir: Any, force: Any,
                                                    locators: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as info:
        PLAN.write(out_dir, force)
    assert [p.locator for p in info.value.problems] == locators
    assert list(tmp_path.iterdir()) == []
