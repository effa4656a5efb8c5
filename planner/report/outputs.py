"""`write_all_reports(plan, out_dir)`: every report of one plan, each file written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.report.csvs import write_csvs
from planner.report.html import write_html_report
from planner.report.workbook import write_workbook

WORKBOOK_FILE = "plan.xlsx"
HTML_FILE = "report.html"


def write_all_reports(plan: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write `plan.xlsx`, `report.html` and `csv/*.csv` for a validated plan; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [write_workbook(plan, out / WORKBOOK_FILE), write_html_report(plan, out / HTML_FILE),
            *write_csvs(plan, out)]
