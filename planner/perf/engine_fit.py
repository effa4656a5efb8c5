"""Fit the stock-engine costs of `planner.perf.engine_costs` on the bundled measured table, with an honest report.

Every measured point (model, chip, precision, layout, engine, lengths, concurrency or offline) is predicted by the
predictor's raw path (calibrated roofline + engine costs, no measured lookup, no speed factor) once over a grid of
the seven costs, so every refit below is an argmin over cached arrays.
  r_i(c)   = ln(measured_i / predicted_i(c))                (NO_FIT_PENALTY^(1/2) when the layout does not fit)
  d_i(c)   = r_i(c) - mean of r(c) over the row's correction group (engine / architecture x chip family): the fit
           sees the shape of the error only; the level is the speed factor's job (`planner.perf.correction`), so
           costs are not inflated to cancel a level error
  loss_i(c) = d_i(c)^2 + LEVEL_PENALTY x max(0, mean r(c))^2: costs are slowdowns, and costs that make the model
           slower than the group's measurements on average are a slowdown no measurement shows (a speed factor above
           1 cancelling them transfers badly to cases of other shapes), so that excess is penalised; costs may leave
           the model optimistic, the factor takes that level
  engine   c_e = argmin_c sum_{i in e} loss_i(c)            (all families of the engine)
  pooled   c_0 = argmin_c sum_i loss_i(c)                   (all engines: used for an engine with no rows)
  near     the report gives, per engine and group, the near-equal set (loss within NEAR_TOL of the best): its size
           and each cost's range show how firmly the data pin the choice (`_near_best` can choose within it towards
           the prior, pooled: no costs; engine: pooled; group: engine; off, CHOICE_TOL 0: README, issue #21)
  group    c_ef = argmin_c sum_{i in (e, f)} loss_i(c) + SHRINKAGE x |idx(c) - idx(c_e)|^2   (>= MIN_GROUP_ROWS rows;
           |idx| the distance in grid steps: shrinkage towards the engine's costs)
  fp4      the FP4 compute ratio is chosen on FP4_RATIO_GRID by the total loss of the fitted costs.
The speed factor of `planner.perf.correction` is then fitted by the predictor on the residuals of this model.
Leave-one-source-out: for every source, costs, FP4 ratio and factors are refitted without its rows and its rows
predicted; those residuals (costs + factor, as plans use them) are the report's held-out figures and the
predictor's P10/P90 intervals.

Run `python -m planner.perf.engine_fit` to refit and rewrite `data/engine_costs.json`.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.calibration import Calibration
from planner.perf.calibration_io import load_calibration
from planner.perf.common import PUBLISHER_WEIGHT_POWER
from planner.perf.correction import fit_correction
from planner.perf.engine_costs import BUNDLED_ENGINE_COSTS, EngineCosts, EngineCostTable
from planner.perf.engines import reserve_engine
from planner.perf.measured import BUNDLED_MEASURED, MeasuredPoint, load_table, stock_points
from planner.perf.question import correction_key, point_lane, point_question, run_question
from planner.perf.stage import stage_params, with_costs
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec

GRID: dict[str, tuple[float, ...]] = {
    "layer_us": (0.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0),
    "seq_us": (0.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0),
    "elementwise_passes": (0.0, 16.0, 32.0, 64.0, 128.0),
    "gemm_half_tokens": (0.0, 128.0, 256.0, 512.0),
    "moe_half_tokens": (0.0, 32.0, 128.0, 256.0),
    "moe_token_us": (0.0, 0.4, 1.6),
    "kv_read_efficiency": (1.0, 0.8, 0.6, 0.4),
}
FP4_RATIO_GRID = (0.6, 0.7, 0.8, 0.9, 1.0)
MIN_GROUP_ROWS = 5
SHRINKAGE = 0.5
NO_FIT_PENALTY = 9.0
#: Relative loss tolerance of the "near-equal" set the report prints per engine and group (`landscape`): every combo
#: within (1 + NEAR_TOL) x the best loss fits the data about as well as the best, so a wide set means the data do not
#: pin that engine's costs and a change of the model's shape may move the argmin across it.
NEAR_TOL = 0.02
#: Tolerance of the choice itself (`_near_best`): 0 takes the argmin. At NEAR_TOL (choose the near-equal combo closest
#: to the prior) the bundled LOSO and held-out figures got worse (README, issue #21), so it is off.
CHOICE_TOL = 0.0
#: Weight of the penalty on a group whose fitted costs make the model slower than its measurements on average.
LEVEL_PENALTY = 1.0
NAMES = tuple(GRID)
_IDX = np.array(list(itertools.product(*[range(len(v)) for v in GRID.values()])), dtype=float)  # (combos, 5)
_VALUES = np.array(list(itertools.product(*GRID.values())), dtype=float)


def combo_costs(k: int) -> EngineCosts:
    return EngineCosts(**{n: float(_VALUES[k, j]) for j, n in enumerate(NAMES)})


@dataclass(frozen=True)
class Rows:
    """Measured points with their group keys and cached log-residual grids."""

    points: tuple[MeasuredPoint, ...]
    engine: tuple[str, ...]          # the engine (costs are per engine)
    corr_key: tuple[str, ...]        # the engine as the correction groups it (engine / architecture)
    family: tuple[str, ...]
    fp4: np.ndarray                  # bool per row
    sq: Mapping[float, np.ndarray]   # fp4 ratio -> (rows, combos) squared log residuals (penalty where no fit)
    res: Mapping[float, np.ndarray]  # fp4 ratio -> (rows, combos) log residuals (NaN where no fit)


def _grid_residuals(p: MeasuredPoint, model: ModelSpec, chip: ChipSpec, cal: Calibration, ratio: float) -> np.ndarray:
    lane, q = point_lane(p, chip), point_question(p)
    try:
        sp = stage_params(model, chip, lane.precision, lane.kv_precision, lane.layout, cal,
                          engine=reserve_engine(p.engine), fp4_compute_ratio=ratio)
    except ValueError:
        return np.full(len(_VALUES), np.nan)
    mc = model.moe.moe_layers if model.moe is not None else 0
    sp = with_costs(sp, *[_VALUES[:, j] for j in range(len(NAMES))], d_model=float(model.d_model),
                    moe_layers=mc / lane.layout.pp)
    op = run_question(sp, q, cal, np.ones(len(_VALUES)))
    x = np.asarray(op.tokens_per_s, dtype=float) / p.chips
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.log(p.tokens_per_s_per_chip / x)
    return np.where(np.isfinite(r), r, np.nan)


def build_rows(points: Sequence[MeasuredPoint], models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
               cal: Calibration) -> Rows:
    """Predict every usable point over the grid (points whose model or chip is unknown are left out, and so are
    tuned submissions: the `tuned` regime is the calibrated model with no engine costs, and its points answer as
    measurements only)."""
    use = [p for p in stock_points(points) if p.model_id in models and p.chip_id in chips]
    fp4 = np.array([p.precision == "fp4" for p in use])
    res: dict[float, np.ndarray] = {}
    base = None
    for ratio in FP4_RATIO_GRID:
        rows = []
        for i, p in enumerate(use):
            if base is not None and not fp4[i]:
                rows.append(base[i])
            else:
                rows.append(_grid_residuals(p, models[p.model_id], chips[p.chip_id], cal, ratio))
        res[ratio] = np.array(rows)
        if base is None:
            base = res[ratio]
    sq = {k: np.where(np.isnan(v), NO_FIT_PENALTY, v * v) for k, v in res.items()}
    return Rows(tuple(use), tuple(p.engine for p in use),
                tuple(correction_key(p.engine, models[p.model_id]) for p in use),
                tuple(cal.families.get(p.chip_id, p.chip_id) for p in use), fp4, sq, res)


@dataclass(frozen=True)
class Fit:
    """Chosen combo per engine, per (engine, family), pooled, and the FP4 ratio."""

    ratio: float
    pooled: int
    by_engine: Mapping[str, int]
    by_group: Mapping[tuple[str, str], int]

    def combo(self, engine: str, family: str) -> int:
        return self.by_group.get((engine, family), self.by_engine.get(engine, self.pooled))

    def table(self, source: str, report: Mapping[str, Any]) -> EngineCostTable:
        return EngineCostTable({k: combo_costs(v) for k, v in self.by_group.items()},
                               {k: combo_costs(v) for k, v in self.by_engine.items()}, combo_costs(self.pooled),
                               self.ratio, source, report)


def _loss_rows(rows: Rows, mask: np.ndarray, ratio: float) -> np.ndarray:
    """(rows, combos) losses the fit minimises: loss_i(c), d_i(c)^2 (r minus its correction group's mean) plus the
    level penalty (module docstring; rows whose layout does not fit cost NO_FIT_PENALTY)."""
    r = rows.res[ratio]
    out = rows.sq[ratio].copy()
    keys = np.array([f"{k}|{f}" for k, f in zip(rows.corr_key, rows.family, strict=True)])
    for g in sorted(set(keys[mask])):
        m = mask & (keys == g)
        sub = r[m]
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(np.isnan(sub), np.nan, sub), axis=0)
        d = sub - mean
        over = np.maximum(mean, 0.0)
        out[m] = np.where(np.isnan(d), NO_FIT_PENALTY, d * d + LEVEL_PENALTY * over * over)
    return out


def publisher_weights(rows: Rows, mask: np.ndarray) -> np.ndarray:
    """w_i = (rows of i's publisher among `mask`)^-PUBLISHER_WEIGHT_POWER: a publisher's rows share its weight (at
    power 1 every publisher counts once; 0 weighs every row alike; the speed factor's median uses the same weights)."""
    pub = np.array([p.publisher for p in rows.points])
    w = np.zeros(len(pub))
    for q in set(pub[mask]):
        m = mask & (pub == q)
        w[m] = float(m.sum()) ** -PUBLISHER_WEIGHT_POWER
    return w


def _near_best(loss: np.ndarray, prior: int | None, tol: float | None = None) -> int:
    """The combo among the near-equal set {c: loss(c) <= min loss x (1 + tol)} (tol CHOICE_TOL by default) closest in
    grid steps to `prior` (the no-cost combo, index 0 on every axis, when None); ties by lower loss. At tol 0 this is
    the argmin; above 0 a change of the model's shape that moves the argmin between near-equal combos far apart on the
    grid no longer moves the costs."""
    best = float(np.min(loss))
    near = np.flatnonzero(loss <= best + (CHOICE_TOL if tol is None else tol) * abs(best))
    target = np.zeros(_IDX.shape[1]) if prior is None else _IDX[prior]
    dist = ((_IDX[near] - target) ** 2).sum(axis=1)
    return int(near[np.lexsort((loss[near], dist))[0]])


def landscape(loss: np.ndarray) -> dict[str, Any]:
    """Width of the near-equal set: how many combos, and each cost's range of values among them."""
    best = float(np.min(loss))
    near = np.flatnonzero(loss <= best + NEAR_TOL * abs(best))
    return {"near_combos": int(len(near)),
            **{n: sorted({float(_VALUES[k, j]) for k in near}) for j, n in enumerate(NAMES)}}


def _fit_at(rows: Rows, mask: np.ndarray, ratio: float, widths: dict[str, Any] | None = None) -> tuple[float, Fit]:
    sq = _loss_rows(rows, mask, ratio) * publisher_weights(rows, mask)[:, None]
    loss_0 = sq[mask].sum(axis=0)
    pooled = _near_best(loss_0, None)
    if widths is not None:
        widths["pooled"] = landscape(loss_0)
    by_engine: dict[str, int] = {}
    by_group: dict[tuple[str, str], int] = {}
    total = 0.0
    eng = np.array(rows.engine)
    fam = np.array(rows.family)
    for e in sorted(set(eng[mask])):
        me = mask & (eng == e)
        loss_e = sq[me].sum(axis=0)
        ce = _near_best(loss_e, pooled)
        if widths is not None:
            widths[e] = landscape(loss_e)
        by_engine[e] = ce
        prior = SHRINKAGE * ((_IDX - _IDX[ce]) ** 2).sum(axis=1)
        for f in sorted(set(fam[me])):
            mg = me & (fam == f)
            if mg.sum() >= MIN_GROUP_ROWS:
                loss = sq[mg].sum(axis=0) + prior
                cg = _near_best(loss, ce)
                if widths is not None:
                    widths[f"{e}|{f}"] = landscape(loss)
                by_group[(e, f)] = cg
                total += float(sq[mg][:, cg].sum())
            else:
                total += float(sq[mg][:, ce].sum())
    return total, Fit(ratio, pooled, by_engine, by_group)


def fit_costs(rows: Rows, mask: np.ndarray | None = None) -> Fit:
    """The fit on the rows in `mask` (all by default), FP4 ratio chosen by total loss."""
    m = np.ones(len(rows.points), dtype=bool) if mask is None else mask
    best = min((_fit_at(rows, m, r) for r in FP4_RATIO_GRID), key=lambda t: t[0])
    return best[1]


def residuals(rows: Rows, fit: Fit) -> np.ndarray:
    """ln(measured / model with the fitted costs) per row (NaN where it does not fit)."""
    r = rows.res[fit.ratio]
    return np.array([r[i, fit.combo(rows.engine[i], rows.family[i])] for i in range(len(rows.points))])


def loso(rows: Rows) -> tuple[np.ndarray, np.ndarray]:
    """(cost-only, cost + factor) leave-one-source-out log residuals per row."""
    src = np.array([p.publisher for p in rows.points])
    only = np.full(len(src), np.nan)
    full = np.full(len(src), np.nan)
    for s in sorted(set(src)):
        held = src == s
        f = fit_costs(rows, ~held)
        r = residuals(rows, f)
        keep = np.flatnonzero(~held)
        corr = fit_correction([(rows.corr_key[i], rows.family[i], float(r[i])) for i in keep], [str(src[i]) for i in keep])
        for i in np.flatnonzero(held):
            only[i] = r[i]
            full[i] = r[i] - math.log(corr.factor(rows.corr_key[i], rows.family[i]))
    return only, full


def _stats(r: np.ndarray) -> dict[str, float | int]:
    """median |error|, p90 |error|, median signed error in % of measured (error = predicted / measured - 1)."""
    e = np.exp(-r[np.isfinite(r)]) - 1.0
    if not len(e):
        return {"n": 0}
    return {"n": int(len(e)), "median_abs_pct": round(100 * float(np.median(np.abs(e))), 1),
            "p90_abs_pct": round(100 * float(np.percentile(np.abs(e), 90)), 1),
            "median_signed_pct": round(100 * float(np.median(e)), 1)}


def fit_table(points: Sequence[MeasuredPoint], models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
              cal: Calibration, source: str) -> EngineCostTable:
    """Fit and report (module docstring)."""
    rows = build_rows(points, models, chips, cal)
    fit = fit_costs(rows)
    widths: dict[str, Any] = {}
    _fit_at(rows, np.ones(len(rows.points), dtype=bool), fit.ratio, widths)
    r_in = residuals(rows, fit)
    only, full = loso(rows)
    raw0 = rows.res[1.0][:, 0]
    report = {
        "method": __doc__.split("\n\n")[1] if __doc__ else "",
        "grid": {k: list(v) for k, v in GRID.items()}, "fp4_ratio_grid": list(FP4_RATIO_GRID),
        "min_group_rows": MIN_GROUP_ROWS, "shrinkage": SHRINKAGE, "near_tolerance": NEAR_TOL, "choice_tolerance": CHOICE_TOL,
        "points": len(rows.points), "near_equal_set": widths,
        "summary": {"raw_model_in_sample": _stats(raw0), "costs_in_sample": _stats(r_in),
                    "costs_loso": _stats(only), "costs_and_factor_loso": _stats(full)},
        "loso_residuals": [
            {"id": p.row_id, "source": p.source, "publisher": p.publisher, "engine": rows.corr_key[i], "family": rows.family[i],
             "ln_measured_over_predicted": None if not math.isfinite(full[i]) else round(float(full[i]), 5)}
            for i, p in enumerate(rows.points)],
    }
    return fit.table(source, report)


def fit_bundled(table: Path = BUNDLED_MEASURED) -> EngineCostTable:
    digest = hashlib.sha256(Path(table).read_bytes()).hexdigest()[:16]
    return fit_table(load_table(table), load_model_catalog(), load_chip_catalog(), load_calibration(),
                     f"fit on {Path(table).name} (sha256 {digest})")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m planner.perf.engine_fit", description=__doc__.split("\n")[0])
    ap.add_argument("--table", type=Path, default=BUNDLED_MEASURED, help="measured table CSV")
    ap.add_argument("--out", type=Path, default=BUNDLED_ENGINE_COSTS, help="engine costs JSON to write")
    args = ap.parse_args(argv)
    t = fit_bundled(args.table)
    args.out.write_text(json.dumps(t.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: fp4 compute ratio {t.fp4_compute_ratio}")
    for k, v in sorted(t.by_engine.items()):
        print(f"  {k:<8} {v}")
    for (e, f), v in sorted(t.by_group.items()):
        print(f"  {e}|{f:<18} {v}")
    print(f"  near-equal sets (loss within {NEAR_TOL:.0%} of the best; choice tolerance {CHOICE_TOL:.0%}):")
    for k, w in t.report["near_equal_set"].items():
        span = ", ".join(f"{n} {v[0]:g}..{v[-1]:g}" for n, v in w.items() if n != "near_combos" and len(v) > 1)
        print(f"    {k:<24} {w['near_combos']:>5} combos  {span or 'a single combo'}")
    for k, v in t.report["summary"].items():
        print(f"  {k:<24} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
