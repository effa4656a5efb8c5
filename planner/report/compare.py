"""`write_comparison(plans, out_dir)`: `comparison.xlsx` and `comparison.html`, one column per scenario.

The first plan is the base: for every other scenario the workbook adds the absolute difference and the
percentage difference against it, as live formulas.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from planner.finance.schedule import SCHEDULE_COLUMNS
from planner.report import charts
from planner.report.html_parts import cell, esc, image, page
from planner.report.xlsx_cells import (
    NOTE_FONT,
    TITLE_FONT,
    fit_columns,
    put,
    put_formula,
    put_text,
    write_header,
    write_table,
)
from planner.results.atomic import atomic_write
from planner.results.comparison import CompareRow, comparison_rows, scenario_names


def _workbook(plans: list[dict[str, Any]]) -> Workbook:
    names, rows = scenario_names(plans), comparison_rows(plans)
    wb = Workbook()
    ws = wb.active
    ws.title = "Comparison"
    put_text(ws.cell(row=1, column=1), "Scenario comparison").font = TITLE_FONT
    put_text(ws.cell(row=2, column=1), f"Differences are against the first scenario, {names[0]}.").font = NOTE_FONT
    n = len(names)
    headings = ["Figure", *names]
    for other in names[1:]:
        headings += [f"{other} minus {names[0]}", f"{other} vs {names[0]} (%)"]
    header = 4
    write_header(ws, header, 1, headings)
    for i, row in enumerate(rows):
        r = header + 1 + i
        put_text(ws.cell(row=r, column=1), row.label)
        for j, value in enumerate(row.values):
            put(ws.cell(row=r, column=2 + j), value, row.kind)
        base = f"$B{r}"
        for j in range(1, n):
            col = 2 + n + 2 * (j - 1)
            if row.delta(j) is None:
                continue
            other = f"{get_column_letter(2 + j)}{r}"
            put_formula(ws.cell(row=r, column=col), f"={other}-{base}", row.kind)
            if row.delta_pct(j) is not None:
                put_formula(ws.cell(row=r, column=col + 1), f"=({other}-{base})/ABS({base})", "pct")
    ws.freeze_panes = ws.cell(row=header + 1, column=2)
    ws.column_dimensions["A"].width = 34
    for c in range(2, len(headings) + 1):
        ws.column_dimensions[get_column_letter(c)].width = 20
    ws.page_setup.orientation = "landscape"
    _schedule_sheet(wb.create_sheet("Schedule"), plans, names)
    return wb


def _schedule_sheet(ws: Any, plans: list[dict[str, Any]], names: list[str]) -> None:
    """Every scenario's finance schedule (cash, depreciation, net book value per quarter), one tidy table."""
    rows = [{"scenario": name, **{c: r.get(c) for c in SCHEDULE_COLUMNS}}
            for name, plan in zip(names, plans, strict=True) for r in (plan.get("finance") or {}).get("schedule") or []]
    t = write_table(ws, pd.DataFrame(rows, columns=["scenario", *SCHEDULE_COLUMNS]))
    if t.empty:
        put_text(ws.cell(row=2, column=1), "No plan here has a finance schedule (written by an older planner).").font = NOTE_FONT
    fit_columns(ws)


def _html(plans: list[dict[str, Any]]) -> str:
    names, rows = scenario_names(plans), comparison_rows(plans)
    head = ["Figure", *names] + [h for o in names[1:] for h in (f"{o} minus {names[0]}", f"{o} vs {names[0]}")]
    body = []
    for row in rows:
        cells = [f"<td>{esc(row.label)}</td>"] + [cell(v, row.kind) for v in row.values]
        for j in range(1, len(names)):
            cells += [cell(row.delta(j), row.kind), cell(row.delta_pct(j), "pct")]
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = ("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"
             + "".join(body) + "</tbody></table>")
    by_key: dict[str, CompareRow] = {r.key: r for r in rows}
    parts = {label: [float(v) if isinstance(v, int | float) else 0.0 for v in by_key[key].values]
             for key, label in (("capex_usd", "Capex"), ("energy_usd", "Energy"), ("facility_usd", "Facility"),
                                ("residual_value_usd", "Residual value"))}
    tco = [float(v) if isinstance(v, int | float) else None for v in by_key["tco_usd"].values]
    chart = image(charts.cost_split_chart(names, parts, tco), "Cost of ownership split by scenario",
                  "Capex, energy and facility cost stacked; residual value deducted below zero; diamond = TCO")
    intro = f'<p class="sub">Differences are against the first scenario, {esc(names[0])}.</p>'
    return page("Scenario comparison", f"<h1>Scenario comparison</h1>{intro}{chart}"
                                       f'<div class="scroll">{table}</div>')


def write_comparison(plans: list[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write `comparison.xlsx` and `comparison.html` for validated plans (first = base); returns the paths."""
    if not plans:
        raise ValueError("write_comparison needs at least one plan")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    _workbook(plans).save(buffer)
    text = _html(plans)
    xlsx, html_path = out / "comparison.xlsx", out / "comparison.html"
    with atomic_write(xlsx, "wb") as fh:
        fh.write(buffer.getvalue())
    with atomic_write(html_path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    return [xlsx, html_path]
