"""Break-even prices by re-solving: the server price at which a chip enters the plan (if the base plan does not
buy it) or leaves it (if it does).

Not an LP dual: each step re-plans the whole scenario with `chip_terms.<chip>.price_usd_per_server` set (the
list price before discounts, as in the scenario file). First the price is halved (rejected chip) or doubled
(chosen chip) until the choice flips, then the bracket is bisected to `rel_tol`; finally the result is
verified by solves 1 % below and 1 % above. "Chosen" means the plan orders at least one new server of the chip.
The answer is only as sharp as the solver's gap: with mip_gap 1 % two plans within 1 % may swap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from solvers.result import SOLUTION_STATUSES

MAX_STEPS = 10  # halvings/doublings while looking for a flip (2**10 = 1024x)


@dataclass
class BreakEven:
    """One chip's break-even price, USD per server before discounts."""

    chip_id: str
    base_price_usd_per_server: float
    chosen_at_base: bool
    breakeven_price_usd_per_server: float | None
    direction: str  # "enters the plan below" / "leaves the plan above" / "no flip within 1/1024x..1024x"
    verified: bool = False
    checks: list[dict[str, Any]] = field(default_factory=list)
    solves: int = 0

    def text(self) -> str:
        if self.breakeven_price_usd_per_server is None:
            return f"{self.chip_id}: {self.direction} (base ${self.base_price_usd_per_server:,.0f}/server)"
        ok = "verified at +-1 %" if self.verified else "NOT verified at +-1 % (solver gap or ties)"
        return (f"{self.chip_id} {self.direction} ${self.breakeven_price_usd_per_server:,.0f} per server "
                f"(base ${self.base_price_usd_per_server:,.0f}; {ok}; {self.solves} solves)")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def base_price(scenario: str | Path, chip_id: str, sets: dict[str, Any] | None = None) -> float:
    """The chip's server price before discounts as the scenario states it (chip_terms, else the catalog)."""
    from planner.io.loader import load_inputs

    inputs = load_inputs(scenario, sets or None)
    if chip_id not in inputs.chips:
        from planner.errors import InputError, Problem

        raise InputError([Problem("command line", "--chip", f"unknown chip {chip_id!r}; known: {', '.join(sorted(inputs.chips))}")])
    terms = inputs.scenario.chip_terms.get(chip_id)
    if terms and terms.price_usd_per_server:
        return float(terms.price_usd_per_server)
    return float(inputs.chips[chip_id].price_usd_per_server)


def chip_chosen(plan_doc: dict[str, Any], chip_id: str) -> bool:
    return any(r.get("chip") == chip_id and r.get("servers", 0) > 0 for r in plan_doc.get("purchases", []))


def find_breakeven(
    scenario: str | Path, chip_id: str, sets: dict[str, Any] | None = None, solver: dict[str, Any] | None = None,
    rel_tol: float = 0.002, progress: Callable[[str], None] | None = None,
) -> BreakEven:
    """Bisect the chip's price until its presence in the plan flips; verify 1 % either side."""
    from planner.api import plan

    say = progress or (lambda _m: None)
    sets = dict(sets or {})
    key = f"chip_terms.{chip_id}.price_usd_per_server"
    p0 = base_price(scenario, chip_id, sets)
    n = [0]
    cache: dict[float, bool] = {}

    def used(price: float) -> bool:
        price = round(price, 2)
        if price not in cache:
            n[0] += 1
            doc = plan(scenario, sets | {key: price}, solver).document
            if doc.get("status") not in SOLUTION_STATUSES:
                from planner.errors import EXIT_NO_PLAN, PlannerError

                raise PlannerError(f"break-even of {chip_id}: no plan at ${price:,.0f}/server (status {doc.get('status')})", EXIT_NO_PLAN)
            cache[price] = chip_chosen(doc, chip_id)
            say(f"  {chip_id} at ${price:,.0f}/server: {'chosen' if cache[price] else 'not chosen'}")
        return cache[price]

    chosen = used(p0)
    factor = 2.0 if chosen else 0.5
    inside, outside = p0, None
    for _ in range(MAX_STEPS):
        trial = inside * factor
        if used(trial) != chosen:
            outside = trial
            break
        inside = trial
    direction = "leaves the plan above" if chosen else "enters the plan below"
    if outside is None:
        return BreakEven(chip_id, p0, chosen, None, f"{'stays in' if chosen else 'stays out of'} the plan from "
                         f"${p0 / 1024:,.0f} to ${p0 * 1024:,.0f} per server", solves=n[0])
    # chosen side: `lo` (cheap) when chosen; invariant used(lo) is True, used(hi) is False
    lo, hi = (inside, outside) if chosen else (outside, inside)
    while (hi - lo) / hi > rel_tol:
        mid = (lo + hi) / 2
        if used(mid):
            lo = mid
        else:
            hi = mid
    be = (lo + hi) / 2
    checks = [{"price_usd_per_server": round(be * f, 2), "chosen": used(be * f)} for f in (0.99, 1.01)]
    verified = checks[0]["chosen"] and not checks[1]["chosen"]
    return BreakEven(chip_id, p0, chosen, round(be, 2), direction, verified, checks, n[0])
