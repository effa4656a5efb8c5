"""Chip ranking per model: does a prediction order two chips the way the measurements do?

Issue #21 asks that the performance model keep the chip ranking per model on published measurements. This module
scores that on rows that already carry a prediction (the leave-one-publisher-out predictions of
`planner.perf.measured_eval.evaluate_points`, or `planner perf` on the held-out set of `benchmarks/perf_holdout.py`);
it predicts nothing itself.

Definitions:
  * A **comparable pair** is two rows that ask the same question of two *different* chips: same publisher (one
    harness, so the measured ratio is the chips' and not two benchmark set-ups'; `same_publisher=False` drops that
    condition), model, engine, weight precision, measurement kind and question (`question_key`: prompt and output
    tokens, client concurrency, TPOT / TTFT targets and their percentile, length CV). Layouts may differ: tokens/s
    are per chip, and each chip runs the layout its publisher chose. Every such pair of rows counts (a question
    with two layouts on one chip gives two pairs against another chip).
  * **Noise band**: a pair counts only when the faster chip measured more than `NOISE_BAND` (5 %) above the slower,
    max / min > 1.05; closer than that the measured order is within run-to-run and version noise.
  * A pair is **ordered correctly** (concordant) when the prediction puts the measured-faster chip strictly ahead
    (predicted ratio faster / slower > 1; a predicted tie counts as wrong).
  * **Weights**: one publisher's large sweep must not decide the figure. As in the speed factor and the engine-cost
    fit (`planner.perf.common.PUBLISHER_WEIGHT_POWER` = p), each of the m pairs of one publisher group (the two rows'
    publishers, one publisher for same-publisher pairs) weighs m^-p, so the group weighs m^(1-p) in all (p = 0.5:
    a 436-pair sweep weighs like 21 pairs, a 14-pair page like 3.7). Counts are taken within the set scored, as
    `planner.perf.correction` counts within each group.
  * **Gap error** (signed) of a pair: predicted ratio / measured ratio - 1. Positive = the model overstates the
    measured-faster chip's lead; negative = it compresses the gap, and below 1 / measured ratio - 1 it inverts it.
  * Per chip pair (A, B): weighted medians (`planner.perf.correction.weighted_median`, the pairs' weights recounted
    within the chip pair) of the measured and predicted A / B ratios, A the chip the measurements put ahead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from planner.perf.common import PUBLISHER_WEIGHT_POWER
from planner.perf.correction import weighted_median
from planner.perf.measured import MeasuredPoint

#: A pair counts only when its measured values differ by more than this share (max / min > 1 + NOISE_BAND).
NOISE_BAND = 0.05

Question = tuple[float | None, ...]


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def question_key(prompt_tokens: float, output_tokens: float, concurrency: float | None = None,
                 tpot_target_ms: float | None = None, ttft_target_ms: float | None = None,
                 target_percentile: float | None = None, length_cv: float | None = None) -> Question:
    """What one row asks beyond model, engine, precision and kind: lengths (rounded to the token, as
    `MeasuredPoint.key`), concurrency, latency targets and their percentile, and the length CV."""
    return (float(round(prompt_tokens)), float(round(output_tokens)), _r(concurrency), _r(tpot_target_ms),
            _r(ttft_target_ms), _r(target_percentile), _r(length_cv))


@dataclass(frozen=True)
class RankRow:
    """One measured row with its prediction: what the ranking reads (tokens/s per chip, measured and predicted)."""

    id: str
    publisher: str
    model: str
    engine: str
    precision: str
    kind: str
    question: Question
    chip: str
    measured: float
    predicted: float
    layout: tuple[int, ...] = ()       # (TP, PP, EP, DP) of the row; read only by build_pairs(same_layout=True)


@dataclass(frozen=True)
class Pair:
    """Two rows asking one question of two chips, oriented measured-faster first."""

    model: str
    engine: str
    precision: str
    kind: str
    question: Question
    faster: str
    slower: str
    ids: tuple[str, str]               # (faster row, slower row)
    publishers: tuple[str, str]        # (faster row's, slower row's)
    measured_ratio: float              # measured faster / slower, > 1 + noise band
    predicted_ratio: float             # predicted faster / slower (> 1: ordered as measured)

    @property
    def concordant(self) -> bool:
        """The prediction puts the measured-faster chip strictly ahead."""
        return self.predicted_ratio > 1.0

    @property
    def publisher_group(self) -> tuple[str, ...]:
        """The unit of the weighting: the publisher, or both publishers (sorted) of a cross-publisher pair."""
        return tuple(sorted(set(self.publishers)))

    @property
    def gap_error(self) -> float:
        """predicted ratio / measured ratio - 1 (signed; module docstring)."""
        return self.predicted_ratio / self.measured_ratio - 1.0

    @property
    def chip_pair(self) -> tuple[str, str]:
        """The two chips, sorted by name (orientation-free)."""
        a, b = sorted((self.faster, self.slower))
        return (a, b)


def rows_from_loso(evaluated: Sequence[Mapping[str, object]], points: Sequence[MeasuredPoint],
                   error_column: str = "loso_err") -> list[RankRow]:
    """RankRows from `evaluate_points(points, ...)` output: the prediction is read back from the row's signed error
    (predicted = measured x (1 + error / 100), the figure `evaluate_points` scored), the question from the point
    (`k` indexes `points`). Unmodelled rows and non-finite predictions are left out."""
    out: list[RankRow] = []
    for r in evaluated:
        if not r.get("modelled"):
            continue
        err = float(r[error_column])  # type: ignore[arg-type]
        m = float(r["measured"])  # type: ignore[arg-type]
        pred = m * (1.0 + err / 100.0)
        if not (math.isfinite(pred) and pred > 0):
            continue
        p = points[int(r["k"])]  # type: ignore[call-overload]
        if p.row_id != r["id"]:
            raise ValueError(f"row {r['id']} does not match point {p.row_id}: pass the points evaluate_points scored")
        out.append(RankRow(id=p.row_id, publisher=p.publisher, model=p.model_id, engine=p.engine,
                           precision=p.precision, kind=p.kind, chip=p.chip_id, measured=m, predicted=pred,
                           layout=(p.tp, p.pp, p.ep, p.dp),
                           question=question_key(p.prompt_tokens, p.output_tokens, p.concurrency, p.tpot_target_ms,
                                                 p.ttft_target_ms, p.target_percentile)))
    return out


def build_pairs(rows: Iterable[RankRow], noise: float = NOISE_BAND, same_publisher: bool = True,
                same_layout: bool = False) -> list[Pair]:
    """Every comparable pair of rows (module docstring) measured more than `noise` apart, measured-faster first;
    `same_layout` also asks both rows to run one layout (TP, PP, EP, DP), so the ratio is the chips' alone."""
    groups: dict[tuple[object, ...], list[RankRow]] = {}
    for r in rows:
        k = ((r.publisher,) if same_publisher else ()) + (r.model, r.engine, r.precision, r.kind, r.question) \
            + ((r.layout,) if same_layout else ())
        groups.setdefault(k, []).append(r)
    pairs: list[Pair] = []
    for grp in groups.values():
        for i, a in enumerate(grp):
            for b in grp[i + 1:]:
                if a.chip == b.chip:
                    continue
                fast, slow = (a, b) if a.measured >= b.measured else (b, a)
                ratio = fast.measured / slow.measured
                if ratio <= 1.0 + noise:
                    continue
                pairs.append(Pair(model=a.model, engine=a.engine, precision=a.precision, kind=a.kind,
                                  question=a.question, faster=fast.chip, slower=slow.chip, ids=(fast.id, slow.id),
                                  publishers=(fast.publisher, slow.publisher), measured_ratio=ratio,
                                  predicted_ratio=fast.predicted / slow.predicted))
    return pairs


def pair_weights(pairs: Sequence[Pair], power: float = PUBLISHER_WEIGHT_POWER) -> list[float]:
    """Each of the m pairs of one publisher group weighs m^-power (counted within `pairs`)."""
    count: dict[tuple[str, ...], int] = {}
    for p in pairs:
        count[p.publisher_group] = count.get(p.publisher_group, 0) + 1
    return [count[p.publisher_group] ** -power for p in pairs]


@dataclass(frozen=True)
class RankingScore:
    """How many pairs, and what share the prediction orders as measured."""

    n: int
    concordant: int
    share: float                 # unweighted: concordant / n
    weighted_share: float        # publisher-weighted (pair_weights)
    median_gap_error: float      # publisher-weighted median of Pair.gap_error (signed)
    publisher_groups: int

    def line(self) -> str:
        if not self.n:
            return "no comparable pairs"
        return (f"{self.concordant} of {self.n} pairs ordered as measured ({100 * self.share:.1f} %), "
                f"publisher-weighted {100 * self.weighted_share:.1f} % ({self.publisher_groups} publisher group"
                f"{'s' if self.publisher_groups != 1 else ''}); median gap error {100 * self.median_gap_error:+.1f} %")


def score_pairs(pairs: Sequence[Pair], power: float = PUBLISHER_WEIGHT_POWER) -> RankingScore:
    """Counts, unweighted and weighted share concordant, weighted median gap error (NaN when there is no pair)."""
    if not pairs:
        return RankingScore(0, 0, math.nan, math.nan, math.nan, 0)
    w = pair_weights(pairs, power)
    ok = [p.concordant for p in pairs]
    return RankingScore(
        n=len(pairs), concordant=sum(ok), share=sum(ok) / len(pairs),
        weighted_share=sum(wi for wi, c in zip(w, ok, strict=True) if c) / sum(w),
        median_gap_error=math.expm1(weighted_median([math.log1p(p.gap_error) for p in pairs], w)),
        publisher_groups=len({p.publisher_group for p in pairs}))


@dataclass(frozen=True)
class ChipPairSummary:
    """One pair of chips across all its comparable pairs: `first` is the chip the measurements put ahead."""

    first: str
    second: str
    n: int
    measured_ratio: float        # weighted median of measured first / second
    predicted_ratio: float       # weighted median of predicted first / second
    weighted_share: float        # weighted share of its pairs ordered as measured
    models: tuple[str, ...]


def chip_pair_summaries(pairs: Sequence[Pair], power: float = PUBLISHER_WEIGHT_POWER) -> list[ChipPairSummary]:
    """Per chip pair, the weighted median measured and predicted ratios (medians of the logs, so the orientation
    does not matter), oriented so the measured median is >= 1; most pairs first."""
    by: dict[tuple[str, str], list[Pair]] = {}
    for p in pairs:
        by.setdefault(p.chip_pair, []).append(p)
    out: list[ChipPairSummary] = []
    for (a, b), grp in by.items():
        w = pair_weights(grp, power)
        sign = [1.0 if p.faster == a else -1.0 for p in grp]  # log ratios oriented a / b
        lm = weighted_median([s * math.log(p.measured_ratio) for s, p in zip(sign, grp, strict=True)], w)
        lp = weighted_median([s * math.log(p.predicted_ratio) for s, p in zip(sign, grp, strict=True)], w)
        first, second = (a, b) if lm >= 0 else (b, a)
        flip = 1.0 if lm >= 0 else -1.0
        out.append(ChipPairSummary(
            first=first, second=second, n=len(grp), measured_ratio=math.exp(flip * lm),
            predicted_ratio=math.exp(flip * lp),
            weighted_share=sum(wi for wi, p in zip(w, grp, strict=True) if p.concordant) / sum(w),
            models=tuple(sorted({p.model for p in grp}))))
    return sorted(out, key=lambda s: (-s.n, s.first, s.second))


@dataclass(frozen=True)
class Discordance:
    """Mis-ordered pairs of one (model, engine, precision, faster chip, slower chip): the worst one and how many."""

    worst: Pair
    discordant: int
    of: int


def worst_discordant(pairs: Sequence[Pair], limit: int = 8) -> list[Discordance]:
    """Mis-ordered pairs grouped by (model, engine, precision, measured-faster chip, slower chip), worst first:
    a group's worst pair is the one with the largest ln(measured ratio / predicted ratio), the disagreement in
    log terms (a 1.5x lead predicted as 0.7x is worse than a 1.06x lead predicted as 0.99x)."""
    groups: dict[tuple[str, ...], list[Pair]] = {}
    for p in pairs:
        groups.setdefault((p.model, p.engine, p.precision, p.faster, p.slower), []).append(p)
    out: list[Discordance] = []
    for grp in groups.values():
        bad = [p for p in grp if not p.concordant]
        if bad:
            worst = max(bad, key=lambda p: math.log(p.measured_ratio / p.predicted_ratio))
            out.append(Discordance(worst, len(bad), len(grp)))
    out.sort(key=lambda d: -math.log(d.worst.measured_ratio / d.worst.predicted_ratio))
    return out[:limit]


def report(rows: Sequence[RankRow], noise: float = NOISE_BAND, power: float = PUBLISHER_WEIGHT_POWER,
           limit: int = 8, indent: str = "  ") -> list[str]:
    """Lines: the same-publisher score, by publisher group, the same-layout and cross-publisher variants, per chip
    pair and the worst mis-ordered groups."""
    pairs = build_pairs(rows, noise)
    s = score_pairs(pairs, power)
    out = [f"{indent}same publisher: {s.line()}"]
    by_pub: dict[tuple[str, ...], list[Pair]] = {}
    for p in pairs:
        by_pub.setdefault(p.publisher_group, []).append(p)
    for g, grp in sorted(by_pub.items(), key=lambda kv: -len(kv[1])):
        sg = score_pairs(grp, power)
        out.append(f"{indent}  {' + '.join(g)[:44]:<44} {sg.concordant:4d} of {sg.n:4d} "
                   f"({100 * sg.share:5.1f} %), median gap error {100 * sg.median_gap_error:+6.1f} %")
    if any(r.layout for r in rows):
        out.append(f"{indent}same publisher and layout (TP, PP, EP, DP): "
                   f"{score_pairs(build_pairs(rows, noise, same_layout=True), power).line()}")
    cross = build_pairs(rows, noise, same_publisher=False)
    sc = score_pairs(cross, power)
    out.append(f"{indent}any publishers (adds {len(cross) - len(pairs)} cross-publisher pairs): {sc.line()}")
    if pairs:
        out.append(f"{indent}per chip pair (same publisher; weighted medians; first = measured faster):")
        out.append(f"{indent}  {'chips':<24}{'n':>5}{'measured':>10}{'predicted':>11}{'ordered':>9}  models")
        for c in chip_pair_summaries(pairs, power):
            out.append(f"{indent}  {c.first + ' vs ' + c.second:<24}{c.n:>5}{c.measured_ratio:>9.2f}x"
                       f"{c.predicted_ratio:>10.2f}x{100 * c.weighted_share:>8.0f}%  {', '.join(c.models)[:60]}")
        worst = worst_discordant(pairs, limit)
        if worst:
            out.append(f"{indent}worst mis-ordered (grouped by model, engine, precision and measured-faster / slower "
                       f"chip; the group's worst pair, then how many of the group's pairs are mis-ordered):")
        for d in worst:
            p = d.worst
            q = p.question
            out.append(f"{indent}  {p.model} {p.engine} {p.precision} {p.kind} {q[0]:g}/{q[1]:g}"
                       + (f" c{q[2]:g}" if q[2] is not None else "") + (f" tpot{q[3]:g}" if q[3] is not None else "")
                       + f": {p.faster} measured {p.measured_ratio:.2f}x {p.slower}, predicted "
                       f"{p.predicted_ratio:.2f}x ({p.ids[0]}/{p.ids[1]}); {d.discordant} of {d.of} mis-ordered")
    return out
