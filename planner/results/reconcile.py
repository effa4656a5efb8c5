"""Internal consistency of a plan: the figures finance will add up must add up.

Checks the identities of the plan.json contract (cost = servers x unit price, capex = sum of order costs,
opex = energy + facility, TCO = capex + energy + facility - residual, price components sum to the unit price)
and of its finance block (per quarter cash out = capex cash + leases + energy + facility and the book value rolls
forward; totals are the schedule's sums; net cost = depreciation + write-down + energy + facility + leases;
the schedule agrees with the optimizer's KPIs and purchase lines with the assumed net prices). Mismatches are
returned as `Problem`s; reports show them as warnings rather than refusing the plan.
"""

from __future__ import annotations

from typing import Any

from planner.errors import Problem
from planner.results.units import fmt_usd, is_number


def _close(a: float, b: float, slack: float = 0.5) -> bool:
    """Equal to half a dollar (or `slack`), or one part in a billion for very large sums."""
    return abs(a - b) <= max(0.5, slack, 1e-9 * max(abs(a), abs(b)))


def _energy_slack(plan: dict[str, Any]) -> float:
    """How far the schedule's energy may be from the optimizer's: the power table keeps watts (half a watt per row
    x PUE x hours x USD/kWh) and the schedule rounds each row to the cent."""
    assumptions = (plan.get("finance") or {}).get("assumptions") or {}
    sites = {s.get("site"): s for s in assumptions.get("sites") or []}
    hours = float(assumptions.get("hours_per_quarter") or 0.0)
    out = 0.0
    for row in plan.get("power") or []:
        site = sites.get(row.get("site"))
        if site is not None:
            out += 0.0005 * float(site.get("pue") or 0.0) * hours * float(site.get("usd_per_kwh") or 0.0) + 0.005
    return out


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
    # figures a plan written before issue 22 (or 24) lacks (no leases, no fleet depreciation, no kept orders) count as 0
    extra = {n: k.get(n) if is_number(k.get(n)) else 0.0
             for n in ("fleet_book_value_start_usd", "fleet_in_transit_start_usd", "committed_capex_cash_usd", "lease_usd",
                       "lease_after_horizon_usd")}
    total = sum(p["cost_usd"] for p in purchases) + extra["committed_capex_cash_usd"]
    if is_number(k.get("capex_usd")) and not _close(k["capex_usd"], total):
        out.append(Problem(label, "kpis.capex_usd",
                           f"is {fmt_usd(k['capex_usd'])} but the purchase orders (and kept orders paid in the horizon) "
                           f"add up to {fmt_usd(total)}"))
    parts = [k.get(n) for n in ("capex_usd", "energy_usd", "facility_usd", "residual_value_usd")]
    if all(is_number(v) for v in parts) and is_number(k.get("tco_usd")):
        capex, energy, facility, residual = parts
        tco = capex + extra["fleet_book_value_start_usd"] + extra["fleet_in_transit_start_usd"] + energy + facility + extra["lease_usd"] + extra["lease_after_horizon_usd"] - residual
        if not _close(k["tco_usd"], tco):
            out.append(Problem(label, "kpis.tco_usd",
                               f"is {fmt_usd(k['tco_usd'])} but capex + fleet book value and in transit at the start + energy + facility "
                               f"+ leases - resale = {fmt_usd(tco)}"))
    out += _finance(plan, label)
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


_SUMS = ("capex_cash_usd", "committed_capex_cash_usd", "lease_usd", "committed_lease_usd", "energy_usd", "facility_usd", "cash_out_usd", "capitalised_usd",
         "depreciation_usd", "disposals_usd")
#: finance.totals key -> KPI keys it must equal (first present wins; energy to within the power table's rounding)
KPI_OF = {"capex_cash_usd": ("capex_cash_usd", "capex_usd"), "lease_usd": ("lease_usd",), "energy_usd": ("energy_usd",),
          "facility_usd": ("facility_usd",), "cash_out_usd": ("cash_out_usd",), "depreciation_usd": ("depreciation_usd",),
          "depreciation_purchases_usd": ("depreciation_purchases_usd",), "depreciation_fleet_usd": ("depreciation_fleet_usd",),
          "opening_net_book_value_usd": ("fleet_book_value_start_usd",), "net_book_value_usd": ("book_value_end_usd",),
          "resale_value_usd": ("resale_value_usd",), "writedown_usd": ("writedown_usd",),
          "lease_after_horizon_usd": ("lease_after_horizon_usd",), "net_cost_usd": ("net_cost_usd",),
          "committed_lease_usd": ("committed_lease_usd",), "committed_capex_cash_usd": ("committed_capex_cash_usd",),
          "committed_lease_after_horizon_usd": ("committed_lease_after_horizon_usd",)}


def _finance(plan: dict[str, Any], label: str) -> list[Problem]:
    """Identities of `finance.schedule` and `finance.totals`, and their agreement with KPIs and purchase lines."""
    fin = plan.get("finance") or {}
    rows, totals = fin.get("schedule") or [], fin.get("totals") or {}
    out: list[Problem] = []
    nbv = totals.get("opening_net_book_value_usd")
    for i, r in enumerate(rows):
        where = f"finance.schedule[{i}]"
        parts = [r.get(n) for n in ("capex_cash_usd", "lease_usd", "energy_usd", "facility_usd")]
        if all(is_number(v) for v in parts) and is_number(r.get("cash_out_usd")) and not _close(r["cash_out_usd"], sum(parts)):
            out.append(Problem(label, f"{where}.cash_out_usd", f"is {fmt_usd(r['cash_out_usd'])} in {r.get('quarter')} but "
                                                               f"capex cash + leases + energy + facility = {fmt_usd(sum(parts))}"))
        flows = [r.get(n) for n in ("capitalised_usd", "depreciation_usd", "disposals_usd")]
        if is_number(nbv) and all(is_number(v) for v in flows) and is_number(r.get("net_book_value_usd")):
            expected = nbv + flows[0] - flows[1] - flows[2]
            if not _close(r["net_book_value_usd"], expected):
                out.append(Problem(label, f"{where}.net_book_value_usd",
                                   f"is {fmt_usd(r['net_book_value_usd'])} in {r.get('quarter')} but previous + capitalised "
                                   f"- depreciation - disposals = {fmt_usd(expected)}"))
        nbv = r.get("net_book_value_usd")
    for key in _SUMS:
        values = [r.get(key) for r in rows]
        if rows and all(is_number(v) for v in values) and is_number(totals.get(key)) and not _close(totals[key], sum(values)):
            out.append(Problem(label, f"finance.totals.{key}",
                               f"is {fmt_usd(totals[key])} but the schedule's quarters add up to {fmt_usd(sum(values))}"))
    parts = [totals.get(n) for n in ("depreciation_usd", "writedown_usd", "energy_usd", "facility_usd", "lease_usd")]
    parts.append(totals.get("lease_after_horizon_usd") or 0.0)
    if all(is_number(v) for v in parts) and is_number(totals.get("net_cost_usd")) and not _close(totals["net_cost_usd"], sum(parts)):
        out.append(Problem(label, "finance.totals.net_cost_usd",
                           f"is {fmt_usd(totals['net_cost_usd'])} but depreciation + write-down to resale + energy + facility "
                           f"+ leases = {fmt_usd(sum(parts))}"))
    k = plan.get("kpis") or {}
    slack = _energy_slack(plan)
    for key, kpi_keys in KPI_OF.items():
        kpi = next((n for n in kpi_keys if is_number(k.get(n))), None)
        energy = key in ("energy_usd", "cash_out_usd", "net_cost_usd")  # figures that hold the energy
        if kpi is not None and is_number(totals.get(key)) and not _close(totals[key], k[kpi], slack if energy else 0.5):
            out.append(Problem(label, f"finance.totals.{key}",
                               f"is {fmt_usd(totals[key])} but kpis.{kpi} is {fmt_usd(k[kpi])}"))
    net = {c.get("chip"): c.get("unit_price_usd") for c in (fin.get("assumptions") or {}).get("chips") or []}
    for i, p in enumerate(plan.get("purchases") or []):
        assumed = net.get(p.get("chip"))
        if is_number(assumed) and is_number(p.get("unit_price_usd")) and not _close(assumed, p["unit_price_usd"]):
            out.append(Problem(label, f"purchases[{i}].unit_price_usd",
                               f"is {fmt_usd(p['unit_price_usd'])} but finance.assumptions prices {p.get('chip')} at "
                               f"{fmt_usd(assumed)} (the workbook prices orders from the assumptions)"))
    return out
