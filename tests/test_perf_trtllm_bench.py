"""The running-sequence limit of the bundled `trtllm-bench` rows (`planner.perf.engines.trtllm_bench_max_batch`).

trtllm-bench sizes an engine's max_batch_size from the chip's memory, so the same question runs a smaller batch on
an 80 GiB H100 than on a 141 GiB H200. The cases below are derived by hand from the heuristic's formula.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.calibration_io import load_calibration
from planner.perf.engines import trtllm_bench_max_batch
from planner.perf.measured import load_table
from planner.perf.predictor import Predictor, predict_point
from planner.perf.question import point_question

ROOT = Path(__file__).resolve().parent.parent


def test_llama_70b_tp8_built_for_2048_2048_hand_derived():
    # KV per token: 2 x 80 layers x max(8, 8) heads x 128 x 1 B = 163,840 B = 1/6553.6 GiB; x 4096 tokens = 0.625 GiB
    # engine: 70.55e9 x 1 B / 2^30 = 65.705 GiB
    # H100: (8 x 80 - 65.705) x 0.95 / 0.625 = 872.9 requests -> 256 <= 872.9 < 1024 -> 128 x ceil(6.82) = 896
    # H200: (8 x 141 - 65.705) x 0.95 / 0.625 = 1614.7 requests -> >= 1024 -> 256 x ceil(6.31) = 1792
    h100, req100 = trtllm_bench_max_batch(70.55, 80, 8, 128, 1.0, 1.0, 8, 1, 80.0, 2048, 2048)
    h200, req200 = trtllm_bench_max_batch(70.55, 80, 8, 128, 1.0, 1.0, 8, 1, 141.0, 2048, 2048)
    engine = 70.55e9 / 2**30
    assert req100 == pytest.approx((640 - engine) * 0.95 / 0.625) and req100 == pytest.approx(872.9, abs=0.1)
    assert req200 == pytest.approx((1128 - engine) * 0.95 / 0.625) and req200 == pytest.approx(1614.7, abs=0.1)
    assert (h100, h200) == (896, 1792)


def test_llama_405b_tp8_small_and_mid_buckets():
    # KV per request: 2 x 126 x 8 x 128 x 1 B x 4096 / 2^30 = 0.984375 GiB; engine 405.85e9 / 2^30 = 377.98 GiB
    # H100: (640 - 377.98) x 0.95 / 0.984375 = 252.9 -> below 256: max(64, 32 x ceil(7.90)) = 256
    # H200: (1128 - 377.98) x 0.95 / 0.984375 = 723.8 -> 128 x ceil(5.65) = 768
    assert trtllm_bench_max_batch(405.85, 126, 8, 128, 1.0, 1.0, 8, 1, 80.0, 2048, 2048)[0] == 256
    assert trtllm_bench_max_batch(405.85, 126, 8, 128, 1.0, 1.0, 8, 1, 141.0, 2048, 2048)[0] == 768


def test_floor_cap_pipeline_and_kv_heads():
    # a tiny fit is raised to 64; more than 4096 requests is capped at 4096 (256 x 16)
    assert trtllm_bench_max_batch(70.55, 80, 8, 128, 1.0, 1.0, 1, 1, 80.0, 128, 2048)[0] == 64
    assert trtllm_bench_max_batch(8.03, 32, 8, 128, 1.0, 1.0, 1, 1, 141.0, 128, 128)[0] == 4096
    # PP divides the batch: 4096 / 2 = 2048 -> 256 x 8
    assert trtllm_bench_max_batch(8.03, 32, 8, 128, 1.0, 1.0, 1, 2, 141.0, 128, 128)[0] == 2048
    # each TP rank holds at least one KV head: TP8 on 4 KV heads counts 8 (twice the KV of 4)
    a = trtllm_bench_max_batch(235, 94, 4, 128, 1.0, 1.0, 8, 1, 141.0, 1000, 1000)[1]
    b = trtllm_bench_max_batch(235, 94, 8, 128, 1.0, 1.0, 8, 1, 141.0, 1000, 1000)[1]
    assert a == pytest.approx(b)


def test_bundled_rows_carry_the_heuristic_and_predictions_use_it():
    import importlib.util

    spec = importlib.util.spec_from_file_location("trtllm_bench_batch", ROOT / "benchmarks" / "data" / "trtllm_bench_batch.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    assert mod.main(["--check"]) == 0, "measured.csv: run python benchmarks/data/trtllm_bench_batch.py"
    pts = {p.row_id: p for p in load_table()}
    # Azure (1000 requests, engines built for 2048/2048): H100 896 and 256, H200 min(1792, 1000) and 768
    assert (pts["M916"].max_batch, pts["M927"].max_batch) == (896, 1000)
    assert (pts["M919"].max_batch, pts["M932"].max_batch) == (256, 768)
    assert point_question(pts["M916"]).engine_cap == 896
    raw = Predictor(load_calibration(), use_measured=False, use_correction=False)
    pred = predict_point(raw, pts["M916"], load_model_catalog(), load_chip_catalog())
    assert pred is not None and pred.batch == 896  # the memory would hold more: the engine's limit binds
