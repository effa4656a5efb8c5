"""A re-plan keeps the lease contracts signed through `--commit-through`, as it keeps placed orders, also along a
chain plan -> replan -> replan. Tiny cases whose plans are derived by hand (tests/test_replan.py's chip)."""

from __future__ import annotations

import json

import pytest

from planner.errors import InputError
from planner.replan.run import replan_inputs
from planner.schemas.chips import LeaseTerms
from solvers.sets import HOURS_PER_QUARTER
from tests.milp_cases import make_chip, make_inputs, make_options, make_site
from tests.test_replan import A_ROW, EXACT, _first_plan

# Chip a: $100k per 8-chip server (8,000 tokens/s), or leased at $1 per chip-hour for a term of 3 quarters:
# 8 x 2,190 h x $1 = $17,520 per server-quarter, $52,560 per contract. Demand 8,000 tokens/s (one server) in
# 2027Q2..Q4, none in Q1. Leasing one server from Q2 for its 3-quarter term ($52,560) is cheaper than buying one
# ($100k, worthless at the horizon's end) or any other lease, so the first plan signs exactly that contract.
SERVER_QUARTER = 8 * HOURS_PER_QUARTER * 1.0
CONTRACT = 3 * SERVER_QUARTER
DEMAND = {"2027Q1": 0, "2027Q2": 8_000, "2027Q3": 8_000, "2027Q4": 8_000}


def _inputs(demand=DEMAND, chip_terms=None):  # type: ignore[no-untyped-def]
    chip = make_chip("a", price_usd_per_server=100_000)
    chip = chip.model_copy(update={"lease": LeaseTerms(usd_per_chip_hour=1.0, min_term_quarters=3, kind="estimate",
                                                       source="test fixture")})
    return make_inputs([chip], demand, sites=[make_site(usd_per_kwh=0.1)], chip_terms=chip_terms)


def _replan(inputs, prev, through):  # type: ignore[no-untyped-def]
    out = replan_inputs(inputs, prev, through, EXACT, options_for=lambda inp: make_options([A_ROW], inp.quarters))
    assert out.exit_code == 0
    return json.loads(json.dumps(out.plan))  # as written to plan.json and read back by the next re-plan


def _contracts(plan) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return [(c["contract_start_quarter"], c["servers"]) for c in plan["lease_contracts"]]


def _kept(plan) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return [(c["contract_start_quarter"], c["servers"]) for c in plan["replan"]["committed_leases"]]


def _on_lease(plan) -> dict[str, float]:  # type: ignore[no-untyped-def]
    out: dict[str, float] = {}
    for d in plan["deployments"]:
        if d["site"] == "lease:a":
            out[d["quarter"]] = out.get(d["quarter"], 0) + d["replicas"]
    return out


def test_first_plan_signs_one_three_quarter_lease() -> None:
    plan0 = _first_plan(_inputs(), [A_ROW])
    assert plan0["purchases"] == []
    assert _contracts(plan0) == [("2027Q2", 1)]
    (c,) = plan0["lease_contracts"]
    assert c["signed_quarter"] == "2027Q2" and c["commitment_usd"] == pytest.approx(CONTRACT)


def test_replan_keeps_a_running_lease_instead_of_leasing_again() -> None:
    inputs = _inputs()
    plan0 = _first_plan(inputs, [A_ROW])
    # Through 2027Q2 the contract has started: kept. Its servers serve Q3 and Q4 (8 replicas of one chip each), so the
    # re-plan leases and buys nothing. Forgetting it would sign a second contract from Q3 ($52,560).
    plan1 = _replan(inputs, plan0, "2027Q2")
    assert _kept(plan1) == [("2027Q2", 1)]
    assert plan1["replan"]["committed_lease_usd"] == pytest.approx(CONTRACT)
    assert plan1["lease_contracts"] == [] and plan1["purchases"] == []
    assert _on_lease(plan1) == {"2027Q3": 8, "2027Q4": 8}
    # Its payments in Q3 and Q4 are committed cash of the re-plan (2 x $17,520), not a new contract's
    assert plan1["kpis"]["lease_usd"] == pytest.approx(2 * SERVER_QUARTER)
    assert plan1["kpis"]["committed_lease_usd"] == pytest.approx(2 * SERVER_QUARTER)
    assert any("1 lease contract(s) signed through 2027Q2 are kept" in n for n in plan1["replan"]["notes"])


def test_chained_replans_keep_the_lease_once() -> None:
    inputs = _inputs()
    plan0 = _first_plan(inputs, [A_ROW])
    # Re-plan 1 through 2027Q1: the Q2 contract is not signed yet (no lead time), so it is re-decided: the same
    # contract again, as the re-plan's own.
    plan1 = _replan(inputs, plan0, "2027Q1")
    assert _kept(plan1) == [] and _contracts(plan1) == [("2027Q2", 1)]
    # Re-plan 2 through 2027Q2 from re-plan 1: re-plan 1's own contract has started, so it is kept.
    plan2 = _replan(inputs, plan1, "2027Q2")
    assert _kept(plan2) == [("2027Q2", 1)] and plan2["lease_contracts"] == []
    # Re-plan 3 through 2027Q3 from re-plan 2: the contract re-plan 2 kept (replan.committed_leases) still covers
    # Q4; forgetting it would sign a new one for Q4.
    plan3 = _replan(inputs, plan2, "2027Q3")
    assert _kept(plan3) == [("2027Q2", 1)] and plan3["lease_contracts"] == [] and plan3["purchases"] == []
    assert _on_lease(plan3) == {"2027Q4": 8}
    assert any("1 of them were kept by the previous re-plan" in n for n in plan3["replan"]["notes"])


def test_a_lease_signed_before_it_starts_is_kept_once_signed() -> None:
    # Lease lead time 1 quarter: the contract starting in Q2 is signed in Q1, so committing through Q1 keeps it
    # (like an order in flight); the re-plan then leases nothing.
    inputs = _inputs(chip_terms={"a": {"lease_lead_time_quarters": 1}})
    plan0 = _first_plan(inputs, [A_ROW])
    (c,) = plan0["lease_contracts"]
    assert (c["contract_start_quarter"], c["signed_quarter"]) == ("2027Q2", "2027Q1")
    plan1 = _replan(inputs, plan0, "2027Q1")
    assert _kept(plan1) == [("2027Q2", 1)] and plan1["lease_contracts"] == []
    assert _on_lease(plan1) == {"2027Q2": 8, "2027Q3": 8, "2027Q4": 8}
    # A plan of an older planner has no signed_quarter: the start less the scenario's lease lead time is used.
    del plan0["lease_contracts"][0]["signed_quarter"]
    assert _kept(_replan(inputs, plan0, "2027Q1")) == [("2027Q2", 1)]
    no_lead = _inputs()  # without the lead time the Q2 contract is not signed by Q1: re-decided, signed again
    again = _replan(no_lead, plan0, "2027Q1")
    assert _kept(again) == [] and _contracts(again) == [("2027Q2", 1)]


def test_a_hand_edited_lease_contract_is_refused_located() -> None:
    inputs = _inputs()
    plan0 = _first_plan(inputs, [A_ROW])
    plan0["lease_contracts"][0]["servers"] = -3
    plan0["lease_contracts"].append({"contract_start_quarter": "2027Q2", "chip": "zz", "servers": 1, "term_quarters": 0})
    with pytest.raises(InputError) as exc:
        replan_inputs(inputs, plan0, "2027Q2", EXACT, options_for=lambda inp: make_options([A_ROW], inp.quarters))
    where = {p.locator for p in exc.value.problems}
    assert {"lease_contracts[0].servers", "lease_contracts[1].term_quarters"} <= where
