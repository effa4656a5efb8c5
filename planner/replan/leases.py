"""Lease contracts a re-plan keeps: signed by `--commit-through`, they stay signed, as placed orders stay placed.

A contract of the previous plan (`lease_contracts[i]`: `contract_start_quarter`, `term_quarters`, `servers`, `chip`;
`signed_quarter` = start - the lease lead time, written since this module exists) is committed when it was signed
by `commit_through`: with no lead time, when it starts in or before that quarter. A committed contract is not
re-decided: its servers stand under contract in every quarter of its term that falls in the new horizon
(`PlanInputs.leased`, used by `solvers.constraints.add_lease_active` without a new lease), it is listed verbatim in
`replan.committed_leases` and its commitment is not charged to the re-plan again. A chained re-plan reads the
previous re-plan's `replan.committed_leases` as well as its own `lease_contracts` (all signed after its commit
quarter), so every contract is kept once. Contracts not yet signed are re-decided, a change to them charged and
limited like a change to an order (`future_leases`, `solvers.replan_orders.add_lease_change`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from planner.errors import Problem, format_loc
from planner.io.loader import KeptLease, PlanInputs
from planner.schemas.common import MAX_LEASE_TERM_QUARTERS, quarter_index
from planner.schemas.replan import OrderServers, OrderUsd, PlanName, PlanQuarter


def _term(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise ValueError(f"must be a whole number of quarters, got {value!r}")
    if not 1 <= value <= MAX_LEASE_TERM_QUARTERS:
        raise ValueError(f"must be 1 to {MAX_LEASE_TERM_QUARTERS} quarters, got {value!r}; restore the value the planner wrote")
    return int(value)


class PreviousLease(BaseModel):
    """One lease contract of the previous plan (`lease_contracts[i]` or `replan.committed_leases[i]`)."""

    model_config = ConfigDict(extra="allow")

    contract_start_quarter: PlanQuarter
    chip: PlanName
    servers: OrderServers
    term_quarters: Annotated[int, BeforeValidator(_term)]
    signed_quarter: PlanQuarter | None = None
    commitment_usd: OrderUsd | None = None


def previous_leases(prev: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(contracts kept by earlier re-plans, the plan's own contracts), each as written (not checked)."""
    rp = prev.get("replan") if isinstance(prev.get("replan"), dict) else {}
    carried, own = rp.get("committed_leases"), prev.get("lease_contracts")
    return (carried if isinstance(carried, list) else [], own if isinstance(own, list) else [])


def lease_problems(inputs: PlanInputs, prev: dict[str, Any], label: str) -> list[Problem]:
    """Every problem of the previous plan's lease contracts, each located; [] when they fit."""
    from planner.io.validate import error_message

    problems: list[Problem] = []
    rp = prev.get("replan") if isinstance(prev.get("replan"), dict) else {}
    for where, rows in (("lease_contracts", prev.get("lease_contracts")), ("replan.committed_leases", rp.get("committed_leases"))):
        if rows is None:
            continue  # a plan of an older planner: no contracts recorded, none kept
        if not isinstance(rows, list):
            problems.append(Problem(label, where, f"must be a list [...], got {type(rows).__name__}"))
            continue
        for i, row in enumerate(rows):
            try:
                lease = PreviousLease.model_validate(row)
            except ValidationError as exc:
                problems += [Problem(label, format_loc([f"{where}[{i}]", *e.get("loc", ())]), error_message(e))
                             for e in exc.errors()]
                continue
            if lease.chip not in inputs.chips:
                problems.append(Problem(label, f"{where}[{i}].chip", f"chip {lease.chip!r} is not in the chip catalog."))
            if lease.signed_quarter is not None and \
                    quarter_index(lease.signed_quarter) > quarter_index(lease.contract_start_quarter):
                problems.append(Problem(label, f"{where}[{i}].signed_quarter", f"{lease.signed_quarter} is after "
                                        f"contract_start_quarter {lease.contract_start_quarter}: a lease is signed before "
                                        "it starts. Restore the line the planner wrote."))
    return problems


def signed_index(row: dict[str, Any], inputs: PlanInputs) -> int:
    """Quarter index the contract was signed in: its `signed_quarter`, else (plans before it was written) its start
    less the chip's lease lead time in the re-plan's scenario (0 when it has none)."""
    if isinstance(row.get("signed_quarter"), str):
        return quarter_index(row["signed_quarter"])
    terms = inputs.scenario.chip_terms.get(str(row["chip"]))
    lead = terms.lease_lead_time_quarters if terms and terms.lease_lead_time_quarters is not None else 0
    return quarter_index(row["contract_start_quarter"]) - int(lead)


def committed_leases(inputs: PlanInputs, prev: dict[str, Any], commit_through: str) -> tuple[list[dict[str, Any]], int]:
    """(every contract signed by `commit_through`, verbatim: those kept before first, how many of them were)."""
    carried, own = previous_leases(prev)
    cut = quarter_index(commit_through)
    mine = [row for row in own if signed_index(row, inputs) <= cut]
    return [*carried, *mine], len(carried)


def future_leases(inputs: PlanInputs, prev: dict[str, Any], commit_through: str) -> dict[tuple[str, str], int]:
    """(chip, contract start quarter) -> servers of the plan's own contracts not signed by `commit_through`: those a
    re-plan re-decides, each change charged like a change of an order (`solvers.replan_orders.add_lease_change`)."""
    _, own = previous_leases(prev)
    cut = quarter_index(commit_through)
    out: dict[tuple[str, str], int] = {}
    for row in own:
        if signed_index(row, inputs) > cut and int(row["servers"]) > 0:
            key = (str(row["chip"]), str(row["contract_start_quarter"]))
            out[key] = out.get(key, 0) + int(row["servers"])
    return out


def leased_servers(contracts: list[dict[str, Any]], quarters: list[str]) -> dict[tuple[str, str], int]:
    """(chip, quarter) -> servers under the contracts in each of `quarters` that falls in a contract's term."""
    wanted = {quarter_index(q): q for q in quarters}
    out: dict[tuple[str, str], int] = {}
    for row in contracts:
        start, n = quarter_index(row["contract_start_quarter"]), int(row["servers"])
        for i in range(start, start + int(row["term_quarters"])):
            if i in wanted and n > 0:
                key = (str(row["chip"]), wanted[i])
                out[key] = out.get(key, 0) + n
    return out


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def with_payments(inputs: PlanInputs, contracts: list[dict[str, Any]]) -> list[KeptLease]:
    """The kept contracts with what each pays per quarter: its `commitment_usd` / `term_quarters` (as the plan that
    signed it wrote it), else its `usd_per_chip_hour` x chips x hours per quarter, else (an estimate, said so in
    `rate_source`) the scenario's lease rate for the chip."""
    from solvers.sets import HOURS_PER_QUARTER, lease_info

    out = []
    for row in contracts:
        chip = inputs.chips[str(row["chip"])]
        servers, term = int(row["servers"]), int(row["term_quarters"])
        chips = servers * chip.server.chips_per_server
        commitment, rate = _number(row.get("commitment_usd")), _number(row.get("usd_per_chip_hour"))
        if commitment is not None:
            per_q, source = commitment / term, "previous plan's contract: commitment_usd / term_quarters"
            rate = per_q / (chips * HOURS_PER_QUARTER) if chips else (rate or 0.0)
        elif rate is not None:
            per_q, source = rate * chips * HOURS_PER_QUARTER, "previous plan's contract: usd_per_chip_hour"
        else:
            info = lease_info(inputs, chip)
            rate = info.usd_per_chip_hour if info else 0.0
            per_q = rate * chips * HOURS_PER_QUARTER
            source = ("estimate: the scenario's lease rate (the contract's rate was not written)" if info
                      else "estimate: 0 (neither the contract nor the scenario gives a lease rate)")
        out.append(KeptLease(chip.chip_id, chip.vendor, str(row["contract_start_quarter"]), term, servers, chips,
                             rate, round(per_q, 2), source))
    return out
