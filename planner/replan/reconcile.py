"""A re-plan's money against itself and against the plan it came from (issue 24).

`reconcile_replan(prev, plan)` returns, as located `Problem`s, every figure that disagrees:
  * within the re-plan: `planner.results.reconcile.reconcile` (KPIs vs `finance` schedule and totals, the identities
    of cash and net cost; the workbook's Schedule sheet reconciles against the same totals);
  * the book value at the new horizon's start (`finance.totals.opening_net_book_value_usd`, and so
    `kpis.fleet_book_value_start_usd`) equals the previous plan's book value at the end of `--commit-through`
    (its `finance.schedule` row of that quarter): the same hardware on the same books, when that quarter is in the
    previous plan's horizon and both carry the fleet at the same cost basis;
  * the committed capex cash (`finance.totals.committed_capex_cash_usd`) is the cost of the kept orders
    (`replan.committed_purchases`) paid inside the new horizon, each once;
  * the kept orders' total is `replan.committed_capex_usd`.
"""

from __future__ import annotations

from typing import Any

from planner.errors import Problem
from planner.replan.rollforward import payment_quarter
from planner.results.reconcile import reconcile
from planner.results.units import fmt_usd, is_number


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(0.5, 1e-9 * max(abs(a), abs(b)))


def _same_fleet_basis(prev: dict[str, Any], plan: dict[str, Any]) -> bool:
    """Both plans carry the sites file's fleet at the same cost per server (kept orders aside)."""
    def basis(p: dict[str, Any]) -> list[tuple[Any, ...]]:
        rows = ((p.get("finance") or {}).get("assumptions") or {}).get("fleet") or []
        return sorted((str(f.get("chip")), str(f.get("installed_quarter")), f.get("servers"), f.get("unit_cost_usd"))
                      for f in rows if not f.get("order_quarter"))
    return basis(prev) == basis(plan)


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
    if is_number(opening) and is_number(before) and _same_fleet_basis(prev, plan) and not _close(opening, before):
        out.append(Problem(label, "finance.totals.opening_net_book_value_usd",
                           f"is {fmt_usd(opening)} but the previous plan's book value at the end of {cut} is {fmt_usd(before)}"))
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
