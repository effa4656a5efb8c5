"""Benchmark: plan generated instances of growing size with each solver; print one table.

    python benchmarks/solve_scaling.py [--sizes medium large] [--runs 3] [--solvers highs cbc]
                                       [--time-limit S] [--mip-gap G] [--seed 0] [--export] [--workdir DIR]

For each size an instance is generated once (`benchmarks/generate.py`, same seed), then every (solver, run)
plans it in a fresh subprocess, so peak memory (`resource.getrusage`, max RSS) and caches of one run never
pollute another. A run is the pipeline of `planner plan` stage by stage (load, options, sets, build, solve, on a
capped option set the LP bound on every undominated option (`solvers.full_bound`), verify, extract + binding-limit
explanation; with `--export` also plan.json/plan.xlsx/report.html/csv). On a capped set, status and gap are those
against that LP bound; the run's line also gives the LP bound's seconds and the MIP's status and gap on the reduced
set, the table's `LP bound s` column the LP bound's seconds (build of the uncapped model included).
Times, memory and gap are medians over the runs; status and objective come from the median-time run.

Solvers (through `solvers.solve.solve`, as `planner plan --solver ... --strategy ...`):
- `highs`: HiGHS by fix-and-optimize (`solver.strategy: fix_and_optimize`, `solvers.decompose`): LP bound,
  restricted MIPs, full MIP warm-started;
- `highs-mip`: HiGHS on the monolithic MIP in one call (`solver.strategy: monolithic`);
- `cbc`: CBC through PuLP (reports a gap only when it proves one).

The greedy baseline (`solvers.greedy.greedy_plan`: lowest USD per token first, quarter by quarter) runs once
per size in its own subprocess; `saving` is its TCO minus the MILP plan's TCO (both from the same extraction).
Columns: build s = sets + model build; total s = every stage of the run (the build share is build / total).

One dimension at a time:

    python benchmarks/solve_scaling.py --preset target --sweep workloads --values 10 20 50 [--seeds 0 1 2]

generates the preset with that one dimension changed per value (every other dimension as the preset's),
plans each (value, seed) once per `--runs`, prints a row per value (median solve and total seconds over
seeds and runs, worst gap, peak MB) and the growth exponent k of solve time ~ value^k (least squares on
log median solve s vs log value).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOLVERS = ("highs", "highs-mip", "cbc")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


#: solver label -> settings overrides (`solvers.solve.solve` dispatches on them, as `planner plan` does)
SOLVER_SETTINGS = {
    "highs": {"name": "highs", "strategy": "fix_and_optimize"},
    "highs-mip": {"name": "highs", "strategy": "monolithic"},
    "cbc": {"name": "cbc"},
}


def one_run(scenario: str, label: str, overrides: dict[str, Any], export: bool, verbose: bool) -> dict[str, Any]:
    """Plan `scenario` once, stage by stage as `planner.pipeline.plan_scenario` does; figures of the run."""
    from datetime import UTC, datetime

    from planner.io.loader import load_inputs
    from planner.pipeline import PlanOutcome, assemble_plan, deployment_table, effective_settings
    from solvers.backends import verify_solution
    from solvers.build import build_model
    from solvers.full_bound import certify
    from solvers.sets import build_sets
    from solvers.solve import solve

    say = (lambda m: print(m, file=sys.stderr, flush=True)) if verbose else None
    started = datetime.now(UTC).isoformat(timespec="seconds")
    times: dict[str, float] = {}

    def stage(name: str, fn):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t0
        if say:
            say(f"[{name}] {times[name]:.2f} s")
        return out

    inputs = stage("load", lambda: load_inputs(scenario))
    settings = effective_settings(inputs, {**overrides, **SOLVER_SETTINGS[label]})
    options = stage("options", lambda: deployment_table(inputs))
    S = stage("sets", lambda: build_sets(inputs, options))
    m, const = stage("build", lambda: build_model(S))
    result = stage("solve", lambda: solve(m, settings, say))
    if S.reduced_from and result.has_solution:  # capped option set: the LP bound on every undominated option
        result = stage("unreduced_bound", lambda: certify(S, result, settings, progress=say))
    violations = stage("verify", lambda: verify_solution(m, result.values)) if result.has_solution else []
    plan = None
    if result.has_solution and not violations:
        plan = stage("extract", lambda: assemble_plan(inputs, S, m, result, settings, const, options, dict(times), started))
        if export:
            from planner.pipeline_cli import write_run_folder

            with tempfile.TemporaryDirectory(prefix="solve-scaling-") as tmp:
                stage("export", lambda: write_run_folder(PlanOutcome(plan, 0, times), Path(tmp) / "run", True))
    return {
        "solver": label, "vars": m.n_vars, "ints": m.n_int_vars, "cons": len(m.constraints),
        "build_s": times["sets"] + times["build"], "solve_s": times["solve"], "total_s": sum(times.values()),
        "times": times, "status": result.status if not violations else f"violates {len(violations)}",
        "gap": result.mip_gap, "objective_usd": plan["objective_usd"] if plan else None,
        "tco_usd": plan["kpis"]["net_cost_usd"] if plan else None, "peak_mb": _peak_mb(), "raw": result.raw_status,
        "capped": bool(S.reduced_from), "replica_vars_exact": len(S.exact_deploy_keys) if S.reduced_from else len(S.deploy_keys),
        "reduced_status": result.reduced_set_status, "reduced_gap": result.reduced_set_gap,
        "lp_bound_s": result.unreduced.seconds if result.unreduced else None,
        "lp_solve_s": result.unreduced.lp_seconds if result.unreduced else None,
        "lp_status": result.unreduced.status if result.unreduced else None,
    }


def greedy_run(scenario: str) -> dict[str, Any]:
    from planner.io.loader import load_inputs
    from planner.pipeline import deployment_table
    from solvers.greedy import greedy_plan
    from solvers.sets import build_sets

    inputs = load_inputs(scenario)
    S = build_sets(inputs, deployment_table(inputs))
    t0 = time.perf_counter()
    g = greedy_plan(S)
    return {"feasible": g.feasible, "reason": g.reason, "seconds": time.perf_counter() - t0,
            "tco_usd": g.extracted.kpis["net_cost_usd"] if g.extracted else None}


def _child(args: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def _machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "?"
    import os

    mem = ""
    try:
        kb = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, Python {platform.python_version()}"


def _run_args(scenario: str, label: str, args: argparse.Namespace, export: bool) -> list[str]:
    """Arguments of the child process that plans `scenario` once with solver `label`."""
    out = ["--one", scenario, "--solver", label]
    if args.time_limit is not None:
        out += ["--time-limit", str(args.time_limit)]
    if args.mip_gap is not None:
        out += ["--mip-gap", str(args.mip_gap)]
    return out + (["--export"] if export else [])


def _run_line(r: dict[str, Any]) -> str:
    """One line on a child run: its error, or status, gap, times and peak memory."""
    if "error" in r:
        return str(r["error"])
    gap = "-" if r["gap"] is None else round(r["gap"] * 100, 3)
    line = f"{r['status']}, gap {gap} %, solve {r['solve_s']:.1f} s, total {r['total_s']:.1f} s, {r['peak_mb']:.0f} MB"
    if r.get("capped"):
        red = "-" if r["reduced_gap"] is None else round(r["reduced_gap"] * 100, 3)
        lp = "-" if r["lp_bound_s"] is None else f"{r['lp_bound_s']:.1f} s (LP {r['lp_solve_s']:.1f} s)"
        line += (f"; capped option set ({r['replica_vars_exact']:,} exact replica variables): gap against the unreduced "
                 f"LP bound, LP bound {r['lp_status']} in {lp}; on the reduced set {r['reduced_status']} at gap {red} %")
    return line


def growth_exponent(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log y on log x (the k of y ~ x^k); None with fewer than two usable points."""
    import math

    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return None if sxx == 0 else sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def sweep_dimension(args: argparse.Namespace) -> None:
    """Vary one dimension of a preset; a row per value and the growth exponent of the solve time."""
    from benchmarks.generate import DIMENSIONS, SIZES, generate

    dims = {d: t for d, t, _ in DIMENSIONS}
    if args.sweep not in dims or not args.values:
        raise SystemExit(f"--sweep must be one of {sorted(dims)} with --values")
    tmp = tempfile.TemporaryDirectory(prefix="solve-scaling-") if args.workdir is None else None
    workdir = args.workdir or Path(tmp.name)  # type: ignore[union-attr]
    seeds = args.seeds or [args.seed]
    label = args.solvers[0]
    print(f"machine: {_machine()}")
    print(f"preset {args.preset}, varying {args.sweep} over {args.values}, seeds {seeds}, solver {label}, "
          f"{args.runs} run(s) each")
    rows = []
    for value in args.values:
        v = dims[args.sweep](value)
        results = []
        for seed in seeds:
            scenario = str(generate(args.preset, seed, workdir / f"{args.preset}-{args.sweep}{v}-{seed}", **{args.sweep: v}))
            limit = args.time_limit or SIZES[args.preset].time_limit_s
            for k in range(args.runs):
                r = _child(_run_args(scenario, label, args, export=False), timeout=3 * limit + 900)
                print(f"  {args.sweep}={v} seed {seed} run {k + 1}: {_run_line(r)}", flush=True)
                if "error" not in r:
                    results.append(r)
        if not results:
            rows.append((v, None))
            continue
        gaps = [r["gap"] for r in results if r["gap"] is not None]
        rows.append((v, {
            "solve_s": statistics.median(r["solve_s"] for r in results),
            "total_s": statistics.median(r["total_s"] for r in results),
            "worst_gap": max(gaps) if gaps else None,
            "peak_mb": max(r["peak_mb"] for r in results),
            "statuses": sorted({r["status"] for r in results}),
            "vars": statistics.median(r["vars"] for r in results),
        }))
    print()
    print(f"| {args.sweep} | vars (median) | solve s (median) | total s (median) | worst gap % | peak MB | statuses |")
    print("|---|---|---|---|---|---|---|")
    for v, r in rows:
        if r is None:
            print(f"| {v} | - | - | - | - | - | all runs failed |")
            continue
        gap = "-" if r["worst_gap"] is None else f"{r['worst_gap'] * 100:.2f}"
        print(f"| {v} | {r['vars']:,.0f} | {r['solve_s']:.1f} | {r['total_s']:.1f} | {gap} | {r['peak_mb']:.0f} | "
              f"{', '.join(r['statuses'])} |")
    ok = [(v, r) for v, r in rows if r is not None]
    k_solve = growth_exponent([float(v) for v, _ in ok], [r["solve_s"] for _, r in ok])
    k_total = growth_exponent([float(v) for v, _ in ok], [r["total_s"] for _, r in ok])
    print(f"growth exponent (time ~ {args.sweep}^k): solve k = {'-' if k_solve is None else f'{k_solve:.2f}'}, "
          f"total k = {'-' if k_total is None else f'{k_total:.2f}'}")
    if tmp is not None:
        tmp.cleanup()


def _fmt_usd(x: float | None) -> str:
    return "-" if x is None else f"{x / 1e6:,.2f}M"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["medium", "large"], choices=["tiny", "small", "medium", "large", "xl"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--solvers", nargs="+", default=["highs"], choices=SOLVERS)
    ap.add_argument("--time-limit", type=float, help="solver wall-clock limit, s (default: the instance's: medium 60, large 300, xl 900)")
    ap.add_argument("--mip-gap", type=float, help="relative gap to stop at (default: the instance's, 0.01)")
    ap.add_argument("--seed", type=int, default=0, help="instance seed")
    ap.add_argument("--export", action="store_true", help="also write the run folder (plan.json, plan.xlsx, report.html, csv/)")
    ap.add_argument("--workdir", type=Path, help="where instances are generated (default: a temporary folder)")
    ap.add_argument("--verbose", action="store_true", help="show stage and solver progress of every run")
    ap.add_argument("--preset", default="target", help="sweep mode: the preset whose one dimension is varied")
    ap.add_argument("--sweep", help="sweep mode: the dimension to vary (workloads, models, chips, quarters, sites, racks, "
                    "fleet_scale, budget_tightness)")
    ap.add_argument("--values", nargs="+", type=float, help="sweep mode: values of the dimension")
    ap.add_argument("--seeds", nargs="+", type=int, help="sweep mode: instance seeds (default: --seed)")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # child: plan one scenario, print JSON
    ap.add_argument("--greedy", help=argparse.SUPPRESS)  # child: greedy baseline of one scenario, print JSON
    ap.add_argument("--solver", default="highs", help=argparse.SUPPRESS)
    args = ap.parse_args()
    overrides = {k: v for k, v in (("time_limit_s", args.time_limit), ("mip_gap", args.mip_gap)) if v is not None}

    if args.one:
        print(json.dumps(one_run(args.one, args.solver, overrides, args.export, args.verbose)))
        return
    if args.greedy:
        print(json.dumps(greedy_run(args.greedy)))
        return

    from benchmarks.generate import SIZES, generate

    if args.sweep:
        sweep_dimension(args)
        return
    tmp = tempfile.TemporaryDirectory(prefix="solve-scaling-") if args.workdir is None else None
    workdir = args.workdir or Path(tmp.name)  # type: ignore[union-attr]
    print(f"machine: {_machine()}")
    rows = []
    for size in args.sizes:
        scenario = str(generate(size, args.seed, workdir / f"{size}-{args.seed}"))
        limit = args.time_limit or SIZES[size].time_limit_s
        g = _child(["--greedy", scenario], timeout=3600)
        for label in args.solvers:
            runs = []
            for k in range(args.runs):
                r = _child(_run_args(scenario, label, args, export=args.export), timeout=3 * limit + 900)
                print(f"  {size} {label} run {k + 1}: {_run_line(r)}", flush=True)
                if "error" not in r:
                    runs.append(r)
            if not runs:
                rows.append({"size": size, "solver": label, "error": True})
                continue
            mid = sorted(runs, key=lambda r: r["total_s"])[len(runs) // 2]
            med = {k: statistics.median(r[k] for r in runs) for k in ("build_s", "solve_s", "total_s", "peak_mb")}
            rows.append({"size": size, **mid, **med, "n": len(runs), "greedy": g})

    head = ["size", "solver", "vars", "int vars", "constraints", "build s", "solve s", "total s", "build %", "status",
            "gap %", "LP bound s", "objective", "peak MB", "greedy TCO", "MILP TCO", "saving"]
    table = []
    for r in rows:
        if r.get("error"):
            table.append([r["size"], r["solver"]] + ["-"] * (len(head) - 3) + ["all runs failed"])
            continue
        g = r["greedy"]
        greedy_tco = g.get("tco_usd") if g.get("feasible") else None
        saving = "-"
        if greedy_tco and r["tco_usd"] is not None:
            saving = f"{(greedy_tco - r['tco_usd']) / 1e6:,.2f}M ({(greedy_tco - r['tco_usd']) / greedy_tco * 100:.1f} %)"
        elif g.get("reason"):
            saving = "greedy infeasible"
        table.append([
            r["size"], r["solver"], f"{r['vars']:,}", f"{r['ints']:,}", f"{r['cons']:,}", f"{r['build_s']:.2f}",
            f"{r['solve_s']:.1f}", f"{r['total_s']:.1f}", f"{r['build_s'] / r['total_s'] * 100:.0f}", r["status"],
            "-" if r["gap"] is None else f"{r['gap'] * 100:.2f}",
            "-" if r.get("lp_bound_s") is None else f"{r['lp_bound_s']:.1f}", _fmt_usd(r["objective_usd"]), f"{r['peak_mb']:.0f}",
            _fmt_usd(greedy_tco), _fmt_usd(r["tco_usd"]), saving,
        ])
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(head)]
    print()
    print(f"median of {args.runs} run(s) per row; instances: benchmarks/generate.py --seed {args.seed}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in table:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
