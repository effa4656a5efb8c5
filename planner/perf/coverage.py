"""When a measurement covers a question, and what it says: the measured-first half of `planner.perf.predictor`.

A group of measured points covers a question when it has the same model, chip, weight precision, layout (TP, PP,
EP) and engine, and its mean prompt and output lengths are each within LENGTH_TOLERANCE (25 %, relative) of the
question's. Among covering groups the user's own measurements come first, then the group nearest in lengths
(|ln I'/I| + |ln O'/O|). Inside a group, points are read along client concurrency (per replica):
  * at a concurrency C inside the measured range: tokens/s per chip, TTFT and TPOT linear in ln C between the two
    neighbours (`planner.perf.measured.interpolate`); outside the range the group does not answer;
  * offline (no targets, no concurrency): the mean of the group's offline points;
  * under latency targets: the largest concurrency whose measured latencies meet both targets - TTFT and TPOT at
    the 99th percentile where the source records them, else their means - found on the measured points and, between
    the last point that meets them and the first that does not, by linear interpolation in ln C; the group does not
    answer when even its smallest concurrency misses a target; when every point meets them, its largest one is used
    (no extrapolation beyond what was measured). The group's `tpot_target` points (throughput a run reached when held
    to a TPOT target) answer too: one qualifies when its TPOT - measured (99th percentile where recorded, else the
    mean), else the target it was held to - meets the question's TPOT target and, if the question has a TTFT target,
    its TTFT (measured, else its TTFT target) meets that one (a point that states no TTFT cannot vouch for a TTFT
    target; with the question's percentile given, a target stated at a lower percentile cannot vouch either). The
    answer is the largest throughput per chip among the concurrency-sweep answer and the qualifying target points.
    `tpot_target` points are not read at a concurrency nor as offline points.

A point's layout is (TP, PP, EP): a group covers a layout only when all three match.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from planner.perf.layout import Layout
from planner.perf.measured import MeasuredPoint

LENGTH_TOLERANCE = 0.25


@dataclass(frozen=True)
class MeasuredAnswer:
    """What a covering group says about a question (per chip tokens/s; latencies in ms, None if not recorded)."""

    tokens_per_s_per_chip: float
    concurrency: float | None
    ttft_ms: float | None
    tpot_ms: float | None
    points: int
    user: bool


def length_distance(p: MeasuredPoint, prompt: float, output: float) -> float:
    return abs(math.log(p.prompt_tokens / prompt)) + abs(math.log(p.output_tokens / output))


def lengths_within(p: MeasuredPoint, prompt: float, output: float, tolerance: float = LENGTH_TOLERANCE) -> bool:
    lim = math.log(1.0 + tolerance) + 1e-12
    return abs(math.log(p.prompt_tokens / prompt)) <= lim and abs(math.log(p.output_tokens / output)) <= lim


def covering_group(points: Iterable[MeasuredPoint], model_id: str, chip_id: str, precision: str, layout: Layout,
                   engine: str, prompt: float, output: float) -> list[MeasuredPoint]:
    """Points of the best covering group (module docstring); empty when none covers."""
    groups: dict[tuple[object, ...], list[MeasuredPoint]] = {}
    for p in points:
        if (p.model_id == model_id and p.chip_id == chip_id and p.precision == precision and p.tp == layout.tp
                and p.pp == layout.pp and p.ep == layout.ep and p.engine == engine
                and lengths_within(p, prompt, output)):
            groups.setdefault((*p.key, p.user), []).append(p)
    if not groups:
        return []
    best = min(groups.values(), key=lambda g: (not g[0].user, length_distance(g[0], prompt, output)))
    return best


def _interp(x: Sequence[float], y: Sequence[float | None], at: float) -> float | None:
    if any(v is None for v in y):
        return None
    return float(np.interp(at, x, [float(v) for v in y]))  # type: ignore[arg-type]


def _concurrency_points(group: Sequence[MeasuredPoint]) -> list[MeasuredPoint]:
    return sorted((p for p in group if p.concurrency and p.kind == "concurrency"), key=lambda p: p.concurrency or 0.0)


def at_concurrency(group: Sequence[MeasuredPoint], concurrency: float) -> MeasuredAnswer | None:
    """Tokens/s per chip and latencies at client concurrency C (None outside the measured range)."""
    pts = _concurrency_points(group)
    if not pts:
        return None
    x = [math.log(p.concurrency or 1.0) for p in pts]
    at = math.log(concurrency)
    if at < x[0] - 1e-9 or at > x[-1] + 1e-9:
        return None
    at = min(max(at, x[0]), x[-1])
    return MeasuredAnswer(
        float(np.interp(at, x, [p.tokens_per_s_per_chip for p in pts])), concurrency,
        _interp(x, [p.ttft_ms for p in pts], at), _interp(x, [p.tpot_ms for p in pts], at), len(pts), pts[0].user)


def offline(group: Sequence[MeasuredPoint]) -> MeasuredAnswer | None:
    """Mean of the group's offline points (None when it has none)."""
    pts = [p for p in group if p.kind == "offline"]
    if not pts:
        return None
    return MeasuredAnswer(float(np.mean([p.tokens_per_s_per_chip for p in pts])), None, None, None, len(pts), pts[0].user)


def _latency(p: MeasuredPoint, which: str) -> float | None:
    p99 = p.ttft_p99_ms if which == "ttft" else p.tpot_p99_ms
    mean = p.ttft_ms if which == "ttft" else p.tpot_ms
    return p99 if p99 is not None else mean


def _sweep_under_targets(group: Sequence[MeasuredPoint], checks: Sequence[tuple[str, float]]) -> MeasuredAnswer | None:
    """The concurrency sweep's answer under targets: the largest concurrency meeting `checks` (module docstring)."""
    pts = [p for p in _concurrency_points(group) if all(_latency(p, w) is not None for w, _ in checks)]
    if not pts:
        return None
    x = [math.log(p.concurrency or 1.0) for p in pts]
    ok = [all((_latency(p, w) or 0.0) <= t for w, t in checks) for p in pts]
    if not ok[0]:
        return None
    k = ok.index(False) - 1 if False in ok else len(pts) - 1
    at = x[k]
    if k < len(pts) - 1:  # the crossing between point k (meets) and k + 1 (misses), linear in ln C
        j = k + 1
        at = x[j]
        for w, t in checks:
            lk, lj = _latency(pts[k], w) or 0.0, _latency(pts[j], w) or 0.0
            if lj > t:
                at = min(at, x[k] + (t - lk) / (lj - lk) * (x[j] - x[k]))
    ys = [p.tokens_per_s_per_chip for p in pts]
    return MeasuredAnswer(
        float(np.interp(at, x, ys)), math.exp(at), _interp(x, [_latency(p, "ttft") for p in pts], at),
        _interp(x, [_latency(p, "tpot") for p in pts], at), len(pts), pts[0].user)


def _target_latency(p: MeasuredPoint, which: str, percentile: float | None) -> float | None:
    """What a `tpot_target` point vouches for: its measured latency (p99, else mean), else the target it was held to
    (None when that target was stated at a lower percentile than the question's)."""
    measured = _latency(p, which)
    if measured is not None:
        return measured
    target = p.tpot_target_ms if which == "tpot" else p.ttft_target_ms
    if target is not None and percentile is not None and p.target_percentile is not None \
            and p.target_percentile < percentile - 1e-9:
        return None
    return target


def target_points_meeting(group: Sequence[MeasuredPoint], ttft_target_ms: float, tpot_target_ms: float,
                          percentile: float | None = None) -> list[MeasuredPoint]:
    """The group's `tpot_target` points that meet the question's targets (module docstring)."""
    out = []
    for p in group:
        if p.kind != "tpot_target":
            continue
        ok = True
        for which, t in (("ttft", ttft_target_ms), ("tpot", tpot_target_ms)):
            if not math.isfinite(t):
                continue
            v = _target_latency(p, which, percentile)
            ok = ok and v is not None and v <= t + 1e-9
        if ok:
            out.append(p)
    return out


def under_targets(group: Sequence[MeasuredPoint], ttft_target_ms: float, tpot_target_ms: float,
                  percentile: float | None = None) -> MeasuredAnswer | None:
    """The largest measured throughput meeting both targets (module docstring), or None: the concurrency sweep's
    largest concurrency meeting them, or a `tpot_target` point whose TPOT (measured, else its target) meets them."""
    checks = [(w, t) for w, t in (("ttft", ttft_target_ms), ("tpot", tpot_target_ms)) if math.isfinite(t)]
    best = _sweep_under_targets(group, checks)
    for p in target_points_meeting(group, ttft_target_ms, tpot_target_ms, percentile):
        if best is None or p.tokens_per_s_per_chip > best.tokens_per_s_per_chip:
            best = MeasuredAnswer(p.tokens_per_s_per_chip, p.concurrency, _target_latency(p, "ttft", percentile),
                                  _target_latency(p, "tpot", percentile), 1, p.user)
    return best


def near_measurement(points: Iterable[MeasuredPoint], model_id: str, family_of: dict[str, str], family: str,
                     engine: str, prompt: float, output: float) -> bool:
    """Some point measures the same model on the same chip family with the same engine within the length
    tolerance (any layout or precision): the corrected model is not far from data."""
    return any(p.model_id == model_id and p.engine == engine and family_of.get(p.chip_id, p.chip_id) == family
               and lengths_within(p, prompt, output) for p in points)
