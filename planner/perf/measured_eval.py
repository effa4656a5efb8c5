"""Predict measured points with the analytic model, and correct it from measured points (per engine x family).

Prediction of one point (per chip, output tokens/s), layout as measured:
  * offline (no concurrency): continuous batching at the largest batch memory holds, capped by the engine's
    default batch limit ENGINE_BATCH_CAP (vLLM max_num_seqs 256; TensorRT-LLM max_batch_size as benchmarked 2048;
    SGLang max_running_requests 1024 is not a fixed default - the planner uses 1024);
  * closed-loop concurrency a: min(a, memory batch) sequences run; every user alternates a prefill and O decode
    steps, so X = b x O / (TTFT + O x TPOT(b)) with TTFT = prefill latency of one prompt.
Correction: ln(measured / predicted) has a median per (engine, chip family) where >= MIN_GROUP_POINTS points exist,
else per engine, else 0; the corrected prediction is predicted x exp(median). `loso_errors` refits the correction
with every point of one source removed (leave-one-source-out) and predicts that source's points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from planner.perf.calibration import Calibration
from planner.perf.layout import Layout
from planner.perf.measured import MeasuredPoint
from planner.perf.serving import RequestShape, Targets, memory_batch, operating_point
from planner.perf.stage import stage_params
from planner.perf.step import decode_step, prefill_latency
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec

ENGINE_BATCH_CAP: dict[str, float] = {"vllm": 256.0, "trtllm": 2048.0, "sglang": 1024.0}
MIN_GROUP_POINTS = 3


def predict_point(p: MeasuredPoint, models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
                  cal: Calibration) -> float:
    """Analytic tokens/s per chip for a measured point's setting (NaN when the model or chip is unknown or it
    does not fit)."""
    if p.model_id not in models or p.chip_id not in chips:
        return math.nan
    model, chip = models[p.model_id], chips[p.chip_id]
    prec = p.precision if chip.peak_tflops.get(p.precision) or p.precision in ("int4", "fp4") else p.precision
    try:
        sp = stage_params(model, chip, prec, "fp8" if prec in ("fp8", "fp4") else prec, Layout(p.tp, p.pp, p.ep), cal)
    except ValueError:
        return math.nan
    shape = RequestShape(p.prompt_tokens, p.output_tokens, 0.1)
    cap = ENGINE_BATCH_CAP.get(p.engine, 256.0)
    if p.concurrency is None:
        op = operating_point(sp, shape, Targets(), cal.request_overhead_ms / 1e3, cap)
        x = float(op.tokens_per_s)
    else:
        b = float(np.minimum(memory_batch(sp, shape, cap), p.concurrency))
        if b < 1:
            return math.nan
        tpot, _ = decode_step(sp, b, shape.occupancy_context, p.prompt_tokens / p.output_tokens, p.prompt_tokens)
        ttft = float(prefill_latency(sp, p.prompt_tokens)) + cal.request_overhead_ms / 1e3
        x = b * p.output_tokens / (ttft + p.output_tokens * float(tpot))
    return x / p.chips


@dataclass(frozen=True)
class Correction:
    """Median log residual per (engine, family) and per engine."""

    by_group: Mapping[tuple[str, str], float]
    by_engine: Mapping[str, float]

    def factor(self, engine: str, family: str) -> float:
        return math.exp(self.by_group.get((engine, family), self.by_engine.get(engine, 0.0)))


def fit_correction(points: Sequence[MeasuredPoint], preds: Sequence[float], families: Sequence[str]) -> Correction:
    """Median ln(measured / predicted) per group (module docstring)."""
    groups: dict[tuple[str, str], list[float]] = {}
    engines: dict[str, list[float]] = {}
    for p, y, fam in zip(points, preds, families, strict=True):
        if not math.isfinite(y) or y <= 0:
            continue
        r = math.log(p.tokens_per_s_per_chip / y)
        groups.setdefault((p.engine, fam), []).append(r)
        engines.setdefault(p.engine, []).append(r)
    return Correction(
        {k: float(np.median(v)) for k, v in groups.items() if len(v) >= MIN_GROUP_POINTS},
        {k: float(np.median(v)) for k, v in engines.items()},
    )


def evaluate_points(points: Sequence[MeasuredPoint], models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
                    cal: Calibration) -> list[dict[str, object]]:
    """Per point: raw, corrected in-sample and leave-one-source-out errors (percent, signed)."""
    fams = [cal.families.get(p.chip_id, p.chip_id) for p in points]
    raw = [predict_point(p, models, chips, cal) for p in points]
    ins = fit_correction(points, raw, fams)
    out = []
    for k, (p, y, fam) in enumerate(zip(points, raw, fams, strict=True)):
        if not math.isfinite(y):
            out.append({"id": p.row_id, "modelled": False})
            continue
        keep = [i for i, q in enumerate(points) if q.source != p.source]
        loso = fit_correction([points[i] for i in keep], [raw[i] for i in keep], [fams[i] for i in keep])
        m = p.tokens_per_s_per_chip
        out.append({
            "id": p.row_id, "modelled": True, "kind": p.kind, "family": fam, "engine": p.engine, "chip": p.chip_id,
            "model": p.model_id, "measured": m, "raw": y,
            "raw_err": 100 * (y - m) / m,
            "in_err": 100 * (y * ins.factor(p.engine, fam) - m) / m,
            "loso_err": 100 * (y * loso.factor(p.engine, fam) - m) / m,
            "k": k,
        })
    return out


def summarise(errors: Sequence[float]) -> tuple[float, float, float, int]:
    """(median |err|, p90 |err|, median signed err, n) in percent."""
    a = np.array([e for e in errors if math.isfinite(e)], dtype=float)
    if not len(a):
        return (math.nan, math.nan, math.nan, 0)
    return (float(np.median(np.abs(a))), float(np.percentile(np.abs(a), 90)), float(np.median(a)), len(a))
