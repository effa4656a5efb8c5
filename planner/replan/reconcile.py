"""A re-plan's money against itself and against the plan it came from (issue 24).

`reconcile_replan(prev, plan)` returns, as located `Problem`s, every figure that disagrees:
  * within the re-plan: `planner.results.reconcile.reconcile` (KPIs vs `finance` schedule and totals, the identities
    of cash and net cost; the workbook's Schedule sheet reconciles against the same totals);
  * the book value at the new horizon's start (`finance.totals.opening_net_book_value_usd`, and so
    `kpis.fleet_book_value_start_usd`) equals the previous plan's book value at the end of `--commit-through`
    (its `finance.schedule` row of that quarter), when that quarter is in the previous plan's horizon: the same
    hardware on the same books. When the sites file's fleet or its cost basis (the catalog price) changed between
    the two plans, the check runs on the previous plan's own basis: its figure, less its existing fleet's book value
    at that quarter's end, plus this plan's existing fleet at the start (`fleet_basis_change` says by how much);
  * the committed capex cash (`finance.totals.committed_capex_cash_usd`) is the cost of the kept orders
    (`replan.committed_purchases`) paid inside the new horizon, each once;
  * the kept orders' total is `replan.committed_capex_usd`.
"""

from __future__ import annotations

from typing import Any

from planner.errors import Problem
from planner.finance.depreciation import Depreciation
from planner.replan.rollforward import payment_quarter
from planner.results.reconcile import reconcile
from planner.results.units import fmt_usd, is_number
from planner.schemas.common import quarter_index


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(0.5, 1e-9 * max(abs(a), abs(b)))


def _fleet_assets(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The sites file's existing fleet in a plan's asset register (a re-plan's kept orders aside)."""
    return [a for a in (plan.get("finance") or {}).get("assets") or []
            if isinstance(a, dict) and a.get("source") == "existing fleet" and not a.get("order_quarter")]


def _fleet_book_value_at(plan: dict[str, Any], quarter: str) -> float | None:
    """Book value of a plan's existing fleet (sites file) at the end of `quarter`, on that plan's own basis; None when
    its register cannot say (a hand-edited or foreign plan)."""
    try:
        q0 = quarter_index(plan["horizon"]["quarters"][0])
        return sum(Depreciation(float(a["cost_usd"]), int(a["lifetime_quarters"]),
                                quarter_index(a["in_service_quarter"]) - q0, float(a["salvage_fraction"])
                                ).held_book_value(quarter_index(quarter) - q0) for a in _fleet_assets(plan))
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _basis(plan: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = ((plan.get("finance") or {}).get("assumptions") or {}).get("fleet") or []
    return sorted((str(f.get("chip")), str(f.get("installed_quarter")), f.get("servers"), f.get("unit_cost_usd"))
                  for f in rows if isinstance(f, dict) and not f.get("order_quarter"))


def fleet_basis_change(prev: dict[str, Any], plan: dict[str, Any]) -> tuple[float, str] | None:
    """When the existing fleet (sites file entries, or their catalog cost basis) differs between the two plans: the
    difference of its book value at the new horizon's start (this plan's opening figure less the previous plan's at
    the end of `--commit-through`, USD) and a sentence saying so; None when the fleet is the same."""
    if _basis(prev) == _basis(plan):
        return None
    cut = (plan.get("replan") or {}).get("commit_through")
    before = _fleet_book_value_at(prev, cut) if isinstance(cut, str) else None
    now = sum(float(a.get("opening_book_value_usd") or 0.0) for a in _fleet_assets(plan))
    if before is None:
        return None
    diff = now - before
    return diff, (f"the existing fleet (sites file entries or their catalog cost basis) differs from the previous plan's: "
                  f"its book value at the start is {fmt_usd(now)} here against {fmt_usd(before)} in the previous plan at "
                  f"the end of {cut} ({'+' if diff >= 0 else '-'}{fmt_usd(abs(diff))}); the book value at the start is "
                  "reconciled with the previous plan's on that difference")


def reconcile_replan(prev: dict[str, Any], plan: dict[str, Any], label: str = "plan.json") -> list[Problem]:
    """Every disagreement of a re-plan's money with itself or with the previous plan `prev` (see the module doc)."""
    out = reconcile(plan, label)
    rp = plan.get("replan") or {}
    fin = plan.get("finance") or {}
    totals = fin.get("totals") or {}
    quarters = list((plan.get("horizon") or {}).get("quarters") or [])
    cut = rp.get("commit_through")
    prev_rows = {r.get("quarter"): r for r in (prev.get("finance") or {}).get("schedule") or []}
    opening = totals.get("opening_net_book_value_usd")
    before = (prev_rows.get(cut) or {}).get("net_book_value_usd")
    change = fleet_basis_change(prev, plan)
    if is_number(opening) and is_number(before):
        expected = before + (change[0] if change else 0.0)
        if not _close(opening, expected):
            why = (f": the previous plan's book value at the end of {cut}, {fmt_usd(before)}, "
                   f"{'+' if change[0] >= 0 else '-'} {fmt_usd(abs(change[0]))} for the changed existing fleet" if change
                   else f", the previous plan's book value at the end of {cut}")
            out.append(Problem(label, "finance.totals.opening_net_book_value_usd",
                               f"is {fmt_usd(opening)} but should be {fmt_usd(expected)}{why}"))
    kept = [p for p in rp.get("committed_purchases") or [] if isinstance(p, dict)]
    timing = (fin.get("assumptions") or {}).get("capex_timing", "order")
    paid_inside = sum(float(p["cost_usd"]) for p in kept if int(p["servers"]) and payment_quarter(p, timing) in quarters)
    committed = totals.get("committed_capex_cash_usd")
    if is_number(committed) and not _close(committed, paid_inside):
        out.append(Problem(label, "finance.totals.committed_capex_cash_usd",
                           f"is {fmt_usd(committed)} but the kept orders paid inside the horizon cost {fmt_usd(paid_inside)}"))
    spent, kept_usd = rp.get("committed_capex_usd"), sum(float(p["cost_usd"]) for p in kept)
    if is_number(spent) and not _close(spent, kept_usd):
        out.append(Problem(label, "replan.committed_capex_usd",
                           f"is {fmt_usd(spent)} but replan.committed_purchases cost {fmt_usd(kept_usd)}"))
    return out
