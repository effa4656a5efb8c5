"""Chip ranking per model (`planner.perf.ranking`) on hand-built rows: pair counts, noise band, concordance,
publisher weights, gap error, per-chip-pair medians and the worst mis-ordered list, each derived by hand below.
No test here runs the performance model or asserts one of its figures."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

from planner.perf.measured import MeasuredPoint
from planner.perf.ranking import (
    NOISE_BAND,
    RankRow,
    build_pairs,
    chip_pair_summaries,
    pair_weights,
    question_key,
    report,
    rows_from_loso,
    score_pairs,
    worst_discordant,
)

ROOT = Path(__file__).resolve().parent.parent
Q = question_key(1000, 1000, concurrency=8)


def row(rid: str, chip: str, measured: float, predicted: float, publisher: str = "pub", model: str = "m",
        engine: str = "vllm", precision: str = "fp8", kind: str = "concurrency", question=Q,
        layout: tuple[int, ...] = (8, 1, 1, 1)) -> RankRow:
    return RankRow(id=rid, publisher=publisher, model=model, engine=engine, precision=precision, kind=kind,
                   question=question, chip=chip, measured=measured, predicted=predicted, layout=layout)


def test_noise_band_is_five_percent():
    assert NOISE_BAND == 0.05


def test_question_key_rounds_lengths_and_tells_targets_apart():
    assert question_key(1000.4, 999.6, 8) == question_key(1000, 1000, 8.0)
    assert question_key(1000, 1000, 8) != question_key(1000, 1000, 16)
    assert question_key(1000, 1000, None) != question_key(1000, 1000, 8)
    assert question_key(1000, 1000, None, tpot_target_ms=20) != question_key(1000, 1000, None, tpot_target_ms=40)
    assert question_key(1000, 1000, length_cv=0.0) != question_key(1000, 1000, length_cv=1.0)


def test_pairs_counted_and_ordered_by_hand():
    # A 100, B 150, C 103 measured. A-B 1.50 apart: a pair; A-C 1.03: inside the 5 % band, no pair;
    # B-C 150/103 = 1.456: a pair. Predicted A 100, B 90, C 80: B/A = 0.9 (mis-ordered), B/C = 1.125 (ordered).
    rows = [row("a", "A", 100, 100), row("b", "B", 150, 90), row("c", "C", 103, 80)]
    pairs = build_pairs(rows)
    assert len(pairs) == 2
    by = {(p.faster, p.slower): p for p in pairs}
    assert set(by) == {("B", "A"), ("B", "C")}
    assert by["B", "A"].measured_ratio == pytest.approx(1.5)
    assert by["B", "A"].predicted_ratio == pytest.approx(0.9)
    assert not by["B", "A"].concordant
    assert by["B", "C"].measured_ratio == pytest.approx(150 / 103)
    assert by["B", "C"].predicted_ratio == pytest.approx(90 / 80)
    assert by["B", "C"].concordant
    assert by["B", "A"].ids == ("b", "a")
    s = score_pairs(pairs)
    assert (s.n, s.concordant, s.share) == (2, 1, 0.5)
    assert s.weighted_share == pytest.approx(0.5)  # one publisher: equal weights


def test_only_the_same_question_on_different_chips_pairs():
    base = row("a", "A", 100, 100)
    others = [
        row("same_chip", "A", 200, 200),                         # same chip: not a chip pair
        row("other_model", "B", 200, 200, model="m2"),
        row("other_engine", "B", 200, 200, engine="sglang"),
        row("other_precision", "B", 200, 200, precision="fp4"),
        row("other_kind", "B", 200, 200, kind="offline"),
        row("other_question", "B", 200, 200, question=question_key(1000, 1000, concurrency=16)),
        row("other_publisher", "B", 200, 200, publisher="pub2"),
    ]
    assert build_pairs([base, *others]) == []
    # without the publisher condition, only the other publisher's row pairs with `a`
    cross = build_pairs([base, *others], same_publisher=False)
    assert [p.ids for p in cross] == [("other_publisher", "a")]
    assert cross[0].publisher_group == ("pub", "pub2")


def test_noise_band_edge_and_predicted_tie():
    # 150 / 100 = 1.5 exactly: with a 50 % band the pair is inside it (not counted), just above it is counted
    assert build_pairs([row("a", "A", 100, 1), row("b", "B", 150, 2)], noise=0.5) == []
    assert len(build_pairs([row("a", "A", 100, 1), row("b", "B", 151, 2)], noise=0.5)) == 1
    # a predicted tie is not "ordered as measured"
    (p,) = build_pairs([row("a", "A", 100, 50), row("b", "B", 200, 50)])
    assert p.predicted_ratio == 1.0 and not p.concordant


def test_same_layout_option():
    rows = [row("a", "A", 100, 100, layout=(8, 1, 1, 1)), row("b", "B", 200, 150, layout=(4, 1, 1, 1)),
            row("c", "B", 300, 250, layout=(8, 1, 1, 1))]
    assert len(build_pairs(rows)) == 2                              # a-b and a-c (b and c are one chip)
    assert [p.ids for p in build_pairs(rows, same_layout=True)] == [("c", "a")]


def _four_and_one() -> list[RankRow]:
    """Publisher P1: four questions, A measured 2x B and predicted ahead (4 ordered pairs). Publisher P2: one
    question, A measured 2x B and predicted behind (1 mis-ordered pair)."""
    rows = []
    for i in range(4):
        q = question_key(1000, 1000, concurrency=2 ** i)
        rows += [row(f"p1a{i}", "A", 200, 180, publisher="P1", question=q),
                 row(f"p1b{i}", "B", 100, 100, publisher="P1", question=q)]
    rows += [row("p2a", "A", 200, 90, publisher="P2"), row("p2b", "B", 100, 100, publisher="P2")]
    return rows


def test_publisher_weights_by_hand():
    pairs = build_pairs(_four_and_one())
    assert len(pairs) == 5
    w = pair_weights(pairs, power=0.5)
    # P1's four pairs weigh 4^-0.5 = 0.5 each (2 in all), P2's one pair 1^-0.5 = 1
    assert sorted(w) == pytest.approx([0.5, 0.5, 0.5, 0.5, 1.0])
    s = score_pairs(pairs, power=0.5)
    assert (s.n, s.concordant, s.publisher_groups) == (5, 4, 2)
    assert s.share == pytest.approx(4 / 5)
    assert s.weighted_share == pytest.approx(2 / 3)                  # 2 / (2 + 1)
    assert score_pairs(pairs, power=0.0).weighted_share == pytest.approx(4 / 5)   # every pair alike
    assert score_pairs(pairs, power=1.0).weighted_share == pytest.approx(1 / 2)   # every publisher once


def test_gap_error_signed_by_hand():
    # measured A/B = 2, predicted 1.5: the model compresses the gap, 1.5 / 2 - 1 = -25 %
    (p,) = build_pairs([row("a", "A", 200, 150), row("b", "B", 100, 100)])
    assert p.gap_error == pytest.approx(-0.25)
    assert score_pairs([p]).median_gap_error == pytest.approx(-0.25)
    # two pairs of one publisher, predicted / measured ratio 0.5 and 2: the (log) median is 1, gap error 0
    q2 = question_key(1000, 1000, concurrency=16)
    pairs = build_pairs([row("a", "A", 200, 100), row("b", "B", 100, 100),
                         row("c", "A", 200, 400, question=q2), row("d", "B", 100, 100, question=q2)])
    assert sorted(p.gap_error for p in pairs) == pytest.approx([-0.5, 1.0])
    assert score_pairs(pairs).median_gap_error == pytest.approx(0.0, abs=1e-12)


def test_chip_pair_summary_by_hand():
    # chips "a_slow" and "b_fast", one publisher, three questions: measured b/a = 2, 2, 0.5 and predicted b/a = 1.5,
    # 3, 1.2. Median of measured logs ln 2 > 0: b_fast first, measured 2x; predicted median 1.5x. Ordered: the
    # first two (b ahead, predicted ahead) yes; the third (a measured ahead, predicted b ahead 1.2x) no -> 2 of 3.
    rows = []
    for i, (mb, pb) in enumerate(((200, 150), (200, 300), (50, 120))):
        q = question_key(1000, 1000, concurrency=2 ** i)
        rows += [row(f"a{i}", "a_slow", 100, 100, question=q), row(f"b{i}", "b_fast", mb, pb, question=q)]
    (c,) = chip_pair_summaries(build_pairs(rows))
    assert (c.first, c.second, c.n) == ("b_fast", "a_slow", 3)
    assert c.measured_ratio == pytest.approx(2.0)
    assert c.predicted_ratio == pytest.approx(1.5)
    assert c.weighted_share == pytest.approx(2 / 3)
    assert c.models == ("m",)


def test_worst_discordant_grouped_and_sorted_by_hand():
    q2 = question_key(1000, 1000, concurrency=16)
    rows = [
        # model m, B measured 2x A, predicted 0.5x: ln(2 / 0.5) = ln 4; a second question 1.2x vs 0.9x: ln(1.333)
        row("a1", "A", 100, 100), row("b1", "B", 200, 50),
        row("a2", "A", 100, 100, question=q2), row("b2", "B", 120, 90, question=q2),
        # model n, D measured 1.1x C, predicted 0.8x: ln(1.375), its own group
        row("c", "C", 100, 100, model="n"), row("d", "D", 110, 80, model="n"),
        # model n, ordered as measured: not listed
        row("e", "E", 100, 100, model="n", question=q2), row("f", "F", 300, 200, model="n", question=q2),
    ]
    worst = worst_discordant(build_pairs(rows))
    assert [(d.worst.model, d.worst.faster, d.worst.slower, d.discordant, d.of) for d in worst] == [
        ("m", "B", "A", 2, 2), ("n", "D", "C", 1, 1)]
    assert worst[0].worst.ids == ("b1", "a1")
    assert worst[0].worst.measured_ratio == pytest.approx(2.0)
    assert worst[0].worst.predicted_ratio == pytest.approx(0.5)
    assert worst_discordant(build_pairs(rows), limit=1) == worst[:1]


def test_report_states_the_counts():
    lines = report(_four_and_one())
    assert "4 of 5 pairs ordered as measured (80.0 %)" in lines[0]
    assert "publisher-weighted 66.7 %" in lines[0]
    # P2's pair is the one mis-ordered: A measured 200 / 100 = 2.00x B, predicted 90 / 100 = 0.90x
    assert any("A measured 2.00x B, predicted 0.90x (p2a/p2b); 1 of 5 mis-ordered" in ln for ln in lines)
    assert any(ln.split()[:3] == ["A", "vs", "B"] for ln in lines)
    assert report([])[0].endswith("no comparable pairs")


def _point(rid: str, chip: str, tok: float, publisher: str = "https://example.org/x") -> MeasuredPoint:
    return MeasuredPoint(row_id=rid, model_id="m", chip_id=chip, precision="fp8", tp=8, pp=1, ep=1, engine="vllm",
                         prompt_tokens=1000, output_tokens=1000, concurrency=8, tokens_per_s_per_chip=tok,
                         ttft_ms=None, tpot_ms=None, source=publisher)


def test_rows_from_loso_reads_the_prediction_back_by_hand():
    points = [_point("r1", "A", 100), _point("r2", "B", 200), _point("r3", "C", 50)]
    evaluated = [
        {"id": "r1", "modelled": True, "measured": 100.0, "loso_err": 10.0, "loso_model_err": -20.0, "k": 0},
        {"id": "r2", "modelled": True, "measured": 200.0, "loso_err": -50.0, "loso_model_err": 0.0, "k": 1},
        {"id": "r3", "modelled": False},
    ]
    rows = rows_from_loso(evaluated, points)
    assert [(r.id, r.chip, r.publisher) for r in rows] == [("r1", "A", "https://example.org/x"),
                                                           ("r2", "B", "https://example.org/x")]
    assert [r.predicted for r in rows] == pytest.approx([110.0, 100.0])     # 100 x 1.1, 200 x 0.5
    assert rows[0].question == question_key(1000, 1000, 8)
    assert rows[0].layout == (8, 1, 1, 1)
    assert [r.predicted for r in rows_from_loso(evaluated, points, "loso_model_err")] == pytest.approx([80.0, 200.0])
    # B measured 2x A; LOSO 100 / 110: mis-ordered; corrected model 200 / 80: ordered
    (p,) = build_pairs(rows)
    assert p.predicted_ratio == pytest.approx(100 / 110) and not p.concordant
    with pytest.raises(ValueError, match="does not match"):
        rows_from_loso(evaluated, list(reversed(points)))


def test_holdout_script_rows_use_publisher_and_tuned_regime():
    spec = importlib.util.spec_from_file_location("perf_holdout_rank", ROOT / "benchmarks" / "perf_holdout.py")
    assert spec and spec.loader
    ph = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = ph
    spec.loader.exec_module(ph)
    common = dict(source="doc", model_id="m", chips=8, tp=8, pp=1, ep=1, precision="fp8", kind="offline",
                  prompt_tokens=1000.0, output_tokens=1000.0)
    rows = [ph.Row(id="h1", engine="trtllm", chip_id="A", measured=100.0, **common,
                   extra={"source_url": "https://github.com/Org/repo/blob/x/a.md"}),
            ph.Row(id="h2", engine="trtllm", chip_id="B", measured=300.0, **common,
                   extra={"source_url": "https://github.com/org/other"}),
            ph.Row(id="h3", engine="trtllm", chip_id="C", measured=50.0, tuned=True, **common, extra={})]
    scored = [{"id": "h1", "predicted": 120.0}, {"id": "h2", "predicted": 240.0}, {"id": "h3", "predicted": 1.0}]
    rr = ph.ranking_rows(scored, rows)
    assert [(r.publisher, r.engine) for r in rr] == [("github.com/org", "trtllm"), ("github.com/org", "trtllm"),
                                                     ("doc", "tuned")]
    (p,) = build_pairs(rr)                      # h3 is the tuned regime: no pair with h1 / h2
    assert (p.faster, p.slower) == ("B", "A")
    assert p.measured_ratio == pytest.approx(3.0) and p.predicted_ratio == pytest.approx(2.0)
    assert math.isclose(score_pairs([p]).median_gap_error, 2.0 / 3.0 - 1.0)
