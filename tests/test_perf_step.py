"""Roofline of one forward pass: bandwidth-bound decode, compute-bound prefill, collectives, MoE, pipelines."""

from __future__ import annotations

import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.calibration import Calibration, Efficiency
from planner.perf.layout import Layout
from planner.perf.stage import stage_params
from planner.perf.step import bound_of, decode_step, expert_hit_fraction, prefill_latency, stage_step

MODELS = load_model_catalog()
CHIPS = load_chip_catalog()
CAL = Calibration(factors={"*|*": Efficiency(0.8, 0.5)}, request_overhead_ms=0.0, step_overhead_us=0.0)


def test_decode_batch1_h200_fp8_is_bandwidth_bound_near_weights_over_bandwidth() -> None:
    p = stage_params(MODELS["llama-3.1-70b"], CHIPS["h200_sxm"], "fp8", "fp8", Layout(), CAL)
    tpot, st = decode_step(p, 1.0, 1000.0)
    # bytes read: all weights but the embedding table = 70.55e9 (fp8 body + 16-bit LM head), + 1,000 x 163,840 KV
    read = (70.55e9 - 2 * 128256 * 8192) + 128256 * 8192 * 2 + 1000 * 163840
    assert tpot == pytest.approx(read / (0.8 * 4.8e12), rel=1e-9)  # 18.4 ms
    assert tpot == pytest.approx(70.55e9 / (0.8 * 4.8e12), rel=0.01)
    assert str(bound_of(st)) == "memory"


def test_large_batch_short_context_becomes_compute_bound() -> None:
    p = stage_params(MODELS["llama-3.1-8b"], CHIPS["h100_sxm"], "fp8", "fp8", Layout(), CAL)
    _, st = decode_step(p, 2048.0, 200.0)
    assert str(bound_of(st)) == "compute"
    # flops = 2048 x 2 x (8.03e9 - 128256 x 4096) + attention 4 x 32 x 128 x 32 x 2048 x 200
    flops = 2048 * 2 * (8.03e9 - 128256 * 4096) + 4 * 32 * 128 * 32 * 2048 * 200
    assert float(st.compute) == pytest.approx(flops / (0.5 * 1979e12), rel=1e-9)


def test_prefill_8b_2048_tokens_is_compute_bound_by_hand() -> None:
    p = stage_params(MODELS["llama-3.1-8b"], CHIPS["h100_sxm"], "bf16", "bf16", Layout(), CAL)
    # linear 2048 x 2 x (8.03e9 - 2 x 128256 x 4096) + causal attention 4 x 32 x 128 x 32 x 2048^2 / 2
    flops = 2048 * 2 * (8.03e9 - 2 * 128256 * 4096) + 4 * 32 * 128 * 32 * 2048**2 / 2
    assert float(prefill_latency(p, 2048.0)) == pytest.approx(flops / (0.5 * 989e12), rel=1e-9)  # ~60 ms


def test_tensor_parallel_allreduce_time() -> None:
    m, c = MODELS["llama-3.1-70b"], CHIPS["h100_sxm"]
    p = stage_params(m, c, "fp8", "fp8", Layout(tp=2), CAL)
    st = stage_step(p, 16.0, 0.0, 1000.0, 0.0)
    # 2 all-reduces x 80 layers; ring: 2 (t-1)/t x n x d_model x 2 B / (900/2 GB/s) + 2 log2(t) x 1 us
    per = 2 * 0.5 * 16 * 8192 * 2 / 450e9 + 2 * 1 * 1e-6
    assert float(st.comm) == pytest.approx(160 * per, rel=1e-9)
    one = stage_params(m, c, "fp8", "fp8", Layout(tp=1), CAL)
    assert float(stage_step(one, 16.0, 0.0, 1000.0, 0.0).comm) == 0.0


def test_moe_memory_holds_all_experts_but_reads_the_hit_ones() -> None:
    assert float(expert_hit_fraction(2 / 8, 1.0)) == pytest.approx(0.25)
    assert float(expert_hit_fraction(2 / 8, 2.0)) == pytest.approx(1 - 0.75**2)
    m = MODELS["mixtral-8x7b"]
    p = stage_params(m, CHIPS["h100_sxm"], "fp8", "fp8", Layout(), CAL)
    one = stage_step(p, 1.0, 0.0, 0.0, 0.0)
    many = stage_step(p, 256.0, 0.0, 0.0, 0.0)
    experts = 32 * 8 * 3 * 4096 * 14336  # routed expert params, 1 byte each in fp8
    assert float(one.bytes) == pytest.approx(float(p.dense_read_bytes) + 0.25 * experts, rel=1e-9)
    assert float(many.bytes) == pytest.approx(float(p.dense_read_bytes) + experts, rel=1e-6)
    # compute follows the active parameters: 2 x (12.9e9 - 32000 x 4096) per token
    assert float(one.flops) == pytest.approx(2 * (12.9e9 - 32000 * 4096), rel=1e-9)


def test_pipeline_tpot_is_stages_times_stage_time_plus_handoffs() -> None:
    m, c = MODELS["llama-3.1-70b"], CHIPS["l40s"]
    p = stage_params(m, c, "fp8", "fp8", Layout(pp=2), CAL)
    tpot, st = decode_step(p, 8.0, 500.0)
    # 8 sequences as 2 micro-batches of 4; the two L40S stages sit in one PCIe server (TP domain = the server's 8
    # chips for `pcie` chips), so the hand-off goes over PCIe Gen4 x16: 3 us + 4 x 16 KiB / (64 GB/s / 2)
    assert float(p.hop_bandwidth) == pytest.approx(64e9 / 2)
    hop = 3e-6 + 4 * 8192 * 2 / (64e9 / 2)
    assert tpot == pytest.approx(2 * (float(st.total) + hop), rel=1e-9)


def test_sram_layer_latency_floor_by_hand() -> None:
    """Dataflow chips pay a fixed latency per layer: TPOT(batch 1) = roofline TPOT + PP x ceil(L / PP) x tau."""
    tau_us = 40.0
    cal = Calibration(factors=CAL.factors, layer_latency_us={"groq_lpu": tau_us, "cerebras_wse": 6.0})
    m, groq = MODELS["llama-2-70b"], CHIPS["groq_lpu_v1"]
    with_floor = stage_params(m, groq, "int8", "int8", Layout(tp=4, pp=80), cal)
    without = stage_params(m, groq, "int8", "int8", Layout(tp=4, pp=80), CAL)
    t1, st = decode_step(with_floor, 1.0, 1024.0)
    t0, _ = decode_step(without, 1.0, 1024.0)
    # 80 stages of one layer each: 80 x 1 x 40 us = 3.2 ms on top of the roofline
    assert t1 - t0 == pytest.approx(80 * 1 * tau_us * 1e-6, rel=1e-9)
    assert t1 >= m.n_layers * tau_us * 1e-6
    assert str(bound_of(st)) == "interconnect"  # the fixed latency dominates a batch-1 pass
    # a batch shares the floor: TPOT still >= 80 x tau, throughput B / TPOT <= B / (80 x tau)
    t8, _ = decode_step(with_floor, 8.0, 1024.0)
    assert t8 >= m.n_layers * tau_us * 1e-6
    # Cerebras, 4 wafers of 20 layers: 4 x 20 x 6 us = 480 us
    cer = CHIPS["cerebras_wse3"]
    c1, _ = decode_step(stage_params(MODELS["llama-3.1-70b"], cer, "bf16", "bf16", Layout(pp=4), cal), 1.0, 1024.0)
    c0, _ = decode_step(stage_params(MODELS["llama-3.1-70b"], cer, "bf16", "bf16", Layout(pp=4), CAL), 1.0, 1024.0)
    assert c1 - c0 == pytest.approx(4 * 20 * 6e-6, rel=1e-9)
    # GPUs have no entry: nothing changes
    h = stage_params(m, CHIPS["h100_sxm"], "fp8", "fp8", Layout(tp=2), cal)
    assert float(h.layer_latency) == 0.0
    assert decode_step(h, 1.0, 1024.0)[0] == decode_step(stage_params(m, CHIPS["h100_sxm"], "fp8", "fp8",
                                                                      Layout(tp=2), CAL), 1.0, 1024.0)[0]


def test_expert_gemm_efficiency_goes_with_tokens_per_expert_the_pass_runs() -> None:
    """Experts no token reaches run no GEMM: at n tokens, each of the E hit(n) experts hit gets n k / (E hit(n))
    tokens (1 at n = 1, -> n k / E for large n), and g_e = t / (t + half) is taken at that t."""
    from dataclasses import replace

    from planner.perf.step import tokens_per_hit_expert

    share = 4 / 128
    assert float(tokens_per_hit_expert(share, 1.0, expert_hit_fraction(share, 1.0))) == pytest.approx(1.0)
    hit4 = 1 - (124 / 128) ** 4
    assert float(tokens_per_hit_expert(share, 4.0, expert_hit_fraction(share, 4.0))) == pytest.approx(
        4 * share / hit4)  # 1.05 tokens per hit expert, not the 0.125 of all 128 experts
    assert float(tokens_per_hit_expert(share, 1e5, expert_hit_fraction(share, 1e5))) == pytest.approx(1e5 * share)

    m = MODELS["gpt-oss-120b"]
    p = stage_params(m, CHIPS["h100_sxm"], "fp8", "fp8", Layout(), CAL)
    half = 1e5  # so large that the expert GEMMs are compute-bound at 4 tokens
    slow = replace(p, moe_half_tokens=half)
    n = 4.0
    t = n * share / hit4
    f_exp = n * float(p.flops_expert_token)
    read = float(p.expert_bytes) * hit4 / float(p.bandwidth)
    t_e_half = max(read, f_exp * (t + half) / t / float(p.compute))
    t_e_zero = max(read, f_exp / float(p.compute))
    diff = float(stage_step(slow, n, 0.0, 100.0, 0.0).total) - float(stage_step(p, n, 0.0, 100.0, 0.0).total)
    assert diff == pytest.approx(t_e_half - t_e_zero, rel=1e-9)
