"""Internal consistency of a plan: the figures finance will add up must add up.

Checks the identities of the plan.json contract (cost = servers x unit price, capex = sum of order costs,
opex = energy + facility, TCO = capex + energy + facility - residual). Mismatches are returned as
`Problem`s; reports show them as warnings rather than refusing the plan.
"""

from __future__ import annotations

from typing import Any

from planner.errors import Problem
from planner.results.units import fmt_usd, is_number


def _close(a: float, b: float) -> bool:
    """Equal to half a dollar, or one part in a billion for very large sums."""
    return abs(a - b) <= max(0.5, 1e-9 * max(abs(a), abs(b)))


def reconcile(plan: dict[str, Any], label: str = "plan.json") -> list[Problem]:
    """Every broken money identity in a validated plan, located and explained."""
    out: list[Problem] = []
    purchases = plan.get("purchases") or []
    for i, p in enumerate(purchases):
        expected = p["servers"] * p["unit_price_usd"]
        if not _close(p["cost_usd"], expected):
            out.append(Problem(label, f"purchases[{i}].cost_usd",
                               f"is {fmt_usd(p['cost_usd'])} but servers x unit price = {fmt_usd(expected)}"))
    k = plan.get("kpis") or {}
    total = sum(p["cost_usd"] for p in purchases)
    if is_number(k.get("capex_usd")) and not _close(k["capex_usd"], total):
        out.append(Problem(label, "kpis.capex_usd",
                           f"is {fmt_usd(k['capex_usd'])} but the purchase orders add up to {fmt_usd(total)}"))
    parts = [k.get(n) for n in ("capex_usd", "energy_usd", "facility_usd", "residual_value_usd")]
    if all(is_number(v) for v in parts) and is_number(k.get("tco_usd")):
        capex, energy, facility, residual = parts
        tco = capex + energy + facility - residual
        if not _close(k["tco_usd"], tco):
            out.append(Problem(label, "kpis.tco_usd",
                               f"is {fmt_usd(k['tco_usd'])} but capex + energy + facility - residual = {fmt_usd(tco)}"))
    if all(is_number(k.get(n)) for n in ("opex_usd", "energy_usd", "facility_usd")):
        opex = k["energy_usd"] + k["facility_usd"]
        if not _close(k["opex_usd"], opex):
            out.append(Problem(label, "kpis.opex_usd",
                               f"is {fmt_usd(k['opex_usd'])} but energy + facility = {fmt_usd(opex)}"))
    return out
