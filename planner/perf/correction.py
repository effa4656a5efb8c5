"""Correction of the analytic model from measurements: a speed factor and an interval per (engine, chip family).

Residuals are r = ln(measured / predicted) over measured points (per chip output tokens/s; predicted by the raw
model through `planner.perf.predictor`, the very predictor the factor is then applied to).
  * factor f = exp(weighted median r) of the (engine, family) group when it has >= MIN_GROUP_POINTS points, else of the
    engine's points (any number), else of all stock-engine points pooled over every engine. The tuned-submission
    regime (`engine: tuned`: MLPerf-style hero runs, the calibrated model with no engine costs) takes its factor
    from tuned points only (its family's, else all tuned points), never from the stock pool; with no tuned point
    f = 1. The calibration is fitted on older rounds, so the newest tuned submissions set its level.
  * interval: leave-one-source-out (LOSO) residuals rl = ln(measured / (predicted x f fitted without the point's
    source)) grouped the same way, with MIN_INTERVAL_POINTS per group (else engine, else pooled). The figure at
    quantile q is the corrected prediction x exp(Q(q) - Q(0.5)), Q the empirical quantile (linear between order
    statistics) of rl, so P50 is the corrected prediction and P10 / P90 spread around it as held-out errors did.
The weighted median gives each of a publisher's n rows the weight n^-PUBLISHER_WEIGHT_POWER (`planner.perf.common`,
the weighting of the engine-cost fit): a vendor's 100-row page weighs 10 rows' worth, not 100 and not 1, so one
large table cannot set the level alone and one stray row cannot either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from planner.perf.common import PUBLISHER_WEIGHT_POWER
from planner.perf.engines import TUNED

MIN_GROUP_POINTS = 3
MIN_INTERVAL_POINTS = 5
#: Level a factor or interval came from, most to least specific.
LEVELS = ("engine x family", "engine", "pooled", "none")


@dataclass(frozen=True)
class Correction:
    """Median log residual per (engine, family), per engine, and pooled."""

    by_group: Mapping[tuple[str, str], float] = field(default_factory=dict)
    by_engine: Mapping[str, float] = field(default_factory=dict)
    pooled: float = 0.0

    def lookup(self, engine: str, family: str) -> tuple[float, str]:
        """(factor, level) with the fallback chain engine x family -> engine -> pooled (tuned: never pooled; 1,
        'none' without tuned points)."""
        if (engine, family) in self.by_group:
            return math.exp(self.by_group[(engine, family)]), LEVELS[0]
        if engine in self.by_engine:
            return math.exp(self.by_engine[engine]), LEVELS[1]
        if engine == TUNED:
            return 1.0, "none"
        return math.exp(self.pooled), LEVELS[2]

    def factor(self, engine: str, family: str) -> float:
        return self.lookup(engine, family)[0]


def _groups(residuals: Sequence[tuple[str, str, float]]) -> tuple[dict[tuple[str, str], list[float]], dict[str, list[float]], list[float]]:
    groups: dict[tuple[str, str], list[float]] = {}
    engines: dict[str, list[float]] = {}
    pooled: list[float] = []
    for engine, family, r in residuals:
        if not math.isfinite(r):
            continue
        groups.setdefault((engine, family), []).append(r)
        engines.setdefault(engine, []).append(r)
        pooled.append(r)
    return groups, engines, pooled


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """Median of `values` under `weights`: sorted values at the midpoints of their cumulative weight, linear in
    between, read at half the total (equal weights: the ordinary median, the mean of the middle two when even)."""
    order = np.argsort(np.asarray(values, dtype=float), kind="stable")
    r = np.asarray(values, dtype=float)[order]
    w = np.asarray(weights, dtype=float)[order]
    mid = np.cumsum(w) - 0.5 * w
    return float(np.interp(0.5 * w.sum(), mid, r))


def _center(values: Sequence[tuple[float, str]]) -> float:
    """Weighted median of the residuals, each of a source's n rows weighing n^-PUBLISHER_WEIGHT_POWER (module
    docstring): a plan's deployment is one more publisher, so a vendor's 100-row page must not outvote three labs,
    nor a one-row blog post a vendor's whole sweep."""
    count: dict[str, int] = {}
    for _, src in values:
        count[src] = count.get(src, 0) + 1
    return weighted_median([r for r, _ in values], [count[s] ** -PUBLISHER_WEIGHT_POWER for _, s in values])


def fit_correction(residuals: Sequence[tuple[str, str, float]], sources: Sequence[str] | None = None) -> Correction:
    """Correction from (engine, family, ln(measured / predicted)) triples (module docstring); with `sources` (one per
    triple) each group's value is the publisher-weighted median (`_center`), else the plain median."""
    srcs = list(sources) if sources is not None else [str(i) for i in range(len(residuals))]
    groups: dict[tuple[str, str], list[tuple[float, str]]] = {}
    engines: dict[str, list[tuple[float, str]]] = {}
    pooled: list[tuple[float, str]] = []
    for (engine, family, r), src in zip(residuals, srcs, strict=True):
        if not math.isfinite(r):
            continue
        groups.setdefault((engine, family), []).append((r, src))
        engines.setdefault(engine, []).append((r, src))
        if engine != TUNED:
            pooled.append((r, src))
    return Correction(
        {k: _center(v) for k, v in groups.items() if len(v) >= MIN_GROUP_POINTS},
        {k: _center(v) for k, v in engines.items()},
        _center(pooled) if pooled else 0.0,
    )


@dataclass(frozen=True)
class Intervals:
    """LOSO log residuals per (engine, family), per engine and pooled, for quantiles of the corrected figure."""

    by_group: Mapping[tuple[str, str], tuple[float, ...]] = field(default_factory=dict)
    by_engine: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    pooled: tuple[float, ...] = ()

    def residuals(self, engine: str, family: str) -> tuple[tuple[float, ...], str]:
        """The residuals an (engine, family) takes its interval from, and their level (tuned: pooled)."""
        if (engine, family) in self.by_group:
            return self.by_group[(engine, family)], LEVELS[0]
        if engine in self.by_engine:
            return self.by_engine[engine], LEVELS[1]
        return self.pooled, LEVELS[2]

    def scale(self, engine: str, family: str, quantile: float) -> float:
        """exp(Q(q) - Q(0.5)) of the group's LOSO residuals: the figure at quantile q over P50 (1 without data)."""
        r, _ = self.residuals(engine, family)
        if not r or quantile == 0.5:
            return 1.0
        a = np.asarray(r, dtype=float)
        return float(math.exp(np.quantile(a, quantile) - np.quantile(a, 0.5)))


def fit_intervals(loso_residuals: Sequence[tuple[str, str, float]]) -> Intervals:
    """Intervals from (engine, family, LOSO log residual) triples (module docstring)."""
    groups, engines, pooled = _groups(loso_residuals)
    return Intervals(
        {k: tuple(sorted(v)) for k, v in groups.items() if len(v) >= MIN_INTERVAL_POINTS},
        {k: tuple(sorted(v)) for k, v in engines.items() if len(v) >= MIN_INTERVAL_POINTS},
        tuple(sorted(pooled)),
    )
