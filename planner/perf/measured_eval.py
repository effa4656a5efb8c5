"""Accuracy of the one predictor on measured points: raw model, corrected in-sample, and leave-one-source-out.

Every figure goes through `planner.perf.predictor` (the function plans and `planner perf` use):
  * raw: the analytic model alone (f = 1, no measured lookup), under the point's engine batch cap and reserve;
  * in-sample: the model corrected by a fit on all points (no measured lookup, else it would be exact);
  * in-sample and LOSO predictors carry the stock-engine costs of `planner.perf.engine_fit`, refitted on the same
    points (for LOSO: without the held-out source's rows, like the speed factor);
  * LOSO (leave-one-source-out): the predictor fitted on the points of every other source and answering
    measured-first from those points - what a user gets for a publisher the bundled table has never seen; and the
    same with the corrected model alone (`loso_model_err`).
Errors are signed percent, (predicted - measured) / measured: positive = optimistic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from planner.perf.calibration import Calibration
from planner.perf.engine_fit import build_rows, fit_costs
from planner.perf.engines import ENGINE_BATCH_CAP  # noqa: F401 (re-exported)
from planner.perf.measured import MeasuredPoint
from planner.perf.predictor import Predictor, fit_predictor, per_chip
from planner.perf.predictor import predict_point as _predict
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec


def predict_point(p: MeasuredPoint, models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
                  cal: Calibration) -> float:
    """Raw-model tokens/s per chip for a measured point's setting (NaN when unknown or it does not fit)."""
    raw = Predictor(cal, use_measured=False, use_correction=False)
    return per_chip(_predict(raw, p, models, chips), p)


def evaluate_points(points: Sequence[MeasuredPoint], models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
                    cal: Calibration) -> list[dict[str, object]]:
    """Per point: raw, corrected in-sample, LOSO measured-first and LOSO corrected-model errors (percent, signed)."""
    raw = Predictor(cal, use_measured=False, use_correction=False)
    rows = build_rows(points, models, chips, cal)
    src = np.array([q.publisher for q in rows.points])
    full_costs = fit_costs(rows).table("in-sample", {})
    full = replace(fit_predictor(cal, points, (), 0.5, models, chips, full_costs), use_measured=False)
    held: dict[str, Predictor] = {}
    out: list[dict[str, object]] = []
    for k, p in enumerate(points):
        y = per_chip(_predict(raw, p, models, chips), p)
        if not math.isfinite(y):
            out.append({"id": p.row_id, "modelled": False})
            continue
        if p.publisher not in held:
            costs = fit_costs(rows, src != p.publisher).table(f"without {p.publisher}", {})
            held[p.publisher] = fit_predictor(cal, [q for q in points if q.publisher != p.publisher], (), 0.5, models,
                                              chips, costs)
        pred = _predict(held[p.publisher], p, models, chips)
        loso = per_chip(pred, p)
        loso_model = per_chip(_predict(replace(held[p.publisher], use_measured=False), p, models, chips), p)
        m = p.tokens_per_s_per_chip
        out.append({
            "id": p.row_id, "modelled": True, "kind": p.kind, "family": cal.families.get(p.chip_id, p.chip_id),
            "engine": p.engine, "chip": p.chip_id, "model": p.model_id, "source": p.source, "publisher": p.publisher, "measured": m, "raw": y,
            "raw_err": 100 * (y - m) / m,
            "in_err": 100 * (per_chip(_predict(full, p, models, chips), p) - m) / m,
            "loso_err": 100 * (loso - m) / m,
            "loso_model_err": 100 * (loso_model - m) / m,
            "loso_source": pred.perf_source if pred is not None else "none",
            "k": k,
        })
    return out


def summarise(errors: Sequence[float]) -> tuple[float, float, float, int]:
    """(median |err|, p90 |err|, median signed err, n) in percent."""
    a = np.array([e for e in errors if math.isfinite(e)], dtype=float)
    if not len(a):
        return (math.nan, math.nan, math.nan, 0)
    return (float(np.median(np.abs(a))), float(np.percentile(np.abs(a), 90)), float(np.median(a)), len(a))
