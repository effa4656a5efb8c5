"""Break-even prices by re-solving: the server price at which a chip enters the plan (if the base plan does not
buy it) or leaves it (if it does).

Not an LP dual: each step re-plans the whole scenario with `chip_terms.<chip>.price_usd_per_server` set (the
list price before discounts, as in the scenario file). First the price is halved (rejected chip) or doubled
(chosen chip) until the choice flips, then the bracket is bisected to `rel_tol`; finally the result is
verified by solves 1 % below and 1 % above. "Chosen" means the plan orders at least one new server of the chip.
The answer is only as sharp as the solver's gap: with mip_gap 1 % two plans within 1 % may swap.
A base scenario with demand left short has no choice to flip: `PlannerError` with exit code 3 and the diagnosis. A
price at which demand is left short (a capex budget, say) ends the search there. A break-even not found is reported
as "not found within [a, b]", the prices actually planned at, never the 1/1024x..1024x the search may reach.
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
    """One chip's break-even price, USD per server before discounts.

    `searched_low_usd`..`searched_high_usd` is the price interval the search planned at (the verification solves
    1 % either side of a break-even aside); a break-even that was not found is reported as "not found within" it."""

    chip_id: str
    base_price_usd_per_server: float
    chosen_at_base: bool
    breakeven_price_usd_per_server: float | None
    direction: str  # "enters the plan below" / "leaves the plan above" / "stays in the plan: not found within [a, b]"
    verified: bool = False
    checks: list[dict[str, Any]] = field(default_factory=list)
    solves: int = 0
    searched_low_usd: float | None = None
    searched_high_usd: float | None = None
    stopped_because: str | None = None  # why the search stopped before its 1024x limit (no plan at a price), if it did

    def text(self) -> str:
        if self.breakeven_price_usd_per_server is None:
            why = f"; {self.stopped_because}" if self.stopped_because else ""
            return f"{self.chip_id}: {self.direction} (base ${self.base_price_usd_per_server:,.0f}/server{why})"
        ok = "verified at +-1 %" if self.verified else "NOT verified at +-1 % (solver gap or ties)"
        return (f"{self.chip_id} {self.direction} ${self.breakeven_price_usd_per_server:,.0f} per server "
                f"(base ${self.base_price_usd_per_server:,.0f}; {ok}; {self.solves} solves)")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def chip_problems(inputs: Any, chip_ids: list[str], require_allowed: bool = True) -> list[Any]:
    """Located problems (`(command line, --chip)`) of every chip whose break-even cannot be searched, found before
    any solve: unknown, lease only without a scenario price (nothing to bisect), or (`require_allowed`) outside
    `policy.allowed_chips` (no price brings it into the plan: every re-solve would say "not chosen" and the search
    end "not found" after 11 solves)."""
    import difflib

    from planner.errors import Problem

    out = []
    allowed = inputs.scenario.policy.allowed_chips
    for chip_id in chip_ids:
        where = ("command line", "--chip")
        if chip_id not in inputs.chips:
            close = difflib.get_close_matches(chip_id, list(inputs.chips), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(inputs.chips))}"
            out.append(Problem(*where, f"unknown chip {chip_id!r}; {hint}"))
            continue
        terms = inputs.scenario.chip_terms.get(chip_id)
        if not inputs.chips[chip_id].purchasable and not (terms and terms.price_usd_per_server):
            out.append(Problem(*where, f"{chip_id} is lease only (no purchase price), so it has no server price to "
                                       "search; a break-even needs a chip that can be bought"))
        elif require_allowed and allowed is not None and chip_id not in allowed:
            out.append(Problem(*where, f"{chip_id} is not in policy.allowed_chips, so no price brings it into the plan; "
                                       f"add it: --set policy.allowed_chips+={chip_id}"))
    return out


def base_price(scenario: str | Path, chip_id: str, sets: dict[str, Any] | None = None) -> float:
    """The chip's server price before discounts as the scenario states it (chip_terms, else the catalog)."""
    from planner.io.loader import load_inputs

    inputs = load_inputs(scenario, sets or None)
    problems = chip_problems(inputs, [chip_id], require_allowed=False)  # unknown, or lease only (no price to search)
    if problems:
        from planner.errors import InputError

        raise InputError(problems)
    terms = inputs.scenario.chip_terms.get(chip_id)
    if terms and terms.price_usd_per_server:
        return float(terms.price_usd_per_server)
    return float(inputs.chips[chip_id].price_usd_per_server)


def chip_chosen(plan_doc: dict[str, Any], chip_id: str) -> bool:
    return any(r.get("chip") == chip_id and r.get("servers", 0) > 0 for r in plan_doc.get("purchases", []))


def diagnosis_text(plan_doc: dict[str, Any], limit: int = 20) -> str:
    """The plan's diagnosis (what is short and why), one line per row, as `planner plan` prints it."""
    rows = plan_doc.get("diagnosis") or []
    lines = [f"  {d.get('workload')} {d.get('quarter')}: short {float(d.get('short_tokens_per_s') or 0):,.0f} tokens/s - "
             f"{d.get('cause')}" for d in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"  ... and {len(rows) - limit} more (plan the scenario for the full diagnosis)")
    return "\n".join(lines) or "  (no diagnosis rows)"


class NoPlanAt(Exception):
    """The scenario has no plan serving every demand row at this price."""

    def __init__(self, price: float, plan_doc: dict[str, Any]) -> None:
        super().__init__(price)
        self.price = price
        self.plan_doc = plan_doc


def find_breakeven(
    scenario: str | Path, chip_id: str, sets: dict[str, Any] | None = None, solver: dict[str, Any] | None = None,
    rel_tol: float = 0.002, progress: Callable[[str], None] | None = None,
) -> BreakEven:
    """Bisect the chip's price until its presence in the plan flips; verify 1 % either side.

    A base scenario without a plan that serves every demand row raises `PlannerError` with exit code 3 and the
    diagnosis; a price at which that happens during the search ends the search there (reported, never passed)."""
    from planner.api import plan
    from planner.errors import EXIT_INFEASIBLE, EXIT_NO_PLAN, PlannerError

    say = progress or (lambda _m: None)
    sets = dict(sets or {})
    key = f"chip_terms.{chip_id}.price_usd_per_server"
    p0 = base_price(scenario, chip_id, sets)
    n = [0]
    cache: dict[float, bool] = {}
    searched: list[float] = []

    def used(price: float, search: bool = True) -> bool:
        price = round(price, 2)
        if price not in cache:
            n[0] += 1
            outcome = plan(scenario, sets | {key: price}, solver).outcome
            doc = outcome.plan
            if outcome.exit_code == EXIT_INFEASIBLE:
                say(f"  {chip_id} at ${price:,.0f}/server: no plan serves every demand row")
                raise NoPlanAt(price, doc)
            if doc.get("status") not in SOLUTION_STATUSES:
                raise PlannerError(f"break-even of {chip_id}: no plan at ${price:,.0f}/server (status {doc.get('status')})", EXIT_NO_PLAN)
            cache[price] = chip_chosen(doc, chip_id)
            say(f"  {chip_id} at ${price:,.0f}/server: {'chosen' if cache[price] else 'not chosen'}")
        if search:
            searched.append(price)
        return cache[price]

    try:
        chosen = used(p0)
    except NoPlanAt as exc:
        raise PlannerError(
            f"break-even of {chip_id}: the base scenario (at its own price, ${p0:,.0f}/server) has no plan that serves "
            f"every demand row, so there is no choice to flip. Plan it (`planner plan`) and fix what is short:\n"
            f"{diagnosis_text(exc.plan_doc)}", EXIT_INFEASIBLE) from None
    factor = 2.0 if chosen else 0.5
    inside, outside = p0, None
    stopped = None
    direction = "leaves the plan above" if chosen else "enters the plan below"
    try:
        for _ in range(MAX_STEPS):
            trial = inside * factor
            if used(trial) != chosen:
                outside = trial
                break
            inside = trial
    except NoPlanAt as exc:
        stopped = f"at ${exc.price:,.0f}/server no plan serves every demand row, so the search stopped there"
    lo_seen, hi_seen = min(searched), max(searched)
    if outside is None:
        where = f"not found within [${lo_seen:,.0f}, ${hi_seen:,.0f}] per server"
        return BreakEven(chip_id, p0, chosen, None, f"{'stays in' if chosen else 'stays out of'} the plan: {where}",
                         solves=n[0], searched_low_usd=lo_seen, searched_high_usd=hi_seen, stopped_because=stopped)
    # chosen side: `lo` (cheap) when chosen; invariant used(lo) is True, used(hi) is False
    lo, hi = (inside, outside) if chosen else (outside, inside)
    try:
        while (hi - lo) / hi > rel_tol:
            mid = (lo + hi) / 2
            if used(mid):
                lo = mid
            else:
                hi = mid
    except NoPlanAt as exc:  # inside a bracket whose ends both have plans: a price in between has none
        raise PlannerError(f"break-even of {chip_id}: plans exist at ${lo:,.0f} and ${hi:,.0f}/server but not at "
                           f"${exc.price:,.0f}:\n{diagnosis_text(exc.plan_doc)}", EXIT_INFEASIBLE) from None
    be = (lo + hi) / 2
    checks = []
    for f in (0.99, 1.01):
        try:
            checks.append({"price_usd_per_server": round(be * f, 2), "chosen": used(be * f, search=False)})
        except NoPlanAt as exc:
            checks.append({"price_usd_per_server": exc.price, "chosen": None, "note": "no plan serves every demand row"})
    verified = checks[0]["chosen"] is True and checks[1]["chosen"] is False
    return BreakEven(chip_id, p0, chosen, round(be, 2), direction, verified, checks, n[0],
                     searched_low_usd=min(searched), searched_high_usd=max(searched))
