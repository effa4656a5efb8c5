"""One (model, chip, precision, layout, request shape) evaluated end to end: memory, speed, latency, power.

This is what `planner perf` prints; `best_evaluation` picks the layout with the highest system throughput.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from planner.perf.calibration import Calibration
from planner.perf.candidates import candidate_layouts
from planner.perf.layout import Layout, ep_candidates, tp_candidates
from planner.perf.memory import memory_fit
from planner.perf.power import chip_price_usd, joules_per_token, replica_power_w, usd_per_million_tokens
from planner.perf.precision import compute_precision
from planner.perf.serving import RequestShape, Targets, operating_point
from planner.perf.stage import StageParams, stage_params
from planner.perf.step import decode_step, prefill_latency
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec


@dataclass(frozen=True)
class Evaluation:
    """Figures of one layout at its operating point; `throughput_tokens_per_s` and `power_w` are for all chips."""

    model: str
    chip: str
    chips: int
    precision: str
    kv_precision: str
    compute_precision: str
    tp: int
    pp: int
    ep: int
    replicas: int
    batch: int
    max_batch: int
    fits: bool
    meets_targets: bool
    bound: str
    throughput_tokens_per_s: float
    tokens_per_s_per_replica: float
    ttft_ms: float
    tpot_ms: float
    prefill_ms_batch1: float
    tpot_ms_batch1: float
    prefill_share: float
    utilisation: float
    power_w: float
    power_w_per_replica: float
    joules_per_token: float
    usd_per_million_tokens: float
    memory: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def evaluate(model: ModelSpec, chip: ChipSpec, chips: int, precision: str, kv_precision: str, layout: Layout,
             shape: RequestShape, targets: Targets, calibration: Calibration, batch: int | None = None,
             electricity_usd_per_kwh: float = 0.08, pue: float = 1.3) -> Evaluation:
    """Evaluate one layout; a layout that does not fit comes back with fits=False and the memory numbers."""
    cp = compute_precision(chip, precision) or precision
    mem = memory_fit(model, chip, precision, kv_precision, layout, shape.occupancy_context)
    full = memory_fit(model, chip, precision, kv_precision, layout, shape.full_context)
    p: StageParams = stage_params(model, chip, precision, kv_precision, layout, calibration)
    op = operating_point(p, shape, targets, calibration.request_overhead_ms / 1e3, batch)
    replicas = chips // layout.chips
    fits = full.fits and mem.max_batch >= (batch or 1)
    ok = bool(op.feasible) and fits
    x = float(op.tokens_per_s) if ok else math.nan
    pw = float(replica_power_w(layout.chips, chip.tdp_w, float(op.utilisation), chip.server.chips_per_server,
                               chip.server.overhead_power_w)) if ok else math.nan
    price = chip_price_usd(chip) * layout.chips
    notes = []
    if cp != precision:
        notes.append(f"{precision} weights computed in {cp} (weight-only quantization: memory gain, no compute gain)")
    tpot1, _ = decode_step(p, 1.0, shape.occupancy_context)
    return Evaluation(
        model=model.model_id, chip=chip.chip_id, chips=chips, precision=precision, kv_precision=kv_precision,
        compute_precision=cp, tp=layout.tp, pp=layout.pp, ep=layout.ep, replicas=replicas,
        batch=int(op.batch) if ok else 0, max_batch=mem.max_batch, fits=fits, meets_targets=ok,
        bound=str(op.bound) if ok else "none",
        throughput_tokens_per_s=x * replicas, tokens_per_s_per_replica=x,
        ttft_ms=float(op.ttft_s) * 1e3, tpot_ms=float(op.tpot_s) * 1e3,
        prefill_ms_batch1=float(prefill_latency(p, shape.prompt_tokens)) * 1e3, tpot_ms_batch1=float(tpot1) * 1e3,
        prefill_share=float(op.prefill_share), utilisation=float(op.utilisation),
        power_w=pw * replicas, power_w_per_replica=pw, joules_per_token=float(joules_per_token(pw, x)),
        usd_per_million_tokens=(usd_per_million_tokens(x, pw, price, chip.lifetime_quarters / 4.0,
                                                       electricity_usd_per_kwh, pue) if ok else math.nan),
        memory={
            "weights_gb_per_chip": round(mem.weights_bytes_per_chip / 1e9, 3),
            "kv_kib_per_token_per_chip": round(mem.kv_bytes_per_token_per_chip / 1024, 3),
            "reserve_gb_per_chip": round(mem.reserve_bytes_per_chip / 1e9, 3),
            "kv_room_gb_per_chip": round(mem.free_bytes_per_chip / 1e9, 3),
            "occupancy_context_tokens": round(shape.occupancy_context, 1),
            "max_batch": mem.max_batch,
        },
        notes=notes + ([] if full.fits else [full.explain()]),
    )


def best_evaluation(model: ModelSpec, chip: ChipSpec, chips: int, precision: str, kv_precision: str,
                    shape: RequestShape, targets: Targets, calibration: Calibration, batch: int | None = None,
                    **kw: float) -> Evaluation | None:
    """The candidate layout with the highest system throughput (ties: lower TPOT); None when none fits."""
    feasible: list[Evaluation] = []
    fitting: list[Evaluation] = []
    layouts = candidate_layouts(model, chip, precision, kv_precision, shape.full_context, chips)
    # Also the layouts that use the whole system as one pipeline (e.g. 576 Groq chips = TP8 x PP72).
    layouts += [Layout(tp=tp, pp=chips // tp, ep=ep) for tp in tp_candidates(model, chip)
                if chips % tp == 0 and 1 < chips // tp <= model.n_layers for ep in ep_candidates(model, tp)]
    for layout in dict.fromkeys(layouts):
        if chips % layout.chips:
            continue
        ev = evaluate(model, chip, chips, precision, kv_precision, layout, shape, targets, calibration, batch, **kw)
        (feasible if ev.meets_targets else fitting if ev.fits else []).append(ev)
    if feasible:
        return max(feasible, key=lambda e: (e.throughput_tokens_per_s, -e.tpot_ms))
    if fitting:  # nothing meets the targets: the fastest single request explains why
        return min(fitting, key=lambda e: (e.tpot_ms_batch1, e.prefill_ms_batch1))
    return None
