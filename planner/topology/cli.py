"""`planner topology SCENARIO --out DIR`: the fleet's graph, a picture and a per-rack summary."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from planner.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, InputError, PlannerError, Problem

#: rack problems printed (site limits always are); the rest are counted by check: each is a row of racks.csv
MAX_PRINTED = 50


def add_topology_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the `topology` subcommand."""
    p = subparsers.add_parser(
        "topology", help="draw the fleet's racks, servers and fabrics; check rack power, space and cooling",
        description="Build the topology graph of a scenario's sites and installed fleet (plus a plan's purchases) "
        "and write DIR/topology.graphml, DIR/topology.png and DIR/racks.csv. Rack problems are printed.",
    )
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory (created if missing)")
    p.add_argument("--purchases", type=Path, metavar="CSV",
                   help="a plan's purchases to install too: columns site_id, rack_type_id, chip_id, servers[, quarter]")
    p.add_argument("--plan", type=Path, metavar="PLAN_JSON",
                   help="draw what a plan (plan.json) has standing in every rack in one quarter instead of the fleet")
    p.add_argument("--quarter", help="with --plan: the quarter to draw (default: the plan's last)")
    p.add_argument("--strict", action="store_true", help="exit with code 2 when any rack check fails")
    p.set_defaults(func=run_topology)


def _run(args: argparse.Namespace) -> int:
    from planner.io.cli_flags import out_dir_problem
    from planner.io.loader import load_inputs  # imported here: the loader pulls in every input schema
    from planner.sweep import folder
    from planner.topology.installed import installed_from_fleet, read_purchases_csv
    from planner.topology.outputs import write_topology_outputs

    out_problem = out_dir_problem(args.out, "--out")
    if out_problem:  # before any work: a --out that cannot be a folder is the user's to fix (exit 2)
        raise InputError([out_problem])
    if args.quarter is not None and args.plan is None:
        raise InputError([Problem("command line", "--quarter", "--quarter picks the quarter of a plan to draw and "
                                  "needs --plan RUN/plan.json; without --plan the sites file's fleet is drawn")])
    folder.check_target(args.out, folder.TOPOLOGY, "", True)  # never writes over files it did not write
    print(f"Loading inputs from {args.scenario}")
    inputs = load_inputs(args.scenario)
    title = f"Topology of {inputs.scenario.name}"
    if args.plan:
        from planner.results.plan_io import read_plan
        from planner.topology.installed import installed_from_plan

        installed, quarter = installed_from_plan(read_plan(args.plan), args.quarter, args.plan.name or str(args.plan))
        title += f" (plan, {quarter})"
    else:
        sites_file = Path(getattr(inputs, "file_paths", {}).get("sites", "sites file")).name
        installed = installed_from_fleet(inputs.fleet, sites_file)
    if args.purchases:
        installed += read_purchases_csv(args.purchases)
    print(f"Building topology of {len(inputs.sites)} sites, {sum(e.servers for e in installed):,} servers")
    target = Path(os.path.abspath(args.out))
    # assembled in a hidden sibling folder and moved in whole (`planner.sweep.folder`, as compare and sweep): a run
    # that fails (a full disk) or is stopped leaves the earlier topology as it was, never a mix or a bare marker
    with folder.locked(target, folder.TOPOLOGY):
        for note in folder.recover(target, folder.TOPOLOGY):
            print(f"note: {note}", file=sys.stderr)
        folder.check_target(target, folder.TOPOLOGY, "", True)  # again: the folder may have changed while loading
        with folder.assembling(target, folder.TOPOLOGY, "", {"scenario": str(args.scenario)}) as tmp:
            out = write_topology_outputs(inputs.sites, inputs.chips, installed, tmp, title)
    for path in (out.graphml, out.picture, out.racks_csv):
        print(f"Wrote {target / path.name}")
    if out.violations:
        print(f"{len(out.violations)} rack problem{'s' if len(out.violations) != 1 else ''}:")
        racks = [v for v in out.violations if v.check != "site_power"]  # site limits are not rows of racks.csv
        for v in racks[:MAX_PRINTED] + [v for v in out.violations if v.check == "site_power"]:
            print(f"  - [{v.check}] {v.message}")
        if len(racks) > MAX_PRINTED:
            counts = Counter(v.check for v in racks[MAX_PRINTED:])
            print(f"  ... and {len(racks) - MAX_PRINTED:,} more rack problems ("
                  + ", ".join(f"{n:,} {check}" for check, n in counts.items()) + f"), each in {target / out.racks_csv.name}")
        return EXIT_BAD_INPUT if args.strict else EXIT_OK
    print("All racks within power, space and cooling limits.")
    return EXIT_OK


def run_topology(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit code and never lets a traceback reach the user."""
    try:
        return _run(args)
    except InputError as exc:
        from planner.cli import _one_line_each  # escaped, at most 100 lines per file

        print(_one_line_each(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except PlannerError as exc:
        print(f"topology: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the environment (a full disk, a folder made read-only meanwhile): exit 2, not a bug
        print(f"topology: cannot read or write {exc.filename or args.out}: {exc.strerror or exc}. Check the path, "
              "its permissions and the free disk space.", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # last resort: a message, not a traceback
        print(f"topology: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return EXIT_INTERNAL
