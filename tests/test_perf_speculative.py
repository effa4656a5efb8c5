"""Speculative decoding (planner.perf.speculative): E by hand, the memory-bound gain and compute-bound loss of a tiny
stage derived from the step formulas, the crossover batch, draft memory, bad input, and the workload CSV path."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.checks.cross import check_workloads
from planner.io.workloads_csv import read_workloads
from planner.perf.layout import Layout
from planner.perf.options import options_table
from planner.perf.predictor import Lane, Question, build_predictor, point_lane, point_question
from planner.perf.serving import RequestShape, memory_batch
from planner.perf.speculative import SpecStage, Speculation, expected_tokens, spec_step
from planner.perf.stage import StageParams
from planner.perf.step import decode_step
from tests.test_perf_cli import run

# A tiny stage: one chip, W = 1 GB of weights read every pass, F = 2 GFLOP per decoded token, KV 1 kB per token of
# context, bandwidth 1 TB/s, compute 100 TFLOP/s; no attention FLOPs, collectives or engine costs.
W, F, KV, BW, C = 1e9, 2e9, 1e3, 1e12, 1e14
L = 1000.0  # context per sequence


def tiny(free: float = 1e9, w: float = W, f: float = F, kv: float = KV) -> StageParams:
    return StageParams(
        tp=1.0, pp=1.0, ep=1.0, dense_read_bytes=w, expert_bytes=0.0, expert_share=1.0, active_experts=0.0,
        kv_bytes_token=kv, kv_read_factor=1.0, flops_decode_token=f, flops_prefill_token=f, attn_flops_token_ctx=0.0,
        bandwidth=BW, compute=C, peak_bandwidth=BW, peak_compute=C, msg_bytes_token=0.0, allreduce_count=0.0,
        alltoall_count=0.0, link_bandwidth=math.inf, link_latency=0.0, hop_bandwidth=math.inf, hop_latency=0.0,
        step_overhead=0.0, layers=1.0, layer_latency=0.0, free_kv_bytes=free, tdp_w=700.0, chips_per_server=8.0,
        server_overhead_w=0.0)


def test_expected_tokens_by_hand() -> None:
    assert expected_tokens(1, 0.5) == pytest.approx(1 + 0.5)
    assert expected_tokens(3, 0.8) == pytest.approx(1 + 0.8 + 0.64 + 0.512)
    assert expected_tokens(4, 0.0) == pytest.approx(1.0)  # nothing accepted: the verify pass's own token
    assert Speculation(2, 0.6).expected_tokens == pytest.approx(1 + 0.6 + 0.36)


K, ALPHA, H = 3, 0.8, 0.1
E = 1 + 0.8 + 0.64 + 0.512
HEADS = SpecStage(K, ALPHA, H)


def test_memory_bound_batch_gains_by_hand() -> None:
    # b = 1: plain step = max(W/BW, F/C) + L KV/BW = 1e-3 + 1e-6; verify carries 4 tokens: max(1e-3, 4 F/C = 8e-5)
    # + 1e-6 (weights and KV read once); heads: 3 x 0.1 x the plain step.
    plain = 1e-3 + 1e-6
    step = (1e-3 + 1e-6) + K * H * plain
    tpot, got_step, _ = spec_step(tiny(), HEADS, 1.0, L)
    assert decode_step(tiny(), 1.0, L)[0] == pytest.approx(plain)
    assert got_step == pytest.approx(step)
    assert tpot == pytest.approx(step / E)
    assert 1.0 / tpot == pytest.approx(E * 1.0 / (1.3 * plain))  # throughput x 2.952 / 1.3 = x2.27: speculation helps
    assert 1.0 / tpot > 1.0 / plain


def test_compute_bound_batch_loses_by_hand() -> None:
    # b = 200: plain = max(1e-3, 200 F/C = 4e-3) + 200 L KV/BW = 4e-3 + 2e-4; verify = 800 F/C + 2e-4 = 1.62e-2.
    b = 200.0
    plain = 4e-3 + 2e-4
    step = (1.6e-2 + 2e-4) + K * H * plain
    tpot, got_step, st = spec_step(tiny(), HEADS, b, L)
    assert decode_step(tiny(), b, L)[0] == pytest.approx(plain)
    assert got_step == pytest.approx(step)
    assert st.flops == pytest.approx(b * (K + 1) * F)  # FLOPs x (k + 1)
    assert st.bytes == pytest.approx(W + b * L * KV)   # weights and KV read once
    assert b / tpot == pytest.approx(b * E / step)
    assert b / tpot < b / plain  # 200 x 2.952 / 0.01746 = 33,814 < 200 / 0.0042 = 47,619 tokens/s


def test_crossover_batch_by_hand() -> None:
    # For 12.5 < b < 50 the verify pass (4b tokens) is compute-bound and the plain step memory-bound:
    #   spec:  [4 b F/C + b L KV/BW + 0.3 (W/BW + b L KV/BW)] / E,   plain: W/BW + b L KV/BW
    # equal at b* = (E - 0.3) W/BW / (4 F/C + 1.3 L KV/BW - E L KV/BW).
    x = L * KV / BW
    b_star = (E - K * H) * (W / BW) / ((K + 1) * F / C + (1 + K * H) * x - E * x)
    assert 12.5 < b_star < 50.0  # inside the range the formulas assumed
    assert spec_step(tiny(), HEADS, b_star, L)[0] == pytest.approx(decode_step(tiny(), b_star, L)[0])
    assert spec_step(tiny(), HEADS, b_star - 1, L)[0] < decode_step(tiny(), b_star - 1, L)[0]
    assert spec_step(tiny(), HEADS, b_star + 1, L)[0] > decode_step(tiny(), b_star + 1, L)[0]


def test_draft_model_step_by_hand() -> None:
    # a draft of 0.1 GB and 0.2 GFLOP per token at b = 1: each draft step = max(1e-4, 2e-6) + L x 100 B / BW
    draft = tiny(w=1e8, f=2e8, kv=100.0)
    spec = SpecStage(K, ALPHA, 0.0, draft)
    d_step = 1e-4 + L * 100.0 / BW
    step = (1e-3 + 1e-6) + K * d_step
    assert spec_step(tiny(), spec, 1.0, L)[1] == pytest.approx(step)


def test_draft_weights_and_kv_reduce_max_batch_by_hand() -> None:
    shape = RequestShape(500.0, 1000.0, 0.0)  # occupancy context 500 + 1000 / 2 = 1000 tokens
    p = tiny(free=1e9)
    assert memory_batch(p, shape) == pytest.approx(math.floor(1e9 / (KV * 1000)))  # 1000
    spec = SpecStage(K, ALPHA, 0.0, tiny(w=1e8, f=2e8, kv=250.0), draft_weight_bytes=2e8, draft_kv_bytes_token=250.0)
    assert memory_batch(p, shape, None, spec) == pytest.approx(math.floor((1e9 - 2e8) / ((KV + 250.0) * 1000)))  # 640


@pytest.fixture(scope="module")
def catalogs() -> tuple[dict, dict]:
    return load_model_catalog(), load_chip_catalog()


def test_predictor_draft_memory_and_measured_skip(catalogs: tuple[dict, dict]) -> None:
    from planner.perf.memory import kv_bytes_per_token_per_chip, weight_bytes_per_chip
    from planner.perf.stage import stage_params

    models, chips = catalogs
    pr = build_predictor()
    target, draft = models["llama-3.1-70b"], models["llama-3.1-8b"]
    lane = Lane(chips["h100_sxm"], "fp8", "fp8", Layout(tp=4))
    q = Question(4000.0, 4000.0, 1.0, engine="tuned")
    spec = Speculation(3, 0.7, "llama-3.1-8b", draft=draft)
    r = pr.predict(target, [lane], replace(q, spec=spec))[0]
    sp = stage_params(target, lane.chip, "fp8", "fp8", lane.layout, pr.calibration)
    ctx = q.shape.occupancy_context
    free = sp.free_kv_bytes - weight_bytes_per_chip(draft, "fp8", Layout(tp=4))
    kv = sp.kv_bytes_token + kv_bytes_per_token_per_chip(draft, "fp8", Layout(tp=4))
    assert r.max_batch == math.floor(free / (kv * ctx))
    assert r.max_batch < pr.predict(target, [lane], q)[0].max_batch
    # a point the bundled table answers is not answered from it once speculation is asked
    p = next(p for p in pr.measured if p.model_id in models and p.chip_id in chips and p.concurrency is not None)
    plane = point_lane(p, chips[p.chip_id])
    pq = point_question(p)
    assert pr.predict(models[p.model_id], [plane], pq)[0].perf_source == "measured"
    spec_r = pr.predict(models[p.model_id], [plane], replace(pq, spec=Speculation(2, 0.6)))[0]
    assert spec_r.perf_source != "measured" and spec_r.extrapolated


BASE = ["perf", "--model", "llama-3.1-70b", "--chip", "h100_sxm", "--chips", "8", "--precision", "fp8",
        "--prompt-tokens", "1000", "--output-tokens", "500", "--ttft-ms", "2000", "--tpot-ms", "20", "--tp", "4"]




@pytest.mark.parametrize(("extra", "flag"), [
    (["--spec-tokens", "3", "--spec-acceptance", "1.0"], "--spec-acceptance"),
    (["--spec-tokens", "3", "--spec-acceptance", "-0.1"], "--spec-acceptance"),
    (["--spec-tokens", "0", "--spec-acceptance", "0.5"], "--spec-tokens"),
    (["--spec-tokens", "3"], "--spec-acceptance"),
    (["--spec-acceptance", "0.5"], "--spec-tokens"),
    (["--spec-tokens", "3", "--spec-acceptance", "0.5", "--spec-draft", "no-such-model"], "--spec-draft"),
    (["--spec-tokens", "3", "--spec-acceptance", "0.5", "--spec-draft", "llama-2-7b"], "--spec-draft"),  # vocabulary
    (["--spec-tokens", "3", "--spec-acceptance", "0.5", "--spec-head-cost", "0"], "--spec-head-cost"),
    (["--spec-tokens", "3", "--spec-acceptance", "0.5", "--spec-draft", "llama-3.1-8b", "--spec-head-cost", "0.1"],
     "--spec-draft"),
])
def test_cli_bad_speculation_exits_2_naming_the_flag(extra: list[str], flag: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([*BASE, *extra], capsys)
    assert code == 2
    assert flag in err and "Traceback" not in err + out


def test_cli_prints_tokens_per_step_and_both_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([*BASE, "--spec-tokens", "3", "--spec-acceptance", "0.7", "--json"], capsys)
    assert code == 0
    import json

    d = json.loads(out)
    assert d["spec_tokens"] == 3 and d["spec_expected_tokens"] == pytest.approx(1 + 0.7 + 0.49 + 0.343)
    assert d["perf_source"] != "measured" and d["no_spec_tokens_per_s_per_replica"] > 0
    code, out, _ = run([*BASE, "--spec-tokens", "3", "--spec-acceptance", "0.7"], capsys)
    assert code == 0
    assert "2.53 tokens per step" in out and "vs no speculation" in out and "without" in out
    assert "never answered from a measurement" in out


HEADER = ("workload_id,model_id,quarter,peak_output_tokens_per_s,prompt_tokens_mean,output_tokens_mean,ttft_ms,"
          "tpot_ms,latency_percentile,allowed_precisions,spec_tokens,spec_acceptance,spec_draft_model,spec_head_cost\n")


def test_workload_csv_spec_columns_reach_the_options_table(tmp_path: Path, catalogs: tuple[dict, dict]) -> None:
    models, chips = catalogs
    path = tmp_path / "workloads.csv"
    path.write_text(HEADER
                    + "chat,llama-3.1-70b,2027Q1,1000,1000,500,2000,20,99,fp8,,,,\n"
                    + "chat-spec,llama-3.1-70b,2027Q1,1000,1000,500,2000,20,99,fp8,3,0.7,,\n"
                    + "chat-draft,llama-3.1-70b,2027Q1,1000,1000,500,2000,20,99,fp8,3,0.7,llama-3.1-8b,\n")
    rows, problems, lines = read_workloads(path)
    assert not problems
    assert not check_workloads(rows, lines, path.name, ["2027Q1"], models, set())
    table = options_table(rows, models, {"h100_sxm": chips["h100_sxm"]})
    by = {w: table[table.workload_id == w] for w in ("chat", "chat-spec", "chat-draft")}
    assert (by["chat"].spec_tokens == 0).all()
    assert (by["chat-spec"].spec_tokens == 3).all() and (by["chat-spec"].spec_acceptance == 0.7).all()
    assert (by["chat-spec"].spec_head_cost == 0.1).all() and (by["chat-spec"].perf_source != "measured").all()
    assert (by["chat-draft"].spec_draft_model == "llama-3.1-8b").all()
    # at a tight TPOT the memory-bound regime rules: heads beat no speculation in tokens/s per chip (model)
    best = {w: (t.tokens_per_s_per_replica / t.chips_per_replica).max() for w, t in by.items()}
    assert best["chat-spec"] > best["chat"]


@pytest.mark.parametrize(("cells", "field"), [
    ("3,1.5,,", "spec_acceptance"),
    ("0,0.5,,", "spec_tokens"),
    (",0.5,,", "spec_tokens"),
    ("3,0.5,llama-2-7b,", "spec_draft_model"),
    ("3,0.5,nope,", "spec_draft_model"),
])
def test_workload_csv_bad_spec_names_row_and_field(tmp_path: Path, catalogs: tuple[dict, dict], cells: str,
                                                   field: str) -> None:
    models, _ = catalogs
    path = tmp_path / "workloads.csv"
    path.write_text(HEADER + f"chat,llama-3.1-70b,2027Q1,1000,1000,500,2000,20,99,fp8,{cells}\n")
    rows, problems, lines = read_workloads(path)
    problems += check_workloads(rows, lines, path.name, ["2027Q1"], models, set())
    assert problems
    text = " ".join(str(p) for p in problems)
    assert "row 2" in text and field in text
