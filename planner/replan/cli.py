"""`planner replan SCENARIO --from RUN/plan.json --commit-through 2027Q2 --out DIR`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from planner.errors import EXIT_INFEASIBLE


def run_replan(args: argparse.Namespace) -> int:
    from planner.pipeline_cli import (
        _overrides,
        _progress,
        _summary_line,
        check_out_dir,
        check_overrides,
        write_run_folder,
    )
    from planner.replan.run import replan_scenario

    check_overrides(_overrides(args))
    out = Path(args.out)
    check_out_dir(out, args.force)  # as given: a link is refused before solving, not followed
    outcome = replan_scenario(args.scenario, args.previous, args.commit_through, _overrides(args), progress=_progress(not args.quiet),
                              sets=getattr(args, "sets", None) or None)
    write_run_folder(outcome, out, args.force)
    rp = outcome.plan["replan"]
    print(f"{_summary_line(outcome.plan)}\n{len(rp['committed_purchases'])} committed orders and "
          f"{len(rp.get('committed_leases') or [])} lease contracts kept, "
          f"{len(rp['changes'])} future orders and lease contracts changed ({rp['servers_changed']} servers, "
          f"penalty ${rp['change_penalty_usd']:,.0f})")
    for c in rp["changes"][:20]:
        where = f"leased from {c['order_quarter']}" if c.get("kind") == "lease" else f"at {c['site']}/{c['rack_type']}"
        print(f"  {c['order_quarter']} {c['chip']} {where}: {c['previous_servers']} -> {c['new_servers']} ({c['cause']})")
    print(f"wrote {out}/plan.json, plan.xlsx, report.html, csv/")
    if outcome.exit_code == EXIT_INFEASIBLE:
        print("no re-plan meets every limit; see the diagnosis in plan.json / the Summary sheet:", file=sys.stderr)
        from planner.pipeline_cli import print_diagnosis

        print_diagnosis(outcome.plan)
    return outcome.exit_code


def add_replan_parser(sub: argparse._SubParsersAction) -> None:
    from planner.pipeline_cli import _add_solver_flags

    p = sub.add_parser("replan", help="re-plan from a previous plan: committed orders fixed, the rest re-decided on the new forecast")
    p.add_argument("scenario", help="scenario YAML file (with the new forecast)")
    p.add_argument("--from", dest="previous", required=True, help="plan.json of the previous run")
    p.add_argument("--commit-through", required=True, help="last quarter whose orders are placed (fixed), e.g. 2027Q2")
    p.add_argument("--out", required=True, help="run folder to write")
    _add_solver_flags(p)
    p.set_defaults(func=run_replan)
