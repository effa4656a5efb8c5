"""Fix-and-optimize for HiGHS: bounds from relaxations, plans from MIPs restricted around them, then the full
MIP warm-started. Same model, same answer format, an honest gap.

Why: on generated instances (benchmarks/generate.py) the relaxations are tight (large server and replica counts
round with little loss), but HiGHS on the whole MIP spends its time in sub-MIP heuristics without finding a
good plan: on `large` (64k integer columns) it stopped at 3.4-4.7 % after 300 s with its root bound within 0.4 %
of the best plan, and on `medium` seeds 1 and 3 it was still at 16 % and 8 % after 60 s. The integer replica
counts `rep[o,s]` make the search hard (purchases and racks alone solve in seconds), yet cost little: the
plan keeps the options, sites and chips its relaxation picked, with whole replicas. So, each phase only if
the gap is not proven yet, and each stopped as soon as it is:

1. **LP** of the full model: a valid lower bound z_LP.
2. **Restricted MIP**: replica variables that are 0 in the LP are fixed to 0 (purchases, racks and order flags
   stay free). Every plan of it is a plan of the full model.
3. **Relaxed-replica MIP**: the full model with continuous replica counts (integer purchases and racks). It is a
   relaxation, so its dual bound is a valid lower bound too (usually above z_LP); its solution is no plan.
4. **Repair MIP**: replicas free only for the (workload, quarter, chip, site) groups phase 3 used (every option
   of such a group), purchases at least phase 3's. Again a restriction: its plans are plans.
5. **Full MIP**, warm-started from the best plan, for the time left; its dual bound counts too.

The gap is (best plan - best bound) / |best plan| with the best bound over phases 1, 3 and 5; `optimal` is
reported only when it is within `mip_gap`, or the plan is within HiGHS's absolute gap of its bound (`MIP_ABS_GAP`,
what `solvers.backends.solve_highs` accepts as optimal too), or HiGHS proved the full MIP; `feasible` when the time
limit came first. If the LP itself does not solve (time limit, numerical trouble) the plain MIP of
`solvers.backends.solve_highs` runs instead.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

import numpy as np

from planner.errors import EXIT_BAD_INPUT, EXIT_NO_PLAN, PlannerError
from planner.schemas.scenario import SolverSettings
from solvers import backends, highs_env
from solvers.model import PlanModel
from solvers.result import ProgressFn, SolveResult

#: LP values at or below this count as zero when choosing the restricted MIPs' replica variables
SUPPORT_TOL = 1e-6
#: share of the time left that phases 2, 3 and 4 may use (phase 5 gets the rest)
SHARE = {"restricted": 0.25, "relaxed": 0.4, "repair": 0.5}
#: HiGHS's default `mip_abs_gap` (model units: $1): a plan this close to the bound is proven optimal, as the
#: monolithic solve reports it. Without it, at mip_gap 0 a plan whose objective and bound differ by rounding alone
#: (1e-17) was reported `feasible` (tests/test_exhaustive.py, case n-plus-1-min-order-leases-s0)
MIP_ABS_GAP = 1e-6
#: phases 2-4 stop at this fraction of the requested gap to their own bound (if the gap to the best bound is not
#: met first): their own optimum is not the goal, a plan within the gap of the full model's bound is
PHASE_GAP_FRACTION = 0.25


_INTERRUPTED = [False]  # set by our SIGINT handler while a fix-and-optimize solve runs


def _on_sigint(_signum, _frame) -> None:  # type: ignore[no-untyped-def]
    _INTERRUPTED[0] = True


@dataclass
class _Best:
    """Best plan and best valid lower bound seen so far, in model units (minimisation)."""

    objective: float = math.inf
    values: np.ndarray | None = None
    bound: float = -math.inf
    phases: list[str] = field(default_factory=list)

    def gap(self) -> float:
        return _gap(self.objective, self.bound)


def _gap(primal: float, bound: float) -> float:
    if not (math.isfinite(primal) and math.isfinite(bound)):
        return math.inf
    return max(0.0, primal - bound) / max(abs(primal), 1e-9)


def _new(settings: SolverSettings, threads: int):  # type: ignore[no-untyped-def]
    h = highs_env.new_highs()
    with contextlib.suppress(Exception):  # Ctrl-C stops the solve instead of waiting for it (highspy >= 1.8)
        h.HandleKeyboardInterrupt = True
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", int(settings.seed))
    h.setOptionValue("mip_feasibility_tolerance", 1e-7)
    return h


def _watch(h, best: _Best, target: float, progress: ProgressFn | None, phase: str) -> None:  # type: ignore[no-untyped-def]
    """Report incumbent / bound / gap about once a second; stop the run once the gap to the best bound is met.

    In the relaxed-replica phase the run's incumbent is no plan: only its dual bound counts, and the run stops as
    soon as it proves the best plan of the earlier phases within the gap.
    """
    import highspy

    last = [0.0]
    plans = phase != "relaxed"
    bounds = phase in ("relaxed", "full")

    def on_event(_cb_type, _msg, data_out, data_in, _user):  # type: ignore[no-untyped-def]
        if _INTERRUPTED[0]:  # Ctrl-C: stop HiGHS now; the caller raises KeyboardInterrupt
            data_in.user_interrupt = True
            return
        primal = data_out.mip_primal_bound if plans else math.inf
        dual = data_out.mip_dual_bound
        bound = max(best.bound, dual) if bounds and math.isfinite(dual) else best.bound
        inc = min(primal, best.objective)
        if _gap(inc, bound) <= target:  # the best plan so far is proven within the gap (relaxed phase: by its bound)
            data_in.user_interrupt = True
        now = time.monotonic()
        if progress is not None and now - last[0] >= 1.0:
            last[0] = now
            g = _gap(inc, bound)
            shown = f"{inc:,.3f}" if math.isfinite(inc) else "none yet"
            progress(f"incumbent {shown}  bound {bound:,.3f}  gap {g * 100 if math.isfinite(g) else float('nan'):.2f}%  ({phase} MIP)")

    h.setCallback(on_event, None)
    for kind in (highspy.cb.HighsCallbackType.kCallbackMipInterrupt, highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution):
        h.startCallback(kind)


def _run(lp0, settings: SolverSettings, threads: int, best: _Best, progress: ProgressFn | None, phase: str, time_limit: float,
         *, fix: np.ndarray | None = None, lower: tuple[np.ndarray, np.ndarray] | None = None,
         continuous: np.ndarray | None = None, start: np.ndarray | None = None, gap: float | None = None):  # type: ignore[no-untyped-def]
    """One MIP run on a copy of the model with some columns fixed to 0, raised or made continuous."""
    import highspy

    h = _new(settings, threads)
    h.passModel(lp0)
    if fix is not None and len(fix):
        h.changeColsBounds(len(fix), fix, np.zeros(len(fix)), np.zeros(len(fix)))
    if lower is not None and len(lower[0]):
        cols, lo = lower
        h.changeColsBounds(len(cols), cols, lo, np.asarray(lp0.col_upper_)[cols])
    if continuous is not None and len(continuous):
        h.changeColsIntegrality(len(continuous), continuous, np.array([highspy.HighsVarType.kContinuous] * len(continuous)))
    if start is not None:
        h.setSolution(len(start), np.arange(len(start), dtype=np.int32), start)
    h.setOptionValue("time_limit", max(0.1, time_limit))
    h.setOptionValue("mip_rel_gap", float(settings.mip_gap if gap is None else gap))
    _watch(h, best, settings.mip_gap, progress, phase)
    h.run()
    if _INTERRUPTED[0]:
        raise KeyboardInterrupt
    info = h.getInfo()
    raw = h.modelStatusToString(h.getModelStatus())
    has_sol = info.primal_solution_status == 2
    x = np.asarray(h.getSolution().col_value, dtype=float) if has_sol else None
    if phase != "relaxed" and has_sol and info.objective_function_value < best.objective:
        best.objective = float(info.objective_function_value)
        best.values = x
    if phase in ("relaxed", "full") and math.isfinite(info.mip_dual_bound):
        best.bound = max(best.bound, float(info.mip_dual_bound))
    best.phases.append(f"{phase} MIP {raw}")
    return h, x, raw


def per_token_dominated(lp, rep_cols: np.ndarray, demand_row: dict[int, int]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Replica columns another column beats per token/s: same demand row and the same other rows, every one of them a
    <= row (a resource), and per unit of the demand-row coefficient (tokens/s) no more objective cost and no more of
    any resource; the dominating column has no upper bound. With continuous replicas, x_o replicas of a dominated
    column become x_o tok_o / tok_p of its dominator at no higher cost within every row, so fixing it at 0 leaves the
    relaxed model's optimum, and so its bound, unchanged. (With whole replicas this is not valid: `prune_options`
    drops only what is dominated replica for replica.) Exact ties keep the first column."""
    a = lp.a_matrix_
    start, index, value = np.asarray(a.start_), np.asarray(a.index_), np.asarray(a.value_)
    lower = np.asarray(lp.row_lower_)
    cost, col_up = np.asarray(lp.col_cost_), np.asarray(lp.col_upper_)
    groups: dict[tuple, list[tuple[int, np.ndarray]]] = {}
    for j in rep_cols:
        d = demand_row.get(int(j))
        rows, coefs = index[start[j]:start[j + 1]], value[start[j]:start[j + 1]]
        tok = float(coefs[rows == d][0]) if d is not None and np.any(rows == d) else 0.0
        other = rows != d
        if tok <= 0 or np.any(np.isfinite(lower[rows[other]])) or np.any(coefs[other] < 0):
            continue  # not a plain resource column: never pruned, never dominating
        order = np.argsort(rows[other])
        key = (d, tuple(rows[other][order].tolist()))
        groups.setdefault(key, []).append((int(j), np.concatenate(([cost[j] / tok], coefs[other][order] / tok))))
    out = []
    for members in groups.values():
        for i, (j, v) in enumerate(members):
            if any(np.all(w <= v + 1e-12 * np.abs(v)) and (not np.array_equal(w, v) or k < i) and not np.isfinite(col_up[q])
                   for k, (q, w) in enumerate(members) if k != i):
                out.append(j)
    return np.array(sorted(out), dtype=np.int32)


def _replica_groups(model: PlanModel) -> dict[str, tuple[str, str]]:
    """Replica variable name -> (its demand row, its servers row): the (workload, quarter) and (chip, site, quarter)
    it serves and runs on. Options of one group differ only in layout."""
    rows: dict[str, dict[str, str]] = {"demand": {}, "servers": {}}
    for name, info in model.constraints.items():
        family = "servers" if info.family == "lease_active" else info.family  # leased servers: their own servers row
        if family in rows:
            for v, _c in info.pairs:
                rows[family][v] = name
    return {v.name: (rows["demand"].get(v.name, ""), rows["servers"].get(v.name, "")) for v in model.vars.get("rep", {}).values()}


def solve_fix_and_optimize(model: PlanModel, settings: SolverSettings, progress: ProgressFn | None = None) -> SolveResult:
    """Solve `model` with HiGHS in the phases of the module docstring; stop as soon as the gap is proven.

    Ctrl-C stops the running phase through the HiGHS callback and raises KeyboardInterrupt (no plan).
    """
    import signal
    import threading

    _INTERRUPTED[0] = False
    if threading.current_thread() is not threading.main_thread():
        return _solve_fix_and_optimize(model, settings, progress)
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        result = _solve_fix_and_optimize(model, settings, progress)
    finally:
        signal.signal(signal.SIGINT, previous)
    if _INTERRUPTED[0]:
        raise KeyboardInterrupt
    return result


def _solve_fix_and_optimize(model: PlanModel, settings: SolverSettings, progress: ProgressFn | None = None) -> SolveResult:
    try:
        import highspy
    except ImportError as exc:
        raise PlannerError("the HiGHS solver (python package highspy) is not installed. Run `pip install highspy` or choose --solver cbc.", EXIT_BAD_INPUT) from exc
    t_start = time.monotonic()
    deadline = t_start + float(settings.time_limit_s)
    notes: list[str] = []
    threads, note = highs_env.claim_threads(settings.threads)
    if note:
        notes.append(note)
    say = progress or (lambda _m: None)
    target = float(settings.mip_gap)
    left = lambda: deadline - time.monotonic()  # noqa: E731
    version = highs_env.highs_version()

    h = _new(settings, threads)
    if not highs_env.read_model(h, model):
        raise PlannerError("HiGHS could not read the model file the planner wrote; this is a bug, please report it.", EXIT_NO_PLAN)
    lp0 = h.getLp()
    n = lp0.num_col_
    names = list(lp0.col_names_)
    col = {nm: j for j, nm in enumerate(names)}
    best = _Best()
    M = highspy.HighsModelStatus

    # 1) LP relaxation of the full model
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.array([highspy.HighsVarType.kContinuous] * n))
    h.setOptionValue("time_limit", max(0.1, left()))
    h.run()
    lp_status = h.getModelStatus()
    if lp_status == M.kInfeasible:
        return SolveResult("infeasible", "Infeasible (LP relaxation)", None, None, None, time.monotonic() - t_start, "highs", version, {}, notes)
    if lp_status != M.kOptimal:
        if left() <= 0.5:
            return SolveResult("no_plan", f"LP relaxation: {h.modelStatusToString(lp_status)}", None, None, None,
                               time.monotonic() - t_start, "highs", version, {}, notes)
        notes.append(f"LP relaxation ended {h.modelStatusToString(lp_status)}: solved as one plain MIP")
        r = backends.solve_highs(model, settings.model_copy(update={"time_limit_s": left()}), progress)
        r.notes = notes + r.notes
        r.solve_seconds = time.monotonic() - t_start
        return r
    best.bound = float(h.getInfo().objective_function_value)
    x_lp = np.asarray(h.getSolution().col_value, dtype=float)
    at = lambda: f"at {time.monotonic() - t_start:.1f} s"  # noqa: E731
    say(f"LP relaxation: bound {best.bound:,.3f} {at()}")
    groups = _replica_groups(model)
    rep_cols = np.array(sorted(col[v] for v in groups), dtype=np.int32)
    buy_cols = np.array(sorted(col[v.name] for fam in ("buy", "lease") for v in model.vars.get(fam, {}).values()), dtype=np.int32)

    # 2) MIP restricted to the LP's replica support
    if len(rep_cols) and left() > 0.5:
        fix = rep_cols[x_lp[rep_cols] <= SUPPORT_TOL]
        _run(lp0, settings, threads, best, progress, "restricted", left() * SHARE["restricted"], fix=fix,
             gap=target * PHASE_GAP_FRACTION)
        say(f"restricted MIP: plan {best.objective:,.3f}, gap {best.gap() * 100:.2f}% "
            f"({len(rep_cols) - len(fix)} of {len(rep_cols)} replica variables) {at()}")

    # 3) relaxed-replica MIP: a stronger bound, and the groups a plan should use (columns dominated per token fixed
    #    at 0: with continuous replicas they change neither its optimum nor its bound, `per_token_dominated`)
    x_rel = None
    if best.gap() > target and len(rep_cols) and left() > 0.5:
        row = {nm: i for i, nm in enumerate(lp0.row_names_)}
        demand_row = {col[v]: row[d] for v, (d, _s) in groups.items() if d in row}
        _, x_rel, raw = _run(lp0, settings, threads, best, progress, "relaxed", left() * SHARE["relaxed"], continuous=rep_cols,
                             fix=per_token_dominated(lp0, rep_cols, demand_row), gap=target * PHASE_GAP_FRACTION)
        say(f"relaxed-replica MIP ({raw}): bound {best.bound:,.3f}, gap {best.gap() * 100:.2f}% {at()}")

    # 4) repair: whole replicas within the relaxed plan's groups, purchases at least the relaxed plan's
    if best.gap() > target and x_rel is not None and left() > 0.5:
        used = {groups[names[j]] for j in rep_cols if x_rel[j] > SUPPORT_TOL}
        fix = np.array([j for j in rep_cols if groups[names[j]] not in used], dtype=np.int32)
        lower = (buy_cols, np.round(x_rel[buy_cols])) if len(buy_cols) else None
        _run(lp0, settings, threads, best, progress, "repair", left() * SHARE["repair"], fix=fix, lower=lower,
             gap=target * PHASE_GAP_FRACTION)
        say(f"repair MIP: plan {best.objective:,.3f}, gap {best.gap() * 100:.2f}% {at()}")

    # 5) full MIP from the best plan, until the gap is proven or time runs out
    proven = False
    if best.gap() > target and left() > 0.5:
        f_h, _, raw = _run(lp0, settings, threads, best, progress, "full", left(), start=best.values)
        proven = f_h.getModelStatus() == M.kOptimal  # HiGHS proved its own gap tolerances on the full model
        if f_h.getModelStatus() == M.kInfeasible:
            return SolveResult("infeasible", "Infeasible (full MIP)", None, None, None, time.monotonic() - t_start, "highs", version, {}, notes)

    elapsed = time.monotonic() - t_start
    raw = "; ".join(["fix-and-optimize: LP Optimal", *(best.phases or ["no MIP phase ran before the time limit"])])
    if best.values is None:
        return SolveResult("no_plan", raw, None, None, None, elapsed, "highs", version, {}, notes)
    gap = best.gap()
    status = "optimal" if proven or gap <= target or best.objective - best.bound <= MIP_ABS_GAP else "feasible"
    values = dict(zip(names, best.values.tolist(), strict=True))
    return SolveResult(status, raw, best.objective, best.bound, gap, elapsed, "highs", version, values, notes)
