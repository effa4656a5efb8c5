"""Deployment options: for a workload, every (chip, precision, TP, PP, EP) layout that meets its latency targets.

For each chip and each allowed precision the chip can run (natively, or weight-only: memory gain without compute
gain), the candidate layouts of `planner.perf.candidates` are evaluated at once (numpy lanes) at their operating
point (`planner.perf.serving`): the largest load whose TTFT and TPOT at the workload's percentile meet its targets.
Dominated layouts are dropped per (chip, precision): a layout is kept only if no other one is at least as good in
both tokens/s per chip and latency (TPOT; TTFT already meets its target) and better in one of them.
Results are memoised per input hash (workload shape, model, chips, calibration) in process, and optionally as CSV
files in a cache directory given by the caller.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from planner.perf.calibration import Calibration, load_calibration
from planner.perf.candidates import candidate_layouts
from planner.perf.layout import Layout
from planner.perf.power import joules_per_token, replica_power_w
from planner.perf.precision import DEFAULT_KV_PRECISION, compute_precision
from planner.perf.serving import RequestShape, Targets, operating_point
from planner.perf.stage import StageParams, stack, stage_params
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec
from planner.schemas.workloads import WorkloadRow

#: Coefficient of variation of request lengths assumed for forecast workloads (only means are given).
WORKLOAD_LENGTH_CV = 1.0
CACHE_VERSION = "options/1"


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
    bound: str              # "memory" | "compute" | "interconnect"

    @property
    def tokens_per_s_per_chip(self) -> float:
        return self.tokens_per_s_per_replica / self.chips_per_replica


OPTION_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(DeploymentOption))

_SPEC_HASH: dict[int, tuple[object, str]] = {}
_MEMO: dict[str, list[DeploymentOption]] = {}
_STAGE_MEMO: dict[tuple[str, str, str, str, Layout, str], StageParams] = {}


def _spec_hash(obj: ModelSpec | ChipSpec) -> str:
    """Content hash of a catalog entry (memoised by object identity; the object is kept alive with it)."""
    hit = _SPEC_HASH.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    h = hashlib.sha256(obj.model_dump_json().encode()).hexdigest()[:16]
    _SPEC_HASH[id(obj)] = (obj, h)
    return h


def workload_shape_key(workload: WorkloadRow, model: ModelSpec, chips: Sequence[ChipSpec], calibration: Calibration) -> str:
    """Hash of everything an option list depends on (not the workload id, quarter or demand)."""
    payload = [
        CACHE_VERSION, workload.model_id, workload.prompt_tokens_mean, workload.output_tokens_mean, workload.ttft_ms,
        workload.tpot_ms, workload.latency_percentile, sorted(workload.allowed_precisions), _spec_hash(model),
        sorted((c.chip_id, _spec_hash(c)) for c in chips), calibration.digest(),
    ]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:24]


def _stage(model: ModelSpec, chip: ChipSpec, p: str, kv: str, layout: Layout, cal: Calibration) -> StageParams:
    key = (_spec_hash(model), _spec_hash(chip), p, kv, layout, cal.digest())
    if key not in _STAGE_MEMO:
        _STAGE_MEMO[key] = stage_params(model, chip, p, kv, layout, cal)
    return _STAGE_MEMO[key]


def _dominated(a: DeploymentOption, b: DeploymentOption) -> bool:
    """True when b is at least as good as a in tokens/s per chip and TPOT, and better in one (ties: fewer chips)."""
    ge = b.tokens_per_s_per_chip >= a.tokens_per_s_per_chip and b.tpot_ms <= a.tpot_ms
    gt = (b.tokens_per_s_per_chip > a.tokens_per_s_per_chip or b.tpot_ms < a.tpot_ms
          or b.chips_per_replica < a.chips_per_replica)
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
                       calibration: Calibration | None = None) -> list[DeploymentOption]:
    """Every layout meeting the workload's latency targets and allowed precisions (one best batch per layout)."""
    cal = calibration if calibration is not None else load_calibration()
    chip_list = list(chips)
    key = workload_shape_key(workload, model, chip_list, cal)
    if key in _MEMO:
        return list(_MEMO[key])
    shape = RequestShape(workload.prompt_tokens_mean, workload.output_tokens_mean, WORKLOAD_LENGTH_CV)
    targets = Targets(workload.ttft_ms / 1e3, workload.tpot_ms / 1e3, workload.latency_percentile)
    lanes: list[tuple[ChipSpec, str, str, Layout]] = []
    params: list[StageParams] = []
    for chip in chip_list:
        for p in dict.fromkeys(workload.allowed_precisions):
            if compute_precision(chip, p) is None:
                continue
            kv = DEFAULT_KV_PRECISION[p]
            for layout in candidate_layouts(model, chip, p, kv, shape.full_context):
                lanes.append((chip, p, kv, layout))
                params.append(_stage(model, chip, p, kv, layout, cal))
    out: list[DeploymentOption] = []
    if params:
        sp = stack(params)
        op = operating_point(sp, shape, targets, cal.request_overhead_ms / 1e3)
        n_chips = np.array([lay.chips for _, _, _, lay in lanes], dtype=float)
        power = replica_power_w(n_chips, sp.tdp_w, op.utilisation, sp.chips_per_server, sp.server_overhead_w)
        jpt = joules_per_token(power, op.tokens_per_s)
        for i, (chip, p, kv, lay) in enumerate(lanes):
            if not bool(op.feasible[i]) or not math.isfinite(float(op.tokens_per_s[i])):
                continue
            out.append(DeploymentOption(
                chip_id=chip.chip_id, precision=p, kv_precision=kv, tp=lay.tp, pp=lay.pp, ep=lay.ep,
                chips_per_replica=lay.chips, batch=int(op.batch[i]),
                tokens_per_s_per_replica=float(op.tokens_per_s[i]), ttft_ms=float(op.ttft_s[i]) * 1e3,
                tpot_ms=float(op.tpot_s[i]) * 1e3, power_w_per_replica=float(power[i]),
                joules_per_token=float(jpt[i]), bound=str(op.bound[i]),
            ))
    out = sorted(prune_dominated(out), key=lambda o: (o.chip_id, o.precision, -o.tokens_per_s_per_chip))
    _MEMO[key] = out
    return list(out)


def _read_cache(path: Path) -> list[DeploymentOption] | None:
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return None
    if tuple(df.columns) != OPTION_COLUMNS:
        return None
    types = {f.name: f.type for f in fields(DeploymentOption)}
    conv = {"int": int, "float": float, "str": str}
    return [DeploymentOption(**{k: conv[types[k]](v) for k, v in rec.items()})  # type: ignore[index]
            for rec in df.to_dict("records")]


def options_table(workloads: Sequence[WorkloadRow], models: Mapping[str, ModelSpec], chips: Mapping[str, ChipSpec],
                  calibration: Calibration | None = None, cache_dir: Path | None = None) -> pd.DataFrame:
    """Tidy table: one row per (workload_id, quarter, option) with columns workload_id, quarter, model_id and every
    DeploymentOption field. Cached per input hash (in-process memo keyed by the workload shape; optionally an on-disk
    cache under `cache_dir`). Raises ValueError naming workloads whose model is not in `models`."""
    cal = calibration if calibration is not None else load_calibration()
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
            path = Path(cache_dir) / f"perf-options-{workload_shape_key(w, model, chip_list, cal)}.csv"
            opts = _read_cache(path) if path.exists() else None
        if opts is None:
            opts = deployment_options(w, model, chip_list, cal)
            if path is not None:
                pd.DataFrame([asdict(o) for o in opts], columns=list(OPTION_COLUMNS)).to_csv(path, index=False)
        for o in opts:
            hit = as_dict.get(id(o))
            if hit is None or hit[0] is not o:  # the option object is kept with its dict, so its id cannot be reused
                hit = as_dict[id(o)] = (o, asdict(o))
            records.append({"workload_id": w.workload_id, "quarter": w.quarter, "model_id": w.model_id, **hit[1]})
    return pd.DataFrame.from_records(records, columns=["workload_id", "quarter", "model_id", *OPTION_COLUMNS])
