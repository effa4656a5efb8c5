"""The finance schedule of a plan: cash, depreciation and net book value per quarter (`plan.json`'s `finance`).

A pure function of the plan's tidy tables (purchases, leases, power, racks) and `finance.assumptions`, so the
schedule in plan.json, the workbook's formulas and any other reader compute the same figures.

Per quarter q (index 0 = the horizon's first quarter):
  * capex cash      = cost of orders paid in q: a line's `payment_quarter` when it has one, else its order
                      (capex_timing: order) or delivery (delivery) quarter; plus, of which committed
                      (`committed_capex_cash_usd`), orders a re-plan kept that are paid in q (an asset's
                      `payment_quarter`: in flight at the horizon's start and paid on delivery), each once;
  * energy          = sum over sites of average IT power (kW) x PUE x hours per quarter x USD/kWh, each site's
                      figure to the cent (the optimizer's energy, from the power table);
  * facility        = occupied racks x the rack type's facility USD per quarter;
  * leases          = sum of the lease table's `lease_usd` in q; of which committed (`committed_lease_usd`) = its
                      rows labelled `committed` (contracts a re-plan kept, paid at their own rate whatever the plan
                      does; each contract once: the plan's own contracts are the other rows);
  * cash out        = capex cash + leases + energy + facility;
  * capitalised     = cost of hardware entering service in q (purchases at delivery; existing fleet at its
                      installed quarter when inside the horizon);
  * depreciation    = straight line (`planner.finance.depreciation`) of every asset in service;
  * disposals       = book value of hardware retired at the end of its life: an asset in service from d for L
                      quarters stands in d .. d+L-1 and is disposed of in d+L (at its salvage value);
  * net book value  = NBV(q-1) + capitalised(q) - depreciation(q) - disposals(q), from the opening NBV of the
                      existing fleet in service at the start (`Depreciation.held_book_value(-1)`, the KPIs' fleet
                      book value at the start too); hardware ordered but not yet delivered is not in it (in transit).
Totals add resale value (resale fraction x closing NBV, an explicit assumption) and
net cost = depreciation + (closing NBV - resale value) + energy + facility + leases (paid inside the horizon and
committed after it, from the `lease_contracts` and `committed_lease_contracts` tables).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from planner.finance.depreciation import Depreciation
from planner.schemas.common import quarter_index

#: Columns of `finance.schedule`, in order.
SCHEDULE_COLUMNS = (
    "quarter", "orders_servers", "deliveries_servers", "capex_cash_usd", "committed_capex_cash_usd", "lease_usd", "committed_lease_usd", "energy_usd",
    "facility_usd", "cash_out_usd", "cumulative_cash_out_usd", "capex_budget_usd", "cumulative_capex_usd", "capitalised_usd",
    "depreciation_usd", "disposals_usd", "net_book_value_usd",
)
#: Columns of `finance.assets` (the fixed-asset register: purchase-order lines and existing fleet entries).
ASSET_COLUMNS = (
    "source", "vendor", "chip", "order_quarter", "in_service_quarter", "servers", "unit_cost_usd", "cost_usd",
    "lifetime_quarters", "salvage_fraction", "depreciation_per_quarter_usd", "opening_book_value_usd",
    "depreciation_in_horizon_usd", "book_value_at_end_usd", "cost_basis", "payment_quarter",
)
#: Price fields a purchase line may carry, copied onto its purchase order.
_PRICE_FIELDS = ("list_price_usd", "discount_fraction", "price_kind", "price_source")
#: Sums of the schedule columns that are flows.
_FLOWS = ("orders_servers", "deliveries_servers", "capex_cash_usd", "committed_capex_cash_usd", "lease_usd", "committed_lease_usd", "energy_usd", "facility_usd",
          "cash_out_usd", "capitalised_usd", "depreciation_usd", "disposals_usd")


def _cents(x: float) -> float:
    return round(x + 0.0, 2)


def purchase_orders(purchases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Purchase lines merged per vendor x chip x order quarter (sites and rack types summed): one row per PO,
    with the price fields of its lines (list price, discount, kind, source) when they carry them."""
    merged: dict[tuple[str, str, str, str, float], dict[str, Any]] = {}
    for p in purchases:  # lines of one order at different prices (never from the optimizer) stay apart
        key = (str(p["order_quarter"]), str(p["vendor"]), str(p["chip"]), str(p["delivery_quarter"]),
               float(p["unit_price_usd"]))
        row = merged.get(key)
        if row is None:
            merged[key] = row = {"order_quarter": key[0], "delivery_quarter": key[3], "vendor": key[1], "chip": key[2],
                                 "servers": 0, "chips": 0, "unit_price_usd": p["unit_price_usd"], "cost_usd": 0.0}
            row.update({k: p[k] for k in _PRICE_FIELDS if p.get(k) is not None})
        row["servers"] += int(p["servers"])
        row["chips"] += int(p["chips"])
        row["cost_usd"] = _cents(row["cost_usd"] + float(p["cost_usd"]))
    return [merged[k] for k in sorted(merged)]


def _index(quarter: str, q0: int) -> int:
    return quarter_index(quarter) - q0


def asset_register(plan: dict[str, Any], assumptions: dict[str, Any]) -> list[dict[str, Any]]:
    """One asset per purchase order (cost = the orders' cost) and per existing fleet entry (catalog basis)."""
    quarters = list(plan["horizon"]["quarters"])
    q0 = quarter_index(quarters[0])
    T = len(quarters)
    salvage = float(assumptions["depreciation"]["salvage_fraction"])
    life = {c["chip"]: int(c["lifetime_quarters"]) for c in assumptions.get("chips") or []}
    rows: list[dict[str, Any]] = []

    def add(source: str, vendor: str, chip: str, order_q: str | None, in_service_q: str, servers: int,
            unit: float | None, cost: float, life_q: int, basis: str, paid_q: str | None = None) -> None:
        d = Depreciation(cost, life_q, _index(in_service_q, q0), salvage)
        alive_at_end = d.in_service <= T - 1 < d.in_service + life_q
        rows.append({
            "source": source, "vendor": vendor, "chip": chip, "order_quarter": order_q,
            "in_service_quarter": in_service_q, "servers": servers, "unit_cost_usd": unit, "cost_usd": _cents(cost),
            "lifetime_quarters": life_q, "salvage_fraction": salvage,
            "depreciation_per_quarter_usd": round(d.per_quarter_usd, 6),
            "opening_book_value_usd": _cents(d.held_book_value(-1)),
            "depreciation_in_horizon_usd": _cents(d.charged_between(0, T - 1)),
            "book_value_at_end_usd": _cents(d.book_value(T - 1)) if alive_at_end else 0.0,
            "cost_basis": basis,
            # an order a re-plan kept that is paid inside this horizon: committed capex cash of that quarter
            "payment_quarter": paid_q if paid_q in quarters else None,
        })

    for po in purchase_orders(plan.get("purchases") or []):
        add("purchase", po["vendor"], po["chip"], po["order_quarter"], po["delivery_quarter"], po["servers"],
            po["unit_price_usd"], po["cost_usd"], life.get(po["chip"], 1), "purchase order")
    for f in assumptions.get("fleet") or []:
        unit = f.get("unit_cost_usd")
        add("existing fleet", _vendor_of(assumptions, f["chip"]), f["chip"], f.get("order_quarter"), f["installed_quarter"],
            int(f["servers"]), unit, (unit or 0.0) * int(f["servers"]), int(f["lifetime_quarters"]), f["cost_basis"],
            f.get("payment_quarter"))
    return rows


def committed_capex_by_quarter(assets: list[dict[str, Any]]) -> dict[str, float]:
    """Cash of the orders a re-plan kept that are paid inside the horizon, per payment quarter (the asset register's
    `payment_quarter`; capex_timing: delivery): committed, paid whatever the plan does, each order once."""
    out: dict[str, float] = defaultdict(float)
    for a in assets:
        if a.get("payment_quarter"):
            out[str(a["payment_quarter"])] += float(a["cost_usd"])
    return out


def _vendor_of(assumptions: dict[str, Any], chip: str) -> str:
    return next((str(c["vendor"]) for c in assumptions.get("chips") or [] if c["chip"] == chip), "")


def _energy_by_quarter(plan: dict[str, Any], assumptions: dict[str, Any]) -> dict[str, float]:
    sites = {s["site"]: s for s in assumptions.get("sites") or []}
    hours = float(assumptions["hours_per_quarter"])
    out: dict[str, float] = defaultdict(float)
    for row in plan.get("power") or []:
        site = sites.get(row["site"])
        if site is None:
            continue
        kw = row.get("average_it_power_kw")
        kw = row["it_power_kw"] if kw is None else kw
        # each (quarter, site) row to the cent, as the workbook's Energy sheet does
        out[row["quarter"]] += _cents(float(kw) * float(site["pue"]) * hours * float(site["usd_per_kwh"]))
    return out


def occupied_racks(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Occupied racks per quarter, site and rack type (from the racks table: one row per rack and quarter)."""
    count: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in plan.get("racks") or []:
        count[(str(r["quarter"]), str(r["site"]), str(r["rack_type"]))].add(str(r["rack"]))
    return [{"quarter": q, "site": s, "rack_type": rt, "racks": len(ids)} for (q, s, rt), ids in sorted(count.items())]


def _facility_by_quarter(plan: dict[str, Any], assumptions: dict[str, Any]) -> dict[str, float]:
    cost = {(r["site"], r["rack_type"]): float(r["facility_usd_per_quarter"]) for r in assumptions.get("rack_types") or []}
    out: dict[str, float] = defaultdict(float)
    for row in occupied_racks(plan):
        out[row["quarter"]] += row["racks"] * cost.get((row["site"], row["rack_type"]), 0.0)
    return out


def _payment_quarter(purchase: dict[str, Any], by_order: bool) -> str:
    """Quarter a purchase line is paid in: its `payment_quarter` when the optimizer wrote one, else by capex timing."""
    return purchase.get("payment_quarter") or (purchase["order_quarter"] if by_order else purchase["delivery_quarter"])


def build_finance(plan: dict[str, Any], assumptions: dict[str, Any]) -> dict[str, Any]:
    """`finance` block of plan.json: assumptions, schedule (one row per quarter), totals and the asset register."""
    quarters = list(plan["horizon"]["quarters"])
    q0 = quarter_index(quarters[0])
    by_order = assumptions.get("capex_timing", "order") == "order"
    purchases = plan.get("purchases") or []
    energy = _energy_by_quarter(plan, assumptions)
    facility = _facility_by_quarter(plan, assumptions)
    lease: dict[str, float] = defaultdict(float)
    committed: dict[str, float] = defaultdict(float)
    for row in plan.get("leases") or []:
        lease[str(row["quarter"])] += float(row["lease_usd"])
        if row.get("committed") is True:
            committed[str(row["quarter"])] += float(row["lease_usd"])
    budgets = assumptions.get("budget_usd_by_quarter") or {}
    assets = asset_register(plan, assumptions)
    deps = [Depreciation(a["cost_usd"], a["lifetime_quarters"], _index(a["in_service_quarter"], q0), a["salvage_fraction"])
            for a in assets]
    nbv = opening = _cents(sum(d.held_book_value(-1) for d in deps))
    committed_capex = committed_capex_by_quarter(assets)
    schedule: list[dict[str, Any]] = []
    cum_cash = cum_capex = 0.0
    for t, q in enumerate(quarters):
        committed_q = committed_capex.get(q, 0.0)
        capex = sum(float(p["cost_usd"]) for p in purchases if _payment_quarter(p, by_order) == q) + committed_q
        row = {
            "quarter": q,
            "orders_servers": sum(int(p["servers"]) for p in purchases if p["order_quarter"] == q),
            "deliveries_servers": sum(int(p["servers"]) for p in purchases if p["delivery_quarter"] == q),
            "capex_cash_usd": _cents(capex), "committed_capex_cash_usd": _cents(committed_q), "lease_usd": _cents(lease.get(q, 0.0)),
            "committed_lease_usd": _cents(committed.get(q, 0.0)),
            "energy_usd": _cents(energy.get(q, 0.0)), "facility_usd": _cents(facility.get(q, 0.0)),
        }
        row["cash_out_usd"] = _cents(row["capex_cash_usd"] + row["lease_usd"] + row["energy_usd"] + row["facility_usd"])
        cum_cash = _cents(cum_cash + row["cash_out_usd"])
        cum_capex = _cents(cum_capex + row["capex_cash_usd"])
        row.update(cumulative_cash_out_usd=cum_cash, capex_budget_usd=budgets.get(q), cumulative_capex_usd=cum_capex)
        row["capitalised_usd"] = _cents(sum(d.cost_usd for d in deps if d.in_service == t))
        row["depreciation_usd"] = _cents(sum(d.charge(t) for d in deps))
        row["disposals_usd"] = _cents(sum(d.book_value(t - 1) for d in deps if d.in_service + d.life_quarters == t))
        nbv = _cents(nbv + row["capitalised_usd"] - row["depreciation_usd"] - row["disposals_usd"])
        row["net_book_value_usd"] = nbv
        schedule.append(row)
    kept = _cents(sum(float(c.get("after_horizon_usd") or 0.0) for c in plan.get("committed_lease_contracts") or []))
    after = _cents(sum(float(c.get("after_horizon_usd") or 0.0) for c in plan.get("lease_contracts") or []) + kept)
    totals = schedule_totals(schedule, assets, opening, assumptions, after)
    totals["committed_lease_after_horizon_usd"] = kept  # of lease_after_horizon_usd: contracts a re-plan kept
    return {"assumptions": assumptions, "schedule": schedule, "totals": totals, "assets": assets}


def schedule_totals(schedule: list[dict[str, Any]], assets: list[dict[str, Any]], opening: float,
                    assumptions: dict[str, Any], lease_after_horizon: float = 0.0) -> dict[str, Any]:
    """Sums of the schedule's flows, opening and closing book value, resale value and net cost (which counts lease
    commitments running past the horizon: they are owed, though not paid inside it)."""
    totals: dict[str, Any] = {k: _cents(sum(r[k] for r in schedule)) for k in _FLOWS}
    for k in ("orders_servers", "deliveries_servers"):
        totals[k] = int(totals[k])
    closing = schedule[-1]["net_book_value_usd"] if schedule else opening
    resale = _cents(closing * float(assumptions["depreciation"]["resale_fraction_of_book_value"]))
    fleet_dep = _cents(sum(a["depreciation_in_horizon_usd"] for a in assets if a["source"] != "purchase"))
    totals.update(
        opening_net_book_value_usd=opening, net_book_value_usd=closing,
        depreciation_fleet_usd=fleet_dep,
        depreciation_purchases_usd=_cents(totals["depreciation_usd"] - fleet_dep),
        resale_value_usd=resale, writedown_usd=_cents(closing - resale),
        capex_budget_usd=assumptions.get("budget_usd_total"), lease_after_horizon_usd=lease_after_horizon,
    )
    totals["net_cost_usd"] = _cents(totals["depreciation_usd"] + totals["writedown_usd"] + totals["energy_usd"]
                                    + totals["facility_usd"] + totals["lease_usd"] + lease_after_horizon)
    return totals
