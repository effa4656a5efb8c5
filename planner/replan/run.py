"""`replan_scenario`: plan the quarters after `commit_through` from a previous plan (see planner/replan/__init__)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pulp

from planner.errors import EXIT_INFEASIBLE, EXIT_NO_PLAN, InputError, PlannerError, Problem
from planner.io.loader import PlanInputs, load_inputs
from planner.pipeline import (
    PlanOutcome,
    assemble_plan,
    deployment_table,
    effective_settings,
    plan_exit_code,
    run_diagnosis,
    solve,
)
from planner.replan.changes import change_table, lease_change_table, moves
from planner.replan.reconcile import fleet_basis_change, reconcile_replan
from planner.replan.rollforward import LeaseKey, OrderKey, Rolled, roll_forward
from planner.schemas.common import _QUARTER_RE
from planner.schemas.scenario import SolverSettings
from solvers.backends import SolveResult, verify_solution
from solvers.build import build_model
from solvers.full_bound import certify
from solvers.model import PlanModel
from solvers.replan_orders import LeaseIndex, OrderIndex, add_lease_change, add_max_change, add_order_change
from solvers.sets import MONEY_SCALE, PlanSets, build_sets

Progress = Callable[[str], None]


def check_quarter(q: str) -> None:
    if not isinstance(q, str) or not _QUARTER_RE.match(q):
        raise InputError([Problem("command line", "--commit-through", f"must be a quarter written like 2027Q2, got {q!r}")])


def previous_index(rolled: Rolled, S: PlanSets) -> tuple[dict[OrderIndex, int], set[OrderKey]]:
    """The previous plan's future orders on the new horizon's buy keys, and those that can no longer be placed."""
    t_of = {q: t for t, q in enumerate(S.quarters)}
    buyable = set(S.buy_keys)
    prev: dict[OrderIndex, int] = {}
    lost: set[OrderKey] = set()
    for (c, s, r, q), n in rolled.previous_future.items():
        k = (c, s, r, t_of.get(q, -1))
        if k in buyable:
            prev[k] = n
        else:
            lost.add((c, s, r, q))
    return prev, lost


def previous_lease_index(rolled: Rolled, S: PlanSets) -> tuple[dict[LeaseIndex, int], set[LeaseKey]]:
    """The previous plan's contracts not yet signed on the new horizon's lease keys, and those that can no longer be
    signed (chip not leasable, start before its first lease quarter or past the horizon)."""
    t_of = {q: t for t, q in enumerate(S.quarters)}
    leasable = set(S.lease_keys)
    prev: dict[LeaseIndex, int] = {}
    lost: set[LeaseKey] = set()
    for (c, q), n in rolled.previous_future_leases.items():
        k = (c, t_of.get(q, -1))
        if k in leasable:
            prev[k] = n
        else:
            lost.add((c, q))
    return prev, lost


@dataclass
class ChangeRule:
    """What a change costs (USD per server, per chip) and the previous plan's orders and contracts it cannot keep."""

    penalty: dict[str, float]  # per server of an order
    lease_penalty: dict[str, float]  # per server of a lease contract
    lost: set[OrderKey]
    lost_leases: set[LeaseKey]


def change_rule(rolled: Rolled, S: PlanSets, lost: set[OrderKey], lost_leases: set[LeaseKey]) -> ChangeRule:
    """`policy.replan`: the USD penalty per server when set (orders and contracts alike), else its fraction of the
    server's price (orders) or of one server's whole contract commitment (`PlanSets.lease_cost`, leases)."""
    pol = rolled.inputs.scenario.policy.replan
    usd, frac = pol.change_penalty_usd_per_server, pol.change_penalty_fraction_of_price
    if usd is not None:
        return ChangeRule(dict.fromkeys(S.price_usd, usd), dict.fromkeys(S.lease, usd), lost, lost_leases)
    return ChangeRule({c: frac * p for c, p in S.price_usd.items()}, {c: frac * S.lease_cost(c) for c in S.lease}, lost, lost_leases)


def model_hook(rolled: Rolled, S: PlanSets) -> tuple[Callable[[PlanModel], None], ChangeRule]:
    """What the re-plan adds to a built model: order- and lease-change penalties (and the change limit), then the
    objective again."""
    prev, lost = previous_index(rolled, S)
    prev_lease, lost_leases = previous_lease_index(rolled, S)
    rule = change_rule(rolled, S, lost, lost_leases)
    frac = rolled.inputs.scenario.policy.replan.max_change_fraction
    forced = sum(rolled.previous_future[k] for k in lost) + sum(rolled.previous_future_leases[k] for k in lost_leases)

    def hook(m: PlanModel) -> None:
        add_order_change(S, m, prev, rule.penalty)
        add_lease_change(S, m, prev_lease, rule.lease_penalty)
        if frac is not None:
            add_max_change(S, m, prev, frac, forced, prev_lease)
        m.set_objective(pulp.LpMinimize)

    return hook, rule


def _term_usd(m: PlanModel, values: dict[str, float], term: str) -> float:
    return round(sum(values.get(v.name, 0.0) * c for v, c in m.objective_terms.get(term, [])) * MONEY_SCALE, 2)


def replan_section(prev: dict[str, Any], rolled: Rolled, S: PlanSets, m: PlanModel, values: dict[str, float],
                   plan: dict[str, Any], options: pd.DataFrame, rule: ChangeRule) -> dict[str, Any]:
    """plan.json `replan`: committed orders and contracts verbatim, notes, the change penalty paid and the
    what-changed table (orders and lease contracts)."""
    binding = False
    info = m.constraints.get("replan_max_change")
    if info is not None and values:
        lhs = sum(values.get(n, 0.0) * c for n, c in info.pairs)
        binding = lhs >= info.rhs - 1e-6
    mv = moves(prev, rolled, S, options, binding)
    changes = change_table(rolled, S, plan.get("purchases") or [], mv, rule.lost)
    changes += lease_change_table(rolled, S, plan.get("lease_contracts") or [], mv, rule.lost_leases)
    return {
        "previous_plan": {"scenario": prev.get("scenario"), "status": prev.get("status"), "objective_usd": prev.get("objective_usd"),
                          "finished_utc": (prev.get("run") or {}).get("finished_utc")},
        "commit_through": rolled.commit_through,
        "committed_purchases": rolled.committed,
        "committed_capex_usd": rolled.spent_usd,
        "committed_leases": rolled.committed_leases,
        # the whole commitment of the kept contracts (signed before, so in neither this plan's objective nor its kpis)
        "committed_lease_usd": round(sum(float(c.get("commitment_usd") or 0.0) for c in rolled.committed_leases), 2),
        "change_penalty_usd_per_server": {c: round(v, 2) for c, v in sorted(rule.penalty.items()) if c in S.buyable},
        "lease_change_penalty_usd_per_server": {c: round(v, 2) for c, v in sorted(rule.lease_penalty.items())},
        "change_penalty_usd": _term_usd(m, values, "replan_change"),
        "max_change_fraction": rolled.inputs.scenario.policy.replan.max_change_fraction,
        "servers_changed": sum(abs(r["delta_servers"]) for r in changes),
        "notes": rolled.notes,
        "changes": changes,
    }


def replan_inputs(inputs: PlanInputs, prev: dict[str, Any], commit_through: str, settings: SolverSettings,
                  options_for: Callable[[PlanInputs], pd.DataFrame] = deployment_table, progress: Progress | None = None,
                  label: str = "plan.json") -> PlanOutcome:
    """Roll forward, build the usual model plus the re-plan families, solve, and assemble plan.json with `replan`."""
    say = progress or (lambda _msg: None)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    check_quarter(commit_through)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    rolled = roll_forward(inputs, prev, commit_through, label)
    for note in rolled.notes:
        say(f"note: {note}")
    options = options_for(rolled.inputs)
    S = build_sets(rolled.inputs, options)
    hook, rule = model_hook(rolled, S)
    m, const = build_model(S)
    hook(m)
    timings["build"] = time.monotonic() - t0
    say(f"model: {m.n_vars} variables ({m.n_int_vars} integer), {len(m.constraints)} constraints")
    result = solve(m, settings, progress=say if progress else None)
    timings["solve"] = result.solve_seconds
    if S.reduced_from and result.has_solution:  # capped option set: bound the real problem, re-plan families included
        result = certify(S, result, settings, hook, progress=say if progress else None)
        timings["unreduced_bound"] = result.unreduced.seconds if result.unreduced else 0.0
    if result.has_solution:
        violations = verify_solution(m, result.values)
        if violations:
            raise PlannerError(f"the solver returned a re-plan that breaks {len(violations)} constraint(s), e.g. {violations[0]}; "
                               "try --solver cbc or a smaller --mip-gap.", EXIT_NO_PLAN)
        plan = assemble_plan(rolled.inputs, S, m, result, settings, const, options, timings, started)
        plan["replan"] = replan_section(prev, rolled, S, m, result.values, plan, options, rule)
        # its money against itself and the previous plan (book value at the start, committed cash): a warning, never silent
        change = fleet_basis_change(prev, plan)  # a changed sites file: said, and reconciled on that difference
        plan["warnings"] = [*(plan.get("warnings") or []), *([change[1]] if change else []),
                            *(f"money does not reconcile: {p.locator}: {p.message}" for p in reconcile_replan(prev, plan, label))]
        return PlanOutcome(plan, plan_exit_code(plan), timings)  # 0 only when every demand row is served
    if result.status in ("infeasible", "no_plan"):
        say("no re-plan meets every limit: re-solving with penalised unmet demand to find what is short")

        def stage(name: str, fn: Callable[[], Any]) -> Any:
            t1 = time.monotonic()
            out = fn()
            timings[name] = time.monotonic() - t1
            return out

        # the plan's diagnosis (short limits, deterministic unless its time limit stops it) with the re-plan's families
        m2, const2, r2, diagnosis, run = run_diagnosis(S, settings, stage, say, hook)
        bad = SolveResult("infeasible", result.raw_status, None, None, None, result.solve_seconds + r2.solve_seconds,
                          result.solver_name, result.solver_version, {}, result.notes)
        plan = assemble_plan(rolled.inputs, S, m2, bad, settings, const2, options, timings, started, diagnosis, values=r2.values)
        plan["diagnosis_run"] = run
        plan["replan"] = replan_section(prev, rolled, S, m2, r2.values, plan, options, rule)
        return PlanOutcome(plan, EXIT_INFEASIBLE, timings)
    raise PlannerError(f"no re-plan found within the time limit of {settings.time_limit_s:g} s{result.status_note()}. "
                       "Raise --time-limit or loosen --mip-gap.", EXIT_NO_PLAN)


def replan_scenario(scenario_path: str | Path, previous_plan: str | Path, commit_through: str,
                    overrides: dict[str, Any] | None = None, progress: Progress | None = None,
                    sets: Any = None) -> PlanOutcome:
    """Load the (new) scenario, with `--set` what-ifs applied as `planner plan` does, and the previous plan.json,
    then `replan_inputs`. Problems of the scenario, the what-ifs and the previous plan come in one report."""
    from planner.io.overrides import normalise_sets
    from planner.results.plan_io import read_plan

    check_quarter(commit_through)
    sets = normalise_sets(sets, Path(scenario_path).name)
    label = Path(previous_plan).name or str(previous_plan)
    problems: list[Problem] = []
    inputs = prev = None
    try:
        inputs = load_inputs(scenario_path, sets or None)
    except InputError as exc:
        problems += exc.problems
    try:
        prev = read_plan(previous_plan, label)
    except InputError as exc:
        problems += exc.problems
        prev = _readable(previous_plan)
        if prev is not None and inputs is not None:  # JSON of a wrong shape: the re-plan's own checks too, elsewhere
            from planner.replan.rollforward import check_previous

            seen = {(p.file, p.locator) for p in exc.problems}
            problems += [p for p in check_previous(inputs, prev, commit_through, label) if (p.file, p.locator) not in seen]
    if problems:
        raise InputError(problems)
    assert inputs is not None and prev is not None
    outcome = replan_inputs(inputs, prev, commit_through, effective_settings(inputs, overrides), progress=progress, label=label)
    if sets:
        outcome.plan["overrides"] = [{"path": k, "value": v} for k, v in sets.items()]
    return outcome


def _readable(path: str | Path) -> Any:
    """The JSON object in `path`, or None when it is not one (read_plan has said why)."""
    import json

    from planner.io.safe_read import read_user_bytes
    from planner.results.plan_io import MAX_PLAN_BYTES

    raw, _ = read_user_bytes(Path(path), "plan.json", "", MAX_PLAN_BYTES)  # never blocks on a pipe or device
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
