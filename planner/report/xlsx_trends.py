"""The 'Capacity' and 'Power' sheets: the tables, a by-quarter pivot under each, and native line charts."""

from __future__ import annotations

import pandas as pd
from openpyxl.chart import LineChart, Reference, Series
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from planner.report.xlsx_cells import NOTE_FONT, TableRange, put, put_text, section, write_header, write_table

MAX_WORKLOAD_CHARTS = 8
CHART_ROWS = 16  # rows between the tops of stacked charts (a 7.5 cm chart spans about 14 rows)
COLOURS = ("1F4E78", "E07B39", "5B9E4D", "8064A2", "C0504D", "4BACC6", "9C8B3C", "7F7F7F")


def _series(ref: Reference, title: str, colour: str, dashed: bool = False) -> Series:
    """A straight (not smoothed) line series with a fixed colour."""
    series = Series(ref, title=title)
    series.smooth = False
    series.graphicalProperties.line.solidFill = colour
    series.graphicalProperties.line.width = 22000  # EMU, about 1.75 pt
    if dashed:
        series.graphicalProperties.line.dashStyle = "dash"
    return series


def _line_chart(title: str, y_title: str, fmt: str) -> LineChart:
    chart = LineChart()
    chart.title = title
    chart.y_axis.title = y_title
    chart.y_axis.numFmt = fmt
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.height, chart.width = 7.5, 16
    return chart


def _pivot(ws: Worksheet, row: int, frame: pd.DataFrame, key: str, measures: list[tuple[str, str, str]],
           quarters: list[str], title: str) -> tuple[int, list[str], dict[tuple[str, str], int]]:
    """Quarters down, (item, measure) across, values copied from the table.

    Returns (header row, items, column of each (item, measure)).
    """
    section(ws, row, title)
    header = row + 1
    items = sorted({str(v) for v in frame[key]})
    columns: dict[tuple[str, str], int] = {}
    headings = ["Quarter"]
    for item in items:
        for measure, label, _ in measures:
            columns[(item, measure)] = len(headings) + 1
            headings.append(f"{item}: {label}")
    write_header(ws, header, 1, headings)
    by = {(str(r[key]), str(r["quarter"])): r for r in frame.to_dict("records")}
    for i, quarter in enumerate(quarters):
        r = header + 1 + i
        put_text(ws.cell(row=r, column=1), quarter)
        for item in items:
            rec = by.get((item, quarter))
            for measure, _, kind in measures:
                value = rec.get(measure) if rec else None
                put(ws.cell(row=r, column=columns[(item, measure)]), None if pd.isna(value) else value, kind)
    return header, items, columns


def _quarters(plan_quarters: list[str], frame: pd.DataFrame) -> list[str]:
    return sorted(set(plan_quarters) | {str(q) for q in frame["quarter"]})


def write_capacity_sheet(ws: Worksheet, capacity: pd.DataFrame, plan_quarters: list[str]) -> None:
    """Demand vs required vs served per workload and quarter, with one chart per workload."""
    t = write_table(ws, capacity, formulas={"served_share": ("pct", lambda r, tb: (
        f"=IF({tb.letter('required_tokens_per_s')}{r}=0,1,"
        f"{tb.letter('served_tokens_per_s')}{r}/{tb.letter('required_tokens_per_s')}{r})"))})
    if t.empty:
        put_text(ws.cell(row=2, column=1), "No capacity figures in this plan.").font = NOTE_FONT
        return
    quarters = _quarters(plan_quarters, capacity)
    measures = [("demand_tokens_per_s", "demand", "tokens"), ("required_tokens_per_s", "required", "tokens"),
                ("served_tokens_per_s", "served", "tokens")]
    header, items, cols = _pivot(ws, t.last_row + 3, capacity, "workload", measures, quarters,
                                 "Demand, required and served by quarter (tokens/s)")
    cats = Reference(ws, min_col=1, min_row=header + 1, max_row=header + len(quarters))
    first_chart_row = header + len(quarters) + 2  # charts go under the pivot: the sheet prints one page wide
    for i, item in enumerate(items[:MAX_WORKLOAD_CHARTS]):
        chart = _line_chart(f"{item}: capacity vs demand", "tokens/s", "#,##0")
        for (measure, label, _), colour in zip(measures, ("7F7F7F", "E07B39", "1F4E78"), strict=True):
            c = cols[(item, measure)]
            ref = Reference(ws, min_col=c, min_row=header + 1, max_row=header + len(quarters))
            chart.series.append(_series(ref, label.capitalize(), colour, dashed=measure == "demand_tokens_per_s"))
        chart.set_categories(cats)
        ws.add_chart(chart, f"A{first_chart_row + CHART_ROWS * i}")
        if i % 2 == 0:  # printed two charts to a page, never cut in half
            ws.row_breaks.append(Break(id=first_chart_row + CHART_ROWS * i - 1))
    if len(items) > MAX_WORKLOAD_CHARTS:
        put_text(ws.cell(row=t.last_row + 2, column=1),
                 f"Charts show the first {MAX_WORKLOAD_CHARTS} workloads; the HTML report shows all.").font = NOTE_FONT


def write_power_sheet(ws: Worksheet, power: pd.DataFrame, plan_quarters: list[str]) -> None:
    """IT and facility power per site and quarter against the cap, with a chart of IT power vs cap."""
    def headroom(r: int, tb: TableRange) -> str:
        cap, it = tb.letter("cap_kw"), tb.letter("it_power_kw")
        return f'=IF({cap}{r}="","",{cap}{r}-{it}{r})'

    def utilisation(r: int, tb: TableRange) -> str:
        cap, it = tb.letter("cap_kw"), tb.letter("it_power_kw")
        return f'=IF(N({cap}{r})=0,"",{it}{r}/{cap}{r})'

    t = write_table(ws, power, formulas={"headroom_kw": ("kw", headroom), "utilisation": ("pct", utilisation)})
    if t.empty:
        put_text(ws.cell(row=2, column=1), "No power figures in this plan.").font = NOTE_FONT
        return
    quarters = _quarters(plan_quarters, power)
    measures = [("it_power_kw", "IT power (kW)", "kw"), ("cap_kw", "cap (kW)", "kw")]
    header, items, cols = _pivot(ws, t.last_row + 3, power, "site", measures, quarters,
                                 "IT power and cap by quarter (kW)")
    chart = _line_chart("IT power per site vs cap", "kW", "#,##0")
    for i, item in enumerate(items):
        for measure, label, _ in measures:
            ref = Reference(ws, min_col=cols[(item, measure)], min_row=header + 1, max_row=header + len(quarters))
            chart.series.append(_series(ref, f"{item} {label.split(' (')[0]}", COLOURS[i % len(COLOURS)],
                                        dashed=measure == "cap_kw"))
    chart.set_categories(Reference(ws, min_col=1, min_row=header + 1, max_row=header + len(quarters)))
    ws.add_chart(chart, f"A{header + len(quarters) + 2}")
    ws.row_breaks.append(Break(id=header + len(quarters) + 1))
