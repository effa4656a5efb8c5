"""The money sheets behind the schedule, and the 'Schedule' sheet itself, all live formulas.

  * Energy: average IT power per quarter and site x PUE x hours x USD/kWh (rates looked up in Assumptions);
  * Facility: occupied racks per quarter, site and rack type x facility USD per rack-quarter;
  * Leases: leased chips x USD per chip-hour x hours (contracts a re-plan kept: `committed` yes, at their own rate);
  * Fixed assets: one row per purchase order and existing fleet entry: cost, straight-line charge, opening and
    closing book value, quarter indices of entry into service and retirement;
  * Schedule: one row per quarter: orders, deliveries, capex cash (SUMIF over the purchase orders by order or
    delivery quarter, as Assumptions says), leases, energy, facility, cash out, cumulative cash and capex vs
    budget, capitalised, depreciation (SUMPRODUCT over the assets in service), disposals and the net book value
    rolled forward; totals with resale value and net cost, reconciled with plan.json.
Quarter indices count from the horizon's first quarter (0); hardware entering service in d with a life of L
quarters is depreciated in d .. d+L-1 and disposed of in d+L (`planner.finance.schedule`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from planner.finance.assumptions import KEPT_ORDER_BASIS
from planner.finance.schedule import SCHEDULE_COLUMNS, occupied_racks
from planner.report import labels
from planner.report.xlsx_assumptions import Lookups
from planner.report.xlsx_cells import (
    NOTE_FONT,
    TOTAL_BORDER,
    TOTAL_FONT,
    TableRange,
    put,
    put_formula,
    put_text,
    section,
    write_header,
    write_table,
)
from planner.report.xlsx_formulas import conditional_sum, labels_need_exact, quote_sheet
from planner.results.reconcile import KPI_OF
from planner.results.units import is_number
from planner.schemas.common import quarter_index

SHEET = "Schedule"
ENERGY, FACILITY, LEASES, ASSETS = "Energy", "Facility", "Leases", "Fixed assets"


@dataclass(frozen=True)
class Source:
    """A table on another sheet that the schedule sums (None when the sheet has no rows)."""

    sheet: str
    table: TableRange | None

    def rng(self, col: str) -> str:
        assert self.table is not None
        return f"{quote_sheet(self.sheet)}!{self.table.rng(col)}"

    @property
    def empty(self) -> bool:
        return self.table is None or self.table.empty


def _note_if_empty(ws: Worksheet, t: TableRange, text: str) -> None:
    if t.empty:
        put_text(ws.cell(row=t.header_row + 1, column=1), text).font = NOTE_FONT


def write_energy_sheet(ws: Worksheet, plan: dict[str, Any], look: Lookups) -> Source:
    rows = [{"quarter": r["quarter"], "site": r["site"],
             "average_it_power_kw": r["average_it_power_kw"] if r.get("average_it_power_kw") is not None else r["it_power_kw"]}
            for r in plan.get("power") or []]
    frame = pd.DataFrame(rows, columns=["quarter", "site", "average_it_power_kw"])
    frame = frame.sort_values(["quarter", "site"], kind="stable").reset_index(drop=True) if len(frame) else frame
    hours = look.general["hours_per_quarter"]
    t = write_table(ws, frame, formulas={
        "pue": ("number", lambda r, tb: "=" + look.site("pue", f"$B{r}")),
        "hours": ("number", lambda r, tb: f"={hours}"),
        "usd_per_kwh": ("usd_small", lambda r, tb: "=" + look.site("usd_per_kwh", f"$B{r}")),
        "energy_kwh": ("number", lambda r, tb: f"={tb.letter('average_it_power_kw')}{r}*{tb.letter('pue')}{r}*{tb.letter('hours')}{r}"),
        "energy_usd": ("usd_cents", lambda r, tb: f"=ROUND({tb.letter('energy_kwh')}{r}*{tb.letter('usd_per_kwh')}{r},2)"),
    })
    _note_if_empty(ws, t, "No power figures in this plan.")
    return Source(ENERGY, t)


def write_facility_sheet(ws: Worksheet, plan: dict[str, Any], look: Lookups) -> Source:
    frame = pd.DataFrame(occupied_racks(plan), columns=["quarter", "site", "rack_type", "racks"])
    t = write_table(ws, frame, formulas={
        "facility_usd_per_rack_quarter": ("usd", lambda r, tb: "=" + look.rack_type(f"$B{r}", f"$C{r}")),
        "facility_usd": ("usd", lambda r, tb: f"={tb.letter('racks')}{r}*{tb.letter('facility_usd_per_rack_quarter')}{r}"),
    })
    _note_if_empty(ws, t, "No occupied racks in this plan.")
    return Source(FACILITY, t)


def _yes(row: dict[str, Any]) -> str:
    """'yes' for a row of a contract signed before the plan (kept by a re-plan: committed cash), else 'no'."""
    return "yes" if row.get("committed") is True else "no"


def write_leases_sheet(ws: Worksheet, plan: dict[str, Any], look: Lookups) -> tuple[Source, str]:
    """Lease payments per quarter and, below, each contract's commitment after the horizon; returns the payments
    table and the (absolute) cell of the total committed after the horizon."""
    cols = ["quarter", "vendor", "chip", "chips", "servers", "contract_start_quarter", "term_quarters", "committed"]
    leases = plan.get("leases") or []
    frame = pd.DataFrame([{**{c: r.get(c) for c in cols}, "committed": _yes(r)} for r in leases], columns=cols)
    hours = look.general["hours_per_quarter"]

    def amount(times: str | None) -> Any:  # chips x USD per chip-hour x hours [x quarters]
        return ("usd", lambda r, tb: f"=ROUND({tb.letter('chips')}{r}*{tb.letter('usd_per_chip_hour')}{r}"
                                     f"*{tb.letter('hours')}{r}" + (f"*{tb.letter(times)}{r}" if times else "") + ",2)")

    def rate(rows: list[dict[str, Any]]) -> Any:
        """The Assumptions rate of the chip; a committed contract (kept by a re-plan) is paid at its own rate."""
        def cell(r: int, tb: Any) -> str:
            row = rows[r - tb.first_row]
            if _yes(row) == "yes":
                return f"={float(row['usd_per_chip_hour'])!r}"
            return "=" + look.chip("lease_usd_per_chip_hour", f"$C{r}")
        return ("usd_cents", cell)

    t = write_table(ws, frame, formulas={"usd_per_chip_hour": rate(leases), "hours": ("number", lambda r, tb: f"={hours}"),
                                         "lease_usd": amount(None)})
    _note_if_empty(ws, t, "No leases in this plan.")
    contracts = [*(plan.get("lease_contracts") or []), *(plan.get("committed_lease_contracts") or [])]
    row = max(t.last_row, t.first_row) + 2
    section(ws, row, "Lease commitments after the horizon (owed, not paid inside it: in the net cost, not in cash out)")
    cols = ["contract_start_quarter", "vendor", "chip", "chips", "term_quarters", "committed", "quarters_after_horizon"]
    frame = pd.DataFrame([{**{c: k.get(c) for c in cols}, "committed": _yes(k),
                           "quarters_after_horizon": len(k.get("after_horizon_quarters") or [])}
                          for k in contracts], columns=cols)
    c = write_table(ws, frame, start_row=row + 1, freeze=False, autofilter=False, formulas={
        "usd_per_chip_hour": rate(contracts), "hours": ("number", lambda r, tb: f"={hours}"),
        "after_horizon_usd": amount("quarters_after_horizon")})
    total = max(c.last_row, c.first_row) + 1
    put_text(ws.cell(row=total, column=1), "Total after the horizon")
    cell = ws.cell(row=total, column=c.col("after_horizon_usd"))
    put_formula(cell, f"=SUM({c.rng('after_horizon_usd')})" if not c.empty else "=0", "usd").font = TOTAL_FONT
    return Source(LEASES, t), f"{quote_sheet(LEASES)}!${c.letter('after_horizon_usd')}${total}"


def write_assets_sheet(ws: Worksheet, plan: dict[str, Any], assets: list[dict[str, Any]], look: Lookups) -> Source:
    quarters = list((plan.get("horizon") or {}).get("quarters") or [])
    first = quarter_index(quarters[0]) if quarters else 0
    T = len(quarters)
    cols = ["source", "vendor", "chip", "order_quarter", "in_service_quarter", "in_service_index", "servers", "cost_basis",
            "payment_quarter"]
    frame = pd.DataFrame([{**{c: a.get(c) for c in cols},
                           "in_service_index": quarter_index(a["in_service_quarter"]) - first}
                          for a in assets], columns=cols)
    salvage = look.general["salvage_fraction"]

    def unit(r: int, tb: TableRange) -> str:
        """Purchases at the net price, the existing fleet at the list price (Assumptions); an order a re-plan kept
        at its own price (a value: it was placed at that price whatever Assumptions say now)."""
        a = assets[r - tb.first_row]
        if a.get("cost_basis") == KEPT_ORDER_BASIS and is_number(a.get("unit_cost_usd")):
            return f"={float(a['unit_cost_usd'])!r}"
        return (f'=IF({tb.letter("source")}{r}="purchase",{look.chip("unit_price_usd", f"$C{r}")},'
                f'{look.chip("list_price_usd", f"$C{r}")})')

    def L(tb: TableRange, name: str, r: int) -> str:
        return f"{tb.letter(name)}{r}"

    t = write_table(ws, frame, formulas={
        "unit_cost_usd": ("usd", unit),
        "cost_usd": ("usd", lambda r, tb: f"={L(tb, 'servers', r)}*{L(tb, 'unit_cost_usd', r)}"),
        "lifetime_quarters": ("int", lambda r, tb: "=" + look.chip("lifetime_quarters", f"$C{r}")),
        "salvage_fraction": ("pct", lambda r, tb: f"={salvage}"),
        "depreciation_per_quarter_usd": ("usd", lambda r, tb: f"={L(tb, 'cost_usd', r)}*(1-{L(tb, 'salvage_fraction', r)})"
                                                             f"/{L(tb, 'lifetime_quarters', r)}"),
        "retire_index": ("int", lambda r, tb: f"={L(tb, 'in_service_index', r)}+{L(tb, 'lifetime_quarters', r)}"),
        "disposal_value_usd": ("usd", lambda r, tb: f"={L(tb, 'cost_usd', r)}*{L(tb, 'salvage_fraction', r)}"),
        "opening_book_value_usd": ("usd", lambda r, tb: (
            f"=IF(AND({L(tb, 'in_service_index', r)}<0,{L(tb, 'retire_index', r)}>=0),"
            f"{L(tb, 'cost_usd', r)}-{L(tb, 'depreciation_per_quarter_usd', r)}*MIN(-{L(tb, 'in_service_index', r)},"
            f"{L(tb, 'lifetime_quarters', r)}),0)")),
        "depreciation_in_horizon_usd": ("usd", lambda r, tb: (
            f"={L(tb, 'depreciation_per_quarter_usd', r)}*MAX(0,MIN({T},{L(tb, 'retire_index', r)})"
            f"-MAX(0,{L(tb, 'in_service_index', r)}))")),
        "book_value_at_end_usd": ("usd", lambda r, tb: (
            f"=IF(AND({L(tb, 'in_service_index', r)}<={T - 1},{L(tb, 'retire_index', r)}>{T - 1}),"
            f"{L(tb, 'cost_usd', r)}-{L(tb, 'depreciation_per_quarter_usd', r)}*({T}-{L(tb, 'in_service_index', r)}),0)")),
    })
    if not t.empty:
        total = t.last_row + 1
        put_text(ws.cell(row=total, column=1), "Total")
        for name in ("cost_usd", "opening_book_value_usd", "depreciation_in_horizon_usd", "book_value_at_end_usd"):
            put_formula(ws.cell(row=total, column=t.col(name)), f"=SUM({t.rng(name)})", "usd").font = TOTAL_FONT
    _note_if_empty(ws, t, "No hardware on the books in this plan.")
    return Source(ASSETS, t)


@dataclass(frozen=True)
class ScheduleCells:
    """Where the Schedule sheet's rows and totals are (for the Summary sheet and the tests)."""

    first_row: int
    last_row: int
    total_row: int
    columns: dict[str, int]
    totals: dict[str, str]  # key -> absolute reference on the Schedule sheet


#: Schedule columns in order: key, heading, kind (plan.json's finance.schedule plus the quarter index).
COLUMNS = tuple((key, labels.heading(key), labels.kind(key)) for key in ("quarter", "quarter_index", *SCHEDULE_COLUMNS[1:]))
_SUMMED = ("orders_servers", "deliveries_servers", "capex_cash_usd", "committed_capex_cash_usd", "lease_usd", "committed_lease_usd", "energy_usd", "facility_usd",
           "cash_out_usd", "capitalised_usd", "depreciation_usd", "disposals_usd")


def write_schedule_sheet(ws: Worksheet, plan: dict[str, Any], look: Lookups, orders: Source, energy: Source,
                         facility: Source, leases: Source, assets: Source, lease_after: str = "0") -> ScheduleCells:
    quarters = list((plan.get("horizon") or {}).get("quarters") or [])
    budgets = (plan.get("finance") or {}).get("assumptions", {}).get("budget_usd_by_quarter") or {}
    col = {key: i + 1 for i, (key, _, _) in enumerate(COLUMNS)}
    L = {key: get_column_letter(c) for key, c in col.items()}
    write_header(ws, 1, 1, [h for _, h, _ in COLUMNS])
    ws.freeze_panes = "B2"
    exact = labels_need_exact(quarters)
    first, last = 2, 1 + len(quarters)

    def sumif(src: Source, value: str, key: str, cell: str, exact_: bool = exact) -> str:
        return "0" if src.empty else conditional_sum(src.rng(value), [(src.rng(key), cell)], exact_)[1:]

    timing = look.general["capex_timing"]
    for i, q in enumerate(quarters):
        r = first + i
        kinds = {k: kd for k, _, kd in COLUMNS}
        put_text(ws.cell(row=r, column=col["quarter"]), q)
        put(ws.cell(row=r, column=col["quarter_index"]), i, "int")
        a, qi = f"$A{r}", f"$B{r}"
        f = {
            "orders_servers": sumif(orders, "servers", "order_quarter", a),
            "deliveries_servers": sumif(orders, "servers", "delivery_quarter", a),
            "capex_cash_usd": f'IF({timing}="delivery",{sumif(orders, "cost_usd", "delivery_quarter", a)},'
                              f'{sumif(orders, "cost_usd", "order_quarter", a)})+{L["committed_capex_cash_usd"]}{r}',
            # orders a re-plan kept, paid in this quarter (Fixed assets' payment quarter): committed cash, once
            "committed_capex_cash_usd": sumif(assets, "cost_usd", "payment_quarter", a),
            "lease_usd": sumif(leases, "lease_usd", "quarter", a),
            "committed_lease_usd": "0" if leases.empty else conditional_sum(
                leases.rng("lease_usd"), [(leases.rng("quarter"), a), (leases.rng("committed"), '"yes"')], exact)[1:],
            "energy_usd": sumif(energy, "energy_usd", "quarter", a),
            "facility_usd": sumif(facility, "facility_usd", "quarter", a),
            "cash_out_usd": f"{L['capex_cash_usd']}{r}+{L['lease_usd']}{r}+{L['energy_usd']}{r}+{L['facility_usd']}{r}",
            "cumulative_cash_out_usd": f"{L['cash_out_usd']}{r}" + (f"+{L['cumulative_cash_out_usd']}{r - 1}" if i else ""),
            "cumulative_capex_usd": f"{L['capex_cash_usd']}{r}" + (f"+{L['cumulative_capex_usd']}{r - 1}" if i else ""),
            # to the cent, as plan.json's schedule, so the roll-forward gives the same figures to the cent
            "capitalised_usd": f'ROUND({sumif(assets, "cost_usd", "in_service_index", qi, False)},2)',
            "depreciation_usd": "0" if assets.empty else (
                f"ROUND(SUMPRODUCT(({assets.rng('in_service_index')}<={qi})*({assets.rng('retire_index')}>{qi}),"
                f"{assets.rng('depreciation_per_quarter_usd')}),2)"),
            "disposals_usd": f'ROUND({sumif(assets, "disposal_value_usd", "retire_index", qi, False)},2)',
        }
        opening = "0" if assets.empty else f"ROUND(SUM({assets.rng('opening_book_value_usd')}),2)"
        prev = opening if i == 0 else f"{L['net_book_value_usd']}{r - 1}"
        f["net_book_value_usd"] = f"{prev}+{L['capitalised_usd']}{r}-{L['depreciation_usd']}{r}-{L['disposals_usd']}{r}"
        if q in budgets:
            f["capex_budget_usd"] = look.budget(a)
        for key, formula in f.items():
            put_formula(ws.cell(row=r, column=col[key]), "=" + formula, kinds[key])

    total = last + 1
    put_text(ws.cell(row=total, column=1), "Total")
    totals: dict[str, str] = {}
    for key in _SUMMED:
        c = L[key]
        put_formula(ws.cell(row=total, column=col[key]), f"=SUM({c}{first}:{c}{max(last, first)})" if quarters else "=0",
                    "int" if key.endswith("servers") else "usd")
        totals[key] = f"${c}${total}"
    for key in ("cumulative_cash_out_usd", "cumulative_capex_usd", "net_book_value_usd"):
        c = L[key]
        put_formula(ws.cell(row=total, column=col[key]), f"={c}{last}" if quarters else "=0", "usd")
        totals[key] = f"${c}${total}"
    for c in range(1, len(COLUMNS) + 1):
        ws.cell(row=total, column=c).font = TOTAL_FONT
        ws.cell(row=total, column=c).border = TOTAL_BORDER

    r = total + 2
    section(ws, r, "Horizon totals: cash and net cost (USD)")
    write_header(ws, r + 1, 1, ["Figure", "Value", "How"])
    opening = "0" if assets.empty else f"ROUND(SUM({assets.rng('opening_book_value_usd')}),2)"
    lines = [
        ("opening_net_book_value_usd", "Opening net book value", opening, "existing fleet in service at the horizon's start"),
        ("net_book_value_usd", "Closing net book value", totals["net_book_value_usd"], "last quarter's net book value"),
        ("resale_value_usd", "Resale value", None, "closing book value x resale fraction (Assumptions)"),
        ("writedown_usd", "Write-down to resale value", None, "closing book value - resale value"),
        ("lease_after_horizon_usd", "Leases committed after the horizon", lease_after,
         "minimum lease terms running past the horizon (Leases sheet)"),
        ("net_cost_usd", "Net cost (net horizon cost)", None,
         "depreciation + write-down + energy + facility + leases (paid and committed)"),
        ("cash_out_usd", "Cash out", totals["cash_out_usd"], "capex cash + leases + energy + facility"),
        ("capex_budget_usd", "Capex budget over the horizon", look.general["budget_usd_total"],
         "policy.capex_budget_usd_total"),
    ]
    for i, (key, label, formula, how) in enumerate(lines):
        rr = r + 2 + i
        put_text(ws.cell(row=rr, column=1), label)
        put_text(ws.cell(row=rr, column=3), how).font = NOTE_FONT
        totals[key] = f"$B${rr}"
        if key == "resale_value_usd":
            formula = f"ROUND({totals['net_book_value_usd']}*{look.general['resale_fraction_of_book_value']},2)"
        elif key == "writedown_usd":
            formula = f"{totals['net_book_value_usd']}-{totals['resale_value_usd']}"
        elif key == "net_cost_usd":
            formula = "+".join(totals[k] for k in ("depreciation_usd", "writedown_usd", "energy_usd",
                                                   "facility_usd", "lease_usd", "lease_after_horizon_usd"))
        put_formula(ws.cell(row=rr, column=2), f"={formula}", "usd")
    ws.cell(row=r + 2 + 5, column=1).font = ws.cell(row=r + 2 + 5, column=2).font = TOTAL_FONT
    _reconcile(ws, r + 3 + len(lines), plan, totals)
    return ScheduleCells(first, last, total, col, totals)


_RECONCILED = ("capex_cash_usd", "committed_capex_cash_usd", "lease_usd", "committed_lease_usd", "energy_usd", "facility_usd", "cash_out_usd", "capitalised_usd",
               "depreciation_usd", "disposals_usd", "opening_net_book_value_usd", "net_book_value_usd",
               "resale_value_usd", "writedown_usd", "lease_after_horizon_usd", "net_cost_usd")


def _reconcile(ws: Worksheet, row: int, plan: dict[str, Any], cells: dict[str, str]) -> None:
    """Workbook totals against plan.json's finance.totals and KPIs; differences should be $0 (cents on energy)."""
    section(ws, row, "Reconciliation with plan.json")
    put_text(ws.cell(row=row, column=3), "differences should be $0; energy, cash out and net cost may differ from the KPIs "
                                         "by cents (the power table keeps watts)").font = NOTE_FONT
    write_header(ws, row + 1, 1, ["Figure", "Workbook", "plan.json", "Difference", "plan.json key"])
    fin_totals = (plan.get("finance") or {}).get("totals") or {}
    kpis = plan.get("kpis") or {}
    r = row + 2
    checks = [(k, fin_totals.get(k), f"finance.totals.{k}") for k in _RECONCILED]
    for key, kpi_keys in KPI_OF.items():
        kpi = next((k for k in kpi_keys if is_number(kpis.get(k))), None)
        if kpi is not None and key in cells:
            checks.append((key, kpis[kpi], f"kpis.{kpi}"))
    for key, value, where in checks:
        put_text(ws.cell(row=r, column=1), key.removesuffix("_usd").replace("_", " ").capitalize())
        put_formula(ws.cell(row=r, column=2), f"={cells[key]}", "usd")
        put(ws.cell(row=r, column=3), value, "usd")
        if is_number(value):
            put_formula(ws.cell(row=r, column=4), f"=B{r}-C{r}", "usd_cents")
        put_text(ws.cell(row=r, column=5), where).font = NOTE_FONT
        r += 1
