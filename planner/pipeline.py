"""The pipeline, one plain function per stage:

    load_inputs -> deployment_table -> build_sets -> build_model -> solve -> extract -> (export)

`plan_scenario` runs them in order, times each stage, re-checks the solution, explains binding limits, and
on an infeasible model re-solves with penalised unmet demand to say what is short and why.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import EXIT_INFEASIBLE, EXIT_NO_PLAN, EXIT_OK, PlannerError
from planner.finance.assumptions import finance_assumptions
from planner.finance.schedule import build_finance
from planner.io.loader import PlanInputs, load_inputs
from planner.schemas.scenario import SolverSettings
from solvers.backends import SolveResult, verify_solution
from solvers.build import build_model
from solvers.explain import describe_binding, diagnose, explain_binding, limits_exceeded
from solvers.extract import extract
from solvers.full_bound import ModelHook, certify
from solvers.model import PlanModel
from solvers.sets import MONEY_SCALE, PlanSets, build_sets, plannable_chips
from solvers.solve import solve as _solve

Progress = Callable[[str], None]

KPI_KEYS = ("capex_cash_usd", "lease_usd", "lease_after_horizon_usd", "energy_usd", "facility_usd", "depreciation_usd",
            "depreciation_purchases_usd", "depreciation_fleet_usd", "fleet_book_value_start_usd", "book_value_end_usd",
            "resale_value_usd", "writedown_usd", "net_cost_usd", "cash_out_usd", "usd_per_million_tokens",
            "usd_per_million_tokens_basis", "energy_mwh", "served_tokens", "joules_per_token", "objective_name",
            "objective_unit", "objective_value", "objective_tiebreak_usd",
            "capex_usd", "residual_value_usd", "tco_usd", "opex_usd")
OPTION_COLUMNS = [
    "workload_id", "quarter", "chip_id", "precision", "tp", "pp", "ep", "chips_per_replica", "batch",
    "tokens_per_s_per_replica", "ttft_ms", "tpot_ms", "power_w_per_replica", "joules_per_token", "bound",
    "engine", "perf_source", "extrapolated", "tokens_per_s_p10", "tokens_per_s_p50", "tokens_per_s_p90", "dp",
    "spec_tokens", "spec_acceptance", "spec_draft_model", "spec_head_cost",
]


@dataclass
class PlanOutcome:
    """A finished run: the plan document and the exit code it implies."""

    plan: dict[str, Any]
    exit_code: int
    stage_seconds: dict[str, float] = field(default_factory=dict)
    perf_fit: dict[str, Any] | None = None  # fit report of the predictor the plan used (run folder: perf_fit.json)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("fleet-planner", "pulp", "highspy", "pandas", "pydantic", "networkx", "openpyxl"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def plan_predictor(inputs: PlanInputs, quantile: float | None = None) -> Any:
    """The predictor a plan uses: bundled fit on the scenario's calibration, the user's measurements, the
    scenario's `policy.perf_quantile` (or `quantile`)."""
    from planner.perf.calibration_io import load_calibration
    from planner.perf.predictor import build_predictor

    q = inputs.scenario.policy.perf_quantile if quantile is None else quantile
    return build_predictor(load_calibration(inputs.calibration_path), inputs.measurements, q, inputs.models, inputs.chips)


def perf_fit_report(inputs: PlanInputs) -> dict[str, Any]:
    """The fit report of the plan's predictor: factors, intervals' source, every bundled and user point's residuals."""
    pr = plan_predictor(inputs)
    return {"quantile": pr.quantile, "default_engine": inputs.scenario.policy.engine, **dict(pr.report)}


def deployment_table(inputs: PlanInputs, quantile: float | None = None) -> pd.DataFrame:
    """Stage 2: the performance model's options for every workload row (what each chip layout delivers)."""
    from planner.perf.options import options_table

    return options_table(inputs.workloads, inputs.models, plannable_chips(inputs), predictor=plan_predictor(inputs, quantile),
                         default_engine=inputs.scenario.policy.engine)


def effective_settings(inputs: PlanInputs, overrides: dict[str, Any] | None) -> SolverSettings:
    """Scenario solver settings with command-line overrides applied (None values are ignored)."""
    data = inputs.scenario.solver.model_dump()
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return SolverSettings.model_validate(data)


def _options_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    if table.empty:
        return []
    cols = [c for c in OPTION_COLUMNS if c in table.columns]
    return table[cols].round(4).to_dict(orient="records")


PERF_KEY = ("workload_id", "quarter", "chip_id", "precision", "tp", "pp", "ep", "dp")


def _with_perf_source(deployments: list[dict[str, Any]], options: pd.DataFrame) -> list[dict[str, Any]]:
    """Each deployment with where its tokens/s came from (its option's perf_source, extrapolated) and the P10/P90
    of its tokens/s (replicas x the option's per-replica interval)."""
    if options.empty or "perf_source" not in options.columns:
        return deployments
    by_key = {tuple(r.get(k, 1) for k in PERF_KEY): r for r in options.to_dict(orient="records")}
    out = []
    for d in deployments:
        o = by_key.get((d["workload"], d["quarter"], d["chip"], d["precision"], d["tp"], d["pp"], d.get("ep", 1),
                             d.get("dp", 1)))
        if o is None:
            out.append(d)
            continue
        k = d["replicas"]
        out.append({**d, "perf_source": o["perf_source"], "extrapolated": bool(o["extrapolated"]),
                    "tokens_per_s_p10": round(k * float(o["tokens_per_s_p10"]), 3),
                    "tokens_per_s_p90": round(k * float(o["tokens_per_s_p90"]), 3)})
    return out


def _usd(x: float | None, const: float) -> float | None:
    return None if x is None else round((x + const) * MONEY_SCALE, 2)


def reported_gap(result: SolveResult, const: float) -> float | None:
    """The one gap plan.json, the CLI, the report and the workbook show: (objective - best bound) / |objective| on the
    objective as reported (`objective_usd`, `best_bound_usd`: the solver's figures plus the constant of the existing
    fleet), so it can be recomputed from plan.json alone. The solver stops on its own gap, which leaves the constant
    out and so is never smaller: a plan reported at gap g is within g of the bound. Without a bound (CBC), the
    solver's reported gap."""
    if result.objective is None or result.best_bound is None:
        return result.mip_gap
    obj, bound = result.objective + const, result.best_bound + const
    if obj == 0:
        return 0.0 if bound >= obj else result.mip_gap
    return max(0.0, (obj - bound) / abs(obj))


def reduced_gap(result: SolveResult, const: float) -> float | None:
    """`reported_gap` of the MIP on a capped option set against its own bound (`SolveResult.reduced_set_bound`)."""
    if result.reduced_set_bound is None:
        return result.reduced_set_gap
    return reported_gap(replace(result, best_bound=result.reduced_set_bound, mip_gap=result.reduced_set_gap), const)


def option_set_block(S: PlanSets, result: SolveResult, const: float, money: bool) -> dict[str, Any]:
    """plan.json `option_set`: which options reached the MILP, and when they were capped for speed, both bounds and
    which one `best_bound_usd` and `mip_gap` use (`solvers.full_bound`)."""
    block: dict[str, Any] = {"reduced": bool(S.reduced_from), "options": len(S.options), "replica_variables": len(S.deploy_keys)}
    if not S.reduced_from:
        return block | {"gap_uses": "best_bound_usd",
                        "note": "every undominated option reached the MILP: its bound is a bound on the problem"}
    ub = result.unreduced
    usd = (lambda x: _usd(x, const)) if money else (lambda _x: None)
    block |= {
        "options_exact": S.reduced_from, "replica_variables_exact": len(S.exact_deploy_keys),
        "reduced_set_status": result.reduced_set_status,
        "reduced_set_mip_bound_usd": usd(result.reduced_set_bound),
        "reduced_set_mip_gap": reduced_gap(result, const) if result.has_solution else None,
        "unreduced_lp_bound_usd": usd(ub.bound) if ub else None,
        "unreduced_lp_status": ub.status if ub else None,
        "unreduced_lp_seconds": round(ub.seconds, 3) if ub else None,
        "unreduced_lp_time_limit_s": round(ub.time_limit_s, 3) if ub else None,
        "gap_uses": "unreduced_lp_bound_usd" if ub and ub.bound is not None else None,
    }
    if not result.has_solution:
        block["note"] = ("the MILP ran on the capped option set and found no plan, so no bound on the problem was "
                         "computed (a layout left out could make a plan possible)")
        return block
    block["note"] = ("the MILP ran on the capped option set: best_bound_usd and mip_gap are the LP relaxation's bound on "
                     "every undominated option and the gap against it (reduced_set_mip_bound_usd bounds the reduced set "
                     "only); status optimal = within the requested gap of that bound, optimal_in_reduced_set = proven on "
                     "the reduced set only" if block["gap_uses"] else
                     "the MILP ran on the capped option set and the LP bound on every undominated option is unknown "
                     f"({block['unreduced_lp_status']}): no bound or gap on the problem is reported")
    return block


def objective_terms_usd(m: PlanModel, values: dict[str, float], const: float) -> dict[str, float]:
    """The solver's objective split by term, in model units x MONEY_SCALE (USD for money terms; the weighted terms
    of min_energy / max_tokens are USD x their weight). `constant` is the existing fleet's energy and depreciation."""
    out = {term: round(sum(values.get(v.name, 0.0) * c for v, c in pairs) * MONEY_SCALE, 2)
           for term, pairs in m.objective_terms.items()}
    out["constant"] = round(const * MONEY_SCALE, 2)
    return out


def objective_block(S: PlanSets, m: PlanModel, result: SolveResult, values: dict[str, float], const: float,
                    kpis: dict[str, Any] | None) -> dict[str, Any]:
    """plan.json `objective`: what is optimised, its value in its own unit, and how the solver's number relates to it.

    min_tco minimises the net horizon cost plus epsilon terms ($1 per occupied rack-quarter and per replica, so idle
    capacity is not left on): objective_tiebreak_usd = solver objective - net cost. min_energy and max_tokens add
    the net cost x TIE_BREAK (1e-4) as a tie-breaker; their solver objective is not USD."""
    from solvers.build import TIE_BREAK
    from solvers.extract import OBJECTIVES

    name, unit, key = OBJECTIVES[S.objective]
    block: dict[str, Any] = {"kind": S.objective, "name": name, "unit": unit, "value": (kpis or {}).get(key),
                             "tiebreak_weight": 1.0 if S.objective == "min_tco" else TIE_BREAK}
    if result.has_solution and values:
        terms = objective_terms_usd(m, values, const)
        block["solver_objective"] = _usd(result.objective, const)
        block["solver_best_bound"] = _usd(result.best_bound, const)
        if S.reduced_from:
            block["solver_reduced_set_bound"] = _usd(result.reduced_set_bound, const)
        block["solver_terms"] = terms
        if S.objective == "min_tco" and kpis and kpis.get("net_cost_usd") is not None and block["solver_objective"] is not None:
            block["tiebreak_usd"] = round(block["solver_objective"] - kpis["net_cost_usd"], 2)
            block["note"] = (f"the solver's objective differs from the net cost by ${block['tiebreak_usd']:,.2f}: epsilon "
                             "costs of $1 per occupied rack-quarter and per replica (and any penalty terms), plus rounding")
        else:
            block["note"] = (f"the solver minimises {'unserved tokens/s-quarters' if S.objective == 'max_tokens' else 'energy USD'}"
                             f" + {TIE_BREAK:g} x the other net-cost terms (scaled by $1M) + epsilon; its value is not USD")
    return block


def assemble_plan(
    inputs: PlanInputs, S: PlanSets, m: PlanModel, result: SolveResult, settings: SolverSettings, const: float,
    options: pd.DataFrame, timings: dict[str, float], started: str, diagnosis: list[dict[str, Any]] | None = None,
    values: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Stage 5: the plan document (plan.json), from the tidy tables of one solution."""
    values = values if values is not None else result.values
    ex = extract(S, m, values, const) if values else None
    versions = _versions()
    objective = objective_block(S, m, result, values or {}, const, ex.kpis if ex else None)
    warnings = list(S.warnings)
    tail_short = [c for c in (ex.capacity if ex else []) if c.get("tail") and c["unmet_tokens_per_s"] > 1e-6 * max(1.0, c["required_tokens_per_s"])]
    if tail_short:
        worst = max(tail_short, key=lambda c: c["unmet_tokens_per_s"])
        warnings.append(f"demand tail: {len(tail_short)} row(s) past the horizon left short, e.g. {worst['workload']} in "
                        f"{worst['quarter']} by {worst['unmet_tokens_per_s']:,.0f} tokens/s: within site power, racks and supply "
                        "no capacity costing up to twice the workload's cheapest option could serve it. The tail is a target, "
                        "not a requirement, so the plan stands")
    if ex:
        ex.kpis["objective_tiebreak_usd"] = objective.get("tiebreak_usd")
    money = S.objective == "min_tco"
    binding = explain_binding(m, values, S) if (values and result.has_solution) else []
    plan: dict[str, Any] = {
        "schema_version": 1,
        "scenario": inputs.scenario.name,
        "status": result.status,
        # the solver's objective in USD (net horizon cost + epsilon terms); None when the objective is not money
        "objective_usd": _usd(result.objective, const) if result.has_solution and money else None,
        "best_bound_usd": _usd(result.best_bound, const) if result.has_solution and money else None,
        "objective": objective,
        "mip_gap": reported_gap(result, const) if result.has_solution else None,
        "option_set": option_set_block(S, result, const, money),
        "solver": {
            "name": result.solver_name, "version": result.solver_version, "solve_seconds": round(result.solve_seconds, 3),
            "build_seconds": round(timings.get("build", 0.0), 3), "time_limit_s": settings.time_limit_s,
            "mip_gap_target": settings.mip_gap, "threads": settings.threads, "seed": settings.seed,
            "raw_status": result.raw_status, "notes": result.notes,
            "variables": m.n_vars, "integer_variables": m.n_int_vars, "constraints": len(m.constraints),
        },
        "horizon": {"first_quarter": S.quarters[0], "quarters": S.quarters, "planned_quarters": S.quarters[:S.planned_T],
                    "tail_quarters": S.tail_quarters},
        "warnings": warnings,
        "kpis": ex.kpis if ex else dict.fromkeys(KPI_KEYS),
        "limits": {
            "budget_usd_total": S.budget_total,
            "budget_usd_by_quarter": {S.quarters[t]: v for t, v in sorted(S.budget_q.items())},
            "site_power_cap_kw": dict(sorted(S.site_cap_kw.items())),
        },
        "purchases": ex.purchases if ex else [],
        "racks": ex.racks if ex else [],
        "deployments": _with_perf_source(ex.deployments, options) if ex else [],
        "capacity": ex.capacity if ex else [],
        "power": ex.power if ex else [],
        "leases": ex.leases if ex else [],
        "lease_contracts": ex.lease_contracts if ex else [],
        # contracts signed before the plan (kept by a re-plan): their payments are rows of `leases` with committed true
        "committed_lease_contracts": ex.committed_lease_contracts if ex else [],
        "binding": [{k: v for k, v in b.items() if k != "name"} | {"text": describe_binding(b)} for b in binding],
        "diagnosis": diagnosis or [],
        "options": _options_rows(options),
        "inputs": [{"role": role, "path": inputs.file_paths[role], "sha256": h} for role, h in inputs.file_hashes.items()],
        "run": {
            "started_utc": started, "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "planner_version": versions.get("fleet-planner", "?"), "versions": versions,
            "stage_seconds": {k: round(v, 3) for k, v in timings.items()},
        },
    }
    plan["finance"] = build_finance(plan, finance_assumptions(inputs))  # cash, depreciation, NBV per quarter
    return plan


def unserved_rows(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan's capacity rows inside the horizon whose demand is left short (a short demand tail past the horizon
    is a warning, not a failure)."""
    return [c for c in plan.get("capacity") or [] if isinstance(c, dict) and not c.get("tail")
            and float(c.get("unmet_tokens_per_s") or 0.0) > 1e-6 * max(1.0, float(c.get("required_tokens_per_s") or 0.0))]


def plan_exit_code(plan: dict[str, Any]) -> int:
    """What a plan document exits with (README "Failure modes"): 3 when it is infeasible or leaves a demand row of
    the horizon short, 0 when every demand row is served. Computed from plan.json alone, so a cached plan gives the
    same code as a fresh one."""
    return EXIT_INFEASIBLE if plan.get("status") == "infeasible" or unserved_rows(plan) else EXIT_OK


def solve(*args: Any, **kwargs: Any) -> SolveResult:
    """`solvers.solve.solve`, except that a solve the user stopped is a stop, not a plan: HiGHS handles Ctrl-C
    itself and returns its best plan with the status "Interrupted by user", which would be written as `feasible`
    (exit 0). Raises KeyboardInterrupt then, and when a SIGINT/SIGTERM was noted (`planner.interrupts`)."""
    from planner.interrupts import stop_if_requested

    result = _solve(*args, **kwargs)
    if (result.raw_status or "").strip().lower() == "interrupted by user":  # monolithic HiGHS only: the phases of
        raise KeyboardInterrupt                                              # fix-and-optimize report their own
    stop_if_requested()
    return result


def solve_sets(S: PlanSets, m: PlanModel, settings: SolverSettings, progress: Progress | None = None,
               hook: ModelHook | None = None) -> SolveResult:
    """Solve the model of `S`, then, when its option set was capped, bound the real problem and set the status
    (`solvers.full_bound.certify`). `hook` adds to the uncapped model what the caller added to `m`."""
    return certify(S, solve(m, settings, progress), settings, hook, progress)


def quantile_cost(inputs: PlanInputs, settings: SolverSettings, plan: dict[str, Any]) -> dict[str, Any]:
    """What planning at `policy.perf_quantile` costs against planning at the median (P50): a second solve at P50
    when the quantile is not 0.5 and `policy.perf_quantile_compare` is on."""
    q = inputs.scenario.policy.perf_quantile
    out: dict[str, Any] = {"quantile": q, "objective_usd": plan.get("objective_usd"),
                           "capex_usd": (plan.get("kpis") or {}).get("capex_usd")}
    if q == 0.5 or not inputs.scenario.policy.perf_quantile_compare:
        return out
    S2 = build_sets(inputs, deployment_table(inputs, 0.5))
    m2, const2 = build_model(S2)
    r2 = solve_sets(S2, m2, settings)
    if not r2.has_solution:
        return {**out, "p50_status": r2.status}
    ex2 = extract(S2, m2, r2.values, const2)
    obj2 = _usd(r2.objective, const2) if out["objective_usd"] is not None else None  # only when the objective is money
    cap2 = ex2.kpis.get("capex_usd")
    return {**out, "p50_status": r2.status, "p50_objective_usd": obj2, "p50_capex_usd": cap2,
            "extra_objective_usd": None if out["objective_usd"] is None or obj2 is None else round(out["objective_usd"] - obj2, 2),
            "extra_capex_usd": None if out["capex_usd"] is None or cap2 is None else round(out["capex_usd"] - cap2, 2)}


#: wall-clock limit of each diagnosis solve (unmet demand; limits exceeded), seconds: the solver settings' limit if
#: shorter. A diagnosis only has to locate the shortfall, not prove a plan's cost, so it never takes the full limit twice.
DIAGNOSIS_TIME_LIMIT_S = 60.0
#: relative MIP gap of the diagnosis solves: penalties dominate their objectives, so the plan's 1 % would hide real
#: shortfalls; 1e-6 keeps them to a fraction of a tokens/s on small cases
DIAGNOSIS_MIP_GAP = 1e-6
#: branch-and-bound node limit of each diagnosis solve (HiGHS): it, not the time limit, ends a diagnosis that does
#: not close its gap, so the same inputs and settings (seed, threads) give the same diagnosis on any machine
DIAGNOSIS_MAX_NODES = 200


def diagnosis_settings(settings: SolverSettings) -> SolverSettings:
    """The solver settings of a diagnosis solve: the run's solver, threads and seed, monolithic (the fix-and-optimize
    phases are split by wall-clock time), at most DIAGNOSIS_TIME_LIMIT_S and a gap of at most DIAGNOSIS_MIP_GAP."""
    return settings.model_copy(update={"mip_gap": min(settings.mip_gap, DIAGNOSIS_MIP_GAP), "strategy": "monolithic",
                                       "time_limit_s": min(settings.time_limit_s, DIAGNOSIS_TIME_LIMIT_S)})


def stopped_by(r: SolveResult, node_limit: int | None) -> str:
    """What ended a diagnosis phase: `proven` (optimal within the gap, or infeasible), `node limit` (HiGHS's
    `mip_max_nodes`, deterministic), `time limit` (the wall clock: machine-dependent) or `solver` (another stop)."""
    raw = r.raw_status.lower()
    if r.status in ("optimal", "infeasible"):
        return "proven"
    if "time limit" in raw:
        return "time limit"
    if node_limit is not None and "solution limit" in raw:  # HiGHS reports mip_max_nodes as a solution limit
        return "node limit"
    if node_limit is None and r.status == "feasible":  # a solver without a node limit stops early only on time
        return "time limit"
    return "solver"


def _phase_done(say: Progress, phase: str, r: SolveResult, why: str, limit_s: float) -> None:
    """Progress line of a diagnosis phase: its status, and a caution when the time limit (not the node limit or the
    gap) stopped it, since then a slower or faster machine can stop at another plan."""
    say(f"diagnosis {phase}: {r.status} ({r.raw_status}) in {r.solve_seconds:.1f} s, stopped by: {why}"
        + (f"; the {limit_s:g} s time limit stopped it, so its figures are not proven and may differ on another "
           "machine" if why == "time limit" else ""))


def diagnosis_run_block(phases: list[tuple[str, SolveResult, str]], settings: SolverSettings,
                        node_limit: int | None) -> dict[str, Any]:
    """plan.json `diagnosis_run`: each phase's status and what stopped it (never its seconds, which vary), whether
    the diagnosis is reproducible (`deterministic`: no phase stopped by the wall clock) and, if not, a caution."""
    timed_out = [name for name, _r, why in phases if why == "time limit"]
    caution = None
    if timed_out:
        which = " and ".join(f"'{n}'" for n in timed_out) + (" phases" if len(timed_out) > 1 else " phase")
        caution = (f"the {which} of the diagnosis stopped at the {settings.time_limit_s:g} s time "
                   f"limit{f', before the {node_limit}-node limit' if node_limit else ''}: the shortfalls and causes "
                   "are those of the best plan found by then, not proven minimal, and a faster or slower machine may "
                   "report other figures. Each phase runs at most the shorter of --time-limit and "
                   f"{DIAGNOSIS_TIME_LIMIT_S:g} s; a smaller scenario (fewer quarters, sites or workloads) gives a "
                   "reproducible diagnosis.")
    return {"phases": [{"phase": name, "status": r.status, "raw_status": r.raw_status, "stopped_by": why}
                       for name, r, why in phases],
            "time_limit_s": settings.time_limit_s, "node_limit": node_limit, "mip_gap": settings.mip_gap,
            "deterministic": not timed_out, "caution": caution}


NOT_PROVEN = " (not proven: the diagnosis stopped at its time limit; see diagnosis_run)"


def run_diagnosis(S: PlanSets, settings: SolverSettings, stage: Callable[[str, Callable[[], Any]], Any],
                  say: Progress, hook: ModelHook | None = None,
                  ) -> tuple[PlanModel, float, SolveResult, list[dict[str, Any]], dict[str, Any]]:
    """Say what is short and why, when no plan meets every limit: (model, constant, result of the unmet-demand run,
    diagnosis rows, `diagnosis_run` block). Phase 1 re-solves with penalised unmet demand, forecast before headroom
    buffer (`build_model(with_slack=True)`); phase 2 also lets every limit be exceeded at a penalty, to name the
    limits in the way (`solvers.explain.diagnose`). Each phase stops at DIAGNOSIS_MAX_NODES nodes (HiGHS), the gap
    or `diagnosis_settings`' time limit, whichever comes first; when the time limit stopped a phase, every row says
    `exact: false` and its message "not proven", and `diagnosis_run.caution` says why (the figures then depend on
    the machine's speed). `hook` adds to each model what the caller added to its own (a re-plan's families)."""
    tight = diagnosis_settings(settings)
    nodes = DIAGNOSIS_MAX_NODES if tight.name == "highs" else None
    say(f"no plan meets every limit: diagnosing in 2 phases, each at most {tight.time_limit_s:g} s"
        + (f" or {nodes} nodes" if nodes else ""))
    say("diagnosis 1/2: re-solving with penalised unmet demand (forecast first, then the headroom buffer) to find what is short")

    def built(**kw: bool) -> tuple[PlanModel, float]:
        m, c = build_model(S, **kw)
        if hook is not None:
            hook(m)
        return m, c

    m2, const2 = stage("diagnose_build", lambda: built(with_slack=True))
    r2 = stage("diagnose_solve", lambda: solve(m2, tight, max_nodes=nodes))
    why2 = stopped_by(r2, nodes)
    _phase_done(say, "1/2", r2, why2, tight.time_limit_s)
    say("diagnosis 2/2: re-solving with every limit allowed to be exceeded at a penalty, to name the limits in the way")
    m3, _ = built(with_slack=True, relax_limits=True)
    r3 = stage("diagnose_limits", lambda: solve(m3, tight, max_nodes=nodes))
    why3 = stopped_by(r3, nodes)
    _phase_done(say, "2/2", r3, why3, tight.time_limit_s)
    run = diagnosis_run_block([("unmet demand", r2, why2), ("limits exceeded", r3, why3)], tight, nodes)
    diagnosis = diagnose(S, m2, r2.values, m3, r3.values) if r2.has_solution else [
        {"workload": w, "quarter": S.quarters[t], "short_tokens_per_s": round(S.forecast[(w, t)], 3),
         "headroom_short_tokens_per_s": round(S.demand[(w, t)] - S.forecast[(w, t)], 3), "kind": "demand",
         "cause": why, "message": f"demand short by {S.forecast[(w, t)]:,.0f} tokens/s of the forecast peak (no option serves it)"}
        for w, t, why in S.no_option
    ]
    limits_only = {"short_tokens_per_s": 0.0, "headroom_short_tokens_per_s": 0.0, "kind": "limits",
                   "message": "no demand short; a limit is exceeded"}
    if not diagnosis and r3.has_solution:  # no demand short, yet infeasible: limits the existing fleet alone breaks
        diagnosis = [{"workload": "(all)", "quarter": q or S.quarters[0], **limits_only, "cause": text}
                     for q, text in limits_exceeded(m3, r3.values)]
    if not diagnosis:
        diagnosis = [{"workload": "(all)", "quarter": S.quarters[0], **limits_only,
                      "cause": "every demand can be met only by breaking a limit that has no slack variable (site power or rack space for the existing fleet?)"}]
    exact = run["deterministic"]
    diagnosis = [{**d, "exact": exact} | ({} if exact else {"message": f"{d.get('message') or ''}{NOT_PROVEN}"})
                 for d in diagnosis]
    return m2, const2, r2, diagnosis, run


def plan_scenario(scenario_path: str | Path, overrides: dict[str, Any] | None = None, progress: Progress | None = None,
                  sets: Any = None) -> PlanOutcome:
    """Run the whole pipeline for one scenario; never writes files (see `planner.pipeline_cli` for export).

    `overrides`: solver settings from the command line; `sets`: `--set` what-ifs on the scenario itself.
    """
    say = progress or (lambda _msg: None)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    timings: dict[str, float] = {}

    def stage(name: str, fn: Callable[[], Any]) -> Any:
        say(f"[{name}] ...")
        t0 = time.monotonic()
        out = fn()
        timings[name] = time.monotonic() - t0
        say(f"[{name}] done in {timings[name]:.2f} s")
        return out

    inputs = stage("load", lambda: load_inputs(scenario_path, sets))
    settings = effective_settings(inputs, overrides)
    options = stage("options", lambda: deployment_table(inputs))
    S = stage("sets", lambda: build_sets(inputs, options))
    m, const = stage("build", lambda: build_model(S))
    say(f"model: {m.n_vars} variables ({m.n_int_vars} integer), {len(m.constraints)} constraints")
    if S.no_option and "unmet" not in m.vars:  # some demand row has no deployable option: infeasible before any solve
        result = SolveResult("infeasible", f"{len(S.no_option)} demand row(s) without a deployable option", None, None,
                             None, 0.0, settings.name, "", {}, [])
    else:
        result = stage("solve", lambda: solve(m, settings, progress=say if progress else None))
        if S.reduced_from and result.has_solution:  # capped option set: bound the real problem (`solvers.full_bound`)
            result = stage("unreduced_bound", lambda: certify(S, result, settings, progress=say if progress else None))
    say(f"solver status: {result.status} ({result.raw_status})")

    if result.has_solution:
        violations = verify_solution(m, result.values)
        if violations:
            raise PlannerError(
                "the solver returned a plan that breaks "
                f"{len(violations)} constraint(s), e.g. {violations[0]}. The model may be numerically troubled: "
                "try --solver cbc, a smaller --mip-gap, or report it.", EXIT_NO_PLAN,
            )
        plan = stage("extract", lambda: assemble_plan(inputs, S, m, result, settings, const, options, timings, started))
        plan["perf_quantile"] = stage("quantile_compare", lambda: quantile_cost(inputs, settings, plan))
        return PlanOutcome(plan, plan_exit_code(plan), timings, perf_fit_report(inputs))

    if result.status == "infeasible" or (result.status == "no_plan" and S.no_option):
        m2, const2, r2, diagnosis, run = run_diagnosis(S, settings, stage, say)
        infeasible = SolveResult("infeasible", result.raw_status, None, None, None, result.solve_seconds + r2.solve_seconds,
                                 result.solver_name, result.solver_version, {}, result.notes)
        plan = assemble_plan(inputs, S, m2, infeasible, settings, const2, options, timings, started, diagnosis, values=r2.values)
        plan["diagnosis_run"] = run
        return PlanOutcome(plan, EXIT_INFEASIBLE, timings, perf_fit_report(inputs))

    if result.status == "unbounded":
        raise PlannerError("the model is unbounded: some cost is missing or negative. Check residual values and prices; report it if inputs look sane.", EXIT_NO_PLAN)
    raise PlannerError(
        f"no plan found within the time limit of {settings.time_limit_s:g} s{result.status_note()}. "
        "Raise --time-limit, loosen --mip-gap, or shorten the horizon.", EXIT_NO_PLAN,
    )
