"""`planner report DIR`: rebuild plan.xlsx, report.html and csv/ from DIR/plan.json.

Nothing is re-solved. A bad plan.json exits with code 2 and the located problems; a folder that is not a
run folder (foreign files, a symlinked csv/) or a file that cannot be written exits with code 2 and names
the path; neither prints a traceback. The whole set is rebuilt in a temporary sibling folder and swapped in
at once (`planner.report.rebuild`), so a full disk never leaves a new workbook beside old HTML/CSV.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from planner.errors import EXIT_BAD_INPUT, EXIT_OK, InputError
from planner.results.plan_io import read_plan
from planner.results.reconcile import reconcile

__all__ = ["add_report_parser", "run_report", "write_all_reports"]

PLAN_FILE = "plan.json"


def write_all_reports(plan: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write plan.xlsx, report.html and csv/ for a validated plan (see `planner.report.outputs`)."""
    from planner.report import outputs  # heavy (openpyxl, matplotlib): loaded only when reports are written

    return outputs.write_all_reports(plan, out_dir)


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `report DIR` on an argparse subparsers object; sets `func=run_report`."""
    parser = subparsers.add_parser(
        "report", help="rebuild plan.xlsx, report.html and csv/ from DIR/plan.json (no re-solve)",
        description="Rebuild DIR/plan.xlsx, DIR/report.html and DIR/csv/ from DIR/plan.json without solving again.")
    parser.add_argument("dir", metavar="DIR", help="folder holding plan.json (the output folder of `planner plan`)")
    parser.set_defaults(func=run_report)
    return parser


def _write_failed(exc: OSError, where: Path) -> int:
    name = exc.filename or where
    print(f"error: cannot write {name}: {exc.strerror or exc}. Check that the folder is writable and that the "
          "file is not open in another program (Excel locks open workbooks).", file=sys.stderr)
    return EXIT_BAD_INPUT


def _warn(plan: dict[str, Any], label: str) -> None:
    for problem in reconcile(plan, label):
        print(f"warning: {problem}", file=sys.stderr)


def run_report(args: argparse.Namespace) -> int:
    """`planner report DIR`: exit 0 on success, 2 on a bad plan.json or a folder that is not a run folder."""
    folder = Path(args.dir)
    label = str(folder / PLAN_FILE)
    try:
        plan = read_plan(folder / PLAN_FILE, label=label)
    except InputError as exc:
        print(exc.report(), file=sys.stderr)
        return EXIT_BAD_INPUT
    _warn(plan, label)
    from planner.report.rebuild import rebuild_run_folder

    try:
        written = rebuild_run_folder(plan, folder, write_all_reports)
    except OSError as exc:
        return _write_failed(exc, folder)
    print(f"wrote {folder / written[0].name}, {written[1].name} and {len(written) - 2} CSV files in {folder / 'csv'}")
    return EXIT_OK
