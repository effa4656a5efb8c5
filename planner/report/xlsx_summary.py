"""The 'Summary' sheet: result, cost split with live totals, efficiency, reconciliation, power, findings."""

from __future__ import annotations

from typing import Any

from openpyxl.styles import Alignment
from openpyxl.worksheet.worksheet import Worksheet

from planner.errors import Problem
from planner.report.perf_lines import perf_sentences
from planner.report.xlsx_cells import (
    NOTE_FONT,
    TITLE_FONT,
    TOTAL_BORDER,
    TOTAL_FONT,
    WARN_FONT,
    fit_columns,
    put,
    put_formula,
    put_text,
    section,
    write_header,
)
from planner.report.xlsx_formulas import quote_sheet
from planner.report.xlsx_orders import SHEET as ORDERS_SHEET
from planner.report.xlsx_orders import OrderTotals
from planner.report.xlsx_schedule import SHEET as SCHEDULE_SHEET
from planner.report.xlsx_schedule import ScheduleCells
from planner.results.summary import (
    Figure,
    binding_sentences,
    diagnosis_sentences,
    key_figures,
    shortfall_heading,
    site_peaks,
)

SHEET = "Summary"


def _figure_row(ws: Worksheet, row: int, fig: Figure, formula: str | None = None) -> None:
    put_text(ws.cell(row=row, column=1), fig.label)
    value = ws.cell(row=row, column=2)
    if formula:
        put_formula(value, formula, fig.kind)
    elif fig.value is None:
        put_text(value, "n/a").alignment = Alignment(horizontal="right")
    else:
        put(value, fig.value, fig.kind)
    put_text(ws.cell(row=row, column=3), fig.note).font = NOTE_FONT


def _header(ws: Worksheet, plan: dict[str, Any]) -> int:
    put_text(ws.cell(row=1, column=1), f"Procurement plan: {plan.get('scenario', '')}").font = TITLE_FONT
    run, solver = plan.get("run") or {}, plan.get("solver") or {}
    quarters = (plan.get("horizon") or {}).get("quarters") or []
    span = f"{quarters[0]} to {quarters[-1]}" if quarters else "no quarters"
    line = (f"Horizon {span}. Solved by {solver.get('name', '?')} {solver.get('version') or ''} "
            f"(finished {run.get('finished_utc') or 'time unknown'}); planner {run.get('planner_version') or '?'}.")
    put_text(ws.cell(row=2, column=1), " ".join(line.split())).font = NOTE_FONT
    if plan.get("status") != "optimal":
        put_text(ws.cell(row=3, column=1), "Warning: " + key_figures(plan)[0].note).font = WARN_FONT
    return 5


def _cost_block(ws: Worksheet, row: int, figs: dict[str, Figure], orders: OrderTotals | None,
                plan: dict[str, Any]) -> int:
    section(ws, row, "Capex + opex - residual value (USD): the optimizer's cost split")
    write_header(ws, row + 1, 1, ["Figure", "Value", "Note"])
    r = row + 2
    cells: dict[str, str] = {}
    has_orders = orders is not None and orders.last_data_row >= orders.first_data_row
    parts = ("capex_usd", "fleet_book_value_start_usd", "fleet_in_transit_start_usd", "energy_usd", "facility_usd", "lease_usd", "lease_after_horizon_usd",
             "residual_value_usd")
    for key in parts:
        fig, link = figs[key], None
        if key in ("fleet_book_value_start_usd", "fleet_in_transit_start_usd", "lease_usd", "lease_after_horizon_usd") \
                and fig.value is None:
            fig = Figure(fig.key, fig.label, 0.0, fig.kind, "not in this plan.json (written before leases and fleet depreciation): 0")
        committed = (plan.get("kpis") or {}).get("committed_capex_cash_usd")
        if key == "capex_usd" and orders is not None and has_orders and not committed:  # kept orders' cash is not there
            link = f"={quote_sheet(ORDERS_SHEET)}!{orders.grand_total}"
            fig = Figure(fig.key, fig.label, fig.value, fig.kind, "total of the purchase orders (live link)")
        _figure_row(ws, r, fig, link)
        cells[key] = f"B{r}"
        r += 1
    # TCO is a live sum when every part is known (capex comes from the order lines when there are any).
    known = (has_orders or figs["capex_usd"].value is not None) and all(
        figs[k].value is not None for k in ("energy_usd", "facility_usd", "residual_value_usd"))
    tco = ("=" + "+".join(cells[k] for k in parts[:-1]) + f"-{cells['residual_value_usd']}") if known else None
    _figure_row(ws, r, figs["tco_usd"], tco)
    cells["tco_usd"] = f"B{r}"
    for c in (1, 2):
        ws.cell(row=r, column=c).font = TOTAL_FONT
        ws.cell(row=r, column=c).border = TOTAL_BORDER
    r += 1
    opex_formula = None
    if all(figs[k].value is not None for k in ("energy_usd", "facility_usd")):
        opex_formula = f"={cells['energy_usd']}+{cells['facility_usd']}+{cells['lease_usd']}"
    _figure_row(ws, r, figs["opex_usd"], opex_formula)
    return _checks(ws, r + 2, cells, plan)


_CASH = ("capex_cash_usd", "lease_usd", "energy_usd", "facility_usd", "cash_out_usd")
_NET = (("depreciation_usd", "Depreciation (USD)", "straight line, bought hardware and the existing fleet"),
        ("writedown_usd", "Write-down to resale value (USD)", "closing net book value - resale value"),
        ("energy_usd", "Energy (USD)", "IT power x PUE x hours x price"),
        ("facility_usd", "Facility (USD)", "occupied racks x facility cost per rack-quarter"),
        ("lease_usd", "Leases paid (USD)", "lease payments inside the horizon"),
        ("lease_after_horizon_usd", "Leases committed after the horizon (USD)", "minimum terms running past the horizon"),
        ("net_cost_usd", "Net cost (USD)", "the sum above: what the horizon consumes"),
        ("resale_value_usd", "Resale value at horizon end (USD)", "closing net book value x resale fraction"),
        ("net_book_value_usd", "Net book value at horizon end (USD)", "from the Schedule's roll-forward"))


def _money_blocks(ws: Worksheet, row: int, figs: dict[str, Figure], schedule: ScheduleCells) -> int:
    """Cash and net cost over the horizon, each a live link to the Schedule sheet's totals."""
    link = quote_sheet(SCHEDULE_SHEET)
    section(ws, row, "Cash over the horizon (USD): what leaves the bank")
    write_header(ws, row + 1, 1, ["Figure", "Value", "Note"])
    r = row + 2
    for key in _CASH:
        fig = figs.get(key) or Figure(key, "Energy (USD)" if key == "energy_usd" else "Facility (USD)", None, "usd")
        label = {"energy_usd": "Energy, cash (USD)", "facility_usd": "Facility, cash (USD)"}.get(key, fig.label)
        _figure_row(ws, r, Figure(key, label, fig.value, "usd", fig.note), f"={link}!{schedule.totals[key]}")
        r += 1
    for c in (1, 2):
        ws.cell(row=r - 1, column=c).font = TOTAL_FONT
        ws.cell(row=r - 1, column=c).border = TOTAL_BORDER
    section(ws, r + 1, "Net cost over the horizon (USD): depreciation, not cash, for hardware")
    write_header(ws, r + 2, 1, ["Figure", "Value", "Note"])
    r += 3
    for key, label, note in _NET:
        _figure_row(ws, r, Figure(key, label, None, "usd", note), f"={link}!{schedule.totals[key]}")
        if key == "net_cost_usd":
            for c in (1, 2):
                ws.cell(row=r, column=c).font = TOTAL_FONT
                ws.cell(row=r, column=c).border = TOTAL_BORDER
        r += 1
    return r + 1


def _checks(ws: Worksheet, row: int, cells: dict[str, str], plan: dict[str, Any]) -> int:
    """Workbook totals next to plan.json's figures, with their difference (should be zero)."""
    section(ws, row, "Reconciliation with plan.json")
    write_header(ws, row + 1, 1, ["Figure", "Workbook total", "plan.json", "Difference"])
    kpis = plan.get("kpis") or {}
    r = row + 2
    for key, label in (("capex_usd", "Capex"), ("tco_usd", "Net horizon cost")):
        put_text(ws.cell(row=r, column=1), label)
        put_formula(ws.cell(row=r, column=2), f"={cells[key]}", "usd")
        put(ws.cell(row=r, column=3), kpis.get(key), "usd")
        if kpis.get(key) is not None:
            put_formula(ws.cell(row=r, column=4), f"=B{r}-C{r}", "usd")
        r += 1
    return r + 1


def _simple_block(ws: Worksheet, row: int, title: str, figs: list[Figure]) -> int:
    section(ws, row, title)
    write_header(ws, row + 1, 1, ["Figure", "Value", "Note"])
    for i, fig in enumerate(figs):
        _figure_row(ws, row + 2 + i, fig)
    return row + 3 + len(figs)


def _power_block(ws: Worksheet, row: int, plan: dict[str, Any]) -> int:
    section(ws, row, "Peak IT power per site")
    write_header(ws, row + 1, 1, ["Site", "Peak IT power (kW)", "Quarter of peak", "Cap (kW)",
                                  "Headroom (kW)", "Utilisation"])
    peaks = site_peaks(plan)
    for i, p in enumerate(peaks):
        r = row + 2 + i
        put_text(ws.cell(row=r, column=1), p.site)
        put(ws.cell(row=r, column=2), p.peak_kw, "kw")
        put(ws.cell(row=r, column=3), p.quarter or "—").alignment = Alignment(horizontal="center")
        put(ws.cell(row=r, column=4), p.cap_kw, "kw")
        if p.cap_kw is not None:
            put_formula(ws.cell(row=r, column=5), f"=D{r}-B{r}", "kw")
            put_formula(ws.cell(row=r, column=6), f"=IF(D{r}=0,0,B{r}/D{r})", "pct")
    if not peaks:
        put_text(ws.cell(row=row + 2, column=1), "No power figures in this plan.").font = NOTE_FONT
    return row + 3 + max(len(peaks), 1)


def _sentences(ws: Worksheet, row: int, title: str, lines: list[str], empty: str) -> int:
    section(ws, row, title)
    for i, line in enumerate(lines or [empty]):
        put_text(ws.cell(row=row + 1 + i, column=1), line)
    return row + 2 + max(len(lines), 1)


def write_summary_sheet(ws: Worksheet, plan: dict[str, Any], orders: OrderTotals | None,
                        warnings: list[Problem], schedule: ScheduleCells | None = None) -> None:
    """Fill the Summary sheet."""
    figs = {f.key: f for f in key_figures(plan)}
    row = _header(ws, plan)
    row = _simple_block(ws, row, "Result", [figs[k] for k in ("status", "objective_usd", "best_bound_usd", "mip_gap")])
    if schedule is not None:
        row = _money_blocks(ws, row, figs, schedule)
    row = _cost_block(ws, row, figs, orders, plan)
    row = _simple_block(ws, row, "Efficiency", [figs[k] for k in ("usd_per_million_tokens", "joules_per_token",
                                                                   "energy_mwh", "served_tokens")])
    row = _power_block(ws, row, plan)
    row = _sentences(ws, row, "Binding constraints (what relaxing a limit is worth)", binding_sentences(plan),
                     "No binding constraints reported.")
    row = _sentences(ws, row, shortfall_heading(plan), diagnosis_sentences(plan), "All demand is met in every quarter.")
    row = _sentences(ws, row, "Performance figures (where tokens/s came from)", perf_sentences(plan), "No deployments.")
    lines = [f"{p.locator}: {p.message}" for p in warnings]
    section(ws, row, "Consistency of plan.json")
    for i, line in enumerate(lines or ["All totals in plan.json add up (orders, capex, opex, TCO)."]):
        put_text(ws.cell(row=row + 1 + i, column=1), line).font = WARN_FONT if lines else NOTE_FONT
    fit_columns(ws)
    for letter, width in (("A", 38), ("B", 20)):
        ws.column_dimensions[letter].width = width
