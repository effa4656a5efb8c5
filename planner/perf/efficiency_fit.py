"""Fit the efficiency factors on measured results, and report the fit honestly.

Parameters (few, on purpose):
  * a global pair (eta_bandwidth, eta_compute) fitted on every fit row;
  * a pair per chip family with at least MIN_FAMILY_ROWS fit rows, shrunk towards the global pair;
  * one global `request_overhead_ms` (TTFT only), chosen jointly;
  * one `layer_latency_us` per SRAM-only family (Groq LPU, Cerebras WSE) with per-user speed rows: the fixed
    latency per layer per forward pass of a dataflow chip (`planner.perf.step`). The roofline alone predicts the
    vendors' per-user speeds 3-17x too high: a token crosses every layer in turn, over many chips or wafer regions,
    and pays synchronisation, on-fabric traversal and pipeline fill at each. Only per-user (batch-1) rows on SRAM
    chips identify it; in the bundled table they are all vendor claims, weighted VENDOR_CLAIM_WEIGHT.
Loss: sum over rows of w x ln(predicted / measured)^2  +  SHRINKAGE x sum over fitted families of
      [ln(eta_bw,f / eta_bw,global)^2 + ln(eta_c,f / eta_c,global)^2]   (w = 1, claims VENDOR_CLAIM_WEIGHT).
The layer latency only changes predictions on its own family's chips, so it is fitted after the factors, holding
them fixed (exact when no throughput row is on an SRAM chip, as in the bundled table); a family's claims share one
weight, so the weight does not move that fit, it ranks claims below measurements where both exist.
The search is exhaustive over log-spaced grids (each row's predictions are computed once over the whole grid,
so refits, including leave-one-out, are cheap). The report lists every row: measured, predicted, error, the
leave-one-out prediction (row removed, everything refitted), and the rows that could not be modelled.

Run `python -m planner.perf.fit` (the command-line front of this module) to refit on `data/calibration.csv` and
rewrite `data/efficiency.json`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.calib_rows import VENDOR_CLAIM_WEIGHT, Case, Unmodelled, read_cases
from planner.perf.calibration import (
    DEFAULT_FAMILIES,
    PRIOR_REQUEST_OVERHEAD_MS,
    Calibration,
    Efficiency,
    power_reference,
)
from planner.perf.predict import best_layout_of_case, predict_case
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec

ETA_BW_GRID = np.geomspace(0.25, 1.0, 41)
ETA_C_GRID = np.geomspace(0.08, 1.0, 57)
REQUEST_OVERHEAD_GRID_MS = np.arange(0.0, 60.01, 1.0)
MIN_FAMILY_ROWS = 3
SHRINKAGE = 0.5
#: Squared log error charged to a grid point at which a row's layout does not fit at all.
NO_FIT_PENALTY = 9.0
THROUGHPUT_KINDS = ("offline", "server", "static")
#: Per-layer latency grid, microseconds (steps of ~1.2 %).
LAYER_LATENCY_GRID_US = np.geomspace(0.1, 1000.0, 801)


@dataclass(frozen=True)
class _Grid:
    """One fit row's predictions over the (eta_bw, eta_c) grid."""

    case: Case
    family: str
    pred: np.ndarray  # (n_bw, n_c); TTFT rows exclude the request overhead


def _sq_err(g: _Grid, t0_ms: float) -> np.ndarray:
    pred = g.pred + t0_ms if g.case.kind == "ttft" else g.pred
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.log(pred / g.case.measured) ** 2
    return np.where(np.isfinite(e), e, NO_FIT_PENALTY)


def _fit_given_t0(grids: Sequence[_Grid], t0_ms: float) -> tuple[float, tuple[int, int], dict[str, tuple[int, int]]]:
    """(loss, global grid index, {family: grid index}) at a fixed request overhead."""
    sq = [_sq_err(g, t0_ms) for g in grids]
    gi = np.unravel_index(np.argmin(sum(sq)), sq[0].shape)
    lb, lc = np.log(ETA_BW_GRID), np.log(ETA_C_GRID)
    prior = SHRINKAGE * ((lb[:, None] - lb[gi[0]]) ** 2 + (lc[None, :] - lc[gi[1]]) ** 2)
    by_fam: dict[str, list[np.ndarray]] = {}
    for g, s in zip(grids, sq, strict=True):
        by_fam.setdefault(g.family, []).append(s)
    total, fam_idx = 0.0, {}
    for fam, rows in by_fam.items():
        if len(rows) >= MIN_FAMILY_ROWS:
            loss = sum(rows) + prior
            fi = np.unravel_index(np.argmin(loss), loss.shape)
            fam_idx[fam] = (int(fi[0]), int(fi[1]))
            total += float(loss[fi])
        else:
            total += float(sum(rows)[gi])
    return total, (int(gi[0]), int(gi[1])), fam_idx


def _fit_grids(grids: Sequence[_Grid]) -> tuple[float, tuple[int, int], dict[str, tuple[int, int]]]:
    """Best (request overhead, global index, family indices) over the overhead grid."""
    has_ttft = any(g.case.kind == "ttft" for g in grids)
    t0s = REQUEST_OVERHEAD_GRID_MS if has_ttft else np.array([PRIOR_REQUEST_OVERHEAD_MS])
    best = None
    for t0 in t0s:
        loss, gi, fi = _fit_given_t0(grids, float(t0))
        if best is None or loss < best[0]:
            best = (loss, float(t0), gi, fi)
    assert best is not None
    return best[1], best[2], best[3]


def _grid_prediction(g: _Grid, t0: float, gi: tuple[int, int], fi: Mapping[str, tuple[int, int]]) -> float:
    i = fi.get(g.family, gi)
    v = float(g.pred[i])
    return v + t0 if g.case.kind == "ttft" else v


def _stats(errors: Sequence[float]) -> dict[str, float | int]:
    a = np.abs(np.array([e for e in errors if e is not None and math.isfinite(e)], dtype=float))
    if not len(a):
        return {"n": 0}
    return {"n": int(len(a)), "median_ape_pct": round(float(np.median(a)), 1), "p90_ape_pct": round(float(np.percentile(a, 90)), 1)}


def _is_latency_row(c: Case, chips: Mapping[str, ChipSpec]) -> bool:
    """Per-user (batch-1) speed rows on SRAM-only chips: the rows that fit the per-layer latency."""
    return c.kind == "per_user" and c.chip_id is not None and chips[c.chip_id].memory_kind == "sram"


def _fit_layer_latency(rows: Sequence[tuple[Case, str, np.ndarray]]) -> dict[str, float]:
    """{family: microseconds per layer} minimising sum of w x ln(pred / measured)^2 over each family's rows."""
    by_fam: dict[str, np.ndarray] = {}
    for c, fam, pred in rows:
        with np.errstate(invalid="ignore", divide="ignore"):
            e = np.log(pred / c.measured) ** 2
        by_fam[fam] = by_fam.get(fam, 0.0) + c.weight * np.where(np.isfinite(e), e, NO_FIT_PENALTY)
    return {fam: round(float(LAYER_LATENCY_GRID_US[int(np.argmin(loss))]), 3) for fam, loss in by_fam.items()}


def fit(cases: Sequence[Case | Unmodelled], models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
        families: Mapping[str, str] | None = None, source: str = "fit") -> Calibration:
    """Fit factors on the cases marked `in_fit`; the returned Calibration carries the full fit report."""
    fams = dict(families or DEFAULT_FAMILIES)
    power = power_reference(chips, fams)
    cases = [replace(c, in_fit=False, note=c.note + "; not an SRAM chip: reported, not fitted")
             if isinstance(c, Case) and c.in_fit and c.kind == "per_user" and not _is_latency_row(c, chips) else c
             for c in cases]
    base = Calibration(factors={"*|*": Efficiency(0.75, 0.55)}, families=fams, request_overhead_ms=0.0,
                       full_clock_w_per_tflop=power)
    probe = replace(base, request_overhead_ms=PRIOR_REQUEST_OVERHEAD_MS)
    grids: list[_Grid] = []
    for c in cases:
        if not isinstance(c, Case) or not c.in_fit or c.kind in ("weights", "per_user"):
            continue
        cal = base if c.kind == "ttft" else probe
        pred = np.asarray(predict_case(c, models, chips, cal, ETA_BW_GRID[:, None], ETA_C_GRID[None, :]), dtype=float)
        grids.append(_Grid(c, cal.family(chips[c.chip_id]), np.broadcast_to(pred, (len(ETA_BW_GRID), len(ETA_C_GRID)))))
    if not grids:
        reasons = [f"{c.row_id}: {c.reason}" for c in cases if isinstance(c, Unmodelled)]
        more = f" (and {len(reasons) - 5} more)" if len(reasons) > 5 else ""
        raise ValueError("no row of the table can be used for fitting: "
                         + ("; ".join(reasons[:5]) + more if reasons else "the table has no data rows under its header"))
    t0, gi, fi = _fit_grids(grids)
    factors = {"*|*": Efficiency(float(ETA_BW_GRID[gi[0]]), float(ETA_C_GRID[gi[1]]))}
    for fam, (i, j) in fi.items():
        factors[f"{fam}|*"] = Efficiency(float(ETA_BW_GRID[i]), float(ETA_C_GRID[j]))
    loo: dict[str, float] = {}
    for k, g in enumerate(grids):
        rest = grids[:k] + grids[k + 1:]
        if not rest:  # a one-row table: nothing is left to predict the row from
            continue
        t0k, gik, fik = _fit_grids(rest)
        loo[g.case.row_id] = _grid_prediction(g, t0k, gik, fik)
    cal = Calibration(factors=factors, families=fams, request_overhead_ms=t0, step_overhead_us=0.0, source=source,
                      full_clock_w_per_tflop=power)
    lat_rows = []
    for c in cases:
        if isinstance(c, Case) and c.in_fit and c.kind == "per_user":
            pred = np.asarray(predict_case(c, models, chips, cal, layer_latency_s=LAYER_LATENCY_GRID_US * 1e-6), dtype=float)
            lat_rows.append((c, cal.family(chips[c.chip_id]), np.broadcast_to(pred, LAYER_LATENCY_GRID_US.shape)))  # type: ignore[index]
    layer_lat = _fit_layer_latency(lat_rows)
    cal = replace(cal, layer_latency_us=layer_lat)
    implied = {}
    for k, (c, fam, pred) in enumerate(lat_rows):
        rest_lat = _fit_layer_latency(lat_rows[:k] + lat_rows[k + 1:])
        loo[c.row_id] = float(predict_case(c, models, chips, replace(cal, layer_latency_us=rest_lat)))
        implied[c.row_id] = _fit_layer_latency([(replace(c, weight=1.0), fam, pred)])[fam]
    report = fit_report(cases, models, chips, cal, loo)
    n_fam_rows = {f: sum(1 for g in grids if g.family == f) for f in sorted({g.family for g in grids})}
    report["parameters"] = {
        "count": 2 * len(factors) + 1 + len(layer_lat),
        "rows_per_family": n_fam_rows,
        "fitted_families": sorted(fi),
        "min_family_rows": MIN_FAMILY_ROWS,
        "shrinkage": SHRINKAGE,
        "layer_latency_us": layer_lat,
        "layer_latency_rows": {fam: sorted(c.row_id for c, f, _ in lat_rows if f == fam) for fam in layer_lat},
        "layer_latency_implied_by_row_us": implied,
        "vendor_claim_weight": VENDOR_CLAIM_WEIGHT,
    }
    return replace(cal, report=report)


def fit_report(cases: Sequence[Case | Unmodelled], models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
               calibration: Calibration, loo: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Every row: predicted with `calibration`, error, leave-one-out prediction; summaries; unmodelled rows."""
    rows, skipped = [], []
    for c in cases:
        if isinstance(c, Unmodelled):
            skipped.append({"id": c.row_id, "reason": c.reason})
            continue
        pred = float(predict_case(c, models, chips, calibration))
        if not math.isfinite(pred):
            skipped.append({"id": c.row_id, "reason": "no layout of the stated system fits this model in memory"})
            continue
        lay = best_layout_of_case(c, models, chips, calibration)
        err = 100.0 * (pred - c.measured) / c.measured
        lp = (loo or {}).get(c.row_id)
        rows.append({
            "id": c.row_id, "kind": c.kind, "model": c.model_id, "chip": c.chip_id, "chips": c.chips,
            "layout": str(lay) if lay else "", "precision": c.precision, "unit": c.unit,
            "measured": round(c.measured, 3), "predicted": round(pred, 3), "error_pct": round(err, 1),
            "loo_predicted": None if lp is None else round(lp, 3),
            "loo_error_pct": None if lp is None else round(100.0 * (lp - c.measured) / c.measured, 1),
            "in_fit": c.in_fit, "note": c.note,
        })
    fit_rows = [r for r in rows if r["in_fit"]]
    thr = [r for r in fit_rows if r["kind"] in THROUGHPUT_KINDS]
    summary: dict[str, Any] = {
        "throughput_in_sample": _stats([r["error_pct"] for r in thr]),
        "throughput_leave_one_out": _stats([r["loo_error_pct"] for r in thr]),
        "ttft_in_sample": _stats([r["error_pct"] for r in fit_rows if r["kind"] == "ttft"]),
        "ttft_leave_one_out": _stats([r["loo_error_pct"] for r in fit_rows if r["kind"] == "ttft"]),
        "sram_per_user_in_sample": _stats([r["error_pct"] for r in fit_rows if r["kind"] == "per_user"]),
        "sram_per_user_leave_one_out": _stats([r["loo_error_pct"] for r in fit_rows if r["kind"] == "per_user"]),
        "reported_only": _stats([r["error_pct"] for r in rows if not r["in_fit"]]),
        "per_chip_in_sample": {
            chip: _stats([r["error_pct"] for r in thr if r["chip"] == chip]) for chip in sorted({r["chip"] for r in thr})
        },
    }
    return {"rows": rows, "unmodelled": skipped, "summary": summary}


def fit_calibration_file(path: Path, models: Mapping[str, ModelSpec] | None = None,
                         chips: Mapping[str, ChipSpec] | None = None) -> Calibration:
    """Fit factors on a measured table with the columns of `data/calibration.csv` (bundled catalogs by default)."""
    models = models if models is not None else load_model_catalog()
    chips = chips if chips is not None else load_chip_catalog()
    ratio = {k: m.n_heads / m.n_kv_heads for k, m in models.items() if m.attention != "MLA"}
    cases = read_cases(Path(path), set(models), set(chips), ratio)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    return fit(cases, models, chips, source=f"fit on {Path(path).name} (sha256 {digest})")

