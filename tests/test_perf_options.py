"""Deployment options: every option meets its workload's targets and precisions; pruning; cache."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.calibration import Calibration, Efficiency
from planner.perf.model_costs import model_costs
from planner.perf.options import OPTION_COLUMNS, _dominated, deployment_options, options_table
from planner.schemas.workloads import WorkloadRow

MODELS = load_model_catalog()
CHIPS = load_chip_catalog()
CAL = Calibration(factors={"*|*": Efficiency(0.8, 0.5)}, request_overhead_ms=10.0, step_overhead_us=0.0)


def _wl(**kw: object) -> WorkloadRow:
    base = dict(workload_id="chat", model_id="llama-3.1-70b", quarter="2027Q1", peak_output_tokens_per_s=1e5,
                prompt_tokens_mean=1500, output_tokens_mean=350, ttft_ms=2000, tpot_ms=60, latency_percentile=99,
                allowed_precisions="fp8;bf16")
    base.update(kw)
    return WorkloadRow.model_validate(base)


def test_every_option_meets_targets_and_precisions() -> None:
    w = _wl()
    chips = [CHIPS[c] for c in ("h100_sxm", "h200_sxm", "l40s", "a100_80gb_sxm", "gb200")]
    opts = deployment_options(w, MODELS[w.model_id], chips, CAL)
    assert opts
    for o in opts:
        assert o.precision in ("fp8", "bf16")
        assert o.ttft_ms <= 2000 + 1e-6 and o.tpot_ms <= 60 + 1e-6
        assert o.chips_per_replica == o.tp * o.pp
        c = CHIPS[o.chip_id]  # TP stays in one scale-up domain; TP over PCIe stays in one server
        assert o.tp <= (c.server.chips_per_server if c.scaleup.kind == "pcie" else c.scaleup.domain_size_chips)
        assert o.bound in ("memory", "compute", "interconnect")
        assert o.joules_per_token == pytest.approx(o.power_w_per_replica / o.tokens_per_s_per_replica)
    # fp8 on A100 is weight-only (no fp8 peak): allowed, memory gain without compute gain
    assert any(o.chip_id == "a100_80gb_sxm" and o.precision == "fp8" for o in opts)
    # no option dominates another of the same chip and precision
    for a in opts:
        assert not any(_dominated(a, b) for b in opts if b is not a and (b.chip_id, b.precision) == (a.chip_id, a.precision))


def test_power_of_an_option_by_hand() -> None:
    w = _wl()
    o = next(o for o in deployment_options(w, MODELS[w.model_id], [CHIPS["h200_sxm"]], CAL))
    c = CHIPS["h200_sxm"]
    idle = 0.2 * c.tdp_w
    lo = o.chips_per_replica * idle + o.chips_per_replica / 8 * c.server.overhead_power_w
    hi = o.chips_per_replica * c.tdp_w + o.chips_per_replica / 8 * c.server.overhead_power_w
    assert lo <= o.power_w_per_replica <= hi


def test_unreachable_tpot_gives_no_option() -> None:
    w = _wl(tpot_ms=0.5, allowed_precisions="bf16")
    assert deployment_options(w, MODELS[w.model_id], [CHIPS["h100_sxm"]], CAL) == []


def test_sram_chip_spreads_weights_over_as_many_chips_as_memory_demands() -> None:
    w = _wl(prompt_tokens_mean=500, output_tokens_mean=200, ttft_ms=5000, tpot_ms=100, allowed_precisions="int8")
    opts = deployment_options(w, MODELS[w.model_id], [CHIPS["groq_lpu_v1"]], CAL)
    assert opts
    weights = model_costs(MODELS[w.model_id]).weight_bytes("int8")
    for o in opts:
        assert o.pp > 1
        assert o.chips_per_replica * 0.23e9 >= weights


def test_options_table_columns_memo_and_disk_cache(tmp_path: Path) -> None:
    ws = [_wl(), _wl(quarter="2027Q2"), _wl(workload_id="other", ttft_ms=1500)]
    chips = {k: CHIPS[k] for k in ("h100_sxm", "mi300x")}
    df = options_table(ws, MODELS, chips, CAL, cache_dir=tmp_path)
    assert list(df.columns) == ["workload_id", "quarter", "model_id", *OPTION_COLUMNS]
    q1 = df[(df.workload_id == "chat") & (df.quarter == "2027Q1")].drop(columns="quarter").reset_index(drop=True)
    q2 = df[(df.workload_id == "chat") & (df.quarter == "2027Q2")].drop(columns="quarter").reset_index(drop=True)
    assert q1.equals(q2)  # same shape -> same options
    files = sorted(tmp_path.glob("perf-options-*.csv"))
    assert len(files) == 2
    again = options_table(ws, MODELS, chips, CAL, cache_dir=tmp_path)
    assert len(again) == len(df)
    assert again["tokens_per_s_per_replica"].sum() == pytest.approx(df["tokens_per_s_per_replica"].sum())
    assert all(math.isfinite(v) for v in df["tokens_per_s_per_replica"])


def test_unknown_model_is_reported() -> None:
    with pytest.raises(ValueError, match="not-a-model"):
        options_table([_wl(model_id="not-a-model")], MODELS, {"h100_sxm": CHIPS["h100_sxm"]}, CAL)


def test_sram_options_carry_the_layer_latency_floor() -> None:
    """The optimizer sees the per-layer latency: TPOT >= layers x tau and tokens/s per replica <= batch / TPOT floor."""
    tau_us = {"groq_lpu": 40.0, "cerebras_wse": 6.0}
    cal = Calibration(factors=CAL.factors, request_overhead_ms=10.0, layer_latency_us=tau_us)
    w = _wl(prompt_tokens_mean=500, output_tokens_mean=200, ttft_ms=5000, tpot_ms=100, allowed_precisions="int8;bf16")
    model = MODELS[w.model_id]
    chips = [CHIPS["groq_lpu_v1"], CHIPS["cerebras_wse3"]]
    opts = deployment_options(w, model, chips, cal)
    base = {(o.chip_id, o.precision, o.tp, o.pp, o.ep): o for o in deployment_options(w, model, chips, CAL)}
    assert {o.chip_id for o in opts} == {"groq_lpu_v1", "cerebras_wse3"}
    for o in opts:
        floor_ms = model.n_layers * tau_us[cal.family(CHIPS[o.chip_id])] / 1e3  # 80 x 40 us = 3.2 ms on Groq
        assert o.tpot_ms >= floor_ms
        assert o.tokens_per_s_per_replica <= o.batch / (floor_ms / 1e3)
        same = base.get((o.chip_id, o.precision, o.tp, o.pp, o.ep))
        if same is not None:  # the floor only slows a layout down
            assert o.tpot_ms > same.tpot_ms or o.tokens_per_s_per_replica < same.tokens_per_s_per_replica


def test_disk_cache_is_not_reused_by_a_changed_planner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The on-disk options cache keys on the planner's own code and data: another planner writes other files."""
    import planner.perf.options as options_mod

    ws = [_wl()]
    chips = {"h100_sxm": CHIPS["h100_sxm"]}
    options_table(ws, MODELS, chips, CAL, cache_dir=tmp_path)
    first = {p.name for p in tmp_path.glob("perf-options-*.csv")}
    monkeypatch.setattr(options_mod, "planner_digest", lambda: "another planner")
    options_mod._MEMO.clear()
    options_table(ws, MODELS, chips, CAL, cache_dir=tmp_path)
    both = {p.name for p in tmp_path.glob("perf-options-*.csv")}
    assert len(first) == 1 and len(both) == 2
