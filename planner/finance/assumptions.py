"""The money assumptions of one plan, as plain data: `plan.json`'s `finance.assumptions`.

Everything the finance schedule and the workbook's Assumptions sheet price with, taken from the scenario
when the plan is made: per chip the price components, discount, net unit price, kind and source, lead time,
life and lease rate; per site USD/kWh and PUE; per rack type the facility cost; budgets; hours per quarter;
the depreciation policy; the existing fleet with its cost basis (the catalog list price, an estimate).
Stored in plan.json so that reports rebuilt from plan.json alone (`planner report`) price the same way.
"""

from __future__ import annotations

from typing import Any

from planner.io.loader import PlanInputs
from planner.schemas.chips import ChipSpec
from solvers.sets import HOURS_PER_QUARTER, lease_info, plannable_chips, price_info

#: `cost_basis` of a fleet entry that is an order a re-plan kept
KEPT_ORDER_BASIS = "committed order: its own price"


def _chip_row(inputs: PlanInputs, chip: ChipSpec) -> dict[str, Any]:
    """One chip's prices as the MILP pays them (`solvers.sets.price_info` / `lease_info`: one definition)."""
    terms = inputs.scenario.chip_terms.get(chip.chip_id)
    lease = lease_info(inputs, chip)
    row: dict[str, Any] = {
        "chip": chip.chip_id, "vendor": chip.vendor, "name": chip.name, "purchasable": chip.purchasable,
        "chips_per_server": chip.server.chips_per_server,
        "lead_time_quarters": terms.lead_time_quarters if terms and terms.lead_time_quarters is not None
        else chip.lead_time_quarters,
        "lifetime_quarters": chip.lifetime_quarters,
        "lease_usd_per_chip_hour": lease.usd_per_chip_hour if lease else None,
        "price_components": {}, "list_price_usd": None, "discount_fraction": None, "unit_price_usd": None,
        "price_kind": "", "price_source": "",
    }
    price = price_info(inputs, chip)
    if price is not None:
        row.update(price_components=dict(price.list_components), list_price_usd=round(price.list_usd, 2),
                   discount_fraction=float(price.discount), unit_price_usd=round(price.unit_usd, 2),
                   price_kind=price.kind, price_source=price.source)
    return row


def finance_assumptions(inputs: PlanInputs) -> dict[str, Any]:
    """`finance.assumptions` of a plan made from `inputs` (see the README's Money section)."""
    sc = inputs.scenario
    chips = plannable_chips(inputs)
    policy = sc.policy
    dep = policy.depreciation
    by_quarter: dict[str, float] = {}
    if policy.capex_budget_usd_per_quarter is not None:
        by_quarter = dict.fromkeys(inputs.quarters, float(policy.capex_budget_usd_per_quarter))
    by_quarter.update({q: float(v) for q, v in policy.capex_budget_usd_by_quarter.items()})
    chip_rows = {c: _chip_row(inputs, spec) for c, spec in chips.items()}
    fleet = []
    for i, f in enumerate(inputs.fleet):
        spec = inputs.chips[f.chip_id]
        kept = inputs.kept_orders.get(i)
        basis = chip_rows[f.chip_id]["list_price_usd"] if f.chip_id in chip_rows else None
        label = "estimate: catalog list price" if basis is not None else "no catalog price: not depreciated"
        if kept is not None:  # an order a re-plan kept: its own price, paid in its payment quarter
            basis, label = kept.unit_price_usd, KEPT_ORDER_BASIS
        fleet.append({
            "site": f.site_id, "rack_type": f.rack_type_id, "chip": f.chip_id, "servers": f.servers,
            "installed_quarter": f.installed_quarter, "unit_cost_usd": basis,
            "lifetime_quarters": spec.lifetime_quarters, "cost_basis": label,
            "order_quarter": kept.order_quarter if kept else None,
            "payment_quarter": kept.payment_quarter if kept else None,
        })
    # budgets for the cash paid inside the horizon: a re-plan's budgets are what is left for its new orders, and the
    # kept orders it pays inside the horizon (committed cash, in the schedule's capex cash) took the rest
    committed = {q: 0.0 for q in inputs.quarters}
    for kept in inputs.kept_orders.values():
        if kept.payment_quarter in committed:
            committed[kept.payment_quarter] += kept.cost_usd
    for q, usd in committed.items():
        if usd and q in by_quarter:
            by_quarter[q] += usd
    total = policy.capex_budget_usd_total
    if total is not None:
        total = round(total + sum(committed.values()), 2)
    return {
        "hours_per_quarter": HOURS_PER_QUARTER,
        "capex_timing": policy.capex_timing,
        "objective": policy.objective,
        "depreciation": {"method": dep.method, "salvage_fraction": dep.salvage_fraction,
                         "resale_fraction_of_book_value": dep.resale_fraction_of_book_value},
        "budget_usd_total": total,
        "budget_usd_by_quarter": {q: by_quarter[q] for q in inputs.quarters if q in by_quarter},
        "chips": [chip_rows[c] for c in sorted(chip_rows)],
        "sites": [{"site": s, "usd_per_kwh": site.electricity_usd_per_kwh, "pue": site.pue}
                  for s, site in sorted(inputs.sites.items())],
        "rack_types": [{"site": s, "rack_type": r.rack_type_id, "facility_usd_per_quarter": r.facility_usd_per_quarter}
                       for s, site in sorted(inputs.sites.items()) for r in site.rack_types],
        "fleet": fleet,
    }
