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
        comps = p.get("price_components") or {}
        if comps and all(is_number(v) for v in comps.values()) and not _close(sum(comps.values()), p["unit_price_usd"]):
            out.append(Problem(label, f"purchases[{i}].price_components",
                               f"add up to {fmt_usd(sum(comps.values()))} but the unit price is {fmt_usd(p['unit_price_usd'])}"))
    k = plan.get("kpis") or {}
    total = sum(p["cost_usd"] for p in purchases)
    if is_number(k.get("capex_usd")) and not _close(k["capex_usd"], total):
        out.append(Problem(label, "kpis.capex_usd",
                           f"is {fmt_usd(k['capex_usd'])} but the purchase orders add up to {fmt_usd(total)}"))
    # figures a plan written before issue 22 lacks (no leases, no fleet depreciation) count as 0
    extra = {n: k.get(n) if is_number(k.get(n)) else 0.0
             for n in ("fleet_book_value_start_usd", "lease_usd", "lease_after_horizon_usd")}
    parts = [k.get(n) for n in ("capex_usd", "energy_usd", "facility_usd", "residual_value_usd")]
    if all(is_number(v) for v in parts) and is_number(k.get("tco_usd")):
        capex, energy, facility, residual = parts
        tco = capex + extra["fleet_book_value_start_usd"] + energy + facility + extra["lease_usd"] + extra["lease_after_horizon_usd"] - residual
        if not _close(k["tco_usd"], tco):
            out.append(Problem(label, "kpis.tco_usd",
                               f"is {fmt_usd(k['tco_usd'])} but capex + fleet book value at the start + energy + facility "
                               f"+ leases - resale = {fmt_usd(tco)}"))
    if all(is_number(k.get(n)) for n in ("opex_usd", "energy_usd", "facility_usd")):
        opex = k["energy_usd"] + k["facility_usd"] + extra["lease_usd"]
        if not _close(k["opex_usd"], opex):
            out.append(Problem(label, "kpis.opex_usd",
                               f"is {fmt_usd(k['opex_usd'])} but energy + facility + leases = {fmt_usd(opex)}"))
    names = ("depreciation_usd", "writedown_usd", "energy_usd", "facility_usd", "lease_usd", "lease_after_horizon_usd")
    if is_number(k.get("net_cost_usd")) and all(is_number(k.get(n)) for n in names):
        net = sum(k[n] for n in names)
        if not _close(k["net_cost_usd"], net):
            out.append(Problem(label, "kpis.net_cost_usd",
                               f"is {fmt_usd(k['net_cost_usd'])} but depreciation + write-down + energy + facility + leases = {fmt_usd(net)}"))
    names = ("capex_cash_usd", "lease_usd", "energy_usd", "facility_usd")
    if is_number(k.get("cash_out_usd")) and all(is_number(k.get(n)) for n in names):
        cash = sum(k[n] for n in names)
        if not _close(k["cash_out_usd"], cash):
            out.append(Problem(label, "kpis.cash_out_usd",
                               f"is {fmt_usd(k['cash_out_usd'])} but capex + leases + energy + facility = {fmt_usd(cash)}"))
    return out
