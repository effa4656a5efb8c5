"""Time of one forward pass of a pipeline stage (performance model v3), and what follows: TPOT and prefill latency.

For a stage processing `s` decoding sequences of mean context L plus `q` prompt tokens (chunked prefill mixed
into the same pass), n = s + q tokens, per chip (speculative decoding's verify pass: s (1 + v) decoded positions,
v speculated tokens per sequence, in place of s in every term but the KV read and c_seq; `planner.perf.speculative`), the pass is a sequence of operators, each its own roofline
(an operator waits for its bytes or its FLOPs, whichever is longer; operators do not overlap one another):
  dense GEMMs   t_d = max(W_d / bw,  F_d / (C x g(n)))          W_d: weights read every pass (all but routed
                F_d = s x (f_decode - f_exp) + q x (f_prefill - f_exp)       experts and the embedding table)
  expert GEMMs  t_e = max(W_e x hit(n) / bw,  n x f_exp / (C x g_e(n k / (E hit(n)))))   (MoE; 0 for dense)
  attention     t_a = max(KV / (bw x e_kv),  F_a / C_a)   KV = (s x L x r + q) x kv_token,  F_a = a x (s x L + q I / 2),
                e_kv: the share of bw a stock engine's paged attention reaches on the KV cache (fitted; 1 tuned)
                C_a: compute in the KV cache's precision (FP8 or BF16; never the FP4 of FP4 weights)
  elementwise   t_x = n x e / bw                   e = passes x layers x d_model x 2 B (norms, rotary, activations)
  hit(n)  = 1 - (1 - k/E)^n: expected share of routed experts hit by n tokens (1 for dense models)
  g(n)    = n / (n + n_half),  g_e(t) = t / (t + t_half): GEMM efficiency at n tokens per pass / t tokens per expert
            the pass runs (n k / (E hit(n)): experts no token reaches run nothing)
            (1 when the half-efficiency point is 0, as in the calibrated tuned regime)
  t_ar    = allreduces x [2 (TP-1)/TP x n x m / bw_link + 2 ceil(log2 TP) x latency]    (m = d_model x 2 B)
  t_a2a   = alltoalls x [n / EP x k x m x (EP-1)/EP / bw_link + latency]
  t_lat   = layers x layer_latency    (fixed per-layer latency of dataflow chips, `planner.perf.calibration`)
  t_eng   = layers x c_layer + s x c_seq + n x moe_layers x c_route + step_overhead
            (a stock engine's fitted costs, `planner.perf.engine_costs`; c_route the MoE routing kernels per token)
  t_stage = t_d + t_e + t_a + t_x + t_ar + t_a2a + t_lat + t_eng
  t_hop   = hop_latency + n x m / hop_bandwidth                        (stage-to-stage hand-off; 0 when PP = 1)
bw and C are the achievable bandwidth and compute (efficiency x peak, `planner.perf.calibration`).
A batch B runs as min(PP, B) micro-batches of B / min(PP, B) sequences; one token of every sequence needs
  TPOT = PP x (t_stage(micro-batch) + t_hop),   throughput = B / TPOT.
The per-layer latency makes TPOT >= PP x ceil(layers / PP) x layer_latency >= layers x layer_latency at any batch
(a floor a batch shares: B sequences in flight pay it once per step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.perf.common import Num
from planner.perf.stage import StageParams


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
    overhead: Num = 0.0  # the stock engine's fitted costs of the pass (t_eng)


def expert_hit_fraction(expert_share: Num, tokens: Num) -> Num:
    """1 - (1 - k/E)^n: expected share of routed experts hit by n tokens routed to k of E experts each."""
    return 1.0 - np.power(1.0 - np.asarray(expert_share, dtype=float), np.maximum(tokens, 0.0))


def tokens_per_hit_expert(expert_share: Num, tokens: Num, hit: Num) -> Num:
    """n k / (E hit(n)): mean tokens routed to each expert that receives any (an expert no token reaches runs no
    GEMM, so the grouped GEMM's efficiency goes with the tokens of the experts it does run; -> n k / E for large n,
    -> 1 as n -> 0)."""
    share = np.asarray(expert_share, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.asarray(tokens, dtype=float) * share / hit
    return np.where(hit > 0.0, t, 1.0)


def gemm_efficiency(tokens: Num, half_tokens: Num) -> Num:
    """tokens / (tokens + half): share of the large-batch GEMM rate reached at `tokens` (1 when half is 0)."""
    t = np.asarray(tokens, dtype=float)
    h = np.asarray(half_tokens, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = t / (t + h)
    return np.where(h > 0.0, np.where(t > 0.0, g, 1.0), 1.0)


def stage_step(p: StageParams, seqs: Num, prefill_tokens: Num, context: Num, prompt: Num,
               verify_tokens: Num = 0.0) -> StepTime:
    """Time of one forward pass of a stage (formulas in the module docstring). `verify_tokens` per sequence are
    decoded alongside its token (speculative decoding's verify pass, `planner.perf.speculative`): s (1 + v) decoded
    positions at decode FLOPs, each attending the whole context, the KV still read once per sequence."""
    dec = seqs * (1.0 + verify_tokens)
    n = dec + prefill_tokens
    hit = expert_hit_fraction(p.expert_share, n)
    kv_bytes = (seqs * context * p.kv_read_factor + prefill_tokens) * p.kv_bytes_token
    expert_read = p.expert_bytes * hit
    elem_bytes = n * p.elementwise_bytes_token
    nbytes = p.dense_read_bytes + expert_read + kv_bytes + elem_bytes
    f_exp = n * p.flops_expert_token
    f_dense = (dec * (p.flops_decode_token - p.flops_expert_token)
               + prefill_tokens * (p.flops_prefill_token - p.flops_expert_token))
    f_attn = p.attn_flops_token_ctx * (dec * context + prefill_tokens * prompt / 2.0)
    flops = f_dense + f_exp + f_attn
    t_d = np.maximum(p.dense_read_bytes / p.bandwidth, f_dense / (p.compute * gemm_efficiency(n, p.gemm_half_tokens)))
    t_e = np.maximum(expert_read / p.bandwidth,
                     f_exp / (p.compute * gemm_efficiency(tokens_per_hit_expert(p.expert_share, n, hit),
                                                          p.moe_half_tokens)))
    t_a = np.maximum(kv_bytes / (p.bandwidth * p.kv_read_efficiency), f_attn / (p.compute * p.attn_compute_ratio))
    t_x = elem_bytes / p.bandwidth
    tp = np.asarray(p.tp, dtype=float)
    msg = n * p.msg_bytes_token
    t_ar = p.allreduce_count * (2.0 * (tp - 1.0) / tp * msg / p.link_bandwidth
                                + 2.0 * np.ceil(np.log2(tp)) * p.link_latency)
    ep = np.asarray(p.ep, dtype=float)
    t_a2a = p.alltoall_count * (msg / ep * p.active_experts * (ep - 1.0) / ep / p.link_bandwidth + p.link_latency)
    comm = t_ar + t_a2a
    t_lat = p.layers * p.layer_latency
    t_eng = p.layers * p.layer_overhead + seqs * p.seq_overhead + n * p.moe_token_overhead + p.step_overhead
    total = t_d + t_e + t_a + t_x + comm + t_lat + t_eng
    return StepTime(total, nbytes / p.bandwidth, flops / p.compute, comm, nbytes, flops, t_lat, t_eng)


def hop_time(p: StageParams, tokens: Num) -> Num:
    """Hand-off of `tokens` activations to the next stage: latency + tokens x m / bandwidth (0 when PP = 1)."""
    return p.hop_latency + tokens * p.msg_bytes_token / p.hop_bandwidth


def micro_batch(p: StageParams, batch: Num) -> Num:
    """Sequences per micro-batch: B / min(PP, B) (at least one sequence's worth)."""
    m = np.minimum(p.pp, np.maximum(batch, 1.0))
    return batch / m


def decode_step(p: StageParams, batch: Num, context: Num, prefill_per_seq: Num = 0.0,
                prompt: Num = 0.0, verify_tokens: Num = 0.0) -> tuple[Num, StepTime]:
    """TPOT of a batch of `batch` sequences at mean context `context`, with `prefill_per_seq` prompt tokens per
    sequence folded into every pass (continuous batching with chunked prefill: I / O per output token), and
    `verify_tokens` speculated tokens per sequence verified in the same pass (`stage_step`; then the result is the
    time of one verify pass, not a TPOT). Returns (TPOT, the stage's StepTime for one micro-batch)."""
    b = micro_batch(p, batch)
    q = b * prefill_per_seq
    st = stage_step(p, b, q, context, prompt, verify_tokens)
    tpot = p.pp * (st.total + hop_time(p, b * (1.0 + verify_tokens) + q))
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
