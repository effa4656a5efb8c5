"""Physical checks: rack power, space, cooling, rack count, split domains and site power, each with its rack id."""

from __future__ import annotations

from planner.topology.build import build_topology
from planner.topology.checks import check_topology
from planner.topology.examples import example_chips, rack_type, site
from planner.topology.installed import Installed

CHIPS = example_chips()


def checks(sites, installed):
    return [(v.check, v.rack_id) for v in check_topology(build_topology(sites, CHIPS, installed))]


def test_clean_fleet_has_no_violations():
    sites = {"s": site("s", rack_type("air40", 2, 40))}
    assert checks(sites, [Installed("s", "air40", "h100_sxm", 6)]) == []       # 2 racks x 3 servers


def test_rack_over_power():
    # 4 x 10.2 kW = 40.8 kW pinned into one 40 kW rack
    sites = {"s": site("s", rack_type("air40", 2, 40))}
    g = build_topology(sites, CHIPS, [Installed("s", "air40", "h100_sxm", 4, rack_index=0)])
    (v,) = check_topology(g)
    assert (v.check, v.rack_id) == ("power", "s/air40/r0") and "40.8 kW" in v.message


def test_rack_over_space():
    # 6 x 8 U = 48 U in a 42 U rack (61.2 kW within 100 kW)
    sites = {"s": site("s", rack_type("air100", 1, 100, 42))}
    assert checks(sites, [Installed("s", "air100", "h100_sxm", 6, rack_index=0)]) == [("space", "s/air100/r0")]


def test_liquid_hardware_in_an_air_rack():
    sites = {"s": site("s", rack_type("air150", 1, 150, 48))}
    g = build_topology(sites, CHIPS, [Installed("s", "air150", "gb200", 1)])
    (v,) = check_topology(g)
    assert (v.check, v.rack_id) == ("cooling", "s/air150/r0") and "gb200 needs liquid cooling" in v.message


def test_rack_scale_system_over_rack_power():
    # a 132 kW NVL72 in a 100 kW liquid rack: placed alone, reported
    sites = {"s": site("s", rack_type("liq100", 1, 100, 48, "liquid"))}
    assert checks(sites, [Installed("s", "liq100", "gb200", 1)]) == [("power", "s/liq100/r0")]


def test_more_hardware_than_rack_positions():
    # 7 servers at 3 per rack need 3 racks; the site has 2
    sites = {"s": site("s", rack_type("air40", 2, 40))}
    assert checks(sites, [Installed("s", "air40", "h100_sxm", 7)]) == [("rack_count", "s/air40/r2")]


def test_domain_split_across_racks_is_reported():
    # 18 NVL72 trays (132 kW) cannot share an 80 kW rack: 10 + 8 trays, NVLink cannot join them
    sites = {"s": site("s", rack_type("liq80", 2, 80, 48, "liquid"))}
    g = build_topology(sites, CHIPS, [Installed("s", "liq80", "gb200_tray", 18)])
    (v,) = check_topology(g)
    assert (v.check, v.rack_id) == ("domain_split", "s/liq80/r0") and "s/liq80/r1" in v.message


def test_domain_across_racks_is_fine_when_the_fabric_spans_racks():
    sites = {"s": site("s", rack_type("air20", 4, 20))}
    assert checks(sites, [Installed("s", "air20", "tpu_v5e", 32)]) == []


def test_site_power_cap():
    # 6 x 10.2 kW = 61.2 kW against a 50 kW site cap
    sites = {"s": site("s", rack_type("air40", 2, 40), it_power_cap_kw=50)}
    assert checks(sites, [Installed("s", "air40", "h100_sxm", 6)]) == [("site_power", "s")]
