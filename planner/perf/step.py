"""Roofline time of one forward pass of a pipeline stage, and what follows from it: TPOT and prefill latency.

For a stage processing `s` decoding sequences of mean context L plus `q` prompt tokens (chunked prefill mixed
into the same pass), per chip:
  bytes   = dense_read + expert_bytes x hit(s + q) + s x L x kv_token x r + q x kv_token
            (r = KV read factor: 1 for GQA-aware attention kernels)
  flops   = s x f_decode + q x f_prefill + a x (s x L + q x I / 2)        (a: attention FLOPs per cached token)
  hit(n)  = 1 - (1 - k/E)^n: expected share of routed experts hit by n tokens (1 for dense models)
  t_mem   = bytes / achievable bandwidth;   t_cmp = flops / achievable compute
  t_ar    = allreduces x [2 (TP-1)/TP x n x m / bw_link + 2 ceil(log2 TP) x latency]    (n = s + q, m = d_model x 2 B)
  t_a2a   = alltoalls x [n / EP x k x m x (EP-1)/EP / bw_link + latency]
  t_lat   = layers x layer_latency    (fixed per-layer latency of dataflow chips: synchronisation, on-fabric
            traversal, compute-pipeline fill; 0 for GPUs, see `planner.perf.calibration`)
  t_stage = max(t_mem, t_cmp) + t_ar + t_a2a + t_lat + step_overhead
  t_hop   = hop_latency + n x m / hop_bandwidth                        (stage-to-stage hand-off; 0 when PP = 1)
A batch B runs as min(PP, B) micro-batches of B / min(PP, B) sequences; one token of every sequence needs
  TPOT = PP x (t_stage(micro-batch) + t_hop),   throughput = B / TPOT.
The per-layer latency makes TPOT >= PP x ceil(layers / PP) x layer_latency >= layers x layer_latency at any batch
(a floor a batch shares: B sequences in flight pay it once per step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.perf.stage import Num, StageParams


@dataclass(frozen=True)
class StepTime:
    """Components of one stage's forward pass (per chip)."""

    total: Num
    memory: Num
    compute: Num
    comm: Num
    bytes: Num
    flops: Num
    latency: Num = 0.0  # fixed per-layer latency of the pass (t_lat)


def expert_hit_fraction(expert_share: Num, tokens: Num) -> Num:
    """1 - (1 - k/E)^n: expected share of routed experts hit by n tokens routed to k of E experts each."""
    return 1.0 - np.power(1.0 - np.asarray(expert_share, dtype=float), np.maximum(tokens, 0.0))


def stage_step(p: StageParams, seqs: Num, prefill_tokens: Num, context: Num, prompt: Num) -> StepTime:
    """Time of one forward pass of a stage (formulas in the module docstring)."""
    n = seqs + prefill_tokens
    hit = expert_hit_fraction(p.expert_share, n)
    nbytes = (p.dense_read_bytes + p.expert_bytes * hit
              + (seqs * context * p.kv_read_factor + prefill_tokens) * p.kv_bytes_token)
    flops = (seqs * p.flops_decode_token + prefill_tokens * p.flops_prefill_token
             + p.attn_flops_token_ctx * (seqs * context + prefill_tokens * prompt / 2.0))
    t_mem = nbytes / p.bandwidth
    t_cmp = flops / p.compute
    tp = np.asarray(p.tp, dtype=float)
    msg = n * p.msg_bytes_token
    t_ar = p.allreduce_count * (2.0 * (tp - 1.0) / tp * msg / p.link_bandwidth
                                + 2.0 * np.ceil(np.log2(tp)) * p.link_latency)
    ep = np.asarray(p.ep, dtype=float)
    t_a2a = p.alltoall_count * (msg / ep * p.active_experts * (ep - 1.0) / ep / p.link_bandwidth + p.link_latency)
    comm = t_ar + t_a2a
    t_lat = p.layers * p.layer_latency
    total = np.maximum(t_mem, t_cmp) + comm + t_lat + p.step_overhead
    return StepTime(total, t_mem, t_cmp, comm, nbytes, flops, t_lat)


def hop_time(p: StageParams, tokens: Num) -> Num:
    """Hand-off of `tokens` activations to the next stage: latency + tokens x m / bandwidth (0 when PP = 1)."""
    return p.hop_latency + tokens * p.msg_bytes_token / p.hop_bandwidth


def micro_batch(p: StageParams, batch: Num) -> Num:
    """Sequences per micro-batch: B / min(PP, B) (at least one sequence's worth)."""
    m = np.minimum(p.pp, np.maximum(batch, 1.0))
    return batch / m


def decode_step(p: StageParams, batch: Num, context: Num, prefill_per_seq: Num = 0.0,
                prompt: Num = 0.0) -> tuple[Num, StepTime]:
    """TPOT of a batch of `batch` sequences at mean context `context`, with `prefill_per_seq` prompt tokens per
    sequence folded into every pass (continuous batching with chunked prefill: I / O per output token).
    Returns (TPOT, the stage's StepTime for one micro-batch)."""
    b = micro_batch(p, batch)
    q = b * prefill_per_seq
    st = stage_step(p, b, q, context, prompt)
    tpot = p.pp * (st.total + hop_time(p, b + q))
    return tpot, st


def prefill_latency(p: StageParams, prompt: Num) -> Num:
    """Time to process one prompt of `prompt` tokens alone: every stage in turn, hand-offs between them."""
    st = stage_step(p, 0.0, prompt, 0.0, prompt)
    hop = hop_time(p, prompt)
    return p.pp * (st.total + hop) - hop


def prefill_compute_time(p: StageParams, prompt: Num) -> Num:
    """Compute time one prompt adds to the busiest stage when mixed into decode passes (weights already read):
    (I x f_prefill + a x I^2 / 2) / achievable compute."""
    return (prompt * p.flops_prefill_token + p.attn_flops_token_ctx * prompt * prompt / 2.0) / p.compute


def bound_of(st: StepTime, hop: Num = 0.0) -> Num:
    """'interconnect' when communication (collectives, hand-offs and the fixed per-layer latency of dataflow chips)
    exceeds both memory and compute time, else the larger of the two."""
    comm = st.comm + st.latency + hop
    return np.where(comm > np.maximum(st.memory, st.compute), "interconnect",
                    np.where(st.compute >= st.memory, "compute", "memory"))


def utilisation(p: StageParams, st: StepTime, hop: Num = 0.0) -> Num:
    """Share of peak the busiest resource runs at over a pass: max(bytes / peak_bw, flops / peak_compute) / time."""
    t = st.total + hop
    u = np.maximum(st.bytes / p.peak_bandwidth, st.flops / p.peak_compute) / t
    return np.clip(u, 0.0, 1.0)
