"""Write a plan's run folder (plan.json, plan.xlsx, report.html, csv/) as one atomic set.

Its own module so the CLI (`planner.pipeline_cli`) and the Python API (`planner.api`) share it without
importing each other.
"""

from __future__ import annotations

from pathlib import Path

from planner.errors import EXIT_BAD_INPUT, PlannerError
from planner.pipeline import PlanOutcome


def write_run_folder(outcome: PlanOutcome, out_dir: Path, force: bool) -> None:
    """Write plan.json, plan.xlsx, report.html, csv/ (and perf_fit.json: the performance correction's fit report
    with the residuals of the scenario's own measurements) into a temp folder, then move it to `out_dir`.

    See `planner.results.run_folder` for what may be replaced and how a stopped run is recovered.
    """
    from planner.interrupts import stop_if_requested
    from planner.report.outputs import write_all_reports  # openpyxl/matplotlib load only when writing

    stop_if_requested()  # a solver that swallowed Ctrl-C/SIGTERM returned a cut-short plan: never write it
    from planner.results.atomic import write_json_atomic
    from planner.results.run_folder import assembling

    try:
        with assembling(out_dir, force) as tmp:
            write_json_atomic(tmp / "plan.json", outcome.plan)
            if outcome.perf_fit:
                write_json_atomic(tmp / "perf_fit.json", outcome.perf_fit)
            write_all_reports(outcome.plan, tmp)
    except OSError as exc:
        raise PlannerError(f"cannot write the run folder {out_dir}: {exc.strerror or exc}"
                           f"{' (' + str(exc.filename) + ')' if exc.filename else ''}. Free disk space or choose "
                           "another --out.", EXIT_BAD_INPUT) from None
