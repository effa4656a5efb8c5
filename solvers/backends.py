"""Solver backends behind one interface, reporting the truth: status, objective, best bound, gap.

HiGHS (default) is driven through highspy directly on the MPS file PuLP writes, because PuLP 3.3's HiGHS
wrapper reports a time-limited incumbent as "Optimal" and hides the bound. CBC (bundled with PuLP 3.x)
and Gurobi (when licensed) go through PuLP. `optimal` is only reported when the solver proved the
solution within the requested relative gap; `feasible` means a limit stopped it with an incumbent.
"""

from __future__ import annotations

import contextlib
import math
import time

import pulp

from planner.errors import EXIT_BAD_INPUT, EXIT_NO_PLAN, PlannerError
from planner.schemas.scenario import SolverSettings
from solvers import highs_env
from solvers.model import PlanModel
from solvers.result import ProgressFn, SolveResult


def solve_highs(model: PlanModel, settings: SolverSettings, progress: ProgressFn | None = None,
                max_nodes: int | None = None) -> SolveResult:
    """Solve with HiGHS via highspy; read status, objective, dual bound and gap from HiGHS itself.

    `max_nodes`: stop after this many branch-and-bound nodes (HiGHS `mip_max_nodes`), a limit that, unlike the time
    limit, ends the same run at the same point on any machine (the diagnosis runs: `planner.pipeline.run_diagnosis`)."""
    try:
        import highspy
    except ImportError as exc:
        raise PlannerError("the HiGHS solver (python package highspy) is not installed. Run `pip install highspy` or choose --solver cbc.", EXIT_BAD_INPUT) from exc
    threads, note = highs_env.claim_threads(settings.threads)
    notes: list[str] = [note] if note else []
    h = highs_env.new_highs()
    # Read the model before setting options: reading resets the run state, and a tiny time limit set
    # first would otherwise be applied to the read itself.
    if not highs_env.read_model(h, model):
        raise PlannerError("HiGHS could not read the model file the planner wrote; this is a bug, please report it.", EXIT_NO_PLAN)
    with contextlib.suppress(Exception):  # Ctrl-C stops the solve instead of waiting for it (highspy >= 1.8)
        h.HandleKeyboardInterrupt = True
    h.setOptionValue("time_limit", float(settings.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(settings.mip_gap))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", int(settings.seed))
    h.setOptionValue("mip_feasibility_tolerance", 1e-7)
    if max_nodes is not None:
        h.setOptionValue("mip_max_nodes", int(max_nodes))
    if progress is not None:
        last = [0.0]

        def _on_mip_log(_cb_type, _msg, data_out, _data_in, _user):  # type: ignore[no-untyped-def]
            now = time.monotonic()
            if now - last[0] >= 1.0:
                last[0] = now
                obj, bnd = data_out.mip_primal_bound, data_out.mip_dual_bound
                gap = data_out.mip_gap
                inc = f"{obj:,.3f}" if math.isfinite(obj) else "none yet"
                progress(f"incumbent {inc}  bound {bnd:,.3f}  gap {gap * 100 if math.isfinite(gap) else float('nan'):.2f}%")

        with contextlib.suppress(Exception):  # progress is best effort; never fail a solve over it
            h.setCallback(_on_mip_log, None)
            # MipLogging does not fire with HiGHS output off; these two do.
            h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
            h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution)
    t0 = time.monotonic()
    h.run()
    elapsed = time.monotonic() - t0
    ms = h.getModelStatus()
    info = h.getInfo()
    raw = h.modelStatusToString(ms)
    has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
    M = highspy.HighsModelStatus
    if ms == M.kOptimal:
        status_s = "optimal"
    elif ms in (M.kInfeasible,):
        status_s = "infeasible"
    elif ms in (M.kUnbounded, M.kUnboundedOrInfeasible):
        status_s = "unbounded"
    elif has_sol:
        status_s = "feasible"
    else:
        status_s = "no_plan"
    values: dict[str, float] = {}
    objective = bound = gap = None
    if has_sol:
        sol = h.getSolution()
        lp = h.getLp()
        values = dict(zip(lp.col_names_, sol.col_value, strict=True))
        objective = float(info.objective_function_value)
        bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else None
        gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
        if status_s == "optimal" and gap is None:
            gap = 0.0
    return SolveResult(status_s, raw, objective, bound, gap, elapsed, "highs", highs_env.highs_version(), values, notes)


def solve_pulp(model: PlanModel, settings: SolverSettings, name: str) -> SolveResult:
    """CBC or Gurobi through PuLP. CBC exposes no bound through PuLP: gap is reported only when proven optimal."""
    if name == "cbc":
        kwargs = {"msg": False, "timeLimit": settings.time_limit_s, "gapRel": settings.mip_gap,
                  "threads": settings.threads, "options": [f"randomSeed {settings.seed}"]}
        solver = pulp.COIN_CMD(**kwargs)  # a CBC on PATH (the only way in PuLP 4)
        if not solver.available() and hasattr(pulp, "PULP_CBC_CMD"):
            import warnings

            with warnings.catch_warnings():  # PuLP 3.x bundles CBC behind a class deprecated for 4.0
                warnings.simplefilter("ignore", DeprecationWarning)
                solver = pulp.PULP_CBC_CMD(**kwargs)
    else:
        solver = pulp.GUROBI(msg=False, timeLimit=settings.time_limit_s, gapRel=settings.mip_gap,
                             Threads=settings.threads, Seed=settings.seed)
    if not solver.available():
        raise PlannerError(f"solver {name!r} is not available on this machine (not installed or not licensed). Use --solver highs.", EXIT_BAD_INPUT)
    t0 = time.monotonic()
    try:
        model.prob.solve(solver)
    except pulp.PulpSolverError as exc:
        raise PlannerError(f"the {name} solver failed: {exc}. Try --solver highs, a longer --time-limit, or fewer quarters.", EXIT_NO_PLAN) from exc
    elapsed = time.monotonic() - t0
    sol_status = model.prob.sol_status
    raw = f"status={pulp.LpStatus.get(model.prob.status, model.prob.status)} sol_status={pulp.LpSolution.get(sol_status, sol_status)}"
    if sol_status == pulp.LpSolutionOptimal:
        status_s = "optimal"
    elif sol_status == pulp.LpSolutionIntegerFeasible:
        status_s = "feasible"
    elif sol_status == pulp.LpSolutionInfeasible:
        status_s = "infeasible"
    elif sol_status == pulp.LpSolutionUnbounded:
        status_s = "unbounded"
    else:
        status_s = "no_plan"
    values = {v.name: float(v.varValue) for v in model.prob.variables() if v.varValue is not None}
    objective = float(pulp.value(model.prob.objective)) if status_s in ("optimal", "feasible") else None
    bound = gap = None
    if name == "gurobi" and status_s in ("optimal", "feasible"):
        with contextlib.suppress(Exception):
            bound = float(model.prob.solverModel.ObjBound)
            gap = float(model.prob.solverModel.MIPGap)
    if status_s == "optimal" and gap is None:
        gap = settings.mip_gap  # proven within the requested gap; CBC does not expose the achieved one
    version = getattr(pulp, "__version__", "?")
    return SolveResult(status_s, raw, objective, bound, gap, elapsed, name, f"pulp {version}", values)


def verify_solution(model: PlanModel, values: dict[str, float], tol: float = 1e-5) -> list[str]:
    """Re-check every registered constraint and integrality on the returned values; violations in words."""
    bad: list[str] = []
    for name, info in model.constraints.items():
        lhs = sum(values.get(v, 0.0) * c for v, c in info.pairs)
        scale = max(1.0, abs(info.rhs))
        if (info.sense == pulp.LpConstraintLE and lhs > info.rhs + tol * scale) or (
            info.sense == pulp.LpConstraintGE and lhs < info.rhs - tol * scale
        ) or (info.sense == pulp.LpConstraintEQ and abs(lhs - info.rhs) > tol * scale):
            bad.append(f"{name}: lhs {lhs:.6g} vs rhs {info.rhs:.6g}")
    for family, d in model.vars.items():
        for var in d.values():
            x = values.get(var.name, 0.0)
            if var.cat == pulp.LpInteger and abs(x - round(x)) > 1e-6:
                bad.append(f"{family} variable {var.name} = {x} is not integral")
            if var.lowBound is not None and x < var.lowBound - 1e-6:
                bad.append(f"{var.name} = {x} below its bound {var.lowBound}")
    return bad
