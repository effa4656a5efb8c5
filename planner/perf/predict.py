"""Predict the figure of a calibration `Case` (throughput, TTFT, per-user speed, weight memory) with the model.

For a case whose TP/PP is not stated, every candidate layout that fits in the system is tried and the best one
(highest system throughput, or highest per-user speed) is the prediction, as an engine tuner would choose.
Predictions can be made for one calibration, or swept over a grid of efficiency factors or of per-layer latencies
at once (for fitting). What a case states about its system replaces the catalog's figures:
  * its own TP link (`link_gbs_per_direction`, e.g. PCIe without NVLink bridges) carries the collectives;
  * a power limit P other than the catalog TDP (`power_w`, e.g. the 1000 W H200 CTS variant) scales compute by
    (P / TDP)^POWER_CLOCK_EXPONENT: a power-limited chip's sustained clock under dense matmul follows its power
    budget, and dynamic power ~ C V^2 f with V ~ f gives f ~ P^(1/3). Memory bandwidth does not change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from planner.perf.calib_rows import Case
from planner.perf.calibration import POWER_CLOCK_EXPONENT, Calibration
from planner.perf.candidates import candidate_layouts
from planner.perf.common import Num
from planner.perf.layout import Layout
from planner.perf.model_costs import model_costs
from planner.perf.serving import (
    RequestShape,
    Targets,
    memory_batch,
    operating_point,
    single_stream_tokens_per_s,
    static_batch_throughput,
)
from planner.perf.stage import StageParams, stage_params, with_efficiency, with_layer_latency
from planner.perf.step import prefill_latency
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec


def case_layouts(case: Case, model: ModelSpec, chip: ChipSpec) -> list[Layout]:
    """The stated layout, or every candidate that fits in the case's chip count."""
    if case.tp is not None:
        return [Layout(tp=case.tp, pp=case.pp or 1)]
    ctx = case.prompt_tokens + case.output_tokens
    return candidate_layouts(model, chip, case.precision, case.kv_precision, ctx, case.chips)


def _case_stage(case: Case, model: ModelSpec, chip: ChipSpec, layout: Layout, calibration: Calibration) -> StageParams:
    p = stage_params(model, chip, case.precision, case.kv_precision, layout, calibration,
                     compute="bf16" if case.weight_only else None)
    if case.kv_read_factor != 1.0:
        p = replace(p, kv_read_factor=case.kv_read_factor)
    if case.link_gbs_per_direction is not None:
        p = replace(p, link_bandwidth=case.link_gbs_per_direction * 1e9)
    if case.power_w is not None and case.power_w != chip.tdp_w:
        f = (case.power_w / chip.tdp_w) ** POWER_CLOCK_EXPONENT
        p = replace(p, compute=p.compute * f, peak_compute=p.peak_compute * f)
    return p


def predict_for_stage(case: Case, p: StageParams, layout: Layout, calibration: Calibration) -> Num:
    """The case's figure for one layout (arrays when `p` holds arrays)."""
    shape = RequestShape(case.prompt_tokens, case.output_tokens, case.length_cv, case.beam_width)
    t0 = calibration.request_overhead_ms / 1e3
    replicas = (case.chips // layout.chips) if case.chips else 1
    if case.kind == "ttft":
        return (t0 + prefill_latency(p, case.prompt_tokens)) * 1e3
    if case.kind == "per_user":
        return single_stream_tokens_per_s(p, case.prompt_tokens)
    if case.kind == "static":
        fit_b = memory_batch(p, RequestShape(case.prompt_tokens, case.output_tokens, 0.0))
        b = np.minimum(float(case.batch or 1), fit_b)
        x = static_batch_throughput(p, np.maximum(b, 1.0), case.prompt_tokens, case.output_tokens)
        return replicas * np.where(b >= 1, x, np.nan)
    targets = Targets() if case.kind == "offline" else Targets(case.ttft_target_ms / 1e3, case.tpot_target_ms / 1e3, 99.0)
    cap = float(case.batch) if case.batch else None
    return replicas * operating_point(p, shape, targets, t0, cap).tokens_per_s


def _better(kind: str, a: Num, b: Num) -> Num:
    """Elementwise best of two layouts' predictions (NaN = does not fit): lowest TTFT, else highest rate."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    pick = np.minimum(a, b) if kind == "ttft" else np.maximum(a, b)
    return np.where(np.isnan(a), b, np.where(np.isnan(b), a, pick))


def predict_case(case: Case, models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
                 calibration: Calibration, eta_bandwidth: Num = None, eta_compute: Num = None,
                 layer_latency_s: Num = None) -> Num:
    """Prediction for a case (NaN when no layout fits). With `eta_*` arrays (or a `layer_latency_s` array, seconds
    per layer), a grid of predictions."""
    model = models[case.model_id]
    if case.kind == "weights":
        return model_costs(model).weight_bytes(case.precision) / 1e9
    chip = chips[case.chip_id]  # type: ignore[index]
    best: Num = math.nan
    for layout in case_layouts(case, model, chip):
        p = _case_stage(case, model, chip, layout, calibration)
        if eta_bandwidth is not None:
            p = with_efficiency(p, eta_bandwidth, eta_compute)
        if layer_latency_s is not None:
            p = with_layer_latency(p, layer_latency_s)
        best = _better(case.kind, best, predict_for_stage(case, p, layout, calibration))
    return best


def best_layout_of_case(case: Case, models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
                        calibration: Calibration) -> Layout | None:
    """The layout behind `predict_case` (for reports)."""
    if case.kind == "weights":
        return None
    model, chip = models[case.model_id], chips[case.chip_id]  # type: ignore[index]
    best, best_v = None, -math.inf
    for layout in case_layouts(case, model, chip):
        p = _case_stage(case, model, chip, layout, calibration)
        v = float(predict_for_stage(case, p, layout, calibration))
        v = -v if case.kind == "ttft" else v
        if not math.isnan(v) and v > best_v:
            best, best_v = layout, v
    return best
