"""A bound on the real problem when the MILP ran on a capped option set, and the status it supports.

Above `solvers.sets.MAX_EXACT_REPLICA_VARIABLES` the MILP runs on the heuristic cap of the undominated options
(`solvers.sets.cap_options`). Its MIP bound is a bound on that reduced model only: a layout left out could make a
cheaper plan. What is a bound on the real problem (every undominated option, `solvers.sets.uncapped_sets`) is the
LP relaxation of its model: the same `solvers.build.build_model` on the uncapped sets (plus the caller's extra
families, e.g. a re-plan's order-change penalties), every integrality relaxed, solved by HiGHS with its own time limit
(`FULL_BOUND_TIME_SHARE` of the solve's, building the model included) and the solve's threads. The capped plan is a
plan of the uncapped model (its options are a subset; both minimise the same objective, the tail penalty included),
so gap = (objective - LP bound) / |objective| in model units is a proven gap on the real problem. `certify`:

- `optimal` when that gap is within the requested `mip_gap` (proven on the real problem);
- else `optimal_in_reduced_set` when the MIP proved the plan on the reduced set, `feasible` when it did not;
- the reported bound and gap are the LP's; the MIP's own bound, gap and status are kept as `reduced_set_*`. When the
  LP does not solve to optimality in its time limit (or fails), the bound and gap are unknown (None).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import replace

from planner.schemas.scenario import SolverSettings
from solvers import highs_env
from solvers.build import build_model
from solvers.model import PlanModel
from solvers.result import ProgressFn, SolveResult, UnreducedBound
from solvers.sets import PlanSets, uncapped_sets

#: share of the solve's time limit (`solver.time_limit_s`) the unreduced LP bound may take, building included
FULL_BOUND_TIME_SHARE = 0.25
#: statuses
OPTIMAL, OPTIMAL_IN_REDUCED_SET, FEASIBLE = "optimal", "optimal_in_reduced_set", "feasible"

ModelHook = Callable[[PlanModel], None]


def unreduced_lp_bound(S: PlanSets, settings: SolverSettings, hook: ModelHook | None = None,
                       progress: ProgressFn | None = None) -> UnreducedBound:
    """The LP relaxation's optimum of the model on every undominated option of `S` (module docstring), model units."""
    say = progress or (lambda _m: None)
    t0 = time.monotonic()
    limit = FULL_BOUND_TIME_SHARE * float(settings.time_limit_s)
    full = uncapped_sets(S)
    n_rep = len(full.deploy_keys)

    def unknown(status: str, lp_s: float = 0.0) -> UnreducedBound:
        say(f"unreduced LP bound unknown ({status}) after {time.monotonic() - t0:.1f} s")
        return UnreducedBound(status, None, time.monotonic() - t0, lp_s, limit, n_rep)

    try:
        import highspy
    except ImportError:
        return unknown("error: highspy is not installed")
    say(f"unreduced LP bound: building the model on every undominated option ({n_rep:,} replica variables)")
    m, _const = build_model(full)  # the constant is the capped model's too: fleet and kept leases only
    if hook is not None:
        hook(m)
    threads, _note = highs_env.claim_threads(settings.threads)
    h = highs_env.new_highs()
    if not highs_env.read_model(h, m):
        return unknown("error: HiGHS could not read the model")
    left = limit - (time.monotonic() - t0)
    if left <= 0:
        return unknown(f"time_limit: building the model took {time.monotonic() - t0:.1f} s of its {limit:g} s")
    n = h.getNumCol()
    if n:
        import numpy as np

        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.array([highspy.HighsVarType.kContinuous] * n))
    with contextlib.suppress(Exception):  # Ctrl-C stops the solve instead of waiting for it (highspy >= 1.8)
        h.HandleKeyboardInterrupt = True
    h.setOptionValue("time_limit", float(left))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", int(settings.seed))
    t_lp = time.monotonic()
    h.run()
    lp_s = time.monotonic() - t_lp
    ms = h.getModelStatus()
    if ms != highspy.HighsModelStatus.kOptimal:
        raw = h.modelStatusToString(ms)
        return unknown("time_limit" if ms == highspy.HighsModelStatus.kTimeLimit else f"LP ended: {raw}", lp_s)
    bound = float(h.getInfo().objective_function_value)
    if not math.isfinite(bound):
        return unknown("error: no finite LP objective", lp_s)
    say(f"unreduced LP bound {bound:,.3f} (model units) in {time.monotonic() - t0:.1f} s, LP {lp_s:.1f} s")
    return UnreducedBound("optimal", bound, time.monotonic() - t0, lp_s, limit, n_rep)


def gap(objective: float, bound: float) -> float:
    """(objective - bound) / |objective|, at least 0, in model units (what the status is decided on)."""
    return max(0.0, objective - bound) / max(abs(objective), 1e-9)


def certify(S: PlanSets, result: SolveResult, settings: SolverSettings, hook: ModelHook | None = None,
            progress: ProgressFn | None = None) -> SolveResult:
    """`result` of a MILP on `S`, with bound, gap and status that hold for the real problem (module docstring).
    Unchanged when `S` was not capped or the solve found no plan."""
    if not S.reduced_from or not result.has_solution or result.objective is None:
        return result
    ub = unreduced_lp_bound(S, settings, hook, progress)
    proven_reduced = result.status == OPTIMAL
    g = gap(result.objective, ub.bound) if ub.bound is not None else None
    if g is not None and g <= settings.mip_gap:
        status = OPTIMAL
    else:
        status = OPTIMAL_IN_REDUCED_SET if proven_reduced else FEASIBLE
    if ub.bound is None:
        note = (f"option set capped: the LP bound on every undominated option is unknown ({ub.status}, "
                f"{ub.seconds:.1f} s), so no bound or gap on the real problem is reported")
    else:
        note = (f"option set capped: gap {g * 100:.3f} % against the LP bound on every undominated option "
                f"({ub.replica_variables:,} replica variables, {ub.seconds:.1f} s); on the reduced set the MIP "
                f"ended {result.status} at gap {'-' if result.mip_gap is None else f'{result.mip_gap * 100:.3f} %'}")
    return replace(result, status=status, best_bound=ub.bound, mip_gap=g, reduced_set_status=result.status,
                   reduced_set_bound=result.best_bound, reduced_set_gap=result.mip_gap, unreduced=ub,
                   notes=[*result.notes, note])
