"""Benchmark: plan the bundled example; print stage times, model size, status, gap, and the greedy baseline.

    python benchmarks/plan_example.py [--runs 3] [--scenario inputs/scenarios/example.yaml]

Prints medians over the runs; the greedy baseline and the MILP are measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.io.loader import load_inputs  # noqa: E402
from planner.pipeline import deployment_table, effective_settings  # noqa: E402
from solvers.build import build_model  # noqa: E402
from solvers.extract import extract  # noqa: E402
from solvers.greedy import greedy_plan  # noqa: E402
from solvers.sets import MONEY_SCALE, build_sets  # noqa: E402
from solvers.solve import solve  # noqa: E402


def one_run(scenario: str, drop_budgets: bool = False) -> dict[str, float | str]:
    t0 = time.perf_counter()
    inputs = load_inputs(scenario)
    if drop_budgets:  # the same scenario without capex limits, for a like-for-like greedy comparison
        policy = inputs.scenario.policy.model_copy(update={
            "capex_budget_usd_total": None, "capex_budget_usd_per_quarter": None, "capex_budget_usd_by_quarter": {}})
        inputs.scenario = inputs.scenario.model_copy(update={"policy": policy})
    t1 = time.perf_counter()
    options = deployment_table(inputs)
    t2 = time.perf_counter()
    S = build_sets(inputs, options)
    m, const = build_model(S)
    t3 = time.perf_counter()
    r = solve(m, effective_settings(inputs, None))
    t4 = time.perf_counter()
    ex = extract(S, m, r.values, const)
    g = greedy_plan(S)
    return {
        "load_s": t1 - t0, "options_s": t2 - t1, "build_s": t3 - t2, "solve_s": t4 - t3, "total_s": t4 - t0,
        "status": r.status, "gap": r.mip_gap if r.mip_gap is not None else float("nan"),
        "objective_usd": ((r.objective or 0) + const) * MONEY_SCALE, "bound_usd": ((r.best_bound or 0) + const) * MONEY_SCALE,
        "milp_tco": ex.kpis["net_cost_usd"], "greedy_tco": g.extracted.kpis["net_cost_usd"] if g.extracted else float("nan"),
        "greedy_note": g.reason or "feasible", "vars": m.n_vars, "ints": m.n_int_vars, "cons": len(m.constraints),
        "options": len(options),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scenario", default=str(Path(__file__).resolve().parent.parent / "inputs/scenarios/example.yaml"))
    args = ap.parse_args()
    runs = [one_run(args.scenario) for _ in range(args.runs)]
    med = {k: statistics.median(float(r[k]) for r in runs) for k in ("load_s", "options_s", "build_s", "solve_s", "total_s")}
    last = runs[-1]
    print(f"scenario {args.scenario}: {last['options']} deployment options, {last['vars']} variables "
          f"({last['ints']} integer), {last['cons']} constraints")
    print(f"median of {args.runs} runs: load {med['load_s']:.2f} s, options {med['options_s']:.2f} s, "
          f"build {med['build_s']:.2f} s, solve {med['solve_s']:.2f} s, total {med['total_s']:.2f} s")
    print(f"status {last['status']}, gap {float(last['gap']) * 100:.3f} %, objective ${float(last['objective_usd']):,.0f}, "
          f"bound ${float(last['bound_usd']):,.0f}")
    print(f"net horizon cost: MILP ${float(last['milp_tco']):,.0f}  greedy ${float(last['greedy_tco']):,.0f} ({last['greedy_note']})")
    if last["greedy_note"] == "feasible":
        saving = float(last["greedy_tco"]) - float(last["milp_tco"])
        print(f"saving vs greedy: ${saving:,.0f} ({saving / float(last['greedy_tco']) * 100:.1f} %)")
    else:
        relaxed = one_run(args.scenario, drop_budgets=True)
        print(f"same scenario without capex budgets: MILP net cost ${float(relaxed['milp_tco']):,.0f} ({relaxed['status']}, "
              f"gap {float(relaxed['gap']) * 100:.2f} %), greedy net cost ${float(relaxed['greedy_tco']):,.0f} ({relaxed['greedy_note']})")
        if relaxed["greedy_note"] == "feasible":
            saving = float(relaxed["greedy_tco"]) - float(relaxed["milp_tco"])
            print(f"saving vs greedy: ${saving:,.0f} ({saving / float(relaxed['greedy_tco']) * 100:.1f} %)")


if __name__ == "__main__":
    main()
