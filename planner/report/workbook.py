"""`write_workbook(plan, path)`: the plan as an Excel workbook a planning team can sign.

Sheets: Summary, Purchase orders, Placement, Schedule, Assumptions, Fixed assets, Energy, Facility, Leases,
Capacity, Power, Deployments, Racks, Options, Binding, Diagnosis, Run info. Every money cell is a live formula
of the Assumptions sheet; totals reconcile with plan.json; input text is always literal text.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from planner.report import xlsx_schedule as money
from planner.report.xlsx_assumptions import SHEET as ASSUMPTIONS_SHEET
from planner.report.xlsx_assumptions import Lookups, write_assumptions_sheet
from planner.report.xlsx_cells import NOTE_FONT, fit_columns, put_text, write_table
from planner.report.xlsx_orders import PLACEMENT, write_orders_sheet, write_placement_sheet
from planner.report.xlsx_orders import SHEET as ORDERS_SHEET
from planner.report.xlsx_runinfo import write_run_sheet
from planner.report.xlsx_summary import SHEET as SUMMARY_SHEET
from planner.report.xlsx_summary import write_summary_sheet
from planner.report.xlsx_trends import write_capacity_sheet, write_power_sheet
from planner.results.atomic import atomic_write
from planner.results.reconcile import reconcile
from planner.results.tables import plan_tables

#: Sheet order; the plain table sheets map to their table name.
SHEETS = (SUMMARY_SHEET, ORDERS_SHEET, PLACEMENT, money.SHEET, ASSUMPTIONS_SHEET, money.ASSETS, money.ENERGY,
          money.FACILITY, money.LEASES, "Capacity", "Power", "Deployments", "Racks", "Options", "Binding",
          "Diagnosis", "Run info")
_MONEY_SHEETS = (money.SHEET, ASSUMPTIONS_SHEET, money.ASSETS, money.ENERGY, money.FACILITY, money.LEASES)
NO_FINANCE = ("This plan.json has no finance block (it was written by an older planner), so there is no schedule: "
              "re-run `planner plan` to get one. Purchase orders show the prices written on the plan's lines.")
_PLAIN = {"Deployments": "deployments", "Racks": "racks", "Options": "options", "Binding": "binding",
          "Diagnosis": "diagnosis"}


def _print_setup(ws: Worksheet) -> None:
    """Landscape, one page wide, header row repeated: printable without fiddling."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "&A - page &P of &N"
    if ws.freeze_panes == "A2":
        ws.print_title_rows = "1:1"


def build_workbook(plan: dict[str, Any]) -> Workbook:
    """The workbook of a validated plan, in memory."""
    tables = plan_tables(plan)
    quarters = list((plan.get("horizon") or {}).get("quarters") or [])
    wb = Workbook()
    sheets = {name: (wb.active if i == 0 else wb.create_sheet()) for i, name in enumerate(SHEETS)}
    for name, ws in sheets.items():
        ws.title = name
    finance = plan.get("finance") or {}
    schedule = None
    if finance.get("assumptions"):
        look = write_assumptions_sheet(sheets[ASSUMPTIONS_SHEET], finance["assumptions"])
        orders = write_orders_sheet(sheets[ORDERS_SHEET], plan, look)
        order_src = money.Source(ORDERS_SHEET, orders.table)
        leases, lease_after = money.write_leases_sheet(sheets[money.LEASES], plan, look)
        sources = [money.write_energy_sheet(sheets[money.ENERGY], plan, look),
                   money.write_facility_sheet(sheets[money.FACILITY], plan, look), leases,
                   money.write_assets_sheet(sheets[money.ASSETS], plan, finance.get("assets") or [], look)]
        schedule = money.write_schedule_sheet(sheets[money.SHEET], plan, look, order_src, *sources, lease_after)
    else:
        orders = write_orders_sheet(sheets[ORDERS_SHEET], plan, Lookups())
        for name in _MONEY_SHEETS:
            put_text(sheets[name].cell(row=1, column=1), NO_FINANCE).font = NOTE_FONT
    write_placement_sheet(sheets[PLACEMENT], plan)
    write_summary_sheet(sheets[SUMMARY_SHEET], plan, orders, reconcile(plan), schedule)
    write_capacity_sheet(sheets["Capacity"], tables["capacity"], quarters)
    write_power_sheet(sheets["Power"], tables["power"], quarters)
    for sheet, table in _PLAIN.items():
        write_table(sheets[sheet], tables[table])
    write_run_sheet(sheets["Run info"], plan, tables["inputs"])
    if plan.get("candidates"):  # why this chip and not that one (solvers.candidates_explain)
        import pandas as pd

        sheets["Candidates"] = wb.create_sheet("Candidates", index=SHEETS.index("Binding"))
        write_table(sheets["Candidates"], pd.DataFrame(plan["candidates"]))
    for name, ws in sheets.items():
        if name not in (SUMMARY_SHEET, "Run info"):  # those two size their own columns
            fit_columns(ws)
        _print_setup(ws)
    wb.active = 0
    return wb


def write_workbook(plan: dict[str, Any], path: str | Path) -> Path:
    """Write the workbook of a validated plan to `path` atomically; returns the path."""
    buffer = io.BytesIO()
    build_workbook(plan).save(buffer)  # build fully before touching the destination
    with atomic_write(path, "wb") as fh:
        fh.write(buffer.getvalue())
    return Path(path)
