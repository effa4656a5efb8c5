"""One (model, chip, precision, layout, request shape) evaluated end to end: memory, speed, latency, power.

This is what `planner perf` prints; `best_evaluation` picks the layout with the highest system throughput.
Speed and latency come from the one predictor (`planner.perf.predictor`), as for the options table.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from planner.perf.burst import requests_per_replica
from planner.perf.calibration import Calibration
from planner.perf.candidates import candidate_layouts
from planner.perf.engines import DEFAULT_ENGINE, batch_cap, reserve_engine, reserves_full_length
from planner.perf.layout import Layout, ep_candidates, layout_problem, tp_candidates
from planner.perf.memory import kv_bytes_per_token_per_chip, memory_fit, weight_bytes_per_chip
from planner.perf.power import chip_price_usd, joules_per_token, replica_power_w, usd_per_million_tokens
from planner.perf.precision import compute_precision
from planner.perf.predictor import Lane, Predictor, Question, build_predictor, draft_layout
from planner.perf.serving import RequestShape, Targets
from planner.perf.speculative import Speculation
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
    engine: str = "vllm"
    concurrency: float | None = None      # closed-loop client concurrency per replica, when asked
    perf_source: str = "model"            # measured | corrected | model
    extrapolated: bool = True
    tokens_per_s_p10: float = math.nan    # per replica
    tokens_per_s_p50: float = math.nan
    tokens_per_s_p90: float = math.nan
    factor: float = 1.0                   # speed factor of the correction applied
    factor_level: str = "none"
    dp: int = 1                           # attention data-parallel degree (planner.perf.layout)
    spec_tokens: int = 0                  # speculative decoding (planner.perf.speculative); 0 = none
    spec_acceptance: float = 0.0
    spec_draft_model: str = ""            # "" = draft heads (or none)
    spec_head_cost: float = 0.0
    spec_expected_tokens: float = 1.0     # E = (1 - alpha^(k+1)) / (1 - alpha) output tokens per step
    no_spec_tokens_per_s_per_replica: float = math.nan  # the same layout and targets without speculation (model)
    no_spec_tpot_ms: float = math.nan
    burst_requests: int = 0               # offline: a burst of this many requests per replica (planner.perf.burst); 0 = steady
    steady_tokens_per_s_per_replica: float = math.nan  # the same offline question in the steady state (burst only)

    @property
    def layout(self) -> Layout:
        return Layout(self.tp, self.pp, self.ep, self.dp)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def evaluate(model: ModelSpec, chip: ChipSpec, chips: int, precision: str, kv_precision: str, layout: Layout,
             shape: RequestShape, targets: Targets, calibration: Calibration, batch: int | None = None,
             electricity_usd_per_kwh: float = 0.08, pue: float = 1.3, predictor: Predictor | None = None,
             engine: str = DEFAULT_ENGINE, concurrency: float | None = None,
             spec: Speculation | None = None, requests: int | None = None) -> Evaluation:
    """Evaluate one layout; a layout that does not fit comes back with fits=False and the memory numbers.
    With `spec` (speculative decoding) the figures are the model's with the verify + draft step, and the same layout
    without speculation is evaluated on the model too (`no_spec_*`), for the comparison `planner perf` prints."""
    pr = predictor if predictor is not None else build_predictor(calibration)
    cp = compute_precision(chip, precision) or precision
    reserve = reserve_engine(engine)
    admit_ctx = shape.admission_context(reserves_full_length(engine))
    mem = memory_fit(model, chip, precision, kv_precision, layout, admit_ctx, reserve)
    full = memory_fit(model, chip, precision, kv_precision, layout, shape.full_context, reserve)
    p: StageParams = stage_params(model, chip, precision, kv_precision, layout, calibration, engine=reserve)
    burst = requests_per_replica(requests, chips // layout.chips) if concurrency is None and targets.offline else 0
    q = Question(shape.prompt_tokens, shape.output_tokens, shape.length_cv, targets.ttft_s * 1e3, targets.tpot_s * 1e3,
                 targets.percentile, engine, concurrency, batch, spec, requests=burst or None)
    lane = Lane(chip, precision, kv_precision, layout)
    r = pr.predict(model, [lane], q)[0]
    replicas = chips // layout.chips
    max_batch = min(mem.max_batch, int(batch_cap(engine)))
    if spec is not None:  # the draft model's weights and KV share the chips
        max_batch = int(r.max_batch) if math.isfinite(r.max_batch) else 0
    fits = (full.fits and max_batch >= (batch or 1)) or r.perf_source == "measured"
    ok = r.feasible and fits
    x = r.tokens_per_s_per_replica if ok else math.nan
    pw = float(replica_power_w(layout.chips, chip.tdp_w, r.utilisation, chip.server.chips_per_server,
                               chip.server.overhead_power_w)) if ok else math.nan
    price = chip_price_usd(chip) * layout.chips
    notes = []
    if cp != precision:
        notes.append(f"{precision} weights computed in {cp} (weight-only quantization: memory gain, no compute gain)")
    spec_fields: dict[str, Any] = {}
    if spec is not None:
        base = replace(pr, use_measured=False).predict(model, [lane], replace(q, spec=None))[0]
        spec_fields = {"spec_tokens": spec.tokens, "spec_acceptance": spec.acceptance,
                       "spec_draft_model": spec.draft_model or "", "spec_head_cost": spec.heads_cost,
                       "spec_expected_tokens": spec.expected_tokens,
                       "no_spec_tokens_per_s_per_replica": base.tokens_per_s_per_replica if base.feasible else math.nan,
                       "no_spec_tpot_ms": base.tpot_ms if base.feasible else math.nan}
        if spec.draft is not None:
            dl = draft_layout(lane)
            notes.append(f"draft {spec.draft_model} at TP{dl.tp} on the same chips: weights "
                         f"{weight_bytes_per_chip(spec.draft, precision, dl) / 1e9:.2f} GB and KV "
                         f"{kv_bytes_per_token_per_chip(spec.draft, kv_precision, dl) / 1024:.1f} KiB/token per chip "
                         f"come out of the KV room (batch up to {max_batch})")
    f = r.factor if r.perf_source != "measured" else 1.0
    tpot1, _ = decode_step(p, 1.0, shape.occupancy_context)
    return Evaluation(
        model=model.model_id, chip=chip.chip_id, chips=chips, precision=precision, kv_precision=kv_precision,
        compute_precision=cp, tp=layout.tp, pp=layout.pp, ep=layout.ep, replicas=replicas,
        batch=int(r.batch) if ok else 0, max_batch=max_batch, fits=fits, meets_targets=ok,
        bound=r.bound if ok else "none",
        throughput_tokens_per_s=x * replicas, tokens_per_s_per_replica=x,
        ttft_ms=r.ttft_ms, tpot_ms=r.tpot_ms,
        prefill_ms_batch1=float(prefill_latency(p, shape.prompt_tokens)) * 1e3 / f, tpot_ms_batch1=float(tpot1) * 1e3 / f,
        prefill_share=r.prefill_share, utilisation=r.utilisation,
        power_w=pw * replicas, power_w_per_replica=pw, joules_per_token=float(joules_per_token(pw, x)),
        usd_per_million_tokens=(usd_per_million_tokens(x, pw, price, chip.lifetime_quarters / 4.0,
                                                       electricity_usd_per_kwh, pue) if ok else math.nan),
        memory={
            "weights_gb_per_chip": round(mem.weights_bytes_per_chip / 1e9, 3),
            "kv_kib_per_token_per_chip": round(mem.kv_bytes_per_token_per_chip / 1024, 3),
            "reserve_gb_per_chip": round(mem.reserve_bytes_per_chip / 1e9, 3),
            "kv_room_gb_per_chip": round(mem.free_bytes_per_chip / 1e9, 3),
            "occupancy_context_tokens": round(shape.occupancy_context, 1),
            "admission_context_tokens": round(admit_ctx, 1),
            "max_batch": mem.max_batch,
        },
        notes=notes + ([] if full.fits else [full.explain()]),
        engine=engine, concurrency=concurrency, perf_source=r.perf_source, extrapolated=r.extrapolated,
        tokens_per_s_p10=r.tokens_per_s_p10 if ok else math.nan, tokens_per_s_p50=r.tokens_per_s_p50 if ok else math.nan,
        tokens_per_s_p90=r.tokens_per_s_p90 if ok else math.nan, factor=r.factor, factor_level=r.factor_level,
        dp=layout.dp, **spec_fields,
        burst_requests=burst if burst and r.perf_source != "measured" else 0,
        steady_tokens_per_s_per_replica=(x / r.burst_factor if burst and ok and r.perf_source != "measured"
                                         and r.burst_factor > 0 else math.nan),
    )


def best_evaluation(model: ModelSpec, chip: ChipSpec, chips: int, precision: str, kv_precision: str,
                    shape: RequestShape, targets: Targets, calibration: Calibration, batch: int | None = None,
                    predictor: Predictor | None = None, engine: str = DEFAULT_ENGINE,
                    system_concurrency: float | None = None, **kw: float) -> Evaluation | None:
    """The candidate layout with the highest system throughput (ties: lower TPOT); None when none fits.
    `system_concurrency`: closed-loop clients against all `chips`, spread evenly over each layout's replicas."""
    feasible: list[Evaluation] = []
    fitting: list[Evaluation] = []
    pr = predictor if predictor is not None else build_predictor(calibration)
    layouts = candidate_layouts(model, chip, precision, kv_precision, shape.full_context, chips, reserve_engine(engine))
    have = {lay.parallel_key for lay in layouts}
    layouts += [lay for lay in pr.measured_layouts(model.model_id, chip.chip_id, precision, engine, shape.prompt_tokens,
                                                   shape.output_tokens)
                if lay.parallel_key not in have and layout_problem(model, chip, lay) is None]
    # Also the layouts that use the whole system as one pipeline (e.g. 576 Groq chips = TP8 x PP72), with TP
    # attention: attention DP is modelled, not calibrated, so a search never buys on it (`--dp` evaluates it).
    layouts += [Layout(tp=tp, pp=chips // tp, ep=ep) for tp in tp_candidates(model, chip)
                if chips % tp == 0 and 1 < chips // tp <= model.n_layers
                for ep in ep_candidates(model, tp)]
    for layout in dict.fromkeys(layouts):
        if chips % layout.chips:
            continue
        ev = evaluate(model, chip, chips, precision, kv_precision, layout, shape, targets, calibration, batch,
                      predictor=pr, engine=engine, **kw,  # type: ignore[arg-type]
                      concurrency=None if system_concurrency is None else system_concurrency / (chips // layout.chips))
        (feasible if ev.meets_targets else fitting if ev.fits else []).append(ev)
    if feasible:
        return max(feasible, key=lambda e: (e.throughput_tokens_per_s, -e.tpot_ms))
    if fitting:  # nothing meets the targets: the fastest single request explains why
        return min(fitting, key=lambda e: (e.tpot_ms_batch1, e.prefill_ms_batch1))
    return None
