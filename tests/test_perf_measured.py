"""Measured points: import parsing (vLLM benchmark_serving JSON, plain CSV), interpolation along concurrency."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from planner.perf.measured import (
    BUNDLED_MEASURED,
    MeasuredPoint,
    interpolate,
    load_table,
    normalise_engine,
    read_plain_csv,
    read_vllm_json,
)


def _pt(conc: float, x: float) -> MeasuredPoint:
    return MeasuredPoint("r", "m", "c", "fp8", 1, 1, 1, "vllm", 1000, 1000, conc, x, None, None, "s")


def test_interpolation_is_exact_at_measured_points_and_linear_in_log_concurrency() -> None:
    pts = [_pt(16, 100.0), _pt(64, 300.0)]
    assert interpolate(pts, 16).tokens_per_s_per_chip == 100.0
    assert interpolate(pts, 64).source == "measured"
    mid = interpolate(pts, 32)  # log2(32) is halfway between log2(16) and log2(64)
    assert mid.source == "interpolated" and mid.tokens_per_s_per_chip == pytest.approx(200.0)
    out = interpolate(pts, 256)
    assert out.source == "extrapolated" and out.tokens_per_s_per_chip == 300.0


def test_points_of_different_keys_are_not_mixed() -> None:
    other = MeasuredPoint("r", "m", "other_chip", "fp8", 1, 1, 1, "vllm", 1000, 1000, 8, 1.0, None, None, "s")
    with pytest.raises(ValueError, match="different keys"):
        interpolate([_pt(16, 1.0), other], 10)


def test_vllm_json_is_read_per_chip_with_mean_lengths(tmp_path: Path) -> None:
    doc = {"completed": 100, "total_input_tokens": 100_000, "total_output_tokens": 50_000, "max_concurrency": 32,
           "output_throughput": 4000.0, "mean_ttft_ms": 120.0, "mean_tpot_ms": 25.0}
    f = tmp_path / "run.json"
    f.write_text(json.dumps(doc))
    p = read_vllm_json(f, "llama-3.1-70b", "h100_sxm", "fp8", tp=2)
    assert p.tokens_per_s_per_chip == 2000.0 and p.prompt_tokens == 1000 and p.output_tokens == 500
    assert p.concurrency == 32 and p.tpot_ms == 25.0 and p.engine == "vllm"
    del doc["output_throughput"]
    f.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="output_throughput"):
        read_vllm_json(f, "m", "c", "fp8", tp=1)


def test_plain_csv_reports_every_bad_row(tmp_path: Path) -> None:
    f = tmp_path / "m.csv"
    f.write_text("model_id,chip_id,precision,tp,engine,prompt_tokens,output_tokens,concurrency,output_tokens_per_s,"
                 "ttft_ms,tpot_ms\n"
                 "m,c,fp8,4,trt,1000,1000,8,800,100,20\n"
                 "m,c,fp8,4,vllm,1000,1000,16,-1,100,20\n"
                 "m,c,fp8,4,nosuch,1000,1000,32,900,100,20\n")
    with pytest.raises(ValueError) as e:
        read_plain_csv(f)
    assert "row 3" in str(e.value) and "engine[row 4]" in str(e.value)
    f.write_text("\n".join(f.read_text().splitlines()[:2]) + "\n")
    (p,) = read_plain_csv(f)
    assert p.engine == "trtllm" and p.tokens_per_s_per_chip == 200.0


def test_unknown_engine_is_an_error_and_blank_is_the_default() -> None:
    assert normalise_engine("") == "vllm"
    with pytest.raises(ValueError):
        normalise_engine("foo")


def test_bundled_table_rows_each_cite_a_source() -> None:
    pts = load_table(BUNDLED_MEASURED)
    assert pts and all(p.source.startswith("http") for p in pts)
    assert all(p.tokens_per_s_per_chip > 0 and math.isfinite(p.tokens_per_s_per_chip) for p in pts)


def test_a_publisher_counts_once_whatever_files_or_commits_it_cites() -> None:
    from planner.perf.measured import load_table, publisher_of

    a = publisher_of("https://github.com/simon-mo/vLLM-Benchmark/blob/d538cdc9/saved-results/v0.8.4/a.json")
    b = publisher_of("https://github.com/simon-mo/vLLM-Benchmark/blob/8eaead1d/saved-results/v0.8.2/b.json")
    assert a == b == "github.com/simon-mo"
    assert publisher_of("https://github.com/ROCm/vllm/blob/x/README.md") == publisher_of(
        "https://github.com/ROCm/rocm-blogs/blob/y/README.md") != publisher_of("https://github.com/vllm-project/vllm")
    assert publisher_of("https://github.com/SemiAnalysisAI/InferenceX/issues/870") == \
        publisher_of("https://inferencex.semianalysis.com/blog/best-gpu-for-dsr1-inference")
    assert publisher_of("https://inferencex.semianalysis.com/blog/best-gpu-for-dsr1-inference") == \
        publisher_of("https://www.inferencex.semianalysis.com/blog/best-gpu-for-llama70b-inference")
    assert publisher_of("/home/me/bench.json") == "/home/me/bench.json"
    pts = load_table()
    assert all(p.publisher == publisher_of(p.source) for p in pts)
    # the bundled table has far fewer publishers than cited files (one results repository cites a JSON per run)
    assert len({p.publisher for p in pts}) < len({p.source for p in pts})


def test_mlperf_results_are_one_publisher_per_submitter() -> None:
    from planner.perf.measured import publisher_of

    base = "https://github.com/mlcommons/inference_results_v5.0/blob/main/closed"
    assert publisher_of(f"{base}/NVIDIA/results/H200/llama2-70b-99/Offline/x.txt") == "mlcommons/nvidia"
    assert publisher_of(f"{base}/AMD/results/8xMI325X/llama2-70b-99/Server/x.txt") == "mlcommons/amd"
    assert publisher_of("https://github.com/mlcommons/inference/blob/main/README.md") == "github.com/mlcommons"


def test_tuned_regime_takes_its_factor_from_tuned_points_only() -> None:
    """Tuned points set the tuned factor (publisher-weighted median per family, else over all tuned points); they never
    enter the stock pool, and the tuned regime never takes the pooled stock factor (f = 1 without tuned points)."""
    import math

    from planner.perf.correction import fit_correction

    stock = [("vllm/dense", "nvidia_hopper", math.log(2.0)), ("trtllm/dense", "nvidia_hopper", math.log(2.0))]
    tuned = [("tuned", "nvidia_hopper", math.log(x)) for x in (0.5, 0.8, 0.9)] + [("tuned", "amd_cdna3", math.log(1.3))]
    srcs = ["a", "b", "m1", "m2", "m3", "m4"]
    c = fit_correction(stock + tuned, srcs)
    assert c.lookup("tuned", "nvidia_hopper") == (pytest.approx(0.8), "engine x family")  # median of 3 publishers
    # one amd point (< 3): the engine level, the median over the four tuned publishers: (0.8 + 0.9) / 2
    assert c.lookup("tuned", "amd_cdna3") == (pytest.approx(math.exp((math.log(0.8) + math.log(0.9)) / 2)), "engine")
    assert math.exp(c.pooled) == pytest.approx(2.0)  # the stock pool ignores tuned points
    assert c.lookup("sglang/dense", "nvidia_hopper") == (pytest.approx(2.0), "pooled")
    no_tuned = fit_correction(stock, ["a", "b"])
    assert no_tuned.lookup("tuned", "nvidia_hopper") == (1.0, "none")
