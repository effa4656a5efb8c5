"""A replica under load: the operating point that meets TTFT and TPOT targets at a percentile.

Continuous batching with chunked prefill: every pass decodes one token for each running sequence and processes
the prompt tokens of newly admitted requests, I / (O w) per decoded token on average (w = beam width, 1 unless
beam search), so prefill takes its share of the chip inside the same passes (`prefill_share` reports it).
With mean concurrency a (sequences):
  TPOT_mean(a) = decode_step(a, L, I/(O w)).tpot,    throughput X(a) = a / (w TPOT_mean(a))  output tokens/s
  L            = I + O (1 + cv^2) / 2   (mean context held per running sequence; cv = output-length CV)
Offline (no targets): every memory slot is busy, a = max batch.
With targets (Poisson arrivals, latency percentile p, z = z_p), see `planner.perf.queueing`:
  slots        c(a) = a + z sqrt(a)  must fit in memory (the max batch)
  TPOT_p(a)    = decode_step(c(a), L, I/O).tpot              (pass time at the p-th percentile occupancy)
  TTFT_p(a)    = request_overhead + prefill_latency(I) + TPOT_p / PP + W_p,
                 W_p the M/G/1 wait of the prompt behind other prompts (rho = X/O x prefill compute time).
The operating point is the largest a with TPOT_p <= target and TTFT_p <= target (both grow with a), found by
bisection; its batch is c(a) rounded up.
A speed factor f (`time_scale`, the measured correction of `planner.perf.correction`, per lane) divides every
modelled time (step times, prefill, queueing wait and the request overhead): at a fixed load tokens/s are x f and
TPOT, TTFT / f, and the targets are checked on those corrected times inside the search.
Speculative decoding (`spec`, `planner.perf.speculative`): TPOT_mean and TPOT_p are the effective TPOT (verify
step + draft) / E, the TTFT's wait for the running pass is one whole step / PP plus the draft's own prefill, and
the draft model's weights and KV come out of the memory the batch fits in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.perf.common import MAX_BATCH_PER_REPLICA, Num
from planner.perf.queueing import load_for_slots, mg1_wait_percentile, slots_needed, z_score
from planner.perf.speculative import SpecStage, draft_prefill_latency, spec_step
from planner.perf.stage import StageParams
from planner.perf.step import (
    bound_of,
    decode_step,
    hop_time,
    micro_batch,
    prefill_compute_time,
    prefill_latency,
    stage_step,
    utilisation,
)

BISECTION_STEPS = 28
MIN_LOAD = 0.05


@dataclass(frozen=True)
class RequestShape:
    """Mean request: prompt and output tokens, and the coefficient of variation of their lengths."""

    prompt_tokens: float
    output_tokens: float
    length_cv: float = 1.0
    beam_width: int = 1  # beam search: each request decodes this many sequences and returns one

    @property
    def occupancy_context(self) -> float:
        """Mean context held per running sequence: I + O (1 + cv^2) / 2."""
        return self.prompt_tokens + self.output_tokens * (1.0 + self.length_cv**2) / 2.0

    @property
    def full_context(self) -> float:
        return self.prompt_tokens + self.output_tokens

    def admission_context(self, reserve_full: bool = False) -> float:
        """Tokens of KV a running sequence takes from the cache: its whole length I + O where the engine reserves
        that on admission (`planner.perf.engines.reserves_full_length`), else its mean (occupancy) context."""
        return self.full_context if reserve_full else self.occupancy_context


@dataclass(frozen=True)
class Targets:
    """Latency targets at a percentile; both infinite = offline (throughput only)."""

    ttft_s: float = math.inf
    tpot_s: float = math.inf
    percentile: float = 99.0

    @property
    def offline(self) -> bool:
        return math.isinf(self.ttft_s) and math.isinf(self.tpot_s)


@dataclass(frozen=True)
class OperatingPoint:
    """Per-lane results (arrays, or floats for one layout). Infeasible lanes have feasible=False, NaN figures."""

    feasible: Num
    load: Num               # mean concurrent sequences a
    batch: Num              # batch slots configured: c(a) rounded up (offline: the max batch)
    max_batch: Num          # largest batch memory allows at the occupancy context
    tokens_per_s: Num       # output tokens/s of the replica
    ttft_s: Num             # at the percentile (offline: a request joining the full batch)
    tpot_s: Num             # at the percentile (offline: the mean)
    prefill_share: Num      # share of compute spent on prompts
    utilisation: Num
    bound: Num
    burst_factor: Num = 1.0  # offline as a finite burst: tokens_per_s over the steady state's (planner.perf.burst)


def memory_batch(p: StageParams, shape: RequestShape, cap: Num = None, spec: SpecStage | None = None,
                 reserve_full: bool = False) -> Num:
    """Largest batch whose KV at the occupancy context fits (and a full-length sequence fits), capped by `cap`.
    An engine that admits a request only when the KV of its whole length is free (`reserve_full`: TensorRT-LLM's
    GUARANTEED_NO_EVICT, `planner.perf.engines`) holds free / (kv x (I + O)) sequences instead of the occupancy
    context's free / (kv x (I + O (1 + cv^2) / 2)): the same for cv = 1, up to ~2x fewer for fixed long outputs.
    With attention DP D the batch is D attention replicas' worth, each holding whole sequences at D x the KV per
    chip per token of the stage's batch: D x floor(free / (D x kv x context)) (`planner.perf.memory`).
    A draft model (`spec`) takes its weights from `free` and adds its KV per token to `kv`."""
    dp = np.asarray(p.dp, dtype=float)
    free, kv = p.free_kv_bytes, p.kv_bytes_token
    if spec is not None:
        free, kv = free - spec.draft_weight_bytes, kv + spec.draft_kv_bytes_token
    kv_rank = kv * dp
    occ = dp * np.floor(np.maximum(free, 0.0) / (kv_rank * shape.admission_context(reserve_full)))
    full_ok = free >= kv_rank * shape.full_context
    b = np.where(full_ok, occ, 0.0)
    b = np.minimum(b, MAX_BATCH_PER_REPLICA)
    return b if cap is None else np.minimum(b, cap)


def _at_load(p: StageParams, shape: RequestShape, t: Targets, load: Num, cap: Num, overhead_s: float,
             f: Num = 1.0, spec: SpecStage | None = None) -> tuple[Num, Num, Num, Num, Num]:
    """(slots, X, TPOT_p, TTFT_p, rho) at mean load a, every time divided by the speed factor f."""
    i, o, w = shape.prompt_tokens, shape.output_tokens, shape.beam_width
    ctx = shape.occupancy_context
    z = 0.0 if t.offline else z_score(t.percentile)
    slots = np.minimum(slots_needed(load, z), cap)
    if spec is None:
        tpot_mean = decode_step(p, load, ctx, i / (o * w), i)[0] / f
        tpot_p = decode_step(p, slots, ctx, i / (o * w), i)[0] / f
        running = tpot_p
    else:
        tpot_mean = spec_step(p, spec, load, ctx, i / (o * w), i)[0] / f
        tpot_p, step_p, _ = spec_step(p, spec, slots, ctx, i / (o * w), i)
        tpot_p, running = tpot_p / f, step_p / f
    x = load / (w * tpot_mean)
    s_p = prefill_compute_time(p, i) / f
    rho = x / o * s_p
    wait = 0.0 if t.offline else mg1_wait_percentile(rho, s_p, shape.length_cv**2, t.percentile)
    ttft = (overhead_s + prefill_latency(p, i) + draft_prefill_latency(spec, i)) / f + running / p.pp + wait
    return slots, x, tpot_p, ttft, rho


def operating_point(p: StageParams, shape: RequestShape, targets: Targets, request_overhead_s: float,
                    batch_cap: Num = None, time_scale: Num = 1.0, spec: SpecStage | None = None,
                    reserve_full: bool = False) -> OperatingPoint:
    """Largest load meeting the targets (module docstring); `batch_cap` limits the batch (the engine's limit, a
    user's --batch); `time_scale` is the speed factor f (module docstring); `spec` speculative decoding."""
    cap = memory_batch(p, shape, batch_cap, spec, reserve_full)
    fits = cap >= 1.0
    capf = np.maximum(cap, 1.0)
    if targets.offline:
        load = capf
    else:
        z = z_score(targets.percentile)
        hi = np.maximum(load_for_slots(capf, z), MIN_LOAD)
        lo = np.minimum(np.full_like(np.asarray(hi, dtype=float), MIN_LOAD), hi)

        def ok(a: Num) -> Num:
            _, _, tpot_p, ttft_p, rho = _at_load(p, shape, targets, a, capf, request_overhead_s, time_scale, spec)
            return (tpot_p <= targets.tpot_s) & (ttft_p <= targets.ttft_s) & (rho < 1.0)

        good_hi = ok(hi)
        good_lo = ok(lo)
        for _ in range(BISECTION_STEPS):
            mid = np.sqrt(lo * hi)
            m_ok = ok(mid)
            lo = np.where(m_ok, mid, lo)
            hi = np.where(m_ok, hi, mid)
        load = np.where(good_hi, hi, lo)
        fits = fits & good_lo
    slots, x, tpot_p, ttft_p, _ = _at_load(p, shape, targets, load, capf, request_overhead_s, time_scale, spec)
    batch = np.ceil(slots - 1e-9) if not targets.offline else capf
    return _result(p, shape, fits, load, batch, cap, x, ttft_p, tpot_p, spec)


def _result(p: StageParams, shape: RequestShape, fits: Num, load: Num, batch: Num, cap: Num, x: Num, ttft: Num,
            tpot: Num, spec: SpecStage | None = None) -> OperatingPoint:
    """OperatingPoint at mean load `load` (prefill share, utilisation and bound of the mean (verify) pass)."""
    b = micro_batch(p, load)
    q = b * shape.prompt_tokens / (shape.output_tokens * shape.beam_width)
    v = 0.0
    if spec is not None:
        q, v = q * spec.expected, np.asarray(spec.tokens, dtype=float)
    st = stage_step(p, b, q, shape.occupancy_context, shape.prompt_tokens, v)
    hop = hop_time(p, b * (1.0 + v) + q)
    pre_flops = q * p.flops_prefill_token + p.attn_flops_token_ctx * q * shape.prompt_tokens / 2.0
    nan = np.nan
    return OperatingPoint(
        feasible=fits,
        load=np.where(fits, load, nan),
        batch=np.where(fits, batch, nan),
        max_batch=cap,
        tokens_per_s=np.where(fits, x, nan),
        ttft_s=np.where(fits, ttft, nan),
        tpot_s=np.where(fits, tpot, nan),
        prefill_share=np.where(fits, pre_flops / np.maximum(st.flops, 1e-30), nan),
        utilisation=np.where(fits, utilisation(p, st, hop), nan),
        bound=np.where(fits, bound_of(st, hop), "none"),
    )


def closed_loop(p: StageParams, shape: RequestShape, concurrency: float, targets: Targets, request_overhead_s: float,
                batch_cap: Num = None, time_scale: Num = 1.0, spec: SpecStage | None = None,
                reserve_full: bool = False) -> OperatingPoint:
    """A closed-loop client at `concurrency` requests (a benchmark's max_concurrency, per replica): b = min(C, the
    batch memory and the engine allow) sequences run; each user alternates one prompt and O decode steps, so
      X = b O / (TTFT + O TPOT(b)),  TTFT = request overhead + prefill latency of one prompt,
    every time divided by the speed factor f. Feasible when b >= 1 and TTFT, TPOT meet the targets (if any).
    With `spec` TPOT is the effective TPOT and TTFT adds the draft model's prefill."""
    cap = memory_batch(p, shape, batch_cap, spec, reserve_full)
    b = np.minimum(cap, float(concurrency))
    i, o = shape.prompt_tokens, shape.output_tokens
    if spec is None:
        tpot = decode_step(p, np.maximum(b, 1.0), shape.occupancy_context, i / o, i)[0] / time_scale
    else:
        tpot = spec_step(p, spec, np.maximum(b, 1.0), shape.occupancy_context, i / o, i)[0] / time_scale
    ttft = (request_overhead_s + prefill_latency(p, i) + draft_prefill_latency(spec, i)) / time_scale
    x = np.maximum(b, 1.0) * o / (ttft + o * tpot)
    fits = (b >= 1.0) & (tpot <= targets.tpot_s) & (ttft <= targets.ttft_s)
    return _result(p, shape, fits, np.maximum(b, 1.0), np.maximum(b, 1.0), cap, x, ttft, tpot, spec)


def static_batch_throughput(p: StageParams, batch: Num, prompt: float, output: float) -> Num:
    """Output tokens/s of a static batch (all prompts prefilled together, then `output` decode passes):
    B x O / (T_prefill(B x I) + O x TPOT(B, I + O/2)); prefill runs as PP micro-batches through PP stages."""
    m = np.asarray(p.pp, dtype=float)
    pre = (2.0 * m - 1.0) * stage_step(p, 0.0, batch * prompt / m, 0.0, prompt).total
    tpot, _ = decode_step(p, batch, prompt + output / 2.0)
    return batch * output / (pre + output * tpot)


def single_stream_tokens_per_s(p: StageParams, context: float) -> Num:
    """Per-user decode speed of one request alone: 1 / TPOT(batch 1)."""
    tpot, _ = decode_step(p, 1.0, context)
    return 1.0 / tpot
