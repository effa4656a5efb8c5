"""Deployment options: for a workload, every (chip, precision, TP, PP, EP, attention DP) layout that meets its latency targets.

For each chip and each allowed precision the chip can run (natively, or weight-only: memory gain without compute
gain), the candidate layouts of `planner.perf.candidates` (with the memory reserve of the workload's engine), plus
any layout a measurement covers, are evaluated at once by the one predictor (`planner.perf.predictor`): measured
where a measurement covers the case, else the corrected model at its operating point (the largest load whose TTFT
and TPOT at the workload's percentile meet its targets, under the engine's batch limit).
Dominated layouts are dropped per (chip, precision): a layout is kept only if no other one is at least as good in
both tokens/s per chip and latency (TPOT; TTFT already meets its target) and better in one of them; a measured
layout is only dropped for another measured one.
Results are memoised per input hash (workload shape, model, chips, calibration) in process, and optionally as CSV
files in a cache directory given by the caller.
A workload with speculative decoding (`spec_*` columns, `planner.perf.speculative`) asks the model with the verify
+ draft step and is never answered from a measurement; its options carry the settings (`spec_*` fields).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from planner.perf.calibration import Calibration
from planner.perf.calibration_io import load_calibration  # noqa: F401 (load_calibration re-exported)
from planner.perf.candidates import candidate_layouts
from planner.perf.engines import DEFAULT_ENGINE, reserve_engine
from planner.perf.layout import layout_problem
from planner.perf.power import joules_per_token, replica_power_w
from planner.perf.precision import DEFAULT_KV_PRECISION, compute_precision
from planner.perf.predictor import _STAGE_MEMO as PREDICTOR_STAGE_MEMO
from planner.perf.predictor import Lane, Predictor, Question, build_predictor, spec_hash
from planner.perf.speculative import Speculation
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec
from planner.schemas.workloads import WorkloadRow
from planner.source_digest import planner_digest

#: Coefficient of variation of request lengths assumed for forecast workloads (only means are given).
WORKLOAD_LENGTH_CV = 1.0
CACHE_VERSION = "options/6"


@dataclass(frozen=True)
class DeploymentOption:
    """One way to serve a workload. Units: tokens/s, ms, W, J per output token."""

    chip_id: str
    precision: str          # weight precision, one of PRECISIONS
    kv_precision: str
    tp: int
    pp: int
    ep: int
    chips_per_replica: int  # tp*pp (SRAM chips: as many as memory demands, pipelined)
    batch: int              # concurrent sequences per replica at the operating point
    tokens_per_s_per_replica: float  # sustainable output tokens/s that meets TTFT/TPOT at the percentile
    ttft_ms: float          # at the operating point, at the workload's percentile
    tpot_ms: float
    power_w_per_replica: float  # chips x (idle + util x (TDP-idle)) + chips/chips_per_server x server overhead
    joules_per_token: float
    bound: str              # "memory" | "compute" | "interconnect" | "measured"
    engine: str = "vllm"    # serving engine the figures assume (planner.perf.engines)
    perf_source: str = "model"  # "measured" | "corrected" | "model" (planner.perf.predictor)
    extrapolated: bool = True   # far from any measurement (planner.perf.predictor)
    tokens_per_s_p10: float = math.nan  # per replica, leave-one-source-out interval of the corrected model
    tokens_per_s_p50: float = math.nan
    tokens_per_s_p90: float = math.nan
    dp: int = 1             # attention data-parallel degree (planner.perf.layout; 1 = TP attention)
    spec_tokens: int = 0    # speculative decoding (planner.perf.speculative): tokens speculated per step, 0 = none
    spec_acceptance: float = 0.0  # per-token acceptance rate alpha
    spec_draft_model: str = ""    # draft model id ("" = draft heads, or no speculation)
    spec_head_cost: float = 0.0   # heads' cost per speculated token / one target decode step (0 with a draft model)

    @property
    def tokens_per_s_per_chip(self) -> float:
        return self.tokens_per_s_per_replica / self.chips_per_replica


OPTION_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(DeploymentOption))

_MEMO: dict[str, list[DeploymentOption]] = {}
_STAGE_MEMO = PREDICTOR_STAGE_MEMO  # cleared by benchmarks that time a cold table


def workload_engine(workload: WorkloadRow, default_engine: str = DEFAULT_ENGINE) -> str:
    """The engine a workload row is served with: its own `engine` column, else the scenario default."""
    return workload.engine or default_engine


def workload_speculation(workload: WorkloadRow, models: Mapping[str, ModelSpec] | None = None) -> Speculation | None:
    """The speculative decoding of a workload row (None without `spec_tokens`); raises ValueError naming the column
    when its draft model is not in `models` (the input checks report it first, with the row)."""
    if workload.spec_tokens is None:
        return None
    draft = None
    if workload.spec_draft_model:
        if models is None or workload.spec_draft_model not in models:
            raise ValueError(f"workload {workload.workload_id!r} {workload.quarter}: spec_draft_model "
                             f"{workload.spec_draft_model!r} is not in the model catalog")
        draft = models[workload.spec_draft_model]
    return Speculation(workload.spec_tokens, float(workload.spec_acceptance or 0.0), workload.spec_draft_model,
                       workload.spec_head_cost, draft)


def workload_question(workload: WorkloadRow, default_engine: str = DEFAULT_ENGINE,
                      models: Mapping[str, ModelSpec] | None = None) -> Question:
    """The predictor question of a workload row (`planner perf` asks the same with the same flags); `models` holds
    a speculative row's draft model."""
    return Question(workload.prompt_tokens_mean, workload.output_tokens_mean, WORKLOAD_LENGTH_CV, workload.ttft_ms,
                    workload.tpot_ms, workload.latency_percentile, workload_engine(workload, default_engine),
                    spec=workload_speculation(workload, models))


def workload_shape_key(workload: WorkloadRow, model: ModelSpec, chips: Sequence[ChipSpec], predictor: Predictor,
                       default_engine: str = DEFAULT_ENGINE, draft: ModelSpec | None = None) -> str:
    """Hash of everything an option list depends on (not the workload id, quarter or demand), the planner's own
    code and bundled data included (`planner.source_digest.planner_digest`)."""
    payload = [
        CACHE_VERSION, workload.model_id, workload.prompt_tokens_mean, workload.output_tokens_mean, workload.ttft_ms,
        workload.tpot_ms, workload.latency_percentile, sorted(workload.allowed_precisions), spec_hash(model),
        sorted((c.chip_id, spec_hash(c)) for c in chips), predictor.digest(), workload_engine(workload, default_engine),
        planner_digest(),
    ]
    if workload.spec_tokens is not None:
        payload += [workload.spec_tokens, workload.spec_acceptance, workload.spec_draft_model, workload.spec_head_cost,
                    spec_hash(draft) if draft is not None else None]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:24]


def _dominated(a: DeploymentOption, b: DeploymentOption) -> bool:
    """True when b is at least as good as a in tokens/s per chip and TPOT, and better in one (ties: fewer chips,
    then TP attention: a measurement of (TP, PP, EP) answers both attention modes alike, and one row is enough)."""
    if a.perf_source == "measured" and b.perf_source != "measured":
        return False  # measured beats modeled: a measured layout is never dropped for a modelled figure
    ge = b.tokens_per_s_per_chip >= a.tokens_per_s_per_chip and b.tpot_ms <= a.tpot_ms
    gt = (b.tokens_per_s_per_chip > a.tokens_per_s_per_chip or b.tpot_ms < a.tpot_ms
          or b.chips_per_replica < a.chips_per_replica
          or (b.chips_per_replica == a.chips_per_replica and b.dp < a.dp))
    return ge and gt


def prune_dominated(options: Sequence[DeploymentOption]) -> list[DeploymentOption]:
    """Keep, per (chip, precision), the options no other option of the group dominates."""
    groups: dict[tuple[str, str], list[DeploymentOption]] = {}
    for o in options:
        groups.setdefault((o.chip_id, o.precision), []).append(o)
    kept = []
    for group in groups.values():
        kept += [a for a in group if not any(_dominated(a, b) for b in group if b is not a)]
    return kept


def deployment_options(workload: WorkloadRow, model: ModelSpec, chips: Iterable[ChipSpec],
                       calibration: Calibration | None = None, predictor: Predictor | None = None,
                       default_engine: str = DEFAULT_ENGINE,
                       models: Mapping[str, ModelSpec] | None = None) -> list[DeploymentOption]:
    """Every layout meeting the workload's latency targets and allowed precisions (one best batch per layout).
    `predictor` defaults to the bundled fit on `calibration`; `default_engine` serves rows without an engine;
    `models` holds a speculative row's draft model."""
    pr = predictor if predictor is not None else build_predictor(calibration)
    chip_list = list(chips)
    q = workload_question(workload, default_engine, models)
    key = workload_shape_key(workload, model, chip_list, pr, default_engine, q.spec.draft if q.spec else None)
    if key in _MEMO:
        return list(_MEMO[key])
    lanes: list[Lane] = []
    for chip in chip_list:
        for p in dict.fromkeys(workload.allowed_precisions):
            if compute_precision(chip, p) is None:
                continue
            kv = DEFAULT_KV_PRECISION[p]
            layouts = candidate_layouts(model, chip, p, kv, q.shape.full_context, engine=reserve_engine(q.engine))
            have = {lay.parallel_key for lay in layouts}
            for lay in pr.measured_layouts(model.model_id, chip.chip_id, p, q.engine, q.prompt_tokens, q.output_tokens):
                if lay.parallel_key not in have and layout_problem(model, chip, lay) is None:
                    layouts.append(lay)
            lanes += [Lane(chip, p, kv, layout) for layout in layouts]
    out: list[DeploymentOption] = []
    preds = pr.predict(model, lanes, q)
    for lane, r in zip(lanes, preds, strict=True):
        if not r.feasible or not math.isfinite(r.tokens_per_s_per_replica):
            continue
        chip, lay = lane.chip, lane.layout
        power = float(replica_power_w(float(lay.chips), chip.tdp_w, r.utilisation, float(chip.server.chips_per_server),
                                      chip.server.overhead_power_w))
        out.append(DeploymentOption(
            chip_id=chip.chip_id, precision=lane.precision, kv_precision=lane.kv_precision, tp=lay.tp, pp=lay.pp,
            ep=lay.ep, chips_per_replica=lay.chips, batch=int(r.batch), tokens_per_s_per_replica=r.tokens_per_s_per_replica,
            ttft_ms=r.ttft_ms, tpot_ms=r.tpot_ms, power_w_per_replica=power,
            joules_per_token=float(joules_per_token(power, r.tokens_per_s_per_replica)), bound=r.bound,
            engine=q.engine, perf_source=r.perf_source, extrapolated=r.extrapolated,
            tokens_per_s_p10=r.tokens_per_s_p10, tokens_per_s_p50=r.tokens_per_s_p50,
            tokens_per_s_p90=r.tokens_per_s_p90, dp=lay.dp, **_spec_fields(q.spec),
        ))
    out = sorted(prune_dominated(out), key=lambda o: (o.chip_id, o.precision, -o.tokens_per_s_per_chip))
    _MEMO[key] = out
    return list(out)


def _spec_fields(spec: Speculation | None) -> dict[str, object]:
    """The `spec_*` fields of an option."""
    if spec is None:
        return {}
    return {"spec_tokens": spec.tokens, "spec_acceptance": spec.acceptance, "spec_draft_model": spec.draft_model or "",
            "spec_head_cost": spec.heads_cost}


def _read_cache(path: Path) -> list[DeploymentOption] | None:
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return None
    if tuple(df.columns) != OPTION_COLUMNS:
        return None
    types = {f.name: f.type for f in fields(DeploymentOption)}
    conv = {"int": int, "float": float, "str": lambda v: "" if isinstance(v, float) and math.isnan(v) else str(v),
            "bool": lambda v: str(v).strip().lower() in ("true", "1")}
    return [DeploymentOption(**{k: conv[types[k]](v) for k, v in rec.items()})  # type: ignore[index]
            for rec in df.to_dict("records")]


def options_table(workloads: Sequence[WorkloadRow], models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
                  calibration: Calibration | None = None, cache_dir: Path | None = None,
                  predictor: Predictor | None = None, default_engine: str = DEFAULT_ENGINE) -> pd.DataFrame:
    """Tidy table: one row per (workload_id, quarter, option) with columns workload_id, quarter, model_id and every
    DeploymentOption field. Cached per input hash (in-process memo keyed by the workload shape; optionally an on-disk
    cache under `cache_dir`). Raises ValueError naming workloads whose model is not in `models`."""
    pr = predictor if predictor is not None else build_predictor(calibration)
    missing = sorted({w.model_id for w in workloads if w.model_id not in models})
    if missing:
        raise ValueError(f"workloads name model(s) not in the catalog: {', '.join(missing)}")
    chip_list = list(chips.values())
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    records: list[dict[str, object]] = []
    as_dict: dict[int, tuple[DeploymentOption, dict[str, object]]] = {}  # one asdict() per option, not per row
    for w in workloads:
        model = models[w.model_id]
        opts: list[DeploymentOption] | None = None
        path = None
        if cache_dir is not None:
            spec = workload_speculation(w, models)
            key = workload_shape_key(w, model, chip_list, pr, default_engine, spec.draft if spec else None)
            path = Path(cache_dir) / f"perf-options-{key}.csv"
            opts = _read_cache(path) if path.exists() else None
        if opts is None:
            opts = deployment_options(w, model, chip_list, predictor=pr, default_engine=default_engine, models=models)
            if path is not None:
                pd.DataFrame([asdict(o) for o in opts], columns=list(OPTION_COLUMNS)).to_csv(path, index=False)
        for o in opts:
            hit = as_dict.get(id(o))
            if hit is None or hit[0] is not o:  # the option object is kept with its dict, so its id cannot be reused
                hit = as_dict[id(o)] = (o, asdict(o))
            records.append({"workload_id": w.workload_id, "quarter": w.quarter, "model_id": w.model_id, **hit[1]})
    return pd.DataFrame.from_records(records, columns=["workload_id", "quarter", "model_id", *OPTION_COLUMNS])
