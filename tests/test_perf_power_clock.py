"""Power-limited clocks: parts of one silicon and peak sold at different power limits compute at different rates."""

from __future__ import annotations

import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.calibration import Calibration, Efficiency, power_reference
from planner.perf.layout import Layout
from planner.perf.stage import stage_params
from planner.perf.step import stage_step

CHIPS = load_chip_catalog()
MODELS = load_model_catalog()
FAM = {"mi300x": "amd_cdna3", "mi325x": "amd_cdna3", "h100_sxm": "nvidia_hopper", "h100_pcie": "nvidia_hopper",
       "h200_sxm": "nvidia_hopper"}


def _cal() -> Calibration:
    chips = {k: CHIPS[k] for k in FAM}
    return Calibration(factors={"*|*": Efficiency(0.8, 0.5)}, families=FAM, request_overhead_ms=0.0,
                       full_clock_w_per_tflop=power_reference(chips, FAM))


def test_mi300x_sustains_the_cube_root_of_its_power_share_of_mi325x_clock() -> None:
    a, b = CHIPS["mi300x"], CHIPS["mi325x"]
    assert a.peak_tflops.bf16 == b.peak_tflops.bf16 and a.tdp_w < b.tdp_w  # same silicon and peak, less power
    cal = _cal()
    assert cal.sustained_clock_fraction(b) == 1.0
    assert cal.sustained_clock_fraction(a) == pytest.approx((a.tdp_w / b.tdp_w) ** (1 / 3))  # 750/1000 -> 0.909


def test_parts_with_a_different_peak_are_not_compared() -> None:
    # H100 PCIe publishes a lower peak (its clock spec already reflects 350 W): no further throttle
    cal = _cal()
    for c in ("h100_sxm", "h100_pcie", "h200_sxm"):
        assert cal.sustained_clock_fraction(CHIPS[c]) == 1.0


def test_mi325x_beats_mi300x_where_compute_binds_and_ties_where_only_bandwidth_would_not() -> None:
    """A compute-bound prefill pass of Llama-3.1-70B on one chip of each (same layout): MI325X is faster by exactly
    the clock ratio; before, they tied wherever compute bound."""
    cal = _cal()
    m = MODELS["llama-3.1-70b"]
    pa = stage_params(m, CHIPS["mi300x"], "fp8", "fp8", Layout(tp=8), cal)
    pb = stage_params(m, CHIPS["mi325x"], "fp8", "fp8", Layout(tp=8), cal)
    ta = float(stage_step(pa, 0.0, 8192.0, 0.0, 8192.0).total)
    tb = float(stage_step(pb, 0.0, 8192.0, 0.0, 8192.0).total)
    ratio = (CHIPS["mi325x"].tdp_w / CHIPS["mi300x"].tdp_w) ** (1 / 3)
    # compute-bound operators scale by the clock ratio; the collectives (same fabric) do not
    comm_a = float(stage_step(pa, 0.0, 8192.0, 0.0, 8192.0).comm)
    assert (ta - comm_a) / (tb - comm_a) == pytest.approx(ratio, rel=1e-6)
