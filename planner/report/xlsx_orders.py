"""The 'Purchase orders' sheet: one line per vendor x SKU (chip) x order quarter, live totals, subtotals by
quarter and vendor, chart; and the 'Placement' sheet: where each order's servers go (site, rack type).

List price, discount and net unit price are looked up in the Assumptions sheet (plans without a finance block
show the line's own price); the amount is `=servers * net unit price` on every line; the grand total, the
subtotals (SUMIF) and the quarter x vendor matrix behind the spend chart are live formulas, next to the capex
figure of plan.json and their difference, so a reader can see the plan reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from openpyxl.chart import BarChart, Reference
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from planner.finance.schedule import purchase_orders
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
from planner.report.xlsx_formulas import conditional_sum, labels_need_exact

SHEET = "Purchase orders"
PLACEMENT = "Placement"
ORDER_COLUMNS = ("order_quarter", "delivery_quarter", "vendor", "chip", "servers", "chips", "list_price_usd",
                 "discount_fraction", "unit_price_usd", "cost_usd", "price_kind", "price_source")
PLACEMENT_COLUMNS = ("order_quarter", "delivery_quarter", "vendor", "chip", "site", "rack_type", "servers", "chips")


@dataclass(frozen=True)
class OrderTotals:
    """Cells other sheets link to (absolute, on this sheet)."""

    grand_total: str
    first_data_row: int
    last_data_row: int
    table: TableRange | None = None


def _bold_total(ws: Worksheet, row: int, cols: range) -> None:
    for c in cols:
        ws.cell(row=row, column=c).font = TOTAL_FONT
        ws.cell(row=row, column=c).border = TOTAL_BORDER


def _totals(ws: Worksheet, t: TableRange, row: int, capex: Any) -> str:
    """Grand total row, the plan.json capex and their difference; returns the grand total cell."""
    put_text(ws.cell(row=row, column=1), "Total, all orders")
    cost = f"{t.letter('cost_usd')}{row}"
    for name, kind in (("servers", "int"), ("chips", "int"), ("cost_usd", "usd")):
        cell = ws.cell(row=row, column=t.col(name))
        if t.empty:
            put(cell, 0, kind)
        else:
            put_formula(cell, f"=SUM({t.rng(name)})", kind)
    _bold_total(ws, row, range(1, t.col("cost_usd") + 1))
    put_text(ws.cell(row=row + 1, column=1), "Capex in plan.json (kpis.capex_usd)")
    put(ws.cell(row=row + 1, column=t.col("cost_usd")), capex, "usd")
    put_text(ws.cell(row=row + 2, column=1), "Difference (should be $0)")
    put_formula(ws.cell(row=row + 2, column=t.col("cost_usd")), f"={cost}-{t.letter('cost_usd')}{row + 1}", "usd")
    for r in (row + 1, row + 2):
        ws.cell(row=r, column=1).font = NOTE_FONT
    col = t.letter("cost_usd")
    return f"${col}${row}"


def _by_key(ws: Worksheet, t: TableRange, row: int, key: str, title: str, labels: list[str],
            budgets: dict[str, float] | None, grand: str, budget_total: Any, look: Lookups | None = None) -> int:
    """A subtotal block (label, servers, chips, cost [, budget, headroom | share]); returns next free row."""
    section(ws, row, title)
    extra = ["Budget (USD)", "Headroom (USD)"] if budgets is not None else ["Share of spend"]
    write_header(ws, row + 1, 1, [ws.cell(row=t.header_row, column=t.col(key)).value, "Servers", "Chips",
                                  "Cost (USD)", *extra])
    exact = labels_need_exact(labels)
    first = row + 2
    for i, label in enumerate(labels):
        r = first + i
        put_text(ws.cell(row=r, column=1), label)
        for c, (name, kind) in enumerate((("servers", "int"), ("chips", "int"), ("cost_usd", "usd")), start=2):
            cell = ws.cell(row=r, column=c)
            if t.empty:
                put(cell, 0, kind)
            else:
                put_formula(cell, conditional_sum(t.rng(name), [(t.rng(key), f"$A{r}")], exact), kind)
        if budgets is not None:
            if look is not None and look.budgets is not None and label in budgets:  # live: Assumptions' budget
                put_formula(ws.cell(row=r, column=5), "=" + look.budget(f"$A{r}"), "usd")
            else:
                put(ws.cell(row=r, column=5), budgets.get(label), "usd")
            if label in budgets:
                put_formula(ws.cell(row=r, column=6), f"=E{r}-D{r}", "usd")
        else:
            put_formula(ws.cell(row=r, column=5), f"=IF({grand}=0,0,D{r}/{grand})", "pct")
    total = first + len(labels)
    put_text(ws.cell(row=total, column=1), "Total")
    last = max(total - 1, first)
    for c, kind in ((2, "int"), (3, "int"), (4, "usd")):
        letter = get_column_letter(c)
        put_formula(ws.cell(row=total, column=c), f"=SUM({letter}{first}:{letter}{last})" if labels else "=0", kind)
    if budgets is not None and budget_total is not None:
        if look is not None and look.budgets is not None:
            put_formula(ws.cell(row=total, column=5), f"={look.general['budget_usd_total']}", "usd")
        else:
            put(ws.cell(row=total, column=5), budget_total, "usd")
        put_formula(ws.cell(row=total, column=6), f"=E{total}-D{total}", "usd")
    _bold_total(ws, total, range(1, 5 + (budgets is not None)))
    return total + 2


def _matrix(ws: Worksheet, t: TableRange, row: int, quarters: list[str], vendors: list[str]) -> tuple[int, int]:
    """Spend by order quarter (rows) and vendor (columns); returns (header row, next free row)."""
    section(ws, row, "Spend by order quarter and vendor (USD)")
    header = row + 1
    write_header(ws, header, 1, ["Order quarter", *vendors, "Total"])
    exact = labels_need_exact(quarters) or labels_need_exact(vendors)
    for i, quarter in enumerate(quarters):
        r = header + 1 + i
        put_text(ws.cell(row=r, column=1), quarter)
        for j in range(len(vendors)):
            c = 2 + j
            vendor_cell = f"{get_column_letter(c)}${header}"
            conds = [(t.rng("order_quarter"), f"$A{r}"), (t.rng("vendor"), vendor_cell)]
            put_formula(ws.cell(row=r, column=c), conditional_sum(t.rng("cost_usd"), conds, exact), "usd")
        end = get_column_letter(1 + len(vendors))
        put_formula(ws.cell(row=r, column=2 + len(vendors)),
                    f"=SUM(B{r}:{end}{r})" if vendors else "=0", "usd")
    return header, header + len(quarters) + 2


def _chart(ws: Worksheet, header: int, n_quarters: int, n_vendors: int, anchor: str) -> None:
    chart = BarChart()
    chart.type, chart.grouping, chart.overlap = "col", "stacked", 100
    chart.title = "Capex by order quarter and vendor"
    chart.y_axis.title = "USD"
    chart.y_axis.numFmt = "$#,##0"
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.height, chart.width = 8.5, 17
    data = Reference(ws, min_col=2, max_col=1 + n_vendors, min_row=header, max_row=header + n_quarters)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=header + 1, max_row=header + n_quarters))
    ws.add_chart(chart, anchor)


def order_lines(plan: dict[str, Any]) -> pd.DataFrame:
    """Purchase orders (vendor x chip x order quarter) with their price kind and source (from the lines, else
    from the plan's finance assumptions)."""
    chips = {c["chip"]: c for c in ((plan.get("finance") or {}).get("assumptions") or {}).get("chips") or []}
    rows = []
    for po in purchase_orders(plan.get("purchases") or []):
        spec = chips.get(po["chip"], {})
        for key in ("list_price_usd", "discount_fraction", "price_kind", "price_source"):
            po.setdefault(key, spec.get(key))
        rows.append(po)
    return pd.DataFrame([{c: r.get(c) for c in ORDER_COLUMNS} for r in rows], columns=list(ORDER_COLUMNS))


def write_orders_sheet(ws: Worksheet, plan: dict[str, Any], look: Lookups) -> OrderTotals:
    """Fill the 'Purchase orders' sheet; returns where the lines and the grand total are."""
    formulas = {"cost_usd": ("usd", lambda r, tb: f"={tb.letter('servers')}{r}*{tb.letter('unit_price_usd')}{r}")}
    if look.chips is not None:
        formulas |= {key: (kind, lambda r, tb, key=key: "=" + look.chip(key, f"$D{r}"))
                     for key, kind in (("list_price_usd", "usd"), ("discount_fraction", "pct"), ("unit_price_usd", "usd"))}
    purchases = order_lines(plan)
    t = write_table(ws, purchases, formulas=formulas)
    row = t.last_row + 2 if not t.empty else t.header_row + 1
    if t.empty:
        put_text(ws.cell(row=row, column=1), "No purchases in this plan.").font = NOTE_FONT
        row += 2
    grand = _totals(ws, t, row, (plan.get("kpis") or {}).get("capex_usd"))
    row += 4
    limits = plan.get("limits") or {}
    budgets = dict(limits.get("budget_usd_by_quarter") or {})
    quarters = sorted(set((plan.get("horizon") or {}).get("quarters") or []) | set(purchases["order_quarter"]))
    vendors = sorted({str(v) for v in purchases["vendor"]})
    top = row
    row = _by_key(ws, t, row, "order_quarter", "Subtotal by order quarter", quarters,
                  budgets if budgets or limits.get("budget_usd_total") is not None else None, grand,
                  limits.get("budget_usd_total"), look)
    row = _by_key(ws, t, row, "vendor", "Subtotal by vendor", vendors, None, grand, None)
    header, row = _matrix(ws, t, row, quarters, vendors)
    if vendors and quarters:
        _chart(ws, header, len(quarters), len(vendors), f"{get_column_letter(t.col('cost_usd') + 2)}{top}")
    return OrderTotals(grand, t.first_row, t.last_row, t)


def write_placement_sheet(ws: Worksheet, plan: dict[str, Any]) -> None:
    """Where each order's servers go: one row per purchase line (order, site, rack type)."""
    lines = sorted(plan.get("purchases") or [], key=lambda p: tuple(str(p.get(c)) for c in PLACEMENT_COLUMNS))
    frame = pd.DataFrame([{c: p.get(c) for c in PLACEMENT_COLUMNS} for p in lines], columns=list(PLACEMENT_COLUMNS))
    t = write_table(ws, frame)
    row = t.last_row + 2 if not t.empty else t.header_row + 1
    if t.empty:
        put_text(ws.cell(row=row, column=1), "No purchases in this plan.").font = NOTE_FONT
        return
    put_text(ws.cell(row=row, column=1), "Total, all placements")
    for name in ("servers", "chips"):
        put_formula(ws.cell(row=row, column=t.col(name)), f"=SUM({t.rng(name)})", "int")
    _bold_total(ws, row, range(1, len(PLACEMENT_COLUMNS) + 1))
