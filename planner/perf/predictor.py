"""The one predictor: what a replica of a layout delivers for a question, measured first, else the corrected model.

`planner perf`, the deployment-options table (so every plan, compare, sweep and breakeven) and the accuracy
evaluation (`planner.perf.measured_eval`, `benchmarks/perf_accuracy.py`) all call `Predictor.predict`.

For each lane (chip, weight precision, KV precision, layout) and one question (request lengths, latency targets at
a percentile, engine, optionally a closed-loop client concurrency and a running-batch limit):
  1. The engine sets the running-batch limit (`planner.perf.engines.ENGINE_BATCH_CAP`, lowered to a user's
     --batch) and the memory reserve (`reserve_engine`), in every path.
  2. Measured first: when a measured point covers the lane (`planner.perf.coverage`: same model, chip, precision,
     layout and engine, lengths within 25 %) and answers the question (concurrency inside the measured range, an
     offline point, or the largest measured concurrency meeting the targets), its tokens/s per chip x chips per
     replica is the figure: perf_source `measured`, P10 = P50 = P90 = it.
  3. Else the analytic model with the speed factor f of the lane's (engine, chip family) -> engine -> pooled
     (`planner.perf.correction`) applied inside the operating-point search (tokens/s x f, TPOT and TTFT / f, so
     the targets are checked on corrected times): perf_source `corrected`; `engine: tuned` (the model calibrated
     on tuned MLPerf submissions, no engine costs) takes its f from tuned points only, `model` when there are none
     (f = 1). P10 / P50 / P90 and the figure at the predictor's
     quantile q are the operating points with f x exp(Q(q) - Q(0.5)) of the group's leave-one-source-out residuals;
     a quantile whose slower factor meets the targets at no load gives 0 tokens/s (nothing meets them there).
  4. Speculative decoding (`Question.spec`, `planner.perf.speculative`): the model with the verify + draft step;
     no measurement records speculation, so a speculative question is never answered from one (the measured
     lookup is skipped) and its figure is always `extrapolated`.
`extrapolated` is true when the figure does not come from a measurement and no measurement exists of the same
model on the same chip family with the same engine at prompt and output lengths within 25 %, or when a covering
measurement exists but cannot answer the question (outside its measured concurrency range, its smallest
concurrency already misses a target, or only offline points for a question with latency targets).

The factor and intervals are fitted when a predictor is built (`build_predictor`: one prediction per row of the
bundled table `data/measured.csv`, about 650 rows in 1.4 s, memoised): residuals of the raw predictor, i.e. of this
very function with f = 1 and no measured lookup.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.calibration import Calibration
from planner.perf.calibration_io import load_calibration
from planner.perf.correction import Correction, Intervals, fit_correction, fit_intervals
from planner.perf.coverage import at_concurrency, covering_group, near_measurement, offline, under_targets
from planner.perf.engine_costs import EngineCostTable, load_engine_costs
from planner.perf.engines import reserve_engine
from planner.perf.layout import Layout
from planner.perf.measured import BUNDLED_MEASURED, MeasuredPoint, load_table
from planner.perf.memory import kv_bytes_per_token_per_chip, weight_bytes_per_chip
from planner.perf.question import (  # callers import Lane, Question and the point helpers from here too
    Lane,
    Question,
    correction_key,
    point_lane,
    point_question,
    run_question,
)
from planner.perf.serving import OperatingPoint
from planner.perf.speculative import SpecStage, Speculation
from planner.perf.stage import StageParams, stack, stage_params
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec

QUANTILES = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class Prediction:
    """Result for one lane. Tokens/s are output tokens/s of one replica; times are ms at the question's percentile."""

    feasible: bool
    tokens_per_s_per_replica: float  # at the predictor's quantile: the figure plans use
    tokens_per_s_p10: float
    tokens_per_s_p50: float
    tokens_per_s_p90: float
    ttft_ms: float
    tpot_ms: float
    batch: float
    load: float
    max_batch: float
    utilisation: float
    prefill_share: float
    bound: str
    perf_source: str        # measured | corrected | model
    extrapolated: bool
    factor: float           # speed factor f applied (1 for measured and tuned)
    factor_level: str       # engine x family | engine | pooled | none | measured
    measured_points: int    # points of the covering group that answered (0 when not measured)
    burst_factor: float = 1.0  # an offline burst's tokens/s over the steady state's (planner.perf.burst); 1 otherwise


#: a lane the predictor cannot answer (by keyword: a positional list of 19 values for these 18 fields raised a
#: TypeError whenever a lane went unanswered)
NO_PREDICTION = Prediction(
    feasible=False, tokens_per_s_per_replica=math.nan, tokens_per_s_p10=math.nan, tokens_per_s_p50=math.nan,
    tokens_per_s_p90=math.nan, ttft_ms=math.nan, tpot_ms=math.nan, batch=0.0, load=0.0, max_batch=0.0,
    utilisation=math.nan, prefill_share=math.nan, bound="none", perf_source="model", extrapolated=True, factor=1.0,
    factor_level="none", measured_points=0)


@dataclass(frozen=True)
class Predictor:
    """Calibration + correction + intervals + measured points + the quantile plans use."""

    calibration: Calibration
    correction: Correction = field(default_factory=Correction)
    intervals: Intervals = field(default_factory=Intervals)
    measured: tuple[MeasuredPoint, ...] = ()
    quantile: float = 0.5
    use_measured: bool = True
    use_correction: bool = True
    report: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    costs: EngineCostTable = field(default_factory=EngineCostTable)  # stock-engine costs (planner.perf.engine_costs)

    def with_quantile(self, quantile: float) -> Predictor:
        return replace(self, quantile=quantile)

    @cached_property
    def _digest(self) -> str:
        payload = [self.calibration.digest(), self.costs.digest(), sorted(self.correction.by_group.items()),
                   sorted(self.correction.by_engine.items()), self.correction.pooled,
                   sorted(self.intervals.by_group.items()), sorted(self.intervals.by_engine.items()), self.intervals.pooled,
                   [repr(p) for p in self.measured], self.quantile, self.use_measured, self.use_correction]
        return hashlib.sha256(json.dumps(payload, default=str).encode()).hexdigest()[:16]

    def digest(self) -> str:
        """Hash of everything a prediction depends on (for memo and cache keys)."""
        return self._digest

    def family(self, chip: ChipSpec) -> str:
        return self.calibration.family(chip)

    def speed(self, engine: str, family: str, quantile: float) -> tuple[float, str]:
        """(f x exp(Q(q) - Q(0.5)), level of f) for a lane's group."""
        if not self.use_correction:
            return 1.0, "none"
        f, level = self.correction.lookup(engine, family)
        return f * self.intervals.scale(engine, family, quantile), level

    def measured_layouts(self, model_id: str, chip_id: str, precision: str, engine: str, prompt: float,
                         output: float) -> list[Layout]:
        """Layouts some measurement covers for this case (added to the candidates so a measured layout is offered)."""
        if not self.use_measured:
            return []
        out = []
        for p in self.measured:
            lay = Layout(tp=p.tp, pp=p.pp, ep=p.ep)
            if lay not in out and covering_group([p], model_id, chip_id, precision, lay, engine, prompt, output):
                out.append(lay)
        return out

    def predict(self, model: ModelSpec, lanes: Sequence[Lane], q: Question) -> list[Prediction]:
        """Predictions for every lane (module docstring). Lanes the chip cannot run come back infeasible."""
        return _predict(self, model, lanes, q)


_STAGE_MEMO: dict[tuple[object, ...], StageParams | None] = {}
_SPEC_HASH: dict[int, tuple[object, str]] = {}


def spec_hash(obj: ModelSpec | ChipSpec) -> str:
    """Content hash of a catalog entry (memoised by object identity; the object is kept alive with it)."""
    hit = _SPEC_HASH.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    h = hashlib.sha256(obj.model_dump_json().encode()).hexdigest()[:16]
    _SPEC_HASH[id(obj)] = (obj, h)
    return h


def _stage(model: ModelSpec, lane: Lane, cal: Calibration, engine: str, table: EngineCostTable,
           cal_digest: str | None = None) -> StageParams | None:
    costs, _ = table.lookup(engine, cal.family(lane.chip))
    ratio = table.fp4_ratio(engine)
    key = (spec_hash(model), spec_hash(lane.chip), lane.precision, lane.kv_precision, lane.layout,
           cal_digest or cal.digest(), reserve_engine(engine), costs, ratio)
    if key not in _STAGE_MEMO:
        try:
            _STAGE_MEMO[key] = stage_params(model, lane.chip, lane.precision, lane.kv_precision, lane.layout, cal,
                                            engine=reserve_engine(engine), costs=costs, fp4_compute_ratio=ratio)
        except ValueError:
            _STAGE_MEMO[key] = None
    return _STAGE_MEMO[key]


def draft_layout(lane: Lane) -> Layout:
    """Where a draft model runs: the lane's TP, one stage (`planner.perf.speculative`)."""
    return Layout(tp=lane.layout.tp)


def _spec_stage(pr: Predictor, lanes: Sequence[Lane], idx: list[int], stages: list[StageParams | None],
                spec: Speculation, engine: str, dig: str) -> tuple[SpecStage, list[int]]:
    """The SpecStage of the lanes `idx` (and the lanes among them whose draft the chip can run)."""
    n = len(idx)
    full = lambda v: np.full(n, float(v))  # noqa: E731
    if spec.draft is None:
        return SpecStage(full(spec.tokens), full(spec.acceptance), full(spec.heads_cost)), idx
    drafts, keep = [], []
    for i in idx:
        lane = lanes[i]
        d = _stage(spec.draft, Lane(lane.chip, lane.precision, lane.kv_precision, draft_layout(lane)), pr.calibration,
                   engine, pr.costs, dig)
        if d is None:
            stages[i] = None
            continue
        drafts.append(d)
        keep.append(i)
    n = len(keep)
    if not keep:
        return SpecStage(full(spec.tokens), full(spec.acceptance), full(0.0)), keep
    w = [weight_bytes_per_chip(spec.draft, lanes[i].precision, draft_layout(lanes[i])) for i in keep]
    kv = [kv_bytes_per_token_per_chip(spec.draft, lanes[i].kv_precision, draft_layout(lanes[i])) for i in keep]
    return SpecStage(full(spec.tokens), full(spec.acceptance), full(0.0), stack(drafts),
                     np.array(w, dtype=float), np.array(kv, dtype=float)), keep


def _f(a: Any, i: int) -> float:
    return float(np.asarray(a, dtype=float).reshape(-1)[i])


def _q(op: OperatingPoint, i: int) -> float:
    """Tokens/s of lane i at one quantile: 0 when no load meets the targets at that quantile's speed."""
    return _f(op.tokens_per_s, i) if bool(np.asarray(op.feasible).reshape(-1)[i]) else 0.0


def _predict(pr: Predictor, model: ModelSpec, lanes: Sequence[Lane], q: Question) -> list[Prediction]:
    cal = pr.calibration
    dig = cal.digest()  # once per call, not per lane
    stages = [_stage(model, lane, cal, q.engine, pr.costs, dig) for lane in lanes]
    idx = [i for i, st in enumerate(stages) if st is not None]
    spec: SpecStage | None = None
    if q.spec is not None and idx:
        spec, idx = _spec_stage(pr, lanes, idx, stages, q.spec, q.engine, dig)
    out: list[Prediction | None] = [None] * len(lanes)
    ops: dict[float, OperatingPoint] = {}
    levels: list[str] = []
    if idx:
        sp = stack([stages[i] for i in idx])  # type: ignore[misc]
        fams = [pr.family(lanes[i].chip) for i in idx]
        ck = correction_key(q.engine, model)
        quants = list(dict.fromkeys((*QUANTILES, pr.quantile)))
        # one look-up per (family, quantile), not per lane (the interval scale takes a quantile of residuals)
        speeds = {(fam, quant): pr.speed(ck, fam, quant) for fam in dict.fromkeys(fams) for quant in (*quants, 0.5)}
        levels = [speeds[(fam, 0.5)][1] for fam in fams]
        # every quantile's lanes in one vectorised search (the per-call cost dominates for small tables)
        tiled = StageParams(**{f.name: np.tile(np.asarray(getattr(sp, f.name), dtype=float), len(quants))
                               for f in fields(StageParams)})
        scale = np.array([speeds[(fam, quant)][0] for quant in quants for fam in fams], dtype=float)
        op = run_question(tiled, q, cal, scale, None if spec is None else spec.tiled(len(quants)))
        n = len(idx)
        for j, quant in enumerate(quants):
            ops[quant] = OperatingPoint(**{f.name: np.asarray(getattr(op, f.name)).reshape(-1)[j * n:(j + 1) * n]
                                           if np.ndim(getattr(op, f.name)) else getattr(op, f.name)
                                           for f in fields(OperatingPoint)})
    # a speculative question is never answered from a measurement (none records speculation)
    model_points = ([p for p in pr.measured if p.model_id == model.model_id]
                    if pr.use_measured and q.spec is None else [])
    family_of = dict(cal.families)
    for k, i in enumerate(idx):
        lane = lanes[i]
        mid, use = ops[0.5], ops[pr.quantile]
        answer, covered = None, False
        if model_points:
            group = covering_group(model_points, model.model_id, lane.chip.chip_id, lane.precision, lane.layout,
                                   q.engine, q.prompt_tokens, q.output_tokens)
            covered = bool(group)
            if group:
                if q.concurrency is not None:
                    answer = at_concurrency(group, q.concurrency)
                elif math.isinf(q.ttft_ms) and math.isinf(q.tpot_ms):
                    answer = offline(group)
                else:
                    answer = under_targets(group, q.ttft_ms, q.tpot_ms)
        if answer is not None:
            x = answer.tokens_per_s_per_chip * lane.layout.chips
            model_ok = bool(np.asarray(mid.feasible).reshape(-1)[k])
            conc = answer.concurrency if answer.concurrency is not None else (_f(mid.batch, k) if model_ok else 1.0)
            out[i] = Prediction(
                feasible=True, tokens_per_s_per_replica=x, tokens_per_s_p10=x, tokens_per_s_p50=x, tokens_per_s_p90=x,
                ttft_ms=answer.ttft_ms if answer.ttft_ms is not None else _f(mid.ttft_s, k) * 1e3,
                tpot_ms=answer.tpot_ms if answer.tpot_ms is not None else _f(mid.tpot_s, k) * 1e3,
                batch=float(math.ceil(conc - 1e-9)), load=conc, max_batch=_f(mid.max_batch, k),
                utilisation=_f(mid.utilisation, k) if model_ok else 1.0,
                prefill_share=_f(mid.prefill_share, k) if model_ok else math.nan,
                bound=str(np.asarray(mid.bound).reshape(-1)[k]) if model_ok else "measured",
                perf_source="measured", extrapolated=False, factor=1.0, factor_level="measured",
                measured_points=answer.points)
            continue
        fam = pr.family(lane.chip)
        near = bool(model_points) and near_measurement(model_points, model.model_id, family_of, fam, q.engine,
                                                    q.prompt_tokens, q.output_tokens)
        feasible = bool(np.asarray(use.feasible).reshape(-1)[k]) and math.isfinite(_f(use.tokens_per_s, k))
        out[i] = Prediction(
            feasible=feasible, tokens_per_s_per_replica=_f(use.tokens_per_s, k),
            tokens_per_s_p10=_q(ops[0.1], k), tokens_per_s_p50=_q(mid, k), tokens_per_s_p90=_q(ops[0.9], k),
            ttft_ms=_f(use.ttft_s, k) * 1e3, tpot_ms=_f(use.tpot_s, k) * 1e3, batch=_f(use.batch, k),
            load=_f(use.load, k), max_batch=_f(use.max_batch, k), utilisation=_f(use.utilisation, k),
            prefill_share=_f(use.prefill_share, k), bound=str(np.asarray(use.bound).reshape(-1)[k]),
            perf_source="model" if (not pr.use_correction or levels[k] == "none") else "corrected",
            extrapolated=covered or not near, factor=speeds[(fam, 0.5)][0], factor_level=levels[k],
            measured_points=0, burst_factor=_f(use.burst_factor, k) if np.ndim(use.burst_factor) else 1.0)
    return [o if o is not None else NO_PREDICTION for o in out]


# --- fitting -------------------------------------------------------------------------------------------------


def predict_point(pr: Predictor, p: MeasuredPoint, models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec]
                  ) -> Prediction | None:
    """The predictor's answer for a measured point's setting, None when its model or chip is not in the catalogs."""
    if p.model_id not in models or p.chip_id not in chips:
        return None
    return pr.predict(models[p.model_id], [point_lane(p, chips[p.chip_id])], point_question(p))[0]


def per_chip(pred: Prediction | None, p: MeasuredPoint) -> float:
    """P50 tokens/s per chip of a prediction (NaN when none)."""
    if pred is None or not pred.feasible:
        return math.nan
    return pred.tokens_per_s_p50 / p.chips


def fit_predictor(cal: Calibration, bundled: Sequence[MeasuredPoint], user: Sequence[MeasuredPoint], quantile: float,
                  models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
                  costs: EngineCostTable | None = None) -> Predictor:
    """Fit the correction and intervals on `bundled` (module docstring of `planner.perf.correction`); the predictor
    answers from `user` and `bundled` points where they cover a case. The user's own points also set the speed factor
    of every (engine x architecture, chip family) group they measure: f = exp(median ln(measured / model)) over the
    user's points of that group (`user_factor_groups`), replacing the bundled publishers' level there, since they are
    the user's stack; cases they do not cover are then predicted at the user's level (intervals stay the bundled
    leave-one-source-out ones)."""
    costs = costs if costs is not None else EngineCostTable()
    raw = Predictor(cal, use_measured=False, use_correction=False, costs=costs)
    # every bundled point answers where it covers a case and sets its engine's factor (tuned points: the tuned
    # regime's only; they fit no stock engine's costs, `planner.perf.engine_fit`)
    fam = [cal.families.get(p.chip_id, p.chip_id) for p in bundled]
    preds = [per_chip(predict_point(raw, p, models, chips), p) for p in bundled]
    res = [math.log(p.tokens_per_s_per_chip / y) if math.isfinite(y) and y > 0 else math.nan
           for p, y in zip(bundled, preds, strict=True)]
    keys = [correction_key(p.engine, models.get(p.model_id)) for p in bundled]
    triples = [(k, f, r) for k, f, r in zip(keys, fam, res, strict=True)]
    correction = fit_correction(triples, [p.publisher for p in bundled])
    held: dict[str, Correction] = {}  # the correction refitted without each publisher (once per publisher)
    for pub in {p.publisher for p in bundled}:
        keep = [(t, q.publisher) for t, q in zip(triples, bundled, strict=True) if q.publisher != pub]
        held[pub] = fit_correction([t for t, _ in keep], [s for _, s in keep])
    loso_factor = [held[p.publisher].factor(keys[i], fam[i]) for i, p in enumerate(bundled)]
    loso = [(keys[i], fam[i], res[i] - math.log(f)) for i, f in enumerate(loso_factor)]
    cost_loso = _cost_loso_residuals(costs, {p.row_id for p in bundled})
    intervals = fit_intervals(cost_loso if cost_loso else loso)
    rows: list[dict[str, Any]] = []
    for i, p in enumerate(bundled):
        rows.append(_report_row(p, fam[i], preds[i], correction.factor(keys[i], fam[i]), loso_factor[i], "bundled"))
    user_res: dict[tuple[str, str], list[float]] = {}
    user_pred: list[float] = []
    for p in user:
        y = per_chip(predict_point(raw, p, models, chips), p)
        user_pred.append(y)
        if math.isfinite(y) and y > 0 and p.model_id in models:
            g = (correction_key(p.engine, models[p.model_id]), cal.families.get(p.chip_id, p.chip_id))
            user_res.setdefault(g, []).append(math.log(p.tokens_per_s_per_chip / y))
    user_groups = {g: float(np.median(v)) for g, v in user_res.items()}
    if user_groups:
        correction = replace(correction, by_group={**correction.by_group, **user_groups})
    for p, y in zip(user, user_pred, strict=True):
        f = correction.factor(correction_key(p.engine, models.get(p.model_id)), cal.families.get(p.chip_id, p.chip_id))
        rows.append(_report_row(p, cal.families.get(p.chip_id, p.chip_id), y, f, f, "user"))
    report = {
        "method": "speed factor on the model with stock-engine costs (planner.perf.engine_costs): weighted median "
                  "of ln(measured / model), each of a publisher's n rows weighing n^-0.5, per (engine x architecture, chip family) with >= 3 "
                  "points, else per engine x architecture, else pooled; your measurements set the groups they cover; "
                  "intervals from leave-one-publisher-out residuals with costs and factor refitted without the publisher "
                  "(planner.perf.engine_fit, planner.perf.correction)",
        "table": str(BUNDLED_MEASURED.name), "points": len(bundled), "user_points": len(user),
        "user_factor_groups": {f"{e}|{f}": round(math.exp(v), 4) for (e, f), v in sorted(user_groups.items())},
        "factors": {
            "engine_x_family": {f"{e}|{f}": round(math.exp(v), 4) for (e, f), v in sorted(correction.by_group.items())},
            "engine": {e: round(math.exp(v), 4) for e, v in sorted(correction.by_engine.items())},
            "pooled": round(math.exp(correction.pooled), 4),
        },
        "rows": rows,
    }
    report["intervals_from"] = ("leave-one-source-out residuals of the engine costs and the factor refitted without "
                                "the row's source (planner.perf.engine_fit)" if cost_loso else
                                "leave-one-source-out residuals of the factor")
    return Predictor(cal, correction, intervals, (*user, *bundled), quantile, report=report, costs=costs)


def _cost_loso_residuals(costs: EngineCostTable, ids: set[str]) -> list[tuple[str, str, float]]:
    """(engine key, family, LOSO log residual) of the cost fit's report, for rows of the fitted table still present."""
    out = []
    for r in (costs.report or {}).get("loso_residuals", []):
        v = r.get("ln_measured_over_predicted")
        if r.get("id") in ids and v is not None:
            out.append((str(r["engine"]), str(r["family"]), float(v)))
    return out


def _pct(pred: float, measured: float) -> float | None:
    return None if not math.isfinite(pred) else round(100.0 * (pred - measured) / measured, 2)


def _report_row(p: MeasuredPoint, family: str, raw: float, f: float, f_loso: float, origin: str) -> dict[str, Any]:
    m = p.tokens_per_s_per_chip
    return {
        "id": p.row_id, "origin": origin, "source": p.source, "model": p.model_id, "chip": p.chip_id,
        "family": family, "engine": p.engine, "precision": p.precision, "tp": p.tp, "pp": p.pp,
        "prompt_tokens": round(p.prompt_tokens, 1), "output_tokens": round(p.output_tokens, 1),
        "concurrency": p.concurrency, "measured_tokens_per_s_per_chip": round(m, 3),
        "raw_tokens_per_s_per_chip": None if not math.isfinite(raw) else round(raw, 3),
        "corrected_tokens_per_s_per_chip": None if not math.isfinite(raw) else round(raw * f, 3),
        "raw_error_pct": _pct(raw, m), "corrected_error_pct": _pct(raw * f, m),
        "loso_error_pct": _pct(raw * f_loso, m) if origin == "bundled" else None,
    }


_BUILT: dict[str, Predictor] = {}


def build_predictor(calibration: Calibration | None = None, user_points: Sequence[MeasuredPoint] = (),
                    quantile: float = 0.5, models: Mapping[str, ModelSpec] | None = None,
                    chips: Mapping[str, ChipSpec] | None = None, table: Path = BUNDLED_MEASURED) -> Predictor:
    """Fit the correction and intervals on the bundled table and add the user's points (memoised). Catalogs
    default to the bundled ones; given catalogs override them entry by entry."""
    cal = calibration if calibration is not None else load_calibration()
    all_models = {**load_model_catalog(), **(models or {})}
    all_chips = {**load_chip_catalog(), **(chips or {})}
    key = hashlib.sha256(json.dumps([
        cal.digest(), load_engine_costs().digest(), str(table), Path(table).stat().st_mtime_ns,
        [repr(p) for p in user_points], quantile,
        sorted((k, v.model_dump_json()) for k, v in all_models.items()),
        sorted((k, v.model_dump_json()) for k, v in all_chips.items()),
    ]).encode()).hexdigest()
    if key not in _BUILT:
        _BUILT[key] = fit_predictor(cal, load_table(table), list(user_points), quantile, all_models, all_chips,
                                    load_engine_costs())
    return _BUILT[key]
