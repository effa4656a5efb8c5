"""Roll a scenario forward past the committed quarters of a previous plan.

Orders placed in committed quarters (order quarter <= `commit_through`) are fixed: they become existing fleet
installed in their delivery quarter (deliveries in flight arrive later in the new horizon). The new horizon is
the scenario's quarters after `commit_through`; forecast rows of earlier quarters are dropped with a note; the
committed capex is deducted from the total budget (and, with `capex_timing: delivery`, from the budget of the
quarter each in-flight delivery lands in). Lease contracts signed through `commit_through` are kept the same way
(`planner.replan.leases`): their servers stay under contract for the rest of their term.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from planner.errors import InputError, Problem
from planner.io.loader import KeptOrder, PlanInputs
from planner.replan.leases import committed_leases, future_leases, leased_servers, with_payments
from planner.schemas.common import _QUARTER_RE, quarter_index, quarter_name
from planner.schemas.sites import FleetEntry
from solvers.result import SOLUTION_STATUSES

OrderKey = tuple[str, str, str, str]  # (chip, site, rack type, order quarter)
LeaseKey = tuple[str, str]  # (chip, contract start quarter)


@dataclass
class Rolled:
    """The rolled-forward inputs plus what was fixed, what is left to re-decide, and notes for the report."""

    inputs: PlanInputs
    commit_through: str
    committed: list[dict[str, Any]]  # orders of the previous plan through commit_through (kept ones included), verbatim
    previous_future: dict[OrderKey, int]  # servers per order key the previous plan placed after commit_through
    spent_usd: float
    notes: list[str] = field(default_factory=list)
    carried_usd: float = 0.0  # of spent_usd, the orders an earlier re-plan had committed already
    #: lease contracts signed through commit_through (kept ones first), verbatim (`planner.replan.leases`)
    committed_leases: list[dict[str, Any]] = field(default_factory=list)
    #: servers per (chip, contract start quarter) of the previous plan's contracts not signed by commit_through
    previous_future_leases: dict[LeaseKey, int] = field(default_factory=dict)


def payment_quarter(p: dict[str, Any], capex_timing: str) -> str:
    """Quarter an order line is paid in: its `payment_quarter` as written, else its order (capex_timing: order) or
    delivery (delivery) quarter, as `planner.finance.schedule` pays a plan's own lines."""
    written = p.get("payment_quarter")
    if isinstance(written, str) and _QUARTER_RE.match(written):
        return written
    return str(p["order_quarter"] if capex_timing == "order" else p["delivery_quarter"])


def order_key(p: dict[str, Any]) -> OrderKey:
    return (p["chip"], p["site"], p["rack_type"], p["order_quarter"])


def previous_orders(prev: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    """(orders committed by earlier re-plans, the plan's own purchases, the commit quarter of the re-plan or None).

    A plan from `planner plan` holds only `purchases`; a re-plan also carries the orders it kept in
    `replan.committed_purchases` (placed through `replan.commit_through`), and its `purchases` are its new orders,
    all after that quarter. Together they are every order the plan holds, each once.
    """
    rp = prev.get("replan") if isinstance(prev.get("replan"), dict) else {}
    carried, own = rp.get("committed_purchases"), prev.get("purchases")
    return (carried if isinstance(carried, list) else [], own if isinstance(own, list) else [], rp.get("commit_through"))


def check_previous(inputs: PlanInputs, prev: dict[str, Any], commit_through: str, label: str) -> list[Problem]:
    from planner.replan.leases import lease_problems
    from planner.schemas.replan import previous_plan_problems

    problems = []
    if prev.get("status") not in SOLUTION_STATUSES:
        problems.append(Problem(label, "status", f"the previous plan has status {prev.get('status')!r}, so it holds no "
                                "orders to build on; re-plan from a plan that found a solution (optimal, optimal_in_reduced_set or feasible)."))
    problems += previous_plan_problems(prev, label)
    problems += lease_problems(inputs, prev, label)
    located = [p.locator for p in problems]

    def flagged(where: str) -> bool:  # a problem at or below `where` is reported already
        return any(loc == where or loc.startswith((f"{where}.", f"{where}[")) for loc in located)

    carried, own, prev_cut = previous_orders(prev)
    lines = [(f"replan.committed_purchases[{i}]", p) for i, p in enumerate(carried)] + [(f"purchases[{i}]", p) for i, p in enumerate(own)]
    for where, p in lines:
        if not isinstance(p, dict):
            continue  # reported already
        site, rack, chip = p.get("site"), p.get("rack_type"), p.get("chip")
        if not flagged(f"{where}.site") and isinstance(site, str):
            if site not in inputs.sites:
                problems.append(Problem(label, f"{where}.site", f"site {site!r} is not in the scenario's sites file; "
                                        "re-plan with the sites the previous plan used."))
            elif not flagged(f"{where}.rack_type") and isinstance(rack, str) and \
                    rack not in {r.rack_type_id for r in inputs.sites[site].rack_types}:
                problems.append(Problem(label, f"{where}.rack_type", f"rack type {rack!r} is not at site {site!r}."))
        if not flagged(f"{where}.chip") and isinstance(chip, str) and chip not in inputs.chips:
            problems.append(Problem(label, f"{where}.chip", f"chip {chip!r} is not in the chip catalog."))
    cut_ok = isinstance(prev_cut, str) and not flagged("replan.commit_through")
    if cut_ok:
        for i, p in enumerate(carried):
            if not flagged(f"replan.committed_purchases[{i}]") and quarter_index(p["order_quarter"]) > quarter_index(prev_cut):
                problems.append(Problem(label, f"replan.committed_purchases[{i}].order_quarter", f"{p['order_quarter']} is after "
                                        f"replan.commit_through {prev_cut}: a kept order is placed by then. Restore the plan the planner wrote."))
        for i, p in enumerate(own):
            if not flagged(f"purchases[{i}]") and quarter_index(p["order_quarter"]) <= quarter_index(prev_cut):
                problems.append(Problem(label, f"purchases[{i}].order_quarter", f"{p['order_quarter']} is not after "
                                        f"replan.commit_through {prev_cut}: a re-plan's new orders come after the orders it kept "
                                        "(replan.committed_purchases). Restore the plan the planner wrote."))
        if quarter_index(commit_through) < quarter_index(prev_cut):
            problems.append(Problem("command line", "--commit-through", f"{commit_through} is before {prev_cut}, the quarter the "
                                    f"previous re-plan ({label}) committed through: its orders through {prev_cut} are placed. "
                                    f"Commit through {prev_cut} or later."))
    new_quarters = [q for q in inputs.quarters if quarter_index(q) > quarter_index(commit_through)]
    if not new_quarters:
        problems.append(Problem("command line", "--commit-through", f"{commit_through} is at or after the scenario's last quarter "
                                f"{inputs.quarters[-1]}: nothing is left to plan. Extend `horizon.quarters` or commit fewer quarters."))
    elif not flagged("horizon"):
        old = (prev.get("horizon") or {}).get("quarters") or []
        if old and (quarter_index(old[0]) > quarter_index(new_quarters[-1])
                    or quarter_index(old[-1]) < quarter_index(new_quarters[0]) - 1):
            problems.append(Problem(label, "horizon.quarters", f"the previous plan covers {old[0]}..{old[-1]}, which neither "
                                    f"overlaps nor directly precedes the new horizon {new_quarters[0]}..{new_quarters[-1]} (the "
                                    f"scenario's quarters after --commit-through {commit_through}): its orders cannot be kept or "
                                    "compared. Re-plan from the plan of these quarters, or plan afresh with `planner plan` (servers "
                                    "already delivered go in the sites file's `fleet`)."))
        elif old and quarter_index(commit_through) < quarter_index(old[0]) - 1 and \
                not any(p.locator == "--commit-through" for p in problems):  # a re-plan's own cut said it already
            before = quarter_name(quarter_index(old[0]) - 1)
            problems.append(Problem("command line", "--commit-through", f"{commit_through} is before the previous plan's "
                                    f"horizon ({old[0]}..{old[-1]}): no quarter of it has passed by then. A typo? Commit "
                                    f"through a quarter of it, or through {before} to keep none of its orders."))
    return problems


def roll_forward(inputs: PlanInputs, prev: dict[str, Any], commit_through: str, label: str = "plan.json") -> Rolled:
    """The inputs of the re-plan (see the module docstring); raises InputError on a previous plan that does not fit."""
    problems = check_previous(inputs, prev, commit_through, label)
    if problems:
        raise InputError(problems)
    cut = quarter_index(commit_through)
    quarters = [q for q in inputs.quarters if quarter_index(q) > cut]
    carried, own, _ = previous_orders(prev)
    committed = carried + [p for p in own if quarter_index(p["order_quarter"]) <= cut]
    future: dict[OrderKey, int] = {}
    for p in own:
        if quarter_index(p["order_quarter"]) > cut:
            future[order_key(p)] = future.get(order_key(p), 0) + int(p["servers"])
    notes = []

    fleet = list(inputs.fleet)
    kept_orders: dict[int, KeptOrder] = {}
    in_flight = 0
    for p in committed:
        if not int(p["servers"]):
            continue
        kept_orders[len(fleet)] = KeptOrder(p["order_quarter"], payment_quarter(p, inputs.scenario.policy.capex_timing),
                                            float(p["unit_price_usd"]), float(p["cost_usd"]))
        fleet.append(FleetEntry.model_validate({"site_id": p["site"], "rack_type_id": p["rack_type"], "chip_id": p["chip"],
                                                "servers": int(p["servers"]), "installed_quarter": p["delivery_quarter"]}))
        in_flight += int(quarter_index(p["delivery_quarter"]) > cut)
    notes.append(f"{len(committed)} orders placed through {commit_through} are fixed and enter the fleet in their delivery "
                 f"quarter ({in_flight} still in flight)" + (f"; {len(carried)} of them were kept by the previous re-plan" if carried else "")
                 + ".")

    leases, kept_leases = committed_leases(inputs, prev, commit_through)
    leased = leased_servers(leases, quarters)
    if leases:
        notes.append(f"{len(leases)} lease contract(s) signed through {commit_through} are kept ({sum(leased.values())} "
                     "server-quarters under contract in the new horizon, not leased again and not charged again)"
                     + (f"; {kept_leases} of them were kept by the previous re-plan" if kept_leases else "") + ".")

    workloads = [w for w in inputs.workloads if quarter_index(w.quarter) > cut]
    dropped = len(inputs.workloads) - len(workloads)
    if dropped:
        notes.append(f"{dropped} forecast rows for quarters through {commit_through} were ignored (already past).")

    sc = inputs.scenario
    pol = sc.policy
    spent = sum(float(p["cost_usd"]) for p in committed)
    by_q = {q: v for q, v in pol.capex_budget_usd_by_quarter.items() if q in quarters}
    for p in committed:  # a kept order paid inside the new horizon (capex_timing: delivery) takes its quarter's budget
        q = payment_quarter(p, pol.capex_timing)
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
    for k, n in inputs.leased.items():
        leased[k] = leased.get(k, 0) + n
    rolled = replace(inputs, scenario=scenario, quarters=quarters, workloads=workloads, fleet=fleet, leased=leased,
                     kept_orders=kept_orders, kept_leases=[*inputs.kept_leases, *with_payments(inputs, leases)])
    carried_usd = sum(float(p["cost_usd"]) for p in carried)
    return Rolled(rolled, commit_through, committed, future, round(spent, 2), notes, round(carried_usd, 2), leases,
                  future_leases(inputs, prev, commit_through))
