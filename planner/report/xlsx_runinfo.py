"""The 'Run info' sheet: what was solved, how, with which versions, from which input files (hashes)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from openpyxl.worksheet.worksheet import Worksheet

from planner.report.xlsx_cells import fit_columns, put, put_text, section, write_header, write_table
from planner.results.summary import objective_of


def _pairs(plan: dict[str, Any]) -> list[tuple[str, Any, str]]:
    solver, run = plan.get("solver") or {}, plan.get("run") or {}
    obj = objective_of(plan)
    rows: list[tuple[str, Any, str]] = [
        ("Scenario", plan.get("scenario"), "text"),
        ("Status", plan.get("status"), "text"),
        ("Solver status (raw)", solver.get("raw_status"), "text"),
        (obj.label, obj.value, obj.kind),
        (f"Best bound ({obj.unit})", plan.get("best_bound_usd"), obj.kind),
        ("Optimality gap", plan.get("mip_gap"), "pct"),
        ("Gap target", solver.get("mip_gap_target"), "pct"),
        ("Solver", f"{solver.get('name', '')} {solver.get('version') or ''}".strip(), "text"),
        ("Time limit (s)", solver.get("time_limit_s"), "seconds"),
        ("Threads", solver.get("threads"), "int"),
        ("Random seed", solver.get("seed"), "int"),
        ("Model build time (s)", solver.get("build_seconds"), "seconds"),
        ("Solve time (s)", solver.get("solve_seconds"), "seconds"),
        ("Started (UTC)", run.get("started_utc"), "text"),
        ("Finished (UTC)", run.get("finished_utc"), "text"),
        ("Planner version", run.get("planner_version"), "text"),
        ("Schema version", plan.get("schema_version"), "int"),
    ]
    rows += [(f"Version of {name}", version, "text") for name, version in (run.get("versions") or {}).items()]
    rows += [(f"Stage '{stage}' (s)", secs, "seconds") for stage, secs in (run.get("stage_seconds") or {}).items()]
    return rows


def write_run_sheet(ws: Worksheet, plan: dict[str, Any], inputs: pd.DataFrame) -> None:
    """Key/value run facts, then the input files with their SHA-256."""
    section(ws, 1, "Run")
    write_header(ws, 2, 1, ["Item", "Value"])
    pairs = _pairs(plan)
    for i, (label, value, kind) in enumerate(pairs):
        put_text(ws.cell(row=3 + i, column=1), label)
        put(ws.cell(row=3 + i, column=2), value, kind)
    row = 4 + len(pairs)
    section(ws, row, "Input files")
    write_table(ws, inputs, start_row=row + 1, freeze=False, autofilter=False)
    fit_columns(ws, maximum=70)
