"""The 'Assumptions' sheet: every price, rate and policy the workbook's money cells are formulas of.

Blocks: general (hours per quarter, capex timing, depreciation policy, total budget), chips (price components,
list price = their sum, discount, net unit price = list x (1 - discount), kind, source, lead time, life, lease
rate), sites (USD/kWh, PUE), rack types (facility USD per rack-quarter), budgets by quarter, existing fleet.
`Lookups` hands other sheets the formulas that read these cells (conditional sums on a unique key, with the
EXACT fallback for labels SUMIF would misread).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openpyxl.worksheet.worksheet import Worksheet

from planner.report.xlsx_cells import (
    NOTE_FONT,
    TITLE_FONT,
    TableRange,
    put,
    put_formula,
    put_text,
    section,
    write_header,
)
from planner.report.xlsx_formulas import conditional_sum, criterion_safe, labels_need_exact, quote_sheet
from planner.schemas.chips import PRICE_COMPONENTS

SHEET = "Assumptions"
_Q = quote_sheet(SHEET)


@dataclass
class Lookups:
    """Absolute references into the Assumptions sheet, for formulas on other sheets."""

    general: dict[str, str] = field(default_factory=dict)  # key -> 'Assumptions'!$B$n
    chips: TableRange | None = None
    sites: TableRange | None = None
    rack_types: TableRange | None = None
    budgets: TableRange | None = None
    exact: dict[str, bool] = field(default_factory=dict)  # block -> labels need the EXACT fallback

    def _rng(self, table: TableRange | None, col: str) -> str:
        assert table is not None
        return f"{_Q}!{table.rng(col)}"

    def chip(self, column: str, key_cell: str) -> str:
        """Formula (without '=') of a chip's figure: column of the chips block, key cell holding the chip id."""
        if self.chips is None or self.chips.empty:
            return "0"
        return conditional_sum(self._rng(self.chips, column), [(self._rng(self.chips, "chip"), key_cell)],
                               self.exact.get("chips", False))[1:]

    def site(self, column: str, key_cell: str) -> str:
        if self.sites is None or self.sites.empty:
            return "0"
        return conditional_sum(self._rng(self.sites, column), [(self._rng(self.sites, "site"), key_cell)],
                               self.exact.get("sites", False))[1:]

    def rack_type(self, site_cell: str, rack_cell: str) -> str:
        if self.rack_types is None or self.rack_types.empty:
            return "0"
        t = self.rack_types
        return conditional_sum(self._rng(t, "facility_usd_per_quarter"),
                               [(self._rng(t, "site"), site_cell), (self._rng(t, "rack_type"), rack_cell)],
                               self.exact.get("rack_types", False))[1:]

    def budget(self, quarter_cell: str) -> str:
        if self.budgets is None or self.budgets.empty:
            return "0"
        return conditional_sum(self._rng(self.budgets, "budget_usd"), [(self._rng(self.budgets, "quarter"), quarter_cell)],
                               self.exact.get("budgets", False))[1:]


_GENERAL = (
    ("hours_per_quarter", "Hours per quarter", "number", "energy and leases are priced per hour"),
    ("capex_timing", "Capex cash counts in the", "text", "'order' or 'delivery' quarter (policy.capex_timing)"),
    ("method", "Depreciation method", "text", "straight line from the delivery quarter over the chip's life"),
    ("salvage_fraction", "Salvage fraction", "pct", "value left at the end of life, share of cost"),
    ("resale_fraction_of_book_value", "Resale fraction of book value", "pct",
     "what hardware fetches at the horizon's end, share of its net book value (an assumption)"),
    ("budget_usd_total", "Capex budget over the horizon (USD)", "usd", "policy.capex_budget_usd_total"),
    ("objective", "Objective", "text", "policy.objective"),
)


def _block(ws: Worksheet, row: int, title: str, names: list[str], headings: list[str]) -> TableRange:
    section(ws, row, title)
    write_header(ws, row + 1, 1, headings)
    return TableRange(row + 1, row + 2, row + 1, {n: i + 1 for i, n in enumerate(names)})


def _components(chips: list[dict[str, Any]]) -> list[str]:
    seen = {name for c in chips for name in (c.get("price_components") or {})}
    return [n for n in PRICE_COMPONENTS if n in seen] + sorted(seen - set(PRICE_COMPONENTS))


def write_assumptions_sheet(ws: Worksheet, assumptions: dict[str, Any]) -> Lookups:
    """Fill the Assumptions sheet from `finance.assumptions`; returns where everything is."""
    put_text(ws.cell(row=1, column=1), "Assumptions").font = TITLE_FONT
    put_text(ws.cell(row=2, column=1), "Every money figure in this workbook is a live formula of the cells on this "
                                       "sheet: change a price here and the orders, schedule and totals follow.").font = NOTE_FONT
    look = Lookups()
    chips = list(assumptions.get("chips") or [])
    sites = list(assumptions.get("sites") or [])
    racks = list(assumptions.get("rack_types") or [])
    budgets = dict(assumptions.get("budget_usd_by_quarter") or {})
    pairs = [(str(r["site"]), str(r["rack_type"])) for r in racks]
    look.exact = {
        "chips": labels_need_exact([str(c["chip"]) for c in chips]),
        "sites": labels_need_exact([str(s["site"]) for s in sites]),
        # a rack type id repeats across sites: the (site, rack type) pair is the key
        "rack_types": labels_need_exact(["\x00".join(p) for p in pairs]) or not all(
            criterion_safe(s) and criterion_safe(r) for s, r in pairs),
        "budgets": labels_need_exact([str(q) for q in budgets]),
    }

    row = 4
    section(ws, row, "General")
    write_header(ws, row + 1, 1, ["Item", "Value", "Note"])
    dep = assumptions.get("depreciation") or {}
    r = row + 2
    for key, label, kind, note in _GENERAL:
        put_text(ws.cell(row=r, column=1), label)
        put(ws.cell(row=r, column=2), dep.get(key) if key in dep else assumptions.get(key), kind)
        put_text(ws.cell(row=r, column=3), note).font = NOTE_FONT
        look.general[key] = f"{_Q}!$B${r}"
        r += 1

    comps = _components(chips)
    names = ["chip", "vendor", "name", "purchasable", *[f"c:{c}" for c in comps], "list_price_usd",
             "discount_fraction", "unit_price_usd", "price_kind", "price_source", "lead_time_quarters",
             "lifetime_quarters", "method", "salvage_fraction", "resale_fraction", "lease_usd_per_chip_hour",
             "chips_per_server"]
    headings = ["Chip", "Vendor", "Name", "Purchasable", *[f"{c.replace('_', ' ').capitalize()} (USD)" for c in comps],
                "List price (USD per server)", "Discount", "Net unit price (USD per server)", "Price kind",
                "Price source", "Lead time (quarters)", "Life (quarters)", "Depreciation method", "Salvage fraction",
                "Resale fraction of book value", "Lease (USD per chip-hour)", "Chips per server"]
    t = _block(ws, r + 1, "Chips: price of one purchasable server or system, USD", names, headings)
    for i, c in enumerate(chips):
        rr = t.first_row + i
        col = t.columns
        put_text(ws.cell(row=rr, column=col["chip"]), c["chip"])
        put_text(ws.cell(row=rr, column=col["vendor"]), c.get("vendor") or "")
        put_text(ws.cell(row=rr, column=col["name"]), c.get("name") or "")
        put(ws.cell(row=rr, column=col["purchasable"]), bool(c.get("purchasable", c.get("unit_price_usd") is not None)))
        parts = c.get("price_components") or {}
        for comp in comps:
            put(ws.cell(row=rr, column=col[f"c:{comp}"]), parts.get(comp), "usd")
        if c.get("unit_price_usd") is not None:
            if parts:  # list price = the sum of the component cells (components exist whenever a chip has parts)
                span = f"{t.letter(f'c:{comps[0]}')}{rr}:{t.letter(f'c:{comps[-1]}')}{rr}"
                put_formula(ws.cell(row=rr, column=col["list_price_usd"]), f"=SUM({span})", "usd")
            else:
                put(ws.cell(row=rr, column=col["list_price_usd"]), c.get("list_price_usd", c["unit_price_usd"]), "usd")
            put(ws.cell(row=rr, column=col["discount_fraction"]), c.get("discount_fraction") or 0.0, "pct")
            put_formula(ws.cell(row=rr, column=col["unit_price_usd"]),
                        f"={t.letter('list_price_usd')}{rr}*(1-{t.letter('discount_fraction')}{rr})", "usd")
        put_text(ws.cell(row=rr, column=col["price_kind"]), c.get("price_kind") or "")
        put_text(ws.cell(row=rr, column=col["price_source"]), c.get("price_source") or "")
        put(ws.cell(row=rr, column=col["lead_time_quarters"]), c.get("lead_time_quarters"), "int")
        put(ws.cell(row=rr, column=col["lifetime_quarters"]), c.get("lifetime_quarters"), "int")
        put_formula(ws.cell(row=rr, column=col["method"]), f"={look.general['method']}", "text")
        put_formula(ws.cell(row=rr, column=col["salvage_fraction"]), f"={look.general['salvage_fraction']}", "pct")
        put_formula(ws.cell(row=rr, column=col["resale_fraction"]), f"={look.general['resale_fraction_of_book_value']}", "pct")
        put(ws.cell(row=rr, column=col["lease_usd_per_chip_hour"]), c.get("lease_usd_per_chip_hour"), "usd_cents")
        put(ws.cell(row=rr, column=col["chips_per_server"]), c.get("chips_per_server"), "int")
    t.last_row = t.first_row + len(chips) - 1
    look.chips = t
    r = max(t.last_row, t.first_row) + 2

    t = _block(ws, r, "Sites", ["site", "usd_per_kwh", "pue"], ["Site", "Electricity (USD per kWh)", "PUE"])
    for i, s in enumerate(sites):
        put_text(ws.cell(row=t.first_row + i, column=1), s["site"])
        put(ws.cell(row=t.first_row + i, column=2), s["usd_per_kwh"], "usd_small")
        put(ws.cell(row=t.first_row + i, column=3), s["pue"], "number")
    t.last_row = t.first_row + len(sites) - 1
    look.sites = t
    r = max(t.last_row, t.first_row) + 2

    t = _block(ws, r, "Rack types", ["site", "rack_type", "facility_usd_per_quarter"],
               ["Site", "Rack type", "Facility (USD per occupied rack-quarter)"])
    for i, x in enumerate(racks):
        put_text(ws.cell(row=t.first_row + i, column=1), x["site"])
        put_text(ws.cell(row=t.first_row + i, column=2), x["rack_type"])
        put(ws.cell(row=t.first_row + i, column=3), x["facility_usd_per_quarter"], "usd")
    t.last_row = t.first_row + len(racks) - 1
    look.rack_types = t
    r = max(t.last_row, t.first_row) + 2

    t = _block(ws, r, "Capex budgets by quarter", ["quarter", "budget_usd"], ["Quarter", "Budget (USD)"])
    for i, (q, usd) in enumerate(budgets.items()):
        put_text(ws.cell(row=t.first_row + i, column=1), q)
        put(ws.cell(row=t.first_row + i, column=2), usd, "usd")
    t.last_row = t.first_row + len(budgets) - 1
    look.budgets = t
    if not budgets:
        put_text(ws.cell(row=t.first_row, column=1), "No quarterly capex budget.").font = NOTE_FONT
    return look
