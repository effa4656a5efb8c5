"""An offline run as benchmarks measure it: a finite burst of N requests sent at once.

"Maximum throughput" figures come from a finite burst: `vllm bench serve` and `sglang.bench_serving` send 1000
prompts at an infinite rate by default, `vllm bench throughput` and `trtllm-bench` queue their whole data set. The
engine admits up to its batch limit B, admits a waiting request whenever one finishes, and the last requests run
with the batch draining: with variable output lengths the longest of N requests runs alone near the end, and with
N not a multiple of B fixed-length requests leave a partial last wave. The steady state (every slot busy,
`planner.perf.serving` offline) over-states such a run.

  lengths      N output lengths with mean O and coefficient of variation cv: a gamma law (shape 1 / cv^2) drawn
               with a fixed seed (the same N lengths every time), or O each when cv = 0
  schedule     first-come first-served: min(N, B) start at once, each finished request is replaced from the queue;
               the running batch b_k is constant over n_k decode passes between completions
  burst rate   sum(lengths) / sum_k n_k t(b_k)            t(b) = the stage's decode pass at batch b (`decode_step`,
                                                          prompts folded in as in the steady state)
  factor       burst rate / (B / t(B))                    <= 1; the offline operating point's tokens/s x factor
A speed factor divides every pass time alike, so it does not change the factor.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import fields, replace

import numpy as np

from planner.perf.serving import OperatingPoint, RequestShape
from planner.perf.stage import StageParams
from planner.perf.step import decode_step

#: Requests in a burst when a question does not say: the default `--num-prompts` of `vllm bench serve` and
#: `sglang.bench_serving` (vllm-project/vllm vllm/benchmarks/serve.py, sgl-project/sglang python/sglang/bench_serving.py).
DEFAULT_BURST_REQUESTS = 1000
#: Seed of the output-length draw (fixed: a question's answer does not change between runs).
LENGTH_SEED = 20261208


def requests_per_replica(requests: int | None, replicas: int) -> int:
    """A burst sent to the whole system, spread evenly over its replicas (rounded up); 0 for none."""
    return -(-int(requests) // max(int(replicas), 1)) if requests else 0


def output_lengths(requests: int, mean_tokens: float, cv: float) -> np.ndarray:
    """N output lengths (whole tokens, at least 1) with the given mean and coefficient of variation (module
    docstring); the draw is rescaled to the exact mean."""
    if cv <= 0.0:
        return np.full(requests, max(1, round(mean_tokens)), dtype=np.int64)
    shape = 1.0 / (cv * cv)
    x = np.random.default_rng(LENGTH_SEED).gamma(shape, 1.0, requests)
    x = x * (mean_tokens / x.mean())
    return np.maximum(1, np.round(x)).astype(np.int64)


def schedule(lengths: np.ndarray, batch_limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(b_k, n_k): the running batch and how many decode passes it lasts, first-come first-served under the limit."""
    limit = max(1, int(batch_limit))
    running: list[int] = []
    nxt = 0
    for _ in range(min(limit, len(lengths))):
        heapq.heappush(running, int(lengths[nxt]))
        nxt += 1
    now = 0
    sizes: list[int] = []
    spans: list[int] = []
    while running:
        t = running[0]
        if t > now:
            sizes.append(len(running))
            spans.append(t - now)
            now = t
        while running and running[0] == now:
            heapq.heappop(running)
        while nxt < len(lengths) and len(running) < limit:
            heapq.heappush(running, now + int(lengths[nxt]))
            nxt += 1
    return np.array(sizes, dtype=float), np.array(spans, dtype=float)


def _lane(p: StageParams, i: int) -> StageParams:
    return replace(p, **{f.name: float(np.asarray(getattr(p, f.name), dtype=float).reshape(-1)[i])
                         for f in fields(StageParams) if np.ndim(getattr(p, f.name))})


def burst_factor(p: StageParams, shape: RequestShape, batch: float, requests: int) -> float:
    """Tokens/s of a burst of `requests` over the steady state at `batch` (module docstring), for one lane."""
    if not (math.isfinite(batch) and batch >= 1.0) or requests < 1:
        return 1.0
    lengths = output_lengths(requests, shape.output_tokens, shape.length_cv)
    sizes, spans = schedule(lengths, int(batch))
    per_seq = shape.prompt_tokens / (shape.output_tokens * shape.beam_width)
    ctx = shape.occupancy_context
    t_sizes, _ = decode_step(p, sizes, ctx, per_seq)
    t_full, _ = decode_step(p, float(int(batch)), ctx, per_seq)
    burst = float(lengths.sum()) / float(np.sum(spans * np.asarray(t_sizes, dtype=float)))
    steady = int(batch) / float(t_full)
    return min(1.0, burst / steady)


def as_burst(p: StageParams, shape: RequestShape, op: OperatingPoint, requests: int) -> OperatingPoint:
    """The offline operating point `op` of every lane of `p` taken as a finite burst of `requests`."""
    batch = np.asarray(op.batch, dtype=float).reshape(-1)
    tps = np.asarray(op.tokens_per_s, dtype=float).reshape(-1)
    factors = np.array([burst_factor(_lane(p, i), shape, float(batch[i]), requests) if math.isfinite(tps[i]) else 1.0
                        for i in range(len(batch))])
    shape = np.shape(op.tokens_per_s)
    return replace(op, tokens_per_s=(tps * factors).reshape(shape), burst_factor=factors.reshape(shape))
