"""Performance model v3: per-operator step time, the stock-engine costs, their fit and the bundled fitted file."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.calibration import Calibration, Efficiency
from planner.perf.engine_costs import (
    BUNDLED_ENGINE_COSTS,
    NO_COSTS,
    EngineCosts,
    EngineCostTable,
    load_engine_costs,
    table_from_json,
)
from planner.perf.engine_fit import GRID, build_rows, combo_costs, fit_costs
from planner.perf.layout import Layout
from planner.perf.measured import BUNDLED_MEASURED, MeasuredPoint, load_table, stock_points
from planner.perf.stage import stage_params
from planner.perf.step import decode_step, gemm_efficiency, stage_step

MODELS = load_model_catalog()
CHIPS = load_chip_catalog()
CAL = Calibration(factors={"*|*": Efficiency(0.8, 0.5)}, request_overhead_ms=0.0, step_overhead_us=0.0)


def test_gemm_efficiency_is_n_over_n_plus_half_and_one_without_a_half_point() -> None:
    assert float(gemm_efficiency(64.0, 64.0)) == pytest.approx(0.5)
    assert float(gemm_efficiency(192.0, 64.0)) == pytest.approx(0.75)
    assert float(gemm_efficiency(5.0, 0.0)) == 1.0
    assert float(gemm_efficiency(0.0, 64.0)) == 1.0


def test_dense_decode_step_is_the_sum_of_operator_rooflines_plus_engine_costs_by_hand() -> None:
    m, c = MODELS["llama-3.1-8b"], CHIPS["h100_sxm"]
    costs = EngineCosts(layer_us=10.0, seq_us=5.0, elementwise_passes=16.0, gemm_half_tokens=128.0)
    p = stage_params(m, c, "fp8", "fp8", Layout(), CAL, costs=costs)
    s, ctx = 256.0, 1000.0
    st = stage_step(p, s, 0.0, ctx, 0.0)
    bw, cmp = 0.8 * 3.35e12, 0.5 * 1979e12
    emb = 128256 * 4096
    w_dense = (8.03e9 - 2 * emb) * 1 + emb * 2             # fp8 body + 16-bit LM head (embedding table not read)
    f_dense = s * 2 * (8.03e9 - emb)
    t_gemm = max(w_dense / bw, f_dense / (cmp * 256 / (256 + 128)))
    kv_tok = 2 * 32 * 8 * 128 * 1                          # K and V, 32 layers, 8 KV heads x 128, fp8
    t_attn = max(s * ctx * kv_tok / bw, 4 * 32 * 128 * 32 * s * ctx / cmp)
    t_elem = s * 16 * 32 * 4096 * 2 / bw
    t_eng = 32 * 10e-6 + s * 5e-6
    assert float(st.total) == pytest.approx(t_gemm + t_attn + t_elem + t_eng, rel=1e-9)
    # the tuned regime (no costs) is the plain per-operator roofline
    p0 = stage_params(m, c, "fp8", "fp8", Layout(), CAL)
    st0 = stage_step(p0, s, 0.0, ctx, 0.0)
    assert float(st0.total) == pytest.approx(max(w_dense / bw, f_dense / cmp) + t_attn, rel=1e-9)


def test_moe_step_adds_grouped_gemm_efficiency_and_routing_cost_by_hand() -> None:
    m, c = MODELS["gpt-oss-120b"], CHIPS["h100_sxm"]
    costs = EngineCosts(moe_half_tokens=32.0, moe_token_us=0.5)
    p = stage_params(m, c, "fp8", "fp8", Layout(), CAL, costs=costs)
    p0 = stage_params(m, c, "fp8", "fp8", Layout(), CAL)
    n = 1024.0
    st, st0 = stage_step(p, n, 0.0, 0.0, 0.0), stage_step(p0, n, 0.0, 0.0, 0.0)
    moe = m.moe
    assert moe is not None
    f_exp = n * 2 * moe.moe_layers * moe.active_experts * 3 * m.d_model * moe.d_ff_expert
    cmp = 0.5 * c.peak_tflops.fp8 * 1e12
    tpe = n * moe.active_experts / moe.experts               # tokens per expert
    read = float(p.expert_bytes * (1 - (1 - moe.active_experts / moe.experts) ** n)) / p.bandwidth
    t_e = max(read, f_exp / (cmp * tpe / (tpe + 32.0)))
    t_e0 = max(read, f_exp / cmp)
    route = n * moe.moe_layers * 0.5e-6
    assert float(st.total - st0.total) == pytest.approx(t_e - t_e0 + route, rel=1e-6)


def test_fp4_ratio_scales_only_the_fp4_compute_path() -> None:
    m, b200 = MODELS["llama-3.1-70b"], CHIPS["b200"]
    full = stage_params(m, b200, "fp4", "fp8", Layout(), CAL)
    part = stage_params(m, b200, "fp4", "fp8", Layout(), CAL, fp4_compute_ratio=0.7)
    assert float(part.compute) == pytest.approx(0.7 * float(full.compute))
    fp8 = stage_params(m, b200, "fp8", "fp8", Layout(), CAL, fp4_compute_ratio=0.7)
    assert float(fp8.compute) == pytest.approx(0.5 * b200.peak_tflops.fp8 * 1e12)


def test_per_layer_cost_sets_a_tpot_floor_a_batch_shares() -> None:
    m, c = MODELS["llama-3.1-70b"], CHIPS["h200_sxm"]
    p = stage_params(m, c, "fp8", "fp8", Layout(tp=4), CAL, costs=EngineCosts(layer_us=50.0))
    p0 = stage_params(m, c, "fp8", "fp8", Layout(tp=4), CAL)
    for b in (1.0, 64.0):
        assert float(decode_step(p, b, 1000.0)[0] - decode_step(p0, b, 1000.0)[0]) == pytest.approx(80 * 50e-6)


def test_table_lookup_falls_back_engine_family_to_engine_to_pooled_and_tuned_has_none() -> None:
    a, b, c = EngineCosts(layer_us=1.0), EngineCosts(layer_us=2.0), EngineCosts(layer_us=3.0)
    t = EngineCostTable({("vllm", "nvidia_hopper"): a}, {"vllm": b}, c, 0.8)
    assert t.lookup("vllm", "nvidia_hopper") == (a, "engine x family")
    assert t.lookup("vllm", "amd_cdna3") == (b, "engine")
    assert t.lookup("sglang", "amd_cdna3") == (c, "pooled")
    assert t.lookup("tuned", "nvidia_hopper") == (NO_COSTS, "none")
    assert t.fp4_ratio("tuned") == 1.0 and t.fp4_ratio("vllm") == 0.8
    assert table_from_json(t.to_json(), "x.json") == t


def test_malformed_costs_file_names_the_field() -> None:
    doc = EngineCostTable().to_json()
    doc["engine"] = {"vllm": {"layer_us": -1}}
    with pytest.raises(ValueError, match=r"engine\['vllm'\]\.layer_us"):
        table_from_json(doc, "costs.json")
    doc["engine"] = {"vllm": {"layer_ms": 1}}
    with pytest.raises(ValueError, match="unknown cost names"):
        table_from_json(doc, "costs.json")


def test_fit_recovers_known_costs_from_synthetic_measurements_at_any_level() -> None:
    """Measurements generated by the model with known costs (and a level the factor must take) are fitted back to
    those costs: the fit sees the shape, the level is the factor's."""
    truth = EngineCosts(layer_us=20.0, seq_us=10.0, elementwise_passes=32.0, gemm_half_tokens=128.0,
                        moe_half_tokens=0.0, moe_token_us=0.0)
    assert all(getattr(truth, k) in v for k, v in GRID.items())
    from planner.perf.engine_costs import EngineCostTable as T
    from planner.perf.predictor import Predictor, predict_point

    gen = Predictor(CAL, use_measured=False, use_correction=False,
                    costs=T({}, {"vllm": truth}, truth, 1.0))
    pts = []
    for i, (model, tp, conc, isl, osl) in enumerate([
            ("llama-3.1-8b", 1, 1, 1000, 1000), ("llama-3.1-8b", 1, 64, 1000, 1000), ("llama-3.1-8b", 1, 256, 200, 2000),
            ("llama-3.1-70b", 4, 1, 1000, 1000), ("llama-3.1-70b", 4, 32, 2000, 500), ("llama-3.1-70b", 4, 200, 1000, 1000),
            ("llama-3.1-70b", 8, 8, 8000, 1000), ("llama-3.1-8b", 1, 16, 4000, 400)]):
        p = MeasuredPoint(f"S{i}", model, "h100_sxm", "fp8", tp, 1, 1, "vllm", isl, osl, float(conc), 1.0, None,
                          None, "synthetic")
        y = predict_point(gen, p, MODELS, CHIPS)
        assert y is not None and y.feasible
        pts.append(replace(p, tokens_per_s_per_chip=0.6 * y.tokens_per_s_p50 / p.chips))  # a 0.6 level
    rows = build_rows(pts, MODELS, CHIPS, CAL)
    fit = fit_costs(rows)
    got = combo_costs(fit.by_engine["vllm"])
    for k in ("layer_us", "seq_us", "elementwise_passes", "gemm_half_tokens"):
        assert getattr(got, k) == getattr(truth, k), k


def test_bundled_costs_were_fitted_on_the_bundled_measured_table() -> None:
    """Refit (`python -m planner.perf.engine_fit`) whenever measured.csv changes."""
    t = load_engine_costs()
    digest = hashlib.sha256(BUNDLED_MEASURED.read_bytes()).hexdigest()[:16]
    assert digest in t.source, f"{BUNDLED_ENGINE_COSTS.name} is stale: run python -m planner.perf.engine_fit"
    ids = {p.row_id for p in stock_points(load_table())}  # tuned submissions fit no stock engine's costs
    loso = t.report["loso_residuals"]
    assert {r["id"] for r in loso} <= ids and len(loso) >= 0.9 * len(ids)
    for r in loso:
        v = r["ln_measured_over_predicted"]
        assert v is None or math.isfinite(v)
    doc = json.loads(BUNDLED_ENGINE_COSTS.read_text())
    assert 0 < doc["fp4_compute_ratio"] <= 1.0
    assert np.isfinite([v for c in doc["engine"].values() for v in c.values()]).all()


def test_publisher_weights_share_a_publishers_weight() -> None:
    """w = n_pub^-0.5: a publisher with 4 rows weighs 4 x 1/2 = 2 in all, one with 1 row weighs 1 (rows outside the
    mask weigh nothing)."""
    from types import SimpleNamespace

    from planner.perf import engine_fit

    pts = [SimpleNamespace(publisher=p) for p in ("a", "a", "a", "a", "b", "c")]
    rows = SimpleNamespace(points=pts)
    mask = np.array([True, True, True, True, True, False])
    w = engine_fit.publisher_weights(rows, mask)  # type: ignore[arg-type]
    assert engine_fit.PUBLISHER_WEIGHT_POWER == 0.5
    assert list(w) == [0.5, 0.5, 0.5, 0.5, 1.0, 0.0]


def test_near_equal_grid_choice_goes_to_the_combo_closest_to_the_prior() -> None:
    """Among combos whose loss is within NEAR_TOL of the best, the one fewest grid steps from the prior is chosen; a
    combo outside the tolerance is not, however close to the prior; with no prior, the one closest to no costs."""
    from planner.perf import engine_fit as ef

    n = len(ef._VALUES)
    far = int(np.argmax(ef._IDX.sum(axis=1)))           # the last value on every axis
    near_prior = int(np.flatnonzero((ef._IDX[far] == ef._IDX).sum(axis=1) == len(ef.NAMES) - 1)[0])  # 1 axis off
    loss = np.full(n, 10.0)
    loss[0] = 1.0 + 1.5 * ef.NEAR_TOL                   # the no-cost combo: just outside the tolerance
    loss[far] = 1.0                                     # the best
    loss[near_prior] = 1.0 + 0.5 * ef.NEAR_TOL          # near-equal, differs from `far` on one axis only
    # the no-cost combo is outside the set; of the two inside, near_prior is nearer to no costs than far
    assert ef._near_best(loss, None, ef.NEAR_TOL) == near_prior
    loss[0] = 1.0 + 0.5 * ef.NEAR_TOL                   # now inside: closest to no costs wins
    assert ef._near_best(loss, None, ef.NEAR_TOL) == 0
    assert ef._near_best(loss, far, ef.NEAR_TOL) == far              # with the prior at `far`, far itself (distance 0)
    assert ef._near_best(loss, near_prior, ef.NEAR_TOL) == near_prior
    assert ef._near_best(loss, near_prior, 0.0) == far  # at tolerance 0 the argmin
    w = ef.landscape(loss)
    assert w["near_combos"] == 3
    assert w["layer_us"] == sorted({GRID["layer_us"][0], GRID["layer_us"][-1]})
