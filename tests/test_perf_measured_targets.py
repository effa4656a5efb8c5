"""`tpot_target` points and the EP of measured layouts: loader (bundled-table columns, plain CSV, scenario
`inputs.measurements`) and how `planner.perf.coverage` answers questions with latency targets from them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from planner.io.measurements import read_measurements
from planner.perf.coverage import at_concurrency, covering_group, offline, under_targets
from planner.perf.layout import Layout
from planner.perf.measured import MeasuredPoint, load_table, read_plain_csv
from planner.schemas.scenario import MeasurementFile

HEADER = ("id,model_key,chip_id,chip_count,tp,pp,ep,precision,isl,osl,metric,value,unit,kind,concurrency,"
          "tpot_target_ms,ttft_target_ms,target_percentile,ttft_mean_ms,tpot_mean_ms,ttft_p99_ms,tpot_p99_ms,engine,"
          "source_url\n")


def _table(tmp_path: Path, *rows: str) -> Path:
    f = tmp_path / "measured.csv"
    f.write_text(HEADER + "".join(r + "\n" for r in rows))
    return f


def test_loader_reads_a_tpot_target_row_and_the_ep_column(tmp_path: Path) -> None:
    f = _table(
        tmp_path,
        # 8 chips, DEP8 (tp 8, ep 8): 24000 tok/s system at TPOT target 50 ms (p99), TTFT target 2000 ms, concurrency 256
        "T1,deepseek-r1,b200,8,8,1,8,FP4,1024,1024,output_tok_s_system,24000,output tokens/s (system),tpot_target,256,"
        "50,2000,99,,,,,sglang,https://example.org/a",
        # a concurrency row with ep 4 and a blank ep row (= 1)
        "C1,deepseek-r1,b200,8,8,1,4,FP4,1024,1024,output_tok_s_per_gpu,900,output tokens/s per GPU,concurrency,64,"
        ",,,200,30,400,35,sglang,https://example.org/b",
        "O1,llama-3.1-70b,h100_sxm,2,2,1,,FP8,1000,1000,output_tok_s_system,3000,output tokens/s (system),"
        "offline_fixed,,,,,,,,,trtllm,https://example.org/c",
    )
    t, c, o = load_table(f)
    assert t.kind == "tpot_target" and t.tpot_target_ms == 50.0 and t.ttft_target_ms == 2000.0
    assert t.target_percentile == 99.0 and t.concurrency == 256.0 and t.tokens_per_s_per_chip == 3000.0
    assert t.layout == (8, 1, 8) and t.ttft_ms is None and t.tpot_ms is None
    assert c.kind == "concurrency" and c.layout == (8, 1, 4) and c.tokens_per_s_per_chip == 900.0
    assert c.tpot_target_ms is None and c.tpot_p99_ms == 35.0
    assert o.kind == "offline" and o.layout == (2, 1, 1) and o.concurrency is None
    # EP is part of what a point covers: points of EP 8 and EP 4 are different keys
    assert t.key != c.key and t.key[:5] == c.key[:5]


def test_loader_rejects_a_tpot_target_row_without_its_target(tmp_path: Path) -> None:
    f = _table(tmp_path, "T1,deepseek-r1,b200,8,8,1,8,FP4,1024,1024,output_tok_s_system,24000,"
                         "output tokens/s (system),tpot_target,256,,,,,,,,sglang,https://example.org/a")
    with pytest.raises(ValueError, match="tpot_target_ms"):
        load_table(f)
    f = _table(tmp_path, "T1,deepseek-r1,b200,8,8,1,8,FP4,1024,1024,output_tok_s_system,24000,"
                         "output tokens/s (system),server,256,,,,,,,,sglang,https://example.org/a")
    with pytest.raises(ValueError, match="unknown kind"):
        load_table(f)


def _pt(conc: float | None, x: float, *, ttft: float | None = None, tpot: float | None = None,
        tpot_p99: float | None = None, target: float | None = None, ttft_target: float | None = None,
        pct: float | None = None, ep: int = 1) -> MeasuredPoint:
    return MeasuredPoint("r", "m", "c", "fp8", 8, 1, ep, "vllm", 1000, 1000, conc, x, ttft, tpot, "s",
                         tpot_p99_ms=tpot_p99, tpot_target_ms=target, ttft_target_ms=ttft_target,
                         target_percentile=pct)


def test_under_targets_takes_the_largest_throughput_whose_tpot_meets_the_target() -> None:
    # a concurrency sweep (TTFT/TPOT means) and three tpot_target points of the same key
    sweep = [_pt(16, 400.0, ttft=200, tpot=20), _pt(64, 800.0, ttft=300, tpot=40)]
    targets = [_pt(None, 500.0, target=25),                 # held to 25 ms, TPOT not measured
               _pt(128, 1000.0, tpot=45, target=50),        # measured 45 ms under a 50 ms target
               _pt(256, 1500.0, target=100, ttft_target=3000)]
    group = sweep + targets
    # TPOT <= 60 ms: sweep meets everywhere -> its largest point (800); target points with TPOT 25 and 45 qualify
    # (100 does not): the largest is 1000 (measured 45 ms), at concurrency 128
    a = under_targets(group, math.inf, 60.0)
    assert a is not None and a.tokens_per_s_per_chip == 1000.0 and a.concurrency == 128 and a.tpot_ms == 45.0
    # TPOT <= 47 ms: the 45 ms measurement still meets it (its target, 50, does not matter once measured)
    assert under_targets(group, math.inf, 47.0).tokens_per_s_per_chip == 1000.0  # type: ignore[union-attr]
    # TPOT <= 30 ms: sweep crosses 30 ms halfway between ln16 and ln64 (20 -> 40 ms): concurrency 32, 600 tok/s;
    # the 25 ms target point gives 500 < 600, so the sweep answers
    a = under_targets(group, math.inf, 30.0)
    assert a is not None and a.tokens_per_s_per_chip == pytest.approx(600.0) and a.concurrency == pytest.approx(32.0)
    # TPOT <= 26 ms: sweep crosses at 16 * 4**0.3; tok/s 400 + 0.3 * 400 = 520 > 500
    assert under_targets(group, math.inf, 26.0).tokens_per_s_per_chip == pytest.approx(520.0)  # type: ignore[union-attr]
    # only the target points: TPOT <= 26 ms -> the 25 ms point (500); nothing meets 10 ms
    a = under_targets(targets, math.inf, 26.0)
    assert a is not None and a.tokens_per_s_per_chip == 500.0 and a.concurrency is None and a.tpot_ms == 25.0
    assert under_targets(targets, math.inf, 10.0) is None
    # with a TTFT target only points that state a TTFT vouch for it: TTFT <= 5 s, TPOT <= 120 ms -> 1500 (3 s target)
    assert under_targets(targets, 5000.0, 120.0).tokens_per_s_per_chip == 1500.0  # type: ignore[union-attr]
    assert under_targets(targets, 2000.0, 120.0) is None


def test_a_target_stated_at_a_lower_percentile_does_not_vouch_for_a_higher_one() -> None:
    p50 = [_pt(64, 700.0, target=40, pct=50)]
    assert under_targets(p50, math.inf, 50.0, percentile=99.0) is None
    assert under_targets(p50, math.inf, 50.0, percentile=50.0).tokens_per_s_per_chip == 700.0  # type: ignore[union-attr]
    assert under_targets(p50, math.inf, 50.0).tokens_per_s_per_chip == 700.0  # type: ignore[union-attr]
    p99 = [_pt(64, 700.0, target=40, pct=99)]
    assert under_targets(p99, math.inf, 50.0, percentile=90.0).tokens_per_s_per_chip == 700.0  # type: ignore[union-attr]


def test_target_points_are_not_read_at_a_concurrency_or_as_offline_points() -> None:
    group = [_pt(64, 800.0, ttft=300, tpot=40), _pt(128, 5000.0, target=50), _pt(None, 9000.0, target=80)]
    assert at_concurrency(group, 128) is None  # beyond the sweep's measured range (64)
    assert at_concurrency(group, 64).tokens_per_s_per_chip == 800.0  # type: ignore[union-attr]
    assert offline(group) is None


def test_coverage_matches_the_whole_layout_including_ep() -> None:
    pts = [_pt(64, 800.0, ttft=300, tpot=40, ep=8), _pt(64, 600.0, ttft=300, tpot=40, ep=1)]
    g8 = covering_group(pts, "m", "c", "fp8", Layout(tp=8, pp=1, ep=8), "vllm", 1000, 1000)
    g1 = covering_group(pts, "m", "c", "fp8", Layout(tp=8, pp=1, ep=1), "vllm", 1000, 1000)
    assert [p.tokens_per_s_per_chip for p in g8] == [800.0] and [p.tokens_per_s_per_chip for p in g1] == [600.0]
    assert covering_group(pts, "m", "c", "fp8", Layout(tp=8, pp=1, ep=2), "vllm", 1000, 1000) == []


PLAIN = "model_id,chip_id,precision,tp,engine,prompt_tokens,output_tokens,concurrency,output_tokens_per_s,ttft_ms,tpot_ms"


def test_plain_csv_reads_optional_pp_ep_and_tpot_target(tmp_path: Path) -> None:
    f = tmp_path / "mine.csv"
    f.write_text(PLAIN + ",pp,ep,tpot_target_ms,ttft_target_ms,target_percentile\n"
                 "deepseek-r1,h200_sxm,fp8,8,sglang,1000,1000,64,4000,300,40,2,8,,,\n"
                 "deepseek-r1,h200_sxm,fp8,8,sglang,1000,1000,,6400,,,2,8,50,2000,99\n")
    c, t = read_plain_csv(f)
    assert c.layout == (8, 2, 8) and c.kind == "concurrency" and c.tokens_per_s_per_chip == 250.0  # 4000 / (8 x 2)
    assert t.kind == "tpot_target" and t.tpot_target_ms == 50.0 and t.ttft_target_ms == 2000.0
    assert t.target_percentile == 99.0 and t.concurrency is None and t.tokens_per_s_per_chip == 400.0
    # the old column set still reads, with pp = ep = 1
    g = tmp_path / "old.csv"
    g.write_text(PLAIN + "\nllama-3.1-70b,h100_sxm,fp8,2,vllm,1000,1000,32,2000,200,30\n")
    (o,) = read_plain_csv(g)
    assert o.layout == (2, 1, 1) and o.kind == "concurrency" and o.tpot_target_ms is None


def test_plain_csv_reports_a_bad_layout_or_target(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(PLAIN + ",pp,ep,tpot_target_ms\n"
                 "deepseek-r1,h200_sxm,fp8,8,sglang,1000,1000,64,4000,300,40,1,3,\n"
                 "deepseek-r1,h200_sxm,fp8,8,sglang,1000,1000,64,4000,300,40,1,1,-5\n")
    with pytest.raises(ValueError) as e:
        read_plain_csv(f)
    assert "row 2" in str(e.value) and "ep must divide tp" in str(e.value)
    assert "tpot_target_ms[row 3]" in str(e.value)


def test_scenario_measurements_take_the_optional_columns_and_refuse_pp_ep_beside_a_csv(tmp_path: Path) -> None:
    f = tmp_path / "mine.csv"
    f.write_text(PLAIN + ",ep,tpot_target_ms\ndeepseek-r1,h200_sxm,fp8,8,sglang,1000,1000,128,6400,,,8,50\n")
    points, problems, files = read_measurements([MeasurementFile(file=str(f))], "scenario.yaml", None, None)
    assert not problems and files == {"measurements[0]": f}
    (p,) = points
    assert p.user and p.layout == (8, 1, 8) and p.kind == "tpot_target" and p.concurrency == 128
    _, problems, _ = read_measurements([MeasurementFile(file=str(f), ep=8)], "scenario.yaml", None, None)
    assert problems and "pp/ep" in problems[0].message
