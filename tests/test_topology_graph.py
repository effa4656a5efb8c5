"""Building the graph: racking, scale-up domains, fabric shapes and rack capacity on small hand-built sites."""

from __future__ import annotations

import pytest

from planner.errors import InputError
from planner.topology.build import build_topology
from planner.topology.capacity import rack_capacity
from planner.topology.domains import domain_of, domain_sizes, scaleup_domains
from planner.topology.examples import example_chip, example_chips, rack_type, site
from planner.topology.installed import Installed

CHIPS = example_chips()


def one_site(*rack_types):
    return {"s": site("s", *rack_types)}


def edges_of_kind(g, kind):
    return [(a, b) for a, b, d in g.edges(data=True) if d["kind"] == kind]


def test_hgx_servers_give_domains_of_eight():
    # 5 servers of 10.2 kW in 40 kW racks: 3 + 2
    g = build_topology(one_site(rack_type("air40", 4, 40)), CHIPS, [Installed("s", "air40", "h100_sxm", 5)])
    assert domain_sizes(g) == {("h100_sxm", 8): 5}
    racks = {r.rack_id: r.servers for r in rack_capacity(g) if r.servers}
    assert racks == {"s/air40/r0": 3, "s/air40/r1": 2}
    assert sum(1 for _, d in g.nodes(data=True) if d["kind"] == "chip") == 40
    assert domain_of(g, "s/air40/r1/s0/c3") == frozenset(f"s/air40/r1/s0/c{j}" for j in range(8))


def test_nvl72_rack_is_one_domain_of_72():
    g = build_topology(one_site(rack_type("liq", 2, 135, 48, "liquid")), CHIPS, [Installed("s", "liq", "gb200", 1)])
    assert domain_sizes(g) == {("gb200", 72): 1}
    (d,) = scaleup_domains(g)
    assert d.racks == ("s/liq/r0",) and d.servers == ("s/liq/r0/s0",)


def test_nvl72_trays_form_one_domain_per_rack():
    # trays: 4 x 1,200 W + 2,533 W = 7,333 W and 2 U; 18 trays = 132.0 kW and 36 U fit a 135 kW, 48 U rack
    g = build_topology(one_site(rack_type("liq", 2, 135, 48, "liquid")), CHIPS, [Installed("s", "liq", "gb200_tray", 36)])
    assert domain_sizes(g) == {("gb200_tray", 72): 2}
    assert [d.racks for d in scaleup_domains(g)] == [("s/liq/r0",), ("s/liq/r1",)]


def test_tray_domain_split_by_small_racks_becomes_two_domains():
    # 80 kW racks hold floor(80,000 / 7,333) = 10 trays: the 18-tray domain splits 10 + 8 -> 40 + 32 GPUs
    g = build_topology(one_site(rack_type("liq80", 2, 80, 48, "liquid")), CHIPS, [Installed("s", "liq80", "gb200_tray", 18)])
    assert domain_sizes(g) == {("gb200_tray", 40): 1, ("gb200_tray", 32): 1}


def test_tpu_slice_spans_racks_on_a_torus():
    # TPU v5e hosts: 8 x 200 W + 400 W = 2 kW, 2 U; 20 kW racks hold 10; 32 hosts -> 4 racks, one 256-chip slice
    g = build_topology(one_site(rack_type("air20", 4, 20)), CHIPS, [Installed("s", "air20", "tpu_v5e", 32)])
    (d,) = scaleup_domains(g)
    assert d.size == 256 and len(d.racks) == 4
    ici = edges_of_kind(g, "ici")
    assert len(ici) == 256 * 4 // 2                      # 16 x 16 torus: 4 links per chip
    assert g.edges[ici[0]]["bandwidth_gbs"] == pytest.approx(50.0)   # 400 GB/s bidirectional / 2 / 4 ports


def test_groq_nodes_chain_across_racks():
    # GroqNode: 8 x 300 W + 1,000 W = 3.4 kW; 20 kW racks hold 5; 9 nodes -> racks of 5 and 4, one C2C domain
    g = build_topology(one_site(rack_type("air20", 2, 20)), CHIPS, [Installed("s", "air20", "groq_lpu_v1", 9)])
    (d,) = scaleup_domains(g)
    assert d.size == 72 and d.racks == ("s/air20/r0", "s/air20/r1")


def test_fabric_shapes():
    g = build_topology(one_site(rack_type("air40", 2, 40)), CHIPS,
                       [Installed("s", "air40", "mi300x", 1), Installed("s", "air40", "h100_sxm", 1), Installed("s", "air40", "l40s", 1)])
    assert len(edges_of_kind(g, "xgmi")) == 28          # full mesh of 8: 8 x 7 / 2
    assert len(edges_of_kind(g, "nvswitch")) == 8       # star: every GPU to one switch node
    nv = edges_of_kind(g, "nvswitch")[0]
    assert g.edges[nv]["bandwidth_gbs"] == 450 and g.edges[nv]["bandwidth_gbps"] == 3600   # 900 GB/s bidirectional
    assert domain_sizes(g)[("l40s", 1)] == 8            # PCIe cards: no scale-up fabric


def test_racks_hold_one_chip_type_and_report_free_capacity():
    g = build_topology(one_site(rack_type("air40", 5, 40)), CHIPS,
                       [Installed("s", "air40", "h100_sxm", 2), Installed("s", "air40", "mi300x", 1)])
    rows = {r.rack_id: r for r in rack_capacity(g)}
    r0 = rows["s/air40/r0"]
    assert (r0.contents, r0.used_kw, r0.free_kw, r0.used_units, r0.free_units) == ("h100_sxm x2", 20.4, 19.6, 16, 26)
    assert r0.room_servers == 1                         # min(floor(19.6 / 10.2), floor(26 / 8)) = min(1, 3)
    assert rows["s/air40/r1"].contents == "mi300x x1"
    empty = rows["s/air40/empty"]
    assert (empty.racks, empty.free_kw, empty.servers) == (3, 40, 0)


def test_rack_scale_systems_get_a_rack_each():
    # a 20 U variant of NVL72 would fit twice by space (60 / 20) and power (300 / 132); it is still one per rack
    chips = dict(CHIPS, gb200=example_chip("gb200", rack_units=20))
    g = build_topology(one_site(rack_type("liq300", 2, 300, 60, "liquid")), chips, [Installed("s", "liq300", "gb200", 2)])
    assert [r.servers for r in rack_capacity(g)] == [1, 1]


def test_unknown_ids_are_reported_together():
    with pytest.raises(InputError) as err:
        build_topology(one_site(rack_type("air40", 1, 40)), CHIPS,
                       [Installed("s", "nope", "h100_sxm", 1), Installed("x", "air40", "h100_sxm", 1), Installed("s", "air40", "zz", 1)])
    report = err.value.report()
    assert "3 problems" in report and "no rack type 'nope'" in report and "unknown site 'x'" in report and "'zz'" in report
