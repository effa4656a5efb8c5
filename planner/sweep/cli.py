"""`planner sweep SCENARIO --param PATH=LO:HI:STEP ... --out DIR`: plan every point, write the sweep table."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from planner.errors import EXIT_BAD_INPUT, EXIT_OK, InputError, PlannerError, Problem, worst_outcome
from planner.sweep import FINAL_STATUSES, MAX_POINTS, MAX_WORKERS

#: the manifest of every sweep folder (planner.sweep.folder): only such a folder (or a new or empty one) is written
SWEEP_MARKER = ".fleet-planner-sweep"
#: exit codes of a sweep stopped by a signal: 128 + the signal number, as shells report it
EXIT_SIGINT, EXIT_SIGTERM = 130, 143
#: at most this many points that did not serve every demand row are named on stderr (the table has them all)
MAX_FAILED_SHOWN = 10


class _Stopper:
    """SIGINT/SIGTERM handler of a sweep: records the signal; raises `KeyboardInterrupt` only when `raise_now`
    (while the tables are written: plain Python whose temp folder is removed on the way out). While points are
    planned the engine polls `is_set` instead, so a signal never lands inside the process pool's machinery."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.raise_now = False
        self._previous: dict[int, Any] = {}

    def __call__(self, signum: int, frame: object) -> None:
        self.signum = signum
        if self.raise_now:
            raise KeyboardInterrupt

    def is_set(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> _Stopper:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def exit_code(self) -> int:
        import signal

        return EXIT_SIGTERM if self.signum == signal.SIGTERM else EXIT_SIGINT

    def name(self) -> str:
        import signal

        return signal.Signals(self.signum).name if self.signum else "signal"


def _identity(scenario: str, pts: list[dict[str, Any]], keys: list[str | None], params: list[str]) -> str:
    """What a sweep folder holds: its parameters, points and every point's full-input key (planner included)."""
    blob = json.dumps({"scenario": str(Path(scenario).resolve()), "params": params, "points": pts, "keys": keys},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def run_sweep(args: argparse.Namespace) -> int:
    with _Stopper() as stop:  # from the start: a signal during loading also exits 143/130 with a true message
        return _run_sweep(args, stop)


def _run_sweep(args: argparse.Namespace, stop: _Stopper) -> int:
    from planner.io.loader import load_inputs
    from planner.io.overrides import normalise_sets
    from planner.pipeline_cli import _overrides, check_overrides
    from planner.sweep import folder
    from planner.sweep.engine import Stopped, point_exit_code, point_keys, progress_bar, run_points
    from planner.sweep.params import parse_params, points

    check_overrides(_overrides(args))
    solver = {k: v for k, v in _overrides(args).items() if v is not None}
    base_sets = normalise_sets(args.sets, Path(args.scenario).name)
    load_inputs(args.scenario, base_sets or None)  # bad base inputs: one report, before any work
    params = parse_params(args.param, base_sets)
    pts = [base_sets | p for p in points(params, args.samples, args.sample_seed)]
    workers = args.workers or min(2, os.cpu_count() or 1)
    out = Path(os.path.abspath(args.out))
    names = [p.path for p in params]
    folder.check_target(out, folder.SWEEP, "", True)  # foreign files, links: refused before any work
    if stop.is_set():
        print(f"stopped by {stop.name()} before any point was planned; nothing was written.", file=sys.stderr)
        return stop.exit_code()
    with folder.locked(out, folder.SWEEP):
        for note in folder.recover(out, folder.SWEEP):
            print(f"note: {note}", file=sys.stderr)
        try:
            keys = point_keys(args.scenario, pts, solver, stop.is_set)
        except Stopped:
            print(f"stopped by {stop.name()} before any point was planned; nothing was written.", file=sys.stderr)
            return stop.exit_code()
        identity = _identity(args.scenario, pts, keys, names)
        info = {"scenario": args.scenario, "params": list(args.param), "points": len(pts)}
        previous = folder.check_target(out, folder.SWEEP, identity, args.force)
        kept = (f"the previous tables in {out} are unchanged" if previous and previous.get("files")
                else f"no tables were written in {out}")
        try:
            folder.start_folder(out, folder.SWEEP, identity, info)
        except OSError as exc:
            raise PlannerError(f"cannot create --out {out}: {exc.strerror or exc}; choose another --out.",
                               EXIT_BAD_INPUT) from None
        print(f"sweep: {len(pts)} points, engine {args.engine}, {workers} worker(s)", file=sys.stderr)
        t0 = time.monotonic()
        try:
            rows = run_points(args.scenario, pts, solver, out, workers, args.engine, args.address,
                              progress_bar(not args.quiet), stop=stop.is_set, keys=keys,
                              swept=tuple(names))
        except Stopped as s:
            left = s.total - s.planned - s.cached
            print(f"\nstopped by {stop.name()}: {s.planned} point(s) planned in this run (proven results cached in "
                  f"{out / 'points'}),"
                  f" {s.cached} cached before, {left} not planned; {kept}. Run the same command again to "
                  "resume.", file=sys.stderr)
            return stop.exit_code()
        except OSError as exc:
            raise PlannerError(f"cannot write the point cache in {out / 'points'}: {exc.strerror or exc}. Free "
                               f"disk space or choose another --out; {kept}.", EXIT_BAD_INPUT) from None
        minutes = (time.monotonic() - t0) / 60
        n_final = sum(r["status"] in FINAL_STATUSES for r in rows)
        in_cache = f"{n_final} of the {len(pts)} points (the proven results) are cached in {out / 'points'}"
        stop.raise_now = True
        try:
            if stop.is_set():
                raise KeyboardInterrupt
            files = _write_tables(out, rows, names, identity, info, keys)
        except KeyboardInterrupt:
            print(f"stopped by {stop.name()} while writing the tables: {in_cache}; {kept}. Run the same command "
                  "again to write them.", file=sys.stderr)
            return stop.exit_code()
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise PlannerError(f"cannot write the sweep tables into {out}: {exc.strerror or exc}{where}; {kept}. "
                               f"{in_cache[0].upper()}{in_cache[1:]}: free disk space and run the same command again "
                               "to write them.", EXIT_BAD_INPUT) from None
        finally:
            stop.raise_now = False
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    fresh = sum(not r.get("cached") for r in rows)
    rate = f", {fresh / minutes:.1f} points/min" if fresh and minutes > 0 else ""
    print(f"{len(rows)} points ({fresh} planned, {len(rows) - fresh} cached{rate}): "
          + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    print("wrote " + ", ".join(str(f) for f in files))
    codes = [point_exit_code(r) for r in rows]
    failed = [(r, c) for r, c in zip(rows, codes, strict=True) if c != EXIT_OK]
    if failed:
        print(f"{len(failed)} of {len(rows)} points did not serve every demand row (see the status and demand_served "
              "columns):", file=sys.stderr)
        for r, c in failed[:MAX_FAILED_SHOWN]:
            values = ", ".join(f"{n}={r.get(n)!r}" for n in names)
            why = r.get("message") or ("infeasible" if r.get("status") == "infeasible" else f"{r.get('status')}, demand left short")
            print(f"  point {r['point']} ({values}): exit {c}, {str(why)[:300]}", file=sys.stderr)
        if len(failed) > MAX_FAILED_SHOWN:
            print(f"  ... and {len(failed) - MAX_FAILED_SHOWN} more", file=sys.stderr)
    return worst_outcome(codes)


def _write_tables(out: Path, rows: list[dict[str, Any]], names: list[str], identity: str, info: dict[str, Any],
                  keys: list[str | None]) -> list[Path]:
    """sweep.csv, sweep.xlsx and charts, assembled beside `out` and moved in whole with this sweep's points."""
    from planner.sweep import folder
    from planner.sweep.outputs import write_outputs

    keep = {"points": sorted({f"{k}.json" for k in keys if k})}
    with folder.assembling(out, folder.SWEEP, identity, info | {"complete": True}, keep) as tmp:
        files = write_outputs(rows, names, tmp)
    return [out / f.name for f in files]


def add_sweep_parser(sub: argparse._SubParsersAction) -> None:
    from planner.pipeline_cli import _add_solver_flags

    p = sub.add_parser("sweep", help="re-plan a scenario over a grid or sample of parameters; sweep.csv/.xlsx, charts")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--param", action="append", required=True, metavar="PATH=LO:HI:STEP|PATH=v1,v2",
                   help="a swept scenario path (repeatable), e.g. chip_terms.b200.discount_fraction=0:0.4:0.05")
    p.add_argument("--samples", type=_count("--samples", MAX_POINTS), metavar="N",
                   help=f"sample N random points instead of the full grid (1 to {MAX_POINTS:,})")
    p.add_argument("--sample-seed", type=int, default=0, help="random seed of --samples (default 0)")
    p.add_argument("--workers", type=_count("--workers", MAX_WORKERS), metavar="N",
                   help=f"parallel plans (default: 2, at most the CPU count; at most {MAX_WORKERS})")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local process pool (default) or Ray tasks (pip install 'fleet-planner[ray]')")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--out", required=True, help="sweep folder (points/ cache, sweep.csv, sweep.xlsx, charts); "
                   "the same sweep resumes in it, another one needs --force")
    _add_solver_flags(p)
    p.set_defaults(func=run_sweep)


def _count(flag: str, limit: int):  # type: ignore[no-untyped-def]
    """argparse type of a size argument: a whole number 1..limit (`1e3` is read as 1000); else exit 2 naming it."""
    def parse(text: str) -> int:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not math.isfinite(v) or v != int(v):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
        if not 1 <= v <= limit:
            raise argparse.ArgumentTypeError(f"{text} is out of range: {flag} takes 1 to {limit:,}")
        return int(v)

    return parse


def run_breakeven(args: argparse.Namespace) -> int:
    from planner.io.cli_flags import new_file_problem
    from planner.io.loader import load_inputs
    from planner.io.overrides import normalise_sets
    from planner.pipeline_cli import _overrides, check_overrides
    from solvers.breakeven import chip_problems, find_breakeven

    check_overrides(_overrides(args))
    out_problem = new_file_problem(args.out)  # before solving; never replace (or write through) what is there
    if out_problem:
        raise InputError([Problem("command line", "--out", out_problem)])
    solver = {k: v for k, v in _overrides(args).items() if v is not None}
    sets = normalise_sets(args.sets, Path(args.scenario).name)
    problems = chip_problems(load_inputs(args.scenario, sets or None), list(args.chip))  # every chip, before any solve
    if problems:
        raise InputError(problems)
    say = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    results = []
    for chip in args.chip:
        be = find_breakeven(args.scenario, chip, sets, solver, progress=say)
        print(be.text())
        results.append(be.as_dict())
    if args.out:
        from planner.results.atomic import dumps_json

        late = new_file_problem(args.out)  # something appeared there during the solves: it is never replaced
        if late:
            raise InputError([Problem("command line", "--out", f"{late} (it appeared while solving); the results "
                                      "above were not written")])
        import secrets

        out = Path(args.out)
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
        try:  # whole or not at all, and never over a file that appeared meanwhile: a hard link fails if it exists
            tmp.write_text(dumps_json({"scenario": args.scenario, "breakeven": results}), encoding="utf-8")
            os.link(tmp, out)
        except FileExistsError:
            raise InputError([Problem("command line", "--out", f"{args.out} appeared while solving; the results above "
                                      "were not written")]) from None
        finally:
            tmp.unlink(missing_ok=True)
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
