"""Bandwidth, latency and replica placement on the graph; expected figures derived by hand."""

from __future__ import annotations

import pytest

from planner.topology.bandwidth import bandwidth_between, link_between, path_between
from planner.topology.build import build_topology
from planner.topology.examples import example_chip, example_chips, rack_type, site
from planner.topology.installed import Installed
from planner.topology.replica_placement import place_replica, place_replicas

CHIPS = example_chips()


def hgx_graph(servers=4, chips=CHIPS):
    # 40 kW racks hold 3 HGX H100 servers (10.2 kW each): 4 servers -> r0 (s0..s2) and r1 (s0)
    sites = {"a": site("a", rack_type("air40", 4, 40)), "b": site("b", rack_type("air40", 1, 40))}
    return build_topology(sites, chips, [Installed("a", "air40", "h100_sxm", servers), Installed("b", "air40", "h100_sxm", 1)])


def chips_of(server):
    return [f"{server}/c{j}" for j in range(8)]


def test_bandwidth_inside_a_server():
    g = hgx_graph()
    # c0 -> NVSwitch -> c1 at 450 GB/s per direction, plus c0 -> host -> c1 over PCIe at 64 GB/s
    assert bandwidth_between(g, "a/air40/r0/s0/c0", "a/air40/r0/s0/c1") == pytest.approx(514)
    p = path_between(g, "a/air40/r0/s0/c0", "a/air40/r0/s0/c1")
    assert p.kinds == ("nvswitch",) and p.latency_us == pytest.approx(0.5) and p.bottleneck_gbs == 450


def test_bandwidth_between_servers_is_the_nic():
    g = hgx_graph()
    # every byte leaving a server crosses its 400 GB/s scale-out link
    assert bandwidth_between(g, chips_of("a/air40/r0/s0"), chips_of("a/air40/r1/s0")) == pytest.approx(400)
    assert bandwidth_between(g, "a/air40/r0/s0/c0", "a/air40/r1/s0/c5") == pytest.approx(400)
    # latency: PCIe 1.0 + server-ToR 0.6 + ToR-spine 0.6 + spine-ToR 0.6 + ToR-server 0.6 + PCIe 1.0
    assert path_between(g, "a/air40/r0/s0/c0", "a/air40/r1/s0/c5").latency_us == pytest.approx(4.4)
    # same rack: PCIe 1.0 + 0.6 + 0.6 + PCIe 1.0
    link = link_between(g, "a/air40/r0/s0/c0", "a/air40/r0/s1/c0")
    assert link.path.latency_us == pytest.approx(3.2) and link.path.kinds == ("pcie", "infiniband", "pcie")
    assert not link.same_domain


def test_sites_are_not_connected():
    link = link_between(hgx_graph(), "a/air40/r0/s0/c0", "b/air40/r0/s0/c0")
    assert link.bandwidth_gbs == 0 and link.path is None


def test_groups_must_be_chips_and_disjoint():
    g = hgx_graph()
    with pytest.raises(ValueError):
        bandwidth_between(g, "a/air40/r0/s0", "a/air40/r0/s1/c0")
    with pytest.raises(ValueError):
        bandwidth_between(g, ["a/air40/r0/s0/c0", "a/air40/r0/s0/c1"], "a/air40/r0/s0/c1")


def test_tp8_fits_one_server_tp16_does_not():
    g = hgx_graph()
    p = place_replica(g, tp=8, pp=1, site_id="a")
    assert p.feasible and {g.nodes[c]["server"] for c in p.chips} == {"a/air40/r0/s0"}
    p = place_replica(g, tp=16, pp=1)
    assert not p.feasible and "16 free chips" in p.reason


def test_pp2_across_servers_depends_on_scaleout_bandwidth():
    g = hgx_graph(servers=2)
    p = place_replica(g, tp=8, pp=2, site_id="a")
    assert p.feasible and p.boundary_gbs == (400.0,) and p.required_gbs == pytest.approx(0.16384)
    assert {g.nodes[s[0]]["server"] for s in p.stages} == {"a/air40/r0/s0", "a/air40/r0/s1"}
    slow = dict(CHIPS, h100_sxm=example_chip("h100_sxm", scaleout_bandwidth_gbs_per_server=10.0))
    g = hgx_graph(servers=2, chips=slow)
    # 8192 x 2 B x 1e6 tokens/s = 16.4 GB/s needed; the servers' NICs carry 10 GB/s
    p = place_replica(g, tp=8, pp=2, site_id="a", tokens_per_s=1e6)
    assert not p.feasible and p.boundary_gbs == (10.0,) and "16.4 GB/s needed" in p.reason
    assert place_replica(g, tp=8, pp=2, site_id="a", tokens_per_s=5e5).feasible       # 8.2 GB/s <= 10


def test_pp_inside_one_nvl72_domain_needs_no_scaleout():
    sites = {"s": site("s", rack_type("liq", 1, 135, 48, "liquid"))}
    g = build_topology(sites, CHIPS, [Installed("s", "liq", "gb200", 1)])
    p = place_replica(g, tp=16, pp=4)
    assert p.feasible and len({g.nodes[c]["server"] for c in p.chips}) == 1
    assert len(place_replicas(g, tp=16, pp=1)) == 4                  # 72 // 16


def test_place_replicas_uses_disjoint_chips():
    g = hgx_graph()                                                   # 4 servers at site a, 1 at site b
    ps = place_replicas(g, tp=4, pp=1)
    assert len(ps) == 10                                              # 5 servers x 2
    chips = [c for p in ps for c in p.chips]
    assert len(chips) == len(set(chips)) == 40
    assert len(place_replicas(g, tp=8, pp=1, site_id="a", limit=2)) == 2
