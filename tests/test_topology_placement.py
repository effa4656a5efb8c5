"""Pure placement arithmetic: replica footprints and servers per rack, expected values derived by hand."""

from __future__ import annotations

import pytest

from planner.topology.examples import example_chip, rack_type
from planner.topology.placement import rack_fit, replica_footprint, required_pp_bandwidth_gbs

H100 = example_chip("h100_sxm")          # 8 GPUs per server, NVSwitch domain of 8, 400 GB/s scale-out
NVL72 = example_chip("gb200")            # one rack-scale unit of 72 GPUs = one domain
TRAY = example_chip("gb200_tray")        # 4-GPU trays, one NVLink domain of 72 across 18 trays


def test_required_bandwidth_is_activations_per_second():
    # 8192 values x 2 bytes x 10,000 tokens/s = 163,840,000 B/s
    assert required_pp_bandwidth_gbs(8192, 1e4, 2.0) == pytest.approx(0.16384)


def test_tp8_fits_one_hgx_server():
    f = replica_footprint(H100, tp=8, pp=1)
    assert (f.feasible, f.servers_per_replica, f.replicas_per_server, f.required_scaleout_gbs) == (True, 1, 1, 0.0)
    assert f.chips_per_replica == 8


def test_smaller_replicas_share_a_server():
    assert replica_footprint(H100, tp=4, pp=1).replicas_per_server == 2      # 8 // 4
    assert replica_footprint(H100, tp=2, pp=2).replicas_per_server == 2      # 4 stage slots // 2 stages
    assert replica_footprint(H100, tp=1, pp=1).replicas_per_server == 8


def test_tp16_does_not_fit_an_hgx_domain():
    f = replica_footprint(H100, tp=16, pp=1)
    assert not f.feasible
    assert "16" in f.reason and "domains of 8" in f.reason
    assert (f.servers_per_replica, f.replicas_per_server) == (0, 0)


def test_tp_times_ep_must_fit_the_domain():
    assert not replica_footprint(H100, tp=4, pp=1, ep=4).feasible             # 16 chips per stage
    assert replica_footprint(H100, tp=4, pp=1, ep=2).feasible                  # 8 chips per stage


def test_pp2_across_servers_needs_scaleout_bandwidth():
    f = replica_footprint(H100, tp=8, pp=2)
    assert (f.feasible, f.servers_per_replica, f.replicas_per_server) == (True, 2, 1)
    assert f.required_scaleout_gbs == pytest.approx(0.16384)
    slow = example_chip("h100_sxm", scaleout_bandwidth_gbs_per_server=10.0)
    # 8192 x 2 B x 1e6 tokens/s = 16.384 GB/s > 10 GB/s; at 5e5 tokens/s: 8.192 GB/s <= 10 GB/s
    f = replica_footprint(slow, tp=8, pp=2, tokens_per_s=1e6)
    assert not f.feasible and f.required_scaleout_gbs == pytest.approx(16.384)
    assert "16.4 GB/s" in f.reason and "10 GB/s" in f.reason
    assert replica_footprint(slow, tp=8, pp=2, tokens_per_s=5e5).feasible


def test_rack_scale_nvl72_holds_replicas_inside_its_domain():
    assert replica_footprint(NVL72, tp=16, pp=1).replicas_per_server == 4    # 72 // 16
    assert replica_footprint(NVL72, tp=72, pp=1).replicas_per_server == 1
    f = replica_footprint(NVL72, tp=72, pp=2)                                 # two racks, PP over InfiniBand
    assert (f.feasible, f.servers_per_replica) == (True, 2) and f.required_scaleout_gbs > 0
    assert not replica_footprint(NVL72, tp=144, pp=1).feasible


def test_tray_domain_spans_servers_without_scaleout():
    f = replica_footprint(TRAY, tp=8, pp=1)          # 8 GPUs = 2 trays of 4 inside one NVLink domain
    assert (f.feasible, f.servers_per_replica, f.required_scaleout_gbs) == (True, 2, 0.0)
    assert replica_footprint(TRAY, tp=2, pp=1).replicas_per_server == 2
    # 16 x 8 = 128 chips > 72: 4 stages of 16 per domain (64 chips = 16 trays), two domains -> 32 trays
    f = replica_footprint(TRAY, tp=16, pp=8)
    assert (f.feasible, f.servers_per_replica) == (True, 32)
    assert f.required_scaleout_gbs == pytest.approx(0.16384)


def test_domains_smaller_than_a_server():
    pairs = H100.model_copy(update={"scaleup": H100.scaleup.model_copy(update={"kind": "nvlink", "domain_size_chips": 2})})
    assert replica_footprint(pairs, tp=2, pp=1).replicas_per_server == 4   # 4 bridged pairs per server
    assert not replica_footprint(pairs, tp=4, pp=1).feasible
    l40s = example_chip("l40s")                                            # no scale-up fabric: TP over PCIe
    assert l40s.scaleup.kind == "pcie" and l40s.scaleup.domain_size_chips == 1
    assert replica_footprint(l40s, tp=2, pp=1).replicas_per_server == 4     # inside the 8-card server, as engines run it
    assert not replica_footprint(l40s, tp=16, pp=1).feasible                # never across servers
    assert replica_footprint(l40s, tp=1, pp=2).replicas_per_server == 4     # 8 single-chip stages // 2


def test_layout_must_be_positive():
    with pytest.raises(ValueError):
        replica_footprint(H100, tp=0, pp=1)


def test_rack_fit_power_and_space():
    # HGX H100: 8 x 700 W + 4,600 W = 10,200 W, 8 U
    assert H100.server_power_w == 10_200
    n, why = rack_fit(H100, rack_type("air40", 10, 40, 42))
    assert n == 3 and "power" in why                     # floor(40,000 / 10,200) = 3 < floor(42 / 8) = 5
    n, why = rack_fit(H100, rack_type("air100", 10, 100, 42))
    assert n == 5 and "space" in why                     # floor(100,000 / 10,200) = 9 > 5
    cs3 = example_chip("cerebras_wse3")                   # 23 kW, 15 U, liquid
    assert rack_fit(cs3, rack_type("liq50", 1, 50, 42, "liquid"))[0] == 2


def test_rack_fit_zero_with_a_reason():
    # NVL72: 72 x 1,200 W + 45,600 W = 132 kW
    assert rack_fit(NVL72, rack_type("liq135", 1, 135, 48, "liquid")) == (1, "a GB200 NVL72 rack-scale system fills the rack")
    n, why = rack_fit(NVL72, rack_type("liq100", 1, 100, 48, "liquid"))
    assert n == 0 and "132.0 kW" in why and "100 kW" in why
    n, why = rack_fit(NVL72, rack_type("air150", 1, 150, 48, "air"))
    assert n == 0 and "liquid" in why and "air150" in why
    n, why = rack_fit(H100, rack_type("short", 1, 40, 6))
    assert n == 0 and "8 U" in why


def test_bundled_catalog_agrees_with_reference_platforms():
    """The catalog's server blocks match the published platform figures (power within 25 %, shape exactly)."""
    from planner.catalog import DEFAULT_CHIPS, load_chip_catalog
    from planner.topology.platforms import CATALOG_CHIP, PLATFORMS
    from planner.topology.templates import template_from_chip

    if not DEFAULT_CHIPS.exists():
        pytest.skip("bundled chips.yaml not present")
    chips = load_chip_catalog()
    for key, chip_id in CATALOG_CHIP.items():
        ref, t = PLATFORMS[key], template_from_chip(chips[chip_id])
        shape = (t.kind, t.chips_per_server, t.cooling, t.domain_size_chips, t.domain_spans_servers, t.domain_spans_racks)
        assert shape == (ref.kind, ref.chips_per_server, ref.cooling, ref.domain_size_chips,
                         ref.domain_spans_servers, ref.domain_spans_racks), key
        assert t.server_power_w == pytest.approx(ref.server_power_w, rel=0.25), key
