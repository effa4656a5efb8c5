"""`planner sweep SCENARIO --param PATH=LO:HI:STEP ... --out DIR`: plan every point, write the sweep table."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from planner.errors import EXIT_BAD_INPUT, EXIT_OK, PlannerError

#: written into every sweep folder: only such a folder (or a new or empty one) is written into
SWEEP_MARKER = ".fleet-planner-sweep"


def run_sweep(args: argparse.Namespace) -> int:
    from planner.io.loader import load_inputs
    from planner.io.overrides import normalise_sets
    from planner.pipeline_cli import _overrides, check_overrides
    from planner.sweep.engine import progress_bar, run_points
    from planner.sweep.outputs import write_outputs
    from planner.sweep.params import parse_params, points

    check_overrides(_overrides(args))
    solver = {k: v for k, v in _overrides(args).items() if v is not None}
    base_sets = normalise_sets(args.sets, Path(args.scenario).name)
    load_inputs(args.scenario, base_sets or None)  # bad base inputs: one report, before any work
    params = parse_params(args.param)
    pts = [base_sets | p for p in points(params, args.samples, args.sample_seed)]
    workers = args.workers or min(2, os.cpu_count() or 1)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise PlannerError(f"--out {out} exists and is not a folder; choose another --out.", EXIT_BAD_INPUT)
    if out.is_dir() and any(out.iterdir()) and not (out / SWEEP_MARKER).is_file():
        raise PlannerError(f"--out {out} holds files that no sweep wrote (no {SWEEP_MARKER} marker); the sweep "
                           "would overwrite them. Choose a new or empty folder, or the folder of an earlier sweep to "
                           "resume it.", EXIT_BAD_INPUT)
    out.mkdir(parents=True, exist_ok=True)
    (out / SWEEP_MARKER).touch()
    print(f"sweep: {len(pts)} points, engine {args.engine}, {workers} worker(s)", file=sys.stderr)
    t0 = time.monotonic()
    rows = run_points(args.scenario, pts, solver, out, workers, args.engine, args.address, progress_bar(not args.quiet))
    minutes = (time.monotonic() - t0) / 60
    files = write_outputs(rows, [p.path for p in params], out)
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    fresh = sum(not r.get("cached") for r in rows)
    rate = f", {fresh / minutes:.1f} points/min" if fresh and minutes > 0 else ""
    print(f"{len(rows)} points ({fresh} planned, {len(rows) - fresh} cached{rate}): "
          + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    print("wrote " + ", ".join(str(f) for f in files))
    return EXIT_OK


def add_sweep_parser(sub: argparse._SubParsersAction) -> None:
    from planner.pipeline_cli import _add_solver_flags

    p = sub.add_parser("sweep", help="re-plan a scenario over a grid or sample of parameters; sweep.csv/.xlsx, charts")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--param", action="append", required=True, metavar="PATH=LO:HI:STEP|PATH=v1,v2",
                   help="a swept scenario path (repeatable), e.g. chip_terms.b200.discount_fraction=0:0.4:0.05")
    p.add_argument("--samples", type=int, help="sample N random points instead of the full grid")
    p.add_argument("--sample-seed", type=int, default=0, help="random seed of --samples (default 0)")
    p.add_argument("--workers", type=int, help="parallel plans (default: 2, at most the CPU count)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local process pool (default) or Ray tasks (pip install 'fleet-planner[ray]')")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--out", required=True, help="sweep folder (points/ cache, sweep.csv, sweep.xlsx, charts)")
    _add_solver_flags(p)
    p.set_defaults(func=run_sweep)


def run_breakeven(args: argparse.Namespace) -> int:
    from planner.io.overrides import normalise_sets
    from planner.pipeline_cli import _overrides, check_overrides
    from solvers.breakeven import find_breakeven

    check_overrides(_overrides(args))
    if args.out and Path(args.out).exists():  # checked before solving; never replace a file the planner did not write
        raise PlannerError(f"--out {args.out} already exists; choose a new file name or remove it first.", EXIT_BAD_INPUT)
    solver = {k: v for k, v in _overrides(args).items() if v is not None}
    sets = normalise_sets(args.sets, Path(args.scenario).name)
    say = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    results = []
    for chip in args.chip:
        be = find_breakeven(args.scenario, chip, sets, solver, progress=say)
        print(be.text())
        results.append(be.as_dict())
    if args.out:
        from planner.results.atomic import write_json_atomic

        write_json_atomic(Path(args.out), {"scenario": args.scenario, "breakeven": results})
        print(f"wrote {args.out}")
    return EXIT_OK  # an unverified break-even is still a result; its line says so


def add_breakeven_parser(sub: argparse._SubParsersAction) -> None:
    from planner.pipeline_cli import _add_solver_flags

    p = sub.add_parser("breakeven", help="server price at which a chip enters (or leaves) the plan, by re-solving")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--chip", action="append", required=True, help="chip id (repeatable)")
    p.add_argument("--out", help="write the results as JSON to this file")
    _add_solver_flags(p)
    p.set_defaults(func=run_breakeven)
