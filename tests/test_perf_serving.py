"""Serving under load: queueing approximations and the operating point under TTFT/TPOT targets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.calibration import Calibration, Efficiency
from planner.perf.layout import Layout
from planner.perf.power import chip_power_w, replica_power_w, usd_per_million_tokens
from planner.perf.queueing import load_for_slots, mg1_wait_percentile, slots_needed, z_score
from planner.perf.serving import RequestShape, Targets, operating_point
from planner.perf.stage import stage_params
from planner.perf.step import decode_step

MODELS = load_model_catalog()
CHIPS = load_chip_catalog()
CAL = Calibration(factors={"*|*": Efficiency(0.8, 0.5)}, request_overhead_ms=10.0, step_overhead_us=0.0)


def test_square_root_staffing_round_trip() -> None:
    z = z_score(99)
    assert z == pytest.approx(2.3263, abs=1e-4)
    assert float(slots_needed(100.0, z)) == pytest.approx(100 + 2.3263 * 10, abs=1e-3)
    assert float(load_for_slots(slots_needed(437.0, z), z)) == pytest.approx(437.0)


def test_mg1_wait_percentile_by_hand() -> None:
    # rho 0.5, s = 1 s, cv^2 = 1: theta = 1 x 2 / (2 x 0.5) = 2 s; W_99 = 2 ln(0.5 / 0.01) = 7.824 s
    assert float(mg1_wait_percentile(0.5, 1.0, 1.0, 99)) == pytest.approx(2 * math.log(50), rel=1e-9)
    assert float(mg1_wait_percentile(0.005, 1.0, 1.0, 99)) == 0.0  # P(wait) < 1 %
    assert math.isinf(float(mg1_wait_percentile(1.2, 1.0, 1.0, 99)))


def _stage(chip: str = "h200_sxm", tp: int = 1):  # type: ignore[no-untyped-def]
    return stage_params(MODELS["llama-3.1-70b"], CHIPS[chip], "fp8", "fp8", Layout(tp=tp), CAL)


def test_offline_runs_at_the_memory_batch() -> None:
    shape = RequestShape(1000, 200, 0.0)
    op = operating_point(_stage(), shape, Targets(), 0.01)
    assert float(op.batch) == float(op.max_batch) > 100
    tpot, _ = decode_step(_stage(), float(op.batch), 1100.0, 1000 / 200, 1000.0)
    assert float(op.tokens_per_s) == pytest.approx(float(op.batch) / float(tpot), rel=1e-9)


def test_targets_bind_and_tighter_targets_cost_throughput() -> None:
    shape = RequestShape(1000, 200)
    loose = operating_point(_stage(), shape, Targets(5.0, 0.2, 99), 0.01)
    tight = operating_point(_stage(), shape, Targets(1.0, 0.03, 99), 0.01)
    offline = operating_point(_stage(), shape, Targets(), 0.01)
    assert bool(loose.feasible) and bool(tight.feasible)
    assert float(tight.tpot_s) <= 0.03 + 1e-9 and float(tight.ttft_s) <= 1.0 + 1e-9
    assert float(tight.tokens_per_s) < float(loose.tokens_per_s) <= float(offline.tokens_per_s) + 1e-6
    assert float(tight.batch) < float(loose.batch)


def test_target_below_batch1_tpot_is_infeasible() -> None:
    shape = RequestShape(1000, 200)
    op = operating_point(_stage(), shape, Targets(10.0, 0.010, 99), 0.01)  # batch-1 TPOT is ~18 ms
    assert not bool(op.feasible) and np.isnan(op.tokens_per_s)


def test_power_model_by_hand() -> None:
    # idle 0.2 x 700 = 140 W; u = 0.5 -> 140 + 0.5 x 560 = 420 W per chip
    assert float(chip_power_w(700.0, 0.5)) == pytest.approx(420.0)
    # 2 chips of an 8-chip server with 4,600 W overhead: 2 x 420 + 2/8 x 4600 = 1,990 W
    assert float(replica_power_w(2, 700.0, 0.5, 8, 4600.0)) == pytest.approx(1990.0)
    # capex 31,557,600 USD over one year = 1 USD/s; 1 kW at 0.10 USD/kWh = 0.1/3600 USD/s; 1e6 tokens = 1,000 s
    usd = usd_per_million_tokens(1000.0, 1000.0, 31_557_600.0, 1.0, 0.10, 1.0)
    assert usd == pytest.approx(1000 * (1 + 0.1 / 3600), rel=1e-9)


def test_full_length_admission_holds_free_kv_over_prompt_plus_output() -> None:
    """TensorRT-LLM (GUARANTEED_NO_EVICT) admits a request only with KV room for its whole length: free / (kv x
    (I + O)); vLLM/SGLang hold sequences at their mean context I + O (1 + cv^2) / 2. 128 in / 2048 out, fixed
    lengths: 2176 vs 1152 tokens a sequence, so full-length admission holds 1152/2176 of the batch."""
    from planner.perf.engines import reserves_full_length
    from planner.perf.serving import memory_batch

    assert reserves_full_length("trtllm") and not reserves_full_length("vllm") and not reserves_full_length("sglang")
    p = _stage()
    shape = RequestShape(128, 2048, 0.0)
    free, kv = float(p.free_kv_bytes), float(p.kv_bytes_token)
    assert float(memory_batch(p, shape)) == math.floor(free / (kv * 1152))
    assert float(memory_batch(p, shape, reserve_full=True)) == math.floor(free / (kv * 2176))
    varied = RequestShape(128, 2048, 1.0)  # cv = 1: the mean context is already I + O
    assert float(memory_batch(p, varied, reserve_full=True)) == float(memory_batch(p, varied))
    off = operating_point(p, shape, Targets(), 0.01, reserve_full=True)
    assert float(off.batch) == math.floor(free / (kv * 2176))
