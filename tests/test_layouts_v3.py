"""Layouts v3: attention data parallelism, MLA KV per rank, the wider layout search, TP over PCIe.

Every expected figure is derived here from the catalog specs (parameter counts, layer counts, memory sizes), not
taken from the model's output.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.calibration import Calibration, Efficiency
from planner.perf.candidates import candidate_layouts
from planner.perf.layout import Layout, layout_problem, tp_candidates
from planner.perf.memory import kv_bytes_per_token_per_chip, memory_fit
from planner.perf.predictor import Lane, Question, build_predictor
from planner.perf.stage import stage_params
from planner.topology.placement import replica_footprint

MODELS = load_model_catalog()
CHIPS = load_chip_catalog()
CAL = Calibration(factors={"*|*": Efficiency(0.8, 0.5)}, request_overhead_ms=0.0, step_overhead_us=0.0)
GIB = 2.0**30


def _r1_fp8_bytes() -> tuple[float, float, float]:
    """DeepSeek-R1 in FP8: (all weights W, routed experts X, one vocab x d_model matrix in 16 bit H)."""
    m = MODELS["deepseek-r1"]
    emb = m.vocab_size * m.d_model
    experts = m.moe.moe_layers * m.moe.experts * 3 * m.d_model * m.moe.d_ff_expert  # 1 byte each in FP8
    w = (m.params_total_b * 1e9 - 2 * emb) * 1 + 2 * emb * 2  # embedding and LM head stay 16 bit
    return w, experts, emb * 2


def test_dep8_weights_and_kv_room_per_chip_by_hand() -> None:
    m, c = MODELS["deepseek-r1"], CHIPS["b200"]
    w, x, h = _r1_fp8_bytes()
    ctx = 16000.0  # long enough that neither batch reaches the 4096 cap
    tep = memory_fit(m, c, "fp8", "fp8", Layout(tp=8, ep=8), ctx)
    dep = memory_fit(m, c, "fp8", "fp8", Layout(tp=8, ep=8, dp=8), ctx)
    # TEP8: everything over 8 chips. DEP8: routed experts and the LM head over 8 chips, the rest (attention, dense
    # FFN, shared expert, norms, input embedding) whole on every chip (attention TP = 8 / 8 = 1).
    assert tep.weights_bytes_per_chip == pytest.approx(w / 8, rel=1e-12)
    assert dep.weights_bytes_per_chip == pytest.approx((x + h + 8 * (w - x - h)) / 8, rel=1e-12)
    mem = 180 * GIB  # B200 HBM; vLLM keeps 10 % of it back
    assert dep.free_bytes_per_chip == pytest.approx(mem - dep.weights_bytes_per_chip - 0.1 * mem, rel=1e-12)
    # MLA: one latent of (512 + 64) elements per layer per token, 1 byte in FP8; TP attention holds it on every
    # rank, DP attention only on the rank that serves the sequence.
    per_rank = 61 * (512 + 64) * 1.0
    assert tep.kv_bytes_per_token_per_chip == per_rank
    assert dep.kv_bytes_per_token_per_chip == per_rank / 8
    assert tep.max_batch == math.floor(tep.free_bytes_per_chip / (per_rank * ctx))
    assert dep.max_batch == min(4096, 8 * math.floor(dep.free_bytes_per_chip / (per_rank * ctx)))  # engine cap
    # less room per chip (the attention weights are whole), yet ~8x the sequences: each rank keeps only its own
    assert dep.free_bytes_per_chip < tep.free_bytes_per_chip and dep.max_batch > 6 * tep.max_batch


def test_dep8_collectives_and_bytes_read_by_hand() -> None:
    m, c = MODELS["deepseek-r1"], CHIPS["b200"]
    w, x, h = _r1_fp8_bytes()
    tep = stage_params(m, c, "fp8", "fp8", Layout(tp=8, ep=8), CAL)
    dep = stage_params(m, c, "fp8", "fp8", Layout(tp=8, ep=8, dp=8), CAL)
    # 61 layers, 58 MoE: TEP all-reduces after attention in every layer and after the 3 dense FFNs; DEP has no
    # attention all-reduce (attention TP 1) and one gather/scatter per dense FFN; both dispatch + combine per MoE layer
    assert float(tep.allreduce_count) == 61 + 3 and float(dep.allreduce_count) == 3
    assert float(tep.alltoall_count) == float(dep.alltoall_count) == 2 * 58
    # bytes read every pass: all but routed experts and the input-embedding table; DEP reads its whole attention
    assert float(tep.dense_read_bytes) == pytest.approx((w - x - h) / 8, rel=1e-12)
    assert float(dep.dense_read_bytes) == pytest.approx((h + 8 * (w - x - 2 * h)) / 8, rel=1e-12)
    assert float(dep.flops_decode_token) == float(tep.flops_decode_token)  # same work per chip in total


def test_mla_and_gqa_kv_per_chip_under_tp_and_dp() -> None:
    r1 = MODELS["deepseek-r1"]
    latent = 61 * (512 + 64) * 2  # bf16
    assert kv_bytes_per_token_per_chip(r1, "bf16", Layout(tp=8)) == latent  # replicated on every TP rank
    assert kv_bytes_per_token_per_chip(r1, "bf16", Layout(tp=8, ep=8, dp=8)) == latent / 8
    assert kv_bytes_per_token_per_chip(r1, "bf16", Layout(tp=8, ep=8, dp=2)) == latent / 2  # attention TP 4
    # GQA with 4 KV heads (Qwen3-235B, 94 layers, head_dim 128): TP8 replicates one head per chip; DP8 keeps all 4
    # heads for 1/8 of the sequences: half the bytes per chip.
    q = MODELS["qwen3-235b-a22b"]
    assert kv_bytes_per_token_per_chip(q, "bf16", Layout(tp=8)) == 2 * 94 * 1 * 128 * 2
    assert kv_bytes_per_token_per_chip(q, "bf16", Layout(tp=8, ep=8, dp=8)) == 2 * 94 * 4 * 128 * 2 / 8


def test_dp_is_for_moe_and_divides_tp() -> None:
    assert layout_problem(MODELS["llama-3.1-70b"], CHIPS["h100_sxm"], Layout(tp=8, dp=8)) is not None
    assert "divide" in (layout_problem(MODELS["deepseek-r1"], CHIPS["b200"], Layout(tp=8, ep=8, dp=3)) or "")
    assert layout_problem(MODELS["deepseek-r1"], CHIPS["b200"], Layout(tp=8, ep=8, dp=8)) is None
    assert str(Layout(tp=8, ep=8, dp=8)) == "TP8 PP1 EP8 ADP8" and str(Layout(tp=8, ep=8)) == "TP8 PP1 EP8"


def test_candidates_include_tep8_and_dep8_for_r1_on_b200() -> None:
    # FP8 R1 is ~W = 0.69 TB: W / 8 = 86 GB and the DEP8 share ~(W + 7 x 17 GB non-expert) / 8 both fit in 180 GiB
    lays = candidate_layouts(MODELS["deepseek-r1"], CHIPS["b200"], "fp8", "fp8", 3500.0, max_chips=8,
                             attention_dp=True)
    assert Layout(tp=8, ep=8) in lays and Layout(tp=8, ep=8, dp=8) in lays
    plain = candidate_layouts(MODELS["deepseek-r1"], CHIPS["b200"], "fp8", "fp8", 3500.0, max_chips=8)
    assert Layout(tp=8, ep=8) in plain and all(lay.dp == 1 for lay in plain)  # plans do not buy uncalibrated DP


def test_candidates_include_tp4_pp4_for_405b_on_h200() -> None:
    m, c = MODELS["llama-3.1-405b"], CHIPS["h200_sxm"]
    # BF16 weights ~405e9 x 2 B = 810 GB: TP4 needs 203 GB per chip at PP1 (> 141 GiB), 101 GB at PP2 (fits), so the
    # search runs PP 2, 4, 8 (up to 4 x the smallest depth)
    assert 405e9 * 2 / 4 > 141 * GIB * 0.9 > 405e9 * 2 / 8
    lays = candidate_layouts(m, c, "bf16", "bf16", 4400.0)
    tp4 = sorted(lay.pp for lay in lays if lay.tp == 4)
    assert tp4 == [2, 4, 8]


def test_tp_over_pcie_inside_one_server() -> None:
    m, l40s, h100p = MODELS["llama-3.1-70b"], CHIPS["l40s"], CHIPS["h100_pcie"]
    # L40S: no scale-up fabric (domain 1), 8 cards per PCIe server: TP up to 8 over PCIe Gen4 x16 (64 GB/s)
    assert l40s.scaleup.domain_size_chips == 1 and l40s.server.chips_per_server == 8
    assert tp_candidates(m, l40s) == [1, 2, 4, 8]
    assert layout_problem(m, l40s, Layout(tp=8)) is None
    assert "server" in (layout_problem(m, l40s, Layout(tp=16)) or "")
    p = stage_params(m, l40s, "fp8", "fp8", Layout(tp=4), CAL)
    assert float(p.link_bandwidth) == 64e9 / 2 and float(p.link_latency) == 3e-6
    # H100 PCIe: NVLink bridge pairs (600 GB/s) for TP2, PCIe Gen5 x16 (128 GB/s) beyond the pair
    assert float(stage_params(m, h100p, "fp8", "fp8", Layout(tp=2), CAL).link_bandwidth) == 600e9 / 2
    assert float(stage_params(m, h100p, "fp8", "fp8", Layout(tp=4), CAL).link_bandwidth) == 128e9 / 2
    # 70 GB of FP8 weights: TP2 puts 35 GB on each 48 GB card, so TP2 PP1 is a candidate, and it can be placed
    assert Layout(tp=2) in candidate_layouts(m, l40s, "fp8", "fp8", 1300.0)
    assert replica_footprint(l40s, 4, 1).feasible and not replica_footprint(l40s, 16, 1).feasible


def test_mi325x_batch_from_memory_beats_mi300x() -> None:
    """Same compute and fabric, 256 vs 192 GB: where memory sets the batch (offline, tuned engine: no latency
    targets, batch cap 4096), the larger memory holds more sequences and serves more per chip."""
    m = MODELS["deepseek-r1"]
    w, _, _ = _r1_fp8_bytes()
    lay = Layout(tp=8, ep=8)
    ctx = 2000 + 1500 * (1 + 1.0**2) / 2  # occupancy context, CV 1
    per_seq = 61 * (512 + 64) * ctx
    expect = {c: math.floor((CHIPS[c].memory_gb * GIB * 0.9 - w / 8) / per_seq) for c in ("mi300x", "mi325x")}
    assert 0 < expect["mi300x"] < expect["mi325x"] < 4096
    pr = replace(build_predictor(), use_measured=False)
    q = Question(2000, 1500, engine="tuned")
    a, b = pr.predict(m, [Lane(CHIPS["mi300x"], "fp8", "fp8", lay), Lane(CHIPS["mi325x"], "fp8", "fp8", lay)], q)
    assert (a.max_batch, b.max_batch) == (expect["mi300x"], expect["mi325x"])
    assert b.tokens_per_s_per_replica > a.tokens_per_s_per_replica


@pytest.fixture(scope="module")
def example_405b() -> list:
    from planner.io.loader import load_inputs
    from planner.perf.options import deployment_options
    from planner.pipeline import plan_predictor, plannable_chips

    inputs = load_inputs("inputs/scenarios/example.yaml")
    w = next(r for r in inputs.workloads if r.model_id == "llama-3.1-405b")
    chips = [c for c in plannable_chips(inputs).values() if c.chip_id in ("h100_sxm", "h200_sxm", "mi300x", "mi325x")]
    return deployment_options(w, inputs.models[w.model_id], chips, predictor=plan_predictor(inputs, None),
                              default_engine=inputs.scenario.policy.engine)


def test_example_405b_h200_above_h100_per_chip(example_405b: list) -> None:
    """H200 and H100 share the FP8 peak (1979 TF), power (700 W) and fabric; H200 has 141 vs 80 GB and 4.8 vs
    3.35 TB/s. With the pipeline free, any layout H100 can hold H200 can hold with more KV room, so H200's best
    replica is no larger than H100's (its extra memory buys a shallower replica, not a deeper one). The step is a sum
    of operators (model v3), and the weight and KV reads of decode are bandwidth-bound operators whatever the GEMMs
    do, so at the same layout and batch H200's pass is shorter: strictly more tokens/s per chip at the TPOT target,
    and at every layout both offer H200 serves as much per chip at a TPOT no higher."""
    best = {c: max((o for o in example_405b if o.chip_id == c), key=lambda o: o.tokens_per_s_per_chip)
            for c in ("h100_sxm", "h200_sxm")}
    assert best["h200_sxm"].tokens_per_s_per_chip > best["h100_sxm"].tokens_per_s_per_chip * 1.01
    size = {c: best[c].tp * best[c].pp for c in best}
    assert size["h200_sxm"] <= size["h100_sxm"]
    # and that replica holds the FP8 weights (~1 byte per parameter) in H200's memory with room to spare
    w_per_chip_gb = MODELS["llama-3.1-405b"].params_total_b / size["h200_sxm"]
    assert w_per_chip_gb < CHIPS["h200_sxm"].memory_gb * 0.9
    # at every layout the H100 options keep, H200 asked the same question at that layout serves as much per chip
    # (the options table prunes per chip, so the two chips' kept layouts need not coincide: ask the predictor)
    from planner.io.loader import load_inputs
    from planner.perf.layout import Layout
    from planner.perf.options import workload_question
    from planner.perf.question import Lane
    from planner.pipeline import plan_predictor

    inputs = load_inputs("inputs/scenarios/example.yaml")
    w = next(r for r in inputs.workloads if r.model_id == "llama-3.1-405b")
    q = workload_question(w, inputs.scenario.policy.engine)
    h100 = [o for o in example_405b if o.chip_id == "h100_sxm"]
    assert h100
    lanes = [Lane(CHIPS["h200_sxm"], o.precision, o.kv_precision, Layout(tp=o.tp, pp=o.pp, ep=o.ep, dp=o.dp))
             for o in h100]
    preds = plan_predictor(inputs, None).predict(MODELS["llama-3.1-405b"], lanes, q)
    for a, b in zip(h100, preds, strict=True):
        assert b.feasible
        per_chip = b.tokens_per_s_per_replica / (a.tp * a.pp)
        assert per_chip >= a.tokens_per_s_per_chip * (1 - 1e-9) and b.tpot_ms <= a.tpot_ms + 1e-6


def test_example_405b_deeper_pipeline_than_before(example_405b: list) -> None:
    # FP8 405B on H100 fits at TP8 PP1 (51 GB per chip); the search also offers PP2 and PP4 (4 x the smallest);
    # the options table then keeps the ones no other layout dominates, so at least one deeper pipeline survives
    from planner.catalog import load_chip_catalog, load_model_catalog
    from planner.perf.candidates import candidate_layouts

    cands = candidate_layouts(load_model_catalog()["llama-3.1-405b"], load_chip_catalog()["h100_sxm"], "fp8", "fp8",
                              4400.0, engine="vllm")
    assert {(lay.tp, lay.pp) for lay in cands} >= {(8, 1), (8, 2), (8, 4)}
    kept = {(o.tp, o.pp) for o in example_405b if o.chip_id == "h100_sxm" and o.precision == "fp8"}
    assert any(pp > 1 for _, pp in kept)
    best = {c: max(o.tokens_per_s_per_chip for o in example_405b if o.chip_id == c) for c in ("mi300x", "mi325x")}
    # same silicon and peak; MI325X has more memory (256 vs 192 GB), bandwidth (6.0 vs 5.3 TB/s) and power
    # (1000 vs 750 W: it holds its clock, tests/test_perf_power_clock.py): strictly ahead
    assert best["mi325x"] > best["mi300x"] * 1.01


def test_sram_chip_whose_fabric_spans_servers_splits_a_layer_beyond_one_server() -> None:
    """gpt-oss-120b on 576 Groq LPUs: with TP capped at one 8-chip server, the pipeline can be at most as deep as
    the model's layers, so at most 8 x n_layers chips hold weights: 8 x 36 x 0.23 GB = 66 GB, less than the FP8
    weights (~1 byte per parameter, ~117 GB). Groq's RealScale C2C spans servers, so TP goes beyond one server and
    the whole system serves one replica."""
    from planner.perf.evaluate import best_evaluation
    from planner.perf.serving import RequestShape, Targets

    m, c = MODELS["gpt-oss-120b"], CHIPS["groq_lpu_v1"]
    assert c.memory_kind == "sram" and c.scaleup.spans_servers and c.scaleup.domain_size_chips >= 576
    per_server = c.server.chips_per_server
    assert per_server * m.n_layers * c.memory_gb * 1e9 < m.params_total_b * 1e9  # no layout within one server fits
    assert max(tp_candidates(m, c)) > per_server
    ev = best_evaluation(m, c, 576, "fp8", "fp8", RequestShape(1000, 500), Targets(), CAL)
    assert ev is not None and ev.fits
    assert ev.layout.tp > per_server and ev.layout.tp * ev.layout.pp == 576 and ev.layout.pp <= m.n_layers
    assert ev.layout.dp == 1  # a layout-free search never buys on (uncalibrated) attention DP


def test_layout_free_search_keeps_tp_attention_on_moe() -> None:
    """The search that also tries the whole system as one pipeline must not add attention-DP layouts: DeepSeek-R1
    on 8 x H200 (where DP layouts would be candidates, the model being MoE and TP > 1)."""
    from planner.perf.evaluate import best_evaluation
    from planner.perf.serving import RequestShape, Targets

    ev = best_evaluation(MODELS["deepseek-r1"], CHIPS["h200_sxm"], 8, "fp8", "fp8", RequestShape(1000, 500),
                         Targets(), CAL)
    assert ev is not None and ev.layout.dp == 1


def test_example_mi325x_at_least_mi300x_per_chip_on_every_workload() -> None:
    """MI325X is MI300X's silicon with more of everything that can decide: the same published peaks and fabric, more
    HBM (256 vs 192 GB), more bandwidth (6.0 vs 5.3 TB/s) and more power (1000 vs 750 W: the full clock, where MI300X
    sustains (750 / 1000)^(1/3) of it). So every layout MI300X holds, MI325X holds with more KV room, and at that
    layout its pass is no longer (bandwidth- and compute-bound operators both shorter): on every workload of the
    example, at each layout the options keep for MI300X, MI325X serves at least as much per chip at a TPOT no higher,
    and its best option is strictly ahead per chip."""
    from planner.io.loader import load_inputs
    from planner.perf.options import deployment_options, workload_question
    from planner.perf.question import Lane
    from planner.pipeline import plan_predictor, plannable_chips

    a, b = CHIPS["mi300x"], CHIPS["mi325x"]
    assert dict(a.peak_tflops) == dict(b.peak_tflops)
    assert a.scaleup == b.scaleup and a.server.chips_per_server == b.server.chips_per_server
    assert a.memory_gb < b.memory_gb and a.memory_bandwidth_tbs < b.memory_bandwidth_tbs and a.tdp_w < b.tdp_w
    inputs = load_inputs("inputs/scenarios/example.yaml")
    chips = [c for c in plannable_chips(inputs).values() if c.chip_id in ("mi300x", "mi325x")]
    pr = replace(plan_predictor(inputs, None), use_measured=False)  # model against model: no row answers one side
    firsts = {w.workload_id: w for w in reversed(inputs.workloads)}
    assert len(firsts) >= 5
    for wid, w in sorted(firsts.items()):
        model = inputs.models[w.model_id]
        opts = deployment_options(w, model, chips, predictor=pr, default_engine=inputs.scenario.policy.engine)
        ours = [o for o in opts if o.chip_id == "mi300x"]
        theirs = [o for o in opts if o.chip_id == "mi325x"]
        assert ours and theirs, wid
        best = {c: max(o.tokens_per_s_per_chip for o in opts if o.chip_id == c) for c in ("mi300x", "mi325x")}
        assert best["mi325x"] > best["mi300x"] * 1.01, wid
        q = workload_question(w, inputs.scenario.policy.engine)
        lanes = [Lane(b, o.precision, o.kv_precision, Layout(tp=o.tp, pp=o.pp, ep=o.ep, dp=o.dp)) for o in ours]
        for o, r in zip(ours, pr.predict(model, lanes, q), strict=True):
            assert r.feasible, (wid, o)
            assert r.tokens_per_s_per_replica / o.chips_per_replica >= o.tokens_per_s_per_chip * (1 - 1e-9), (wid, o)
            assert r.tpot_ms <= o.tpot_ms + 1e-6, (wid, o)
