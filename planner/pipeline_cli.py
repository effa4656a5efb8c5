"""`planner plan` and `planner compare`: run the pipeline and export a run folder atomically.

A run folder is assembled in a temporary sibling folder and renamed into place only when complete, so an
interrupted or failed run leaves no partial plan.json or plan.xlsx behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from planner.errors import (
    EXIT_BAD_INPUT,
    EXIT_INFEASIBLE,
    EXIT_NO_PLAN,
    EXIT_OK,
    InputError,
    PlannerError,
    Problem,
    worst_outcome,
)
from planner.results.summary import summary_line
from planner.run_output import write_run_folder  # noqa: F401 - re-exported: callers and tests use pipeline_cli.write_run_folder
from planner.source_digest import planner_digest

REPO_OUTPUTS = Path("outputs")


def safe_component(name: str) -> str:
    """A folder name derived from user text that cannot escape its parent (no separators, no dot-dot)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip("._") or "scenario"
    return cleaned[:80]


def _progress(enabled: bool):  # type: ignore[no-untyped-def]
    """Stage lines on stderr; on a terminal the solver's incumbent / bound / gap update in place on one line."""
    if not enabled:
        return None
    tty = sys.stderr.isatty()
    inline = [False]

    def say(msg: str) -> None:
        if msg.startswith("incumbent"):
            if tty:
                print(f"\r  {msg}   ", end="", file=sys.stderr, flush=True)
                inline[0] = True
            return
        if inline[0]:  # end the in-place line before the next stage line
            print(file=sys.stderr)
            inline[0] = False
        print(msg, file=sys.stderr, flush=True)

    return say


def check_out_dir(out_dir: Path, force: bool) -> None:
    """Refuse (exit 2) an --out that is a file or link, holds foreign files, or (without --force) a run."""
    from planner.results.run_folder import check_target

    check_target(Path(os.path.abspath(out_dir)), force)


_FLAGS = {"name": "--solver", "time_limit_s": "--time-limit", "mip_gap": "--mip-gap", "threads": "--threads", "seed": "--seed"}


def check_overrides(overrides: dict[str, Any]) -> None:
    """Bad solver flags (`--time-limit 0`, `--mip-gap nan`) are input errors (exit 2), found before any work."""
    from pydantic import ValidationError

    from planner.io.validate import error_message
    from planner.schemas.scenario import SolverSettings

    problems = []
    for key, value in overrides.items():
        if value is None:
            continue
        try:
            SolverSettings.model_validate({key: value})
        except ValidationError as exc:
            problems += [Problem("command line", _FLAGS.get(key, key), error_message(e)) for e in exc.errors()]
    if problems:
        raise InputError(problems)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"name": args.solver, "time_limit_s": args.time_limit, "mip_gap": args.mip_gap, "threads": args.threads,
            "seed": args.seed, "strategy": getattr(args, "strategy", None)}


def _summary_line(plan: dict[str, Any]) -> str:
    return summary_line(plan)


def run_plan(args: argparse.Namespace) -> int:
    check_overrides(_overrides(args))
    if args.out:
        check_out_dir(Path(args.out), args.force)  # before solving, not after; as given (a link is refused, not followed)
    from planner.api import plan

    outcome = plan(args.scenario, getattr(args, "sets", None) or None, _overrides(args), progress=_progress(not args.quiet)).outcome
    out = Path(args.out) if args.out else REPO_OUTPUTS / safe_component(outcome.plan["scenario"])
    write_run_folder(outcome, out, args.force)
    print(f"{_summary_line(outcome.plan)}\nwrote {out}/plan.json, plan.xlsx, report.html, csv/")
    for text in outcome.plan.get("warnings") or []:
        print(f"warning: {text}", file=sys.stderr)
    if outcome.exit_code == EXIT_INFEASIBLE:
        print("no plan meets every limit; see the diagnosis in plan.json / the Summary sheet:", file=sys.stderr)
        print_diagnosis(outcome.plan)
    return outcome.exit_code


def print_diagnosis(plan: dict[str, Any], limit: int = 20) -> None:
    """The diagnosis rows on stderr, after a caution when the time limit stopped a phase (`diagnosis_run`)."""
    caution = (plan.get("diagnosis_run") or {}).get("caution")
    if caution:
        print(f"caution: {caution}", file=sys.stderr)
    for d in (plan.get("diagnosis") or [])[:limit]:
        what = d.get("message") or f"short {d['short_tokens_per_s']:,.0f} tokens/s"
        print(f"  {d['workload']} {d['quarter']}: {what} - {d['cause']}", file=sys.stderr)


def _add_solver_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--solver", choices=["highs", "cbc", "gurobi"], help="MILP backend (default: scenario's, else highs)")
    p.add_argument("--time-limit", type=float, help="solver wall-clock limit, seconds")
    p.add_argument("--mip-gap", type=float, help="relative MIP gap to stop at (0.01 = 1%%)")
    p.add_argument("--threads", type=int, help="solver threads")
    p.add_argument("--seed", type=int, help="solver random seed")
    p.add_argument("--strategy", choices=["monolithic", "fix_and_optimize"],
                   help="HiGHS: solve the MILP at once, or by fix-and-optimize (faster on large fleets)")
    p.add_argument("--set", action="append", dest="sets", metavar="KEY.PATH=VALUE",
                   help="what-if on the scenario, e.g. policy.headroom_fraction=0.2 (repeatable; `key+=v` appends to a list)")
    p.add_argument("--force", action="store_true", help="replace an existing run folder")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def add_plan_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="solve the purchase/placement MILP and write plan.json, plan.xlsx, report.html, csv/")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--out", help="run folder to write (default outputs/<scenario name>)")
    _add_solver_flags(p)
    p.set_defaults(func=run_plan)


# ---------------------------------------------------------------- compare


def cache_key(scenario: str, overrides: dict[str, Any], sets: Any = None) -> str:
    """Hash of every input file's bytes, the solver settings and the planner's own code and bundled data
    (`planner_digest`, hashed once per process): unchanged inputs on an unchanged planner reuse the cached plan."""
    from planner.io.loader import load_inputs

    inputs = load_inputs(scenario, sets)
    blob = json.dumps({"files": inputs.file_hashes, "resolved": inputs.scenario.model_dump(mode="json"),
                       "overrides": overrides, "planner": planner_digest()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def plan_cached(scenario: str, overrides: dict[str, Any], cache_dir: Path, progress: Any, sets: Any = None) -> dict[str, Any]:
    """Plan a scenario, or reuse the cached plan.json for the same inputs, `--set` what-ifs and settings.

    Only a final outcome is cached (`planner.sweep.FINAL_STATUSES`: a proven plan or a proven infeasibility); a
    time-limited plan is planned again next time, and a failed solve raises before anything is cached."""
    from planner.api import plan
    from planner.io.plan_cache_dir import claim_cache_dir
    from planner.results.atomic import write_json_atomic
    from planner.results.plan_io import read_plan
    from planner.sweep import FINAL_STATUSES

    key = cache_key(scenario, overrides, sets)
    cached = cache_dir / f"{key}.json"
    if cached.is_file():
        try:
            doc = read_plan(cached)
            if doc.get("status") in FINAL_STATUSES:
                return doc
        except Exception:  # noqa: BLE001 - a damaged cache entry is recomputed
            pass
    outcome = plan(scenario, sets, overrides, progress=progress).outcome
    if outcome.plan.get("status") in FINAL_STATUSES:
        try:
            claim_cache_dir(cache_dir)
            write_json_atomic(cached, outcome.plan)
        except OSError as exc:  # a cache that cannot be written costs a re-plan next time, not this result
            print(f"warning: could not cache the plan in {cache_dir}: {exc.strerror or exc}", file=sys.stderr)
    return outcome.plan


def run_compare(args: argparse.Namespace) -> int:
    """Plan each scenario (cached), then write comparison.xlsx/.html as one folder (`planner.sweep.folder`): a
    folder holding other files is refused even with --force, an earlier comparison is replaced only with --force,
    and a second compare into the same folder at the same time exits 2. Exits with the worst scenario's code
    (`worst_outcome`: 4 no plan, 3 infeasible or demand short, 0 all served) after writing the comparison of all."""
    import secrets

    from planner.pipeline import plan_exit_code
    from planner.report.compare import write_comparison
    from planner.sweep import folder

    out = Path(os.path.abspath(args.out))
    check_overrides(_overrides(args))
    identity = f"compare-{secrets.token_hex(8)}"  # never the same: an earlier comparison is replaced with --force only
    folder.check_target(out, folder.COMPARE, identity, args.force)  # before planning, not after
    cache_dir = Path(args.cache_dir) if args.cache_dir else REPO_OUTPUTS / ".cache"
    from planner.io.cli_flags import out_dir_problem
    from planner.io.loader import load_inputs
    from planner.io.plan_cache_dir import cache_dir_problem

    problems = [p for p in (out_dir_problem(cache_dir, "--cache-dir") or cache_dir_problem(cache_dir),) if p]
    cache_abs = Path(os.path.abspath(cache_dir))
    if cache_abs == out or out in cache_abs.parents:  # --out is replaced whole: a cache inside it would be lost
        problems.append(Problem("command line", "--cache-dir", f"{cache_dir} is {'--out' if cache_abs == out else 'inside --out'} "
                                f"({args.out}), which the comparison replaces whole; keep the cache elsewhere (default "
                                "outputs/.cache)"))
    names: list[str] = []
    for sc in args.scenarios:  # every scenario's problems in one report, before any solve
        try:
            names.append(load_inputs(sc, getattr(args, "sets", None)).scenario.name)
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    with folder.locked(out, folder.COMPARE):
        plans, codes, failed = [], [], []
        for sc, name in zip(args.scenarios, names, strict=True):
            print(f"planning {sc} ...", file=sys.stderr)
            try:
                doc = plan_cached(sc, _overrides(args), cache_dir, _progress(not args.quiet), getattr(args, "sets", None))
                code, why = plan_exit_code(doc), _shortfall(doc)
            except PlannerError as exc:  # no plan for this scenario: the others are still compared
                if exc.exit_code != EXIT_NO_PLAN:
                    raise
                doc, code, why = {"scenario": name, "status": "no_plan", "warnings": [str(exc)]}, EXIT_NO_PLAN, str(exc)
            plans.append(doc)
            codes.append(code)
            if code != EXIT_OK:
                failed.append(f"{sc} ({name}): exit {code}, {why}")
        for note in folder.recover(out, folder.COMPARE):
            print(f"note: {note}", file=sys.stderr)
        folder.check_target(out, folder.COMPARE, identity, args.force)
        info = {"scenarios": list(args.scenarios)}
        try:
            with folder.assembling(out, folder.COMPARE, identity, info) as tmp:
                write_comparison(plans, tmp)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise PlannerError(f"cannot write the comparison into {out}: {exc.strerror or exc}{where}; {out} was left "
                               "as it was. Free disk space or choose another --out.", EXIT_BAD_INPUT) from None
    for p in plans:
        print(f"{p['scenario']}: {_summary_line(p) if p.get('status') != 'no_plan' else 'no plan'}")
    print(f"wrote {out}/comparison.xlsx and comparison.html")
    if failed:
        print(f"{len(failed)} of {len(plans)} scenarios did not serve every demand row (the comparison shows their "
              "status):", file=sys.stderr)
        for line in failed:
            print(f"  {line}", file=sys.stderr)
    return worst_outcome(codes)


def _shortfall(plan: dict[str, Any]) -> str:
    """What a plan that exits 3 leaves short, in one line (its first diagnosis row or short capacity row)."""
    from planner.pipeline import unserved_rows

    if plan.get("status") == "infeasible":
        rows = [d for d in plan.get("diagnosis") or [] if isinstance(d, dict)]
        head = f"infeasible ({len(rows)} diagnosis row(s))"
        if rows:
            d = rows[0]
            what = d.get("message") or f"short {d.get('short_tokens_per_s')} tokens/s"
            head += f", e.g. {d.get('workload')} {d.get('quarter')}: {what} - {d.get('cause')}"
        return head
    short = unserved_rows(plan)
    if not short:
        return "every demand row served"
    c = short[0]
    return (f"{plan.get('status')} with {len(short)} demand row(s) short, e.g. {c.get('workload')} {c.get('quarter')} "
            f"by {float(c.get('unmet_tokens_per_s') or 0):,.0f} tokens/s")


def add_compare_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="plan several scenarios (cached) and write comparison.xlsx / comparison.html")
    p.add_argument("scenarios", nargs="+", help="scenario YAML files; the first is the baseline")
    p.add_argument("--out", required=True, help="folder for comparison.xlsx and comparison.html (an earlier "
                   "comparison is replaced only with --force; a folder holding other files never)")
    p.add_argument("--cache-dir", help="where cached plans live (default outputs/.cache)")
    _add_solver_flags(p)
    p.set_defaults(func=run_compare)
