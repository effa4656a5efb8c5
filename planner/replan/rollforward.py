"""Roll a scenario forward past the committed quarters of a previous plan.

Orders placed in committed quarters (order quarter <= `commit_through`) are fixed: they become existing fleet
installed in their delivery quarter (deliveries in flight arrive later in the new horizon). The new horizon is
the scenario's quarters after `commit_through`; forecast rows of earlier quarters are dropped with a note; the
committed capex is deducted from the total budget (and, with `capex_timing: delivery`, from the budget of the
quarter each in-flight delivery lands in).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from planner.errors import InputError, Problem
from planner.io.loader import PlanInputs
from planner.schemas.common import quarter_index
from planner.schemas.sites import FleetEntry
from solvers.result import SOLUTION_STATUSES

OrderKey = tuple[str, str, str, str]  # (chip, site, rack type, order quarter)


@dataclass
class Rolled:
    """The rolled-forward inputs plus what was fixed, what is left to re-decide, and notes for the report."""

    inputs: PlanInputs
    commit_through: str
    committed: list[dict[str, Any]]  # purchases of the previous plan, verbatim
    previous_future: dict[OrderKey, int]  # servers per order key the previous plan placed after commit_through
    spent_usd: float
    notes: list[str] = field(default_factory=list)


def order_key(p: dict[str, Any]) -> OrderKey:
    return (p["chip"], p["site"], p["rack_type"], p["order_quarter"])


def _check(inputs: PlanInputs, prev: dict[str, Any], commit_through: str, label: str) -> list[Problem]:
    problems = []
    if prev.get("status") not in SOLUTION_STATUSES:
        problems.append(Problem(label, "status", f"the previous plan has status {prev.get('status')!r}, so it holds no "
                                "orders to build on; re-plan from a plan that found a solution (optimal, optimal_in_reduced_set or feasible)."))
    for i, p in enumerate(prev.get("purchases") or []):
        if p.get("site") not in inputs.sites:
            problems.append(Problem(label, f"purchases[{i}].site", f"site {p.get('site')!r} is not in the scenario's sites file; "
                                    "re-plan with the sites the previous plan used."))
        elif p.get("rack_type") not in {r.rack_type_id for r in inputs.sites[p["site"]].rack_types}:
            problems.append(Problem(label, f"purchases[{i}].rack_type", f"rack type {p.get('rack_type')!r} is not at site {p['site']!r}."))
        if p.get("chip") not in inputs.chips:
            problems.append(Problem(label, f"purchases[{i}].chip", f"chip {p.get('chip')!r} is not in the chip catalog."))
    if not [q for q in inputs.quarters if quarter_index(q) > quarter_index(commit_through)]:
        problems.append(Problem("command line", "--commit-through", f"{commit_through} is at or after the scenario's last quarter "
                                f"{inputs.quarters[-1]}: nothing is left to plan. Extend `horizon.quarters` or commit fewer quarters."))
    return problems


def roll_forward(inputs: PlanInputs, prev: dict[str, Any], commit_through: str, label: str = "plan.json") -> Rolled:
    """The inputs of the re-plan (see the module docstring); raises InputError on a previous plan that does not fit."""
    problems = _check(inputs, prev, commit_through, label)
    if problems:
        raise InputError(problems)
    cut = quarter_index(commit_through)
    quarters = [q for q in inputs.quarters if quarter_index(q) > cut]
    purchases = prev.get("purchases") or []
    committed = [p for p in purchases if quarter_index(p["order_quarter"]) <= cut]
    future: dict[OrderKey, int] = {}
    for p in purchases:
        if quarter_index(p["order_quarter"]) > cut:
            future[order_key(p)] = future.get(order_key(p), 0) + int(p["servers"])
    notes = []

    fleet = list(inputs.fleet)
    in_flight = 0
    for p in committed:
        fleet.append(FleetEntry.model_validate({"site_id": p["site"], "rack_type_id": p["rack_type"], "chip_id": p["chip"],
                                                "servers": int(p["servers"]), "installed_quarter": p["delivery_quarter"]}))
        in_flight += int(quarter_index(p["delivery_quarter"]) > cut)
    notes.append(f"{len(committed)} orders placed through {commit_through} are fixed and enter the fleet in their delivery "
                 f"quarter ({in_flight} still in flight).")

    workloads = [w for w in inputs.workloads if quarter_index(w.quarter) > cut]
    dropped = len(inputs.workloads) - len(workloads)
    if dropped:
        notes.append(f"{dropped} forecast rows for quarters through {commit_through} were ignored (already past).")

    sc = inputs.scenario
    pol = sc.policy
    spent = sum(float(p["cost_usd"]) for p in committed)
    by_q = {q: v for q, v in pol.capex_budget_usd_by_quarter.items() if q in quarters}
    if pol.capex_timing == "delivery":
        for p in committed:
            q = p["delivery_quarter"]
            if q in quarters:
                base = by_q.get(q, pol.capex_budget_usd_per_quarter)
                if base is not None:
                    by_q[q] = max(0.0, base - float(p["cost_usd"]))
    total = pol.capex_budget_usd_total
    if total is not None:
        notes.append(f"capex budget: ${spent:,.0f} already committed, ${max(0.0, total - spent):,.0f} of ${total:,.0f} left.")
        total = max(0.0, total - spent)
    policy = pol.model_copy(update={"capex_budget_usd_total": total, "capex_budget_usd_by_quarter": by_q})
    scenario = sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"first_quarter": quarters[0], "quarters": len(quarters)}),
                                     "policy": policy})
    rolled = replace(inputs, scenario=scenario, quarters=quarters, workloads=workloads, fleet=fleet)
    return Rolled(rolled, commit_through, committed, future, round(spent, 2), notes)
