"""Per-chip quantities of one pipeline stage of a layout, ready for the step-time formulas.

Every field is a float for one layout, or a numpy array when many layouts (or many efficiency factors) are
evaluated at once; the formulas in `planner.perf.step` work elementwise on either.
Units: bytes, FLOPs, seconds, bytes/s, FLOP/s.

Layout effects (per chip of a stage of TP chips; D = attention DP degree, A = TP / D, see `planner.perf.layout`):
  * weights and KV per chip: `planner.perf.memory` (non-expert weights over A chips, KV per chip = KV per rank / D).
  * dense bytes read per pass = [H + D x (W - X - 2 H)] / (TP x PP): every chip reads its attention replica's
    share of the non-expert weights (input embedding excluded: a lookup), and its share of the LM head;
    D = 1: (W - X - H) / (TP x PP).
  * FLOPs per chip: unchanged by D (each attention replica does 1/D of the sequences with D x the weights).
  * collectives per pass of a stage of `l` layers, `l_moe` of them MoE:
      D = 1, EP = 1:  2 l all-reduces over TP (attention out, FFN out)
      D = 1, EP > 1:  2 l - l_moe all-reduces, 2 l_moe all-to-alls (dispatch, combine)
      D > 1:          attention all-reduces l when A > 1 (counted over TP, an upper bound of one over A), none when
                      A = 1; FFN: one all-reduce-sized all-gather + reduce-scatter over TP per dense layer (and per
                      MoE layer when EP = 1); EP > 1: 2 l_moe all-to-alls as above.
  * TP link: the scale-up fabric, or PCIe for `pcie` chips beyond their catalog domain (`layout.tp_link`); a
    stage-to-stage hand-off inside the TP domain uses the same link, else scale-out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from planner.perf.calibration import Calibration
from planner.perf.common import Num
from planner.perf.engine_costs import NO_COSTS, EngineCosts
from planner.perf.layout import Layout, tp_domain, tp_link
from planner.perf.memory import (
    DEFAULT_RESERVE_ENGINE,
    kv_bytes_per_token_per_chip,
    memory_bytes,
    reserve_bytes,
    weight_bytes_per_chip,
)
from planner.perf.model_costs import model_costs
from planner.perf.precision import compute_precision, peak_flops
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec

#: Activations exchanged between chips are 16-bit.
ACTIVATION_BYTES = 2.0
#: One-way latency of a scale-out (InfiniBand/Ethernet) hop between pipeline stages in different domains.
SCALEOUT_LATENCY_S = 5e-6


@dataclass(frozen=True)
class StageParams:
    """One chip of the bottleneck stage of a replica."""

    tp: Num
    pp: Num
    ep: Num
    dense_read_bytes: Num      # weights read every forward pass (all but routed experts and the embedding table)
    expert_bytes: Num          # routed-expert weights resident on the chip (0 for dense models)
    expert_share: Num          # active / routed experts per token (1 for dense models)
    active_experts: Num        # routed experts per token (for all-to-all volume)
    kv_bytes_token: Num        # KV bytes per token of context on the chip
    kv_read_factor: Num        # KV bytes read per cached byte in decode attention (1 = GQA-aware kernels)
    flops_decode_token: Num    # matmul FLOPs per generated token on the chip
    flops_prefill_token: Num   # matmul FLOPs per prompt token on the chip
    attn_flops_token_ctx: Num  # attention FLOPs per token per cached token on the chip
    bandwidth: Num             # achievable memory bandwidth
    compute: Num               # achievable FLOP/s
    peak_bandwidth: Num
    peak_compute: Num
    msg_bytes_token: Num       # activation bytes per token exchanged by collectives and hand-offs
    allreduce_count: Num       # TP all-reduces per forward pass of a stage
    alltoall_count: Num        # EP all-to-alls per forward pass of a stage
    link_bandwidth: Num        # scale-up bandwidth per direction per chip
    link_latency: Num          # scale-up hop latency
    hop_bandwidth: Num         # bandwidth of the stage-to-stage hand-off (inf when PP = 1)
    hop_latency: Num           # latency of the hand-off (0 when PP = 1)
    step_overhead: Num         # fixed time per forward pass of a stage
    layers: Num                # model layers in the stage: ceil(n_layers / PP)
    layer_latency: Num         # fixed latency per layer per forward pass (dataflow chips; 0 elsewhere), s
    free_kv_bytes: Num         # memory left for KV cache on the chip (may be negative: does not fit)
    tdp_w: Num
    chips_per_server: Num
    server_overhead_w: Num
    # --- performance model v3 (`planner.perf.step`, `planner.perf.engine_costs`); defaults = no engine costs ---
    flops_expert_token: Num = 0.0       # routed-expert matmul FLOPs per token on the chip (part of flops_*_token)
    gemm_half_tokens: Num = 0.0         # tokens per pass at which dense GEMMs reach half efficiency (0 = always full)
    moe_half_tokens: Num = 0.0          # tokens per expert at which grouped expert GEMMs reach half efficiency
    layer_overhead: Num = 0.0           # fixed time per layer per pass of a stage, s
    seq_overhead: Num = 0.0             # time per running sequence per pass of a stage, s
    elementwise_bytes_token: Num = 0.0  # bytes moved per token per pass by non-matmul kernels on the chip
    moe_token_overhead: Num = 0.0       # routing-kernel time per token per pass of the stage (all its MoE layers), s
    kv_read_efficiency: Num = 1.0       # share of the achievable bandwidth decode attention reaches on the KV cache
    attn_compute_ratio: Num = 1.0       # attention FLOP/s over `compute`: attention runs in the KV precision's path
    dp: Num = 1.0              # attention data-parallel degree: the batch is spread over dp attention replicas


def stage_params(model: ModelSpec, chip: ChipSpec, precision: str, kv_precision: str, layout: Layout,
                 calibration: Calibration, compute: str | None = None, engine: str = DEFAULT_RESERVE_ENGINE,
                 costs: EngineCosts = NO_COSTS, fp4_compute_ratio: float = 1.0) -> StageParams:
    """Build `StageParams` for one (model, chip, precision, layout); raise ValueError if the chip cannot run it.
    `engine` chooses the memory reserve (`planner.perf.memory.reserve_bytes`); `costs` are the stock engine's fitted
    costs (`planner.perf.engine_costs`; none = the calibrated roofline of tuned submissions); `fp4_compute_ratio`
    scales the FP4 compute peak (the share of it stock FP4 kernels reach).
    `compute` forces the matmul precision (e.g. a measured weight-only deployment on a chip that has the narrow one)."""
    cp = compute if compute and chip.peak_tflops.get(compute) else compute_precision(chip, precision)
    if cp is None:
        raise ValueError(f"{chip.chip_id} has no compute path for {precision} weights")
    mc = model_costs(model)
    eff = calibration.efficiency(chip, cp)
    n = layout.chips
    dp = max(layout.dp, 1)
    layers = math.ceil(model.n_layers / layout.pp)
    moe_layers = mc.moe_layers / layout.pp
    if dp == 1:
        allreduces = 2.0 * layers if layout.ep == 1 else 2.0 * layers - moe_layers
    else:
        attn_ar = float(layers) if layout.attn_tp > 1 else 0.0
        allreduces = attn_ar + (layers - moe_layers) + (moe_layers if layout.ep == 1 else 0.0)
    alltoalls = 2.0 * moe_layers if layout.ep > 1 else 0.0
    bw_gbs, lat_us = tp_link(chip, layout.tp)
    link_bw = bw_gbs * 1e9 / 2.0
    link_lat = lat_us * 1e-6
    if layout.pp == 1:
        hop_bw, hop_lat = math.inf, 0.0
    elif n <= tp_domain(chip):
        hop_gbs, hop_us = tp_link(chip, n)
        hop_bw, hop_lat = hop_gbs * 1e9 / 2.0, hop_us * 1e-6
    else:
        per_server = chip.server.scaleout_bandwidth_gbs_per_server * 1e9
        hop_bw = per_server * min(1.0, layout.tp / chip.server.chips_per_server)
        hop_lat = SCALEOUT_LATENCY_S
    mem = memory_bytes(chip)
    weights = weight_bytes_per_chip(model, precision, layout)
    if dp == 1:
        dense_read = mc.read_bytes_dense(precision) / n
    else:
        head = mc.embedding_bytes(precision)
        dense_read = (head + dp * (mc.weight_bytes(precision) - mc.expert_bytes(precision) - 2.0 * head)) / n
    ratio = fp4_compute_ratio if cp == "fp4" else 1.0
    # attention (QK^T, softmax, AV) runs in the KV cache's precision when the chip has it (FP8 attention kernels),
    # else in BF16: never in FP4 with FP4 weights
    attn_p = kv_precision if peak_flops(chip, kv_precision) and kv_precision != "fp4" else "bf16"
    attn_peak = peak_flops(chip, attn_p) or peak_flops(chip, cp)
    attn_ratio = min(1.0, attn_peak / (peak_flops(chip, cp) * ratio)) if attn_p != cp else 1.0
    return StageParams(
        tp=float(layout.tp), pp=float(layout.pp), ep=float(layout.ep),
        dense_read_bytes=dense_read,
        expert_bytes=mc.expert_bytes(precision) / n,
        expert_share=mc.active_experts / mc.experts,
        active_experts=float(mc.active_experts),
        kv_bytes_token=kv_bytes_per_token_per_chip(model, kv_precision, layout),
        kv_read_factor=1.0,
        flops_decode_token=mc.decode_flops_per_token / n,
        flops_prefill_token=mc.prefill_flops_per_token / n,
        attn_flops_token_ctx=mc.attn_flops_per_token_ctx / n,
        bandwidth=eff.eta_bandwidth * chip.memory_bandwidth_tbs * 1e12,
        compute=eff.eta_compute * peak_flops(chip, cp) * ratio * calibration.sustained_clock_fraction(chip),
        peak_bandwidth=chip.memory_bandwidth_tbs * 1e12,
        peak_compute=peak_flops(chip, cp),
        msg_bytes_token=model.d_model * ACTIVATION_BYTES,
        allreduce_count=allreduces,
        alltoall_count=alltoalls,
        link_bandwidth=link_bw,
        link_latency=link_lat,
        hop_bandwidth=hop_bw,
        hop_latency=hop_lat,
        step_overhead=calibration.step_overhead_us * 1e-6,
        layers=float(layers),
        layer_latency=calibration.layer_latency_s(chip),
        free_kv_bytes=mem - weights - reserve_bytes(chip, weights, engine),
        tdp_w=chip.tdp_w,
        chips_per_server=float(chip.server.chips_per_server),
        server_overhead_w=chip.server.overhead_power_w,
        flops_expert_token=mc.expert_flops_per_token / n,
        **cost_fields(costs.layer_us, costs.seq_us, costs.elementwise_passes, costs.gemm_half_tokens,
                      costs.moe_half_tokens, costs.moe_token_us, costs.kv_read_efficiency, layers, model.d_model,
                      moe_layers),
        attn_compute_ratio=attn_ratio,
        dp=float(dp),
    )


def stack(params: list[StageParams]) -> StageParams:
    """Stack many `StageParams` into one whose fields are arrays (one lane per entry)."""
    return StageParams(**{f.name: np.array([getattr(p, f.name) for p in params], dtype=float) for f in fields(StageParams)})


def cost_fields(layer_us: Num, seq_us: Num, elementwise_passes: Num, gemm_half_tokens: Num, moe_half_tokens: Num,
                moe_token_us: Num, kv_read_efficiency: Num, layers: Num, d_model: float, moe_layers: float
                ) -> dict[str, Num]:
    """The StageParams fields of a stock engine's costs (`planner.perf.engine_costs`), in seconds and bytes, for a
    stage of `layers` layers (`moe_layers` of them MoE) of a model of width `d_model`; values may be arrays."""
    return {
        "layer_overhead": np.asarray(layer_us, dtype=float) * 1e-6,
        "seq_overhead": np.asarray(seq_us, dtype=float) * 1e-6,
        "elementwise_bytes_token": np.asarray(elementwise_passes, dtype=float) * layers * d_model * ACTIVATION_BYTES,
        "gemm_half_tokens": np.asarray(gemm_half_tokens, dtype=float),
        "moe_half_tokens": np.asarray(moe_half_tokens, dtype=float),
        "moe_token_overhead": np.asarray(moe_token_us, dtype=float) * 1e-6 * moe_layers,
        "kv_read_efficiency": np.asarray(kv_read_efficiency, dtype=float),
    }


def with_efficiency(p: StageParams, eta_bandwidth: Num, eta_compute: Num) -> StageParams:
    """The same stage with achievable rates replaced by eta x peak (used to sweep factors when fitting)."""
    return replace(p, bandwidth=np.asarray(eta_bandwidth) * p.peak_bandwidth,
                   compute=np.asarray(eta_compute) * p.peak_compute)


def with_costs(p: StageParams, layer_us: Num, seq_us: Num, elementwise_passes: Num, gemm_half_tokens: Num,
               moe_half_tokens: Num, moe_token_us: Num, kv_read_efficiency: Num, d_model: float,
               moe_layers: float) -> StageParams:
    """The same stage with the engine costs replaced by (arrays of) values (used to sweep them when fitting)."""
    return replace(p, **cost_fields(layer_us, seq_us, elementwise_passes, gemm_half_tokens, moe_half_tokens,
                                    moe_token_us, kv_read_efficiency, p.layers, d_model, moe_layers))


def with_layer_latency(p: StageParams, layer_latency_s: Num) -> StageParams:
    """The same stage with the per-layer latency replaced (used to sweep it when fitting)."""
    return replace(p, layer_latency=np.asarray(layer_latency_s, dtype=float))
