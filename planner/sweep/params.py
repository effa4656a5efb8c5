"""Sweep parameters: `--param PATH=LO:HI:STEP` (a range), `--param PATH=v1,v2,v3` (a list); grid or sample."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from planner.errors import InputError, Problem
from planner.io.overrides import check_path, split_assignment
from planner.io.safe_yaml import parse_scalar
from planner.sweep import MAX_POINTS, MAX_WORKERS  # noqa: F401 - re-exported


@dataclass(frozen=True)
class Param:
    """One swept scenario path and its values (grid), or its range (sampling)."""

    path: str
    values: tuple[Any, ...]
    low: float | None = None
    high: float | None = None
    integer: bool = False


def _num(text: str) -> float | int:
    v = parse_scalar(text)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"{text!r} is not a number")
    try:
        finite = math.isfinite(v)  # an int beyond a float (a 400-digit LO) overflows here
    except OverflowError:
        finite = False
    if not finite:
        raise ValueError(f"{text!r:.60} is not a finite number (or is beyond 1e308)")
    return v


def parse_param(text: str) -> Param:
    """`chip_terms.b200.discount_fraction=0:0.4:0.05` or `policy.redundancy=none,n_plus_1`."""
    path, spec = split_assignment(text, "--param", "chip_terms.b200.discount_fraction=0:0.4:0.05")
    if not spec.strip():
        raise ValueError("write PATH=LO:HI:STEP or PATH=v1,v2,... e.g. chip_terms.b200.discount_fraction=0:0.4:0.05")
    bad = check_path(path)
    if bad:
        raise ValueError(bad)
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise ValueError(f"range {spec!r}: write LO:HI:STEP")
        lo, hi, step = (_num(p) for p in parts)
        if step <= 0 or hi < lo:
            raise ValueError(f"range {spec!r}: needs LO <= HI and STEP > 0")
        integer = all(isinstance(x, int) for x in (lo, hi, step))
        # the count in floats first: (HI - LO) / STEP overflows to inf for 0:1e308:0.1 or 0:1:1e-320, and huge
        # ints would build a giant range; refuse before any int() or tuple of that size
        try:
            count = (hi - lo) / step
        except OverflowError:  # ints beyond a float
            count = math.inf
        if not math.isfinite(count) or count + 1 > MAX_POINTS:
            shown = "more than 10^308" if not math.isfinite(count) else f"about {count + 1:,.0f}"
            raise ValueError(f"range {spec!r} has {shown} values; at most {MAX_POINTS:,} (raise STEP or narrow LO:HI)")
        n = int(round((hi - lo) / step + 1e-9)) + 1
        if n > MAX_POINTS:
            raise ValueError(f"range {spec!r} has {n:,} values; at most {MAX_POINTS:,}")
        values = tuple(int(lo + i * step) if integer else round(lo + i * step, 12) for i in range(n))
        return Param(path, values, float(lo), float(hi), integer)
    items = spec.split(",")
    if len(items) > MAX_POINTS:
        raise ValueError(f"the list has {len(items):,} values; at most {MAX_POINTS:,}")
    empty = [i + 1 for i, v in enumerate(items) if not v.strip()]
    if empty:  # `0.1,` or `0.1,,0.2`: a stray comma would sweep a null (or the schema's default) as a point
        raise ValueError(f"the list {spec[:80]!r} has an empty value (value {', '.join(map(str, empty[:5]))}): a stray "
                         "comma? write PATH=v1,v2,... with a value between every two commas")
    values = tuple(parse_scalar(v) for v in items)
    seen: dict[tuple[bool, Any], str] = {}
    for raw, v in zip(items, values, strict=True):
        try:
            key = (isinstance(v, bool), v)
            hash(key)
        except TypeError:
            key = (False, repr(v))
        if key in seen:  # the same point planned twice, its row twice in the table
            raise ValueError(f"the list {spec[:80]!r} gives the value {raw.strip()[:40]!r} twice (also as "
                             f"{seen[key][:40]!r}); give each value once")
        seen[key] = raw.strip()
    return Param(path, values)


def _overlap(a: str, b: str) -> bool:
    """Whether two override paths write the same value (one equal to or inside the other; `+` ignored)."""
    a, b = a.rstrip("+"), b.rstrip("+")
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def parse_params(texts: list[str], fixed: Iterable[str] = ()) -> list[Param]:
    """Every `--param`, or InputError listing each bad one. A path swept twice, or inside another swept path, or
    also fixed by `--set` (`fixed`), is refused: one value would silently replace the other in every point."""
    problems, out = [], []
    fixed = list(fixed)
    for t in texts:
        try:
            param = parse_param(t)
        except ValueError as exc:
            problems.append(Problem("command line", f"--param {t.partition('=')[0].strip()}", str(exc)))
            continue
        earlier = next((p.path for p in out if _overlap(p.path, param.path)), None)
        clash = next((f for f in fixed if _overlap(f, param.path)), None)
        if earlier is not None:
            problems.append(Problem("command line", f"--param {param.path}", f"{earlier} is already swept by an earlier "
                                    "--param; give each path once, with all its values (PATH=v1,v2,...)"))
        elif clash is not None:
            problems.append(Problem("command line", f"--param {param.path}", f"--set {clash} fixes the same value; the "
                                    "sweep would replace it in every point. Drop one of the two"))
        else:
            out.append(param)
    if problems:
        raise InputError(problems)
    return out


def points(params: list[Param], samples: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Every grid combination, or `samples` random points (uniform in each range, uniform choice in each list)."""
    if not samples:
        n = 1
        for p in params:
            n *= len(p.values)
        if n > MAX_POINTS:
            raise InputError([Problem("command line", "--param", f"the grid has {n:,} points; at most {MAX_POINTS:,} "
                                      "(use --samples N to sample it)")])
        return [dict(zip([p.path for p in params], combo, strict=True))
                for combo in itertools.product(*(p.values for p in params))]
    if not 1 <= samples <= MAX_POINTS:
        raise InputError([Problem("command line", "--samples", f"{samples:,} points; give 1 to {MAX_POINTS:,}")])
    rng = random.Random(seed)
    out = []
    for _ in range(samples):
        pt: dict[str, Any] = {}
        for p in params:
            if p.low is None or p.high is None:
                pt[p.path] = rng.choice(p.values)
            elif p.integer:
                pt[p.path] = rng.randint(int(p.low), int(p.high))
            else:
                pt[p.path] = round(rng.uniform(p.low, p.high), 9)
        out.append(pt)
    return out
