"""A re-plan charges and lists changes to lease contracts not yet signed as it does changes to orders, counts the
contracts it keeps in its cash out, and its greedy baseline uses their servers. Tiny cases derived by hand
(tests/test_replan_leases.py's chip: one 8-chip server serves 8,000 tokens/s; leased at $1 per chip-hour for a
3-quarter term = 8 x 2,190 h = $17,520 per server-quarter, $52,560 per contract; bought at $100k, worthless at the
end). The first plan leases one server from 2027Q2 (demand 8,000 tokens/s in Q2..Q4)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from planner.replan.run import replan_inputs
from planner.schemas.chips import LeaseTerms
from solvers.sets import HOURS_PER_QUARTER
from tests.milp_cases import make_chip, make_inputs, make_options, make_site
from tests.test_replan import A_ROW, EXACT, _first_plan

SERVER_QUARTER = 8 * HOURS_PER_QUARTER * 1.0  # $17,520
CONTRACT = 3 * SERVER_QUARTER  # $52,560
DEMAND = {"2027Q1": 0, "2027Q2": 8_000, "2027Q3": 8_000, "2027Q4": 8_000}
B_ROW = {"chip_id": "b", "tokens_per_s_per_replica": 1000}


def _chip(chip_id: str, usd_per_chip_hour: float, term: int = 3):  # type: ignore[no-untyped-def]
    chip = make_chip(chip_id, price_usd_per_server=100_000)
    return chip.model_copy(update={"lease": LeaseTerms(usd_per_chip_hour=usd_per_chip_hour, min_term_quarters=term,
                                                       kind="estimate", source="test fixture")})


def _inputs(demand: dict[str, float] = DEMAND, chips: list[Any] | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    return make_inputs(chips or [_chip("a", 1.0)], demand, sites=[make_site(usd_per_kwh=0.1)], **kw)


def _run(inputs, prev, through, rows=(A_ROW,)):  # type: ignore[no-untyped-def]
    out = replan_inputs(inputs, prev, through, EXACT, options_for=lambda inp: make_options(list(rows), inp.quarters))
    return out.exit_code, json.loads(json.dumps(out.plan))


def _contracts(plan) -> list[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
    return [(c["chip"], c["contract_start_quarter"], c["servers"]) for c in plan["lease_contracts"]]


def _plan0():  # type: ignore[no-untyped-def]
    plan0 = _first_plan(_inputs(), [A_ROW])
    assert _contracts(plan0) == [("a", "2027Q2", 1)] and plan0["purchases"] == []
    return plan0


@pytest.mark.parametrize(("policy", "per_server"), [(None, 0.02 * SERVER_QUARTER),
                                                    ({"replan": {"change_penalty_usd_per_server": 500}}, 500.0)])
def test_dropped_leases_are_charged_and_listed(policy, per_server) -> None:  # type: ignore[no-untyped-def]
    # Term 1: the first plan leases one server from each of Q2, Q3 and Q4 ($17,520 each, cheaper than a $100k server).
    # Through 2027Q1 none is signed (no lead time): re-decided. The forecast of Q3 and Q4 falls to 0, so the re-plan
    # drops those two contracts: 2 servers removed, each charged 2 % of one server's whole contract ($350.40) or the
    # USD penalty set ($500).
    chips = [_chip("a", 1.0, term=1)]
    plan0 = _first_plan(_inputs(chips=chips), [A_ROW])
    assert _contracts(plan0) == [("a", q, 1) for q in ("2027Q2", "2027Q3", "2027Q4")]
    code, plan = _run(_inputs({**DEMAND, "2027Q3": 0, "2027Q4": 0}, chips=chips, policy=policy), plan0, "2027Q1")
    assert code == 0 and _contracts(plan) == [("a", "2027Q2", 1)]
    keys = ("kind", "order_quarter", "chip", "site", "previous_servers", "new_servers", "delta_servers", "delta_usd", "cause")
    assert [{k: r[k] for k in keys} for r in plan["replan"]["changes"]] == [
        {"kind": "lease", "order_quarter": q, "chip": "a", "site": "lease:a", "previous_servers": 1, "new_servers": 0,
         "delta_servers": -1, "delta_usd": -SERVER_QUARTER, "cause": "demand"} for q in ("2027Q3", "2027Q4")]
    assert "w 2027Q3 -100.0 %" in plan["replan"]["changes"][0]["why"]
    assert plan["replan"]["change_penalty_usd"] == pytest.approx(2 * per_server)
    assert plan["replan"]["lease_change_penalty_usd_per_server"] == {"a": pytest.approx(per_server)}
    assert plan["replan"]["servers_changed"] == 2


def test_the_lease_change_penalty_stops_churn_for_a_small_saving() -> None:
    # Chip b appears, leased at $0.99 per chip-hour: its contract costs $52,034.40, $525.60 less. Switching costs
    # 2 % x $52,560 (drop a) + 2 % x $52,034.40 (add b) = $2,091.89 > $525.60, so the re-plan keeps a's contract.
    chips, rows = [_chip("a", 1.0), _chip("b", 0.99)], (A_ROW, B_ROW)
    code, kept = _run(_inputs(chips=chips), _plan0(), "2027Q1", rows)
    assert code == 0 and _contracts(kept) == [("a", "2027Q2", 1)] and kept["replan"]["changes"] == []
    # Without a penalty b's contract wins, and both lines are listed: a removed, b added (b now serves w).
    code, free = _run(_inputs(chips=chips, policy={"replan": {"change_penalty_usd_per_server": 0}}), _plan0(), "2027Q1", rows)
    assert code == 0 and _contracts(free) == [("b", "2027Q2", 1)]
    got = {(r["kind"], r["chip"], r["delta_servers"]): (r["cause"], r["delta_usd"]) for r in free["replan"]["changes"]}
    assert got == {("lease", "a", -1): ("performance", -CONTRACT), ("lease", "b", 1): ("performance", pytest.approx(0.99 * CONTRACT))}


@pytest.mark.parametrize(("fraction", "code"), [(0.5, 3), (1.0, 0)])
def test_the_change_limit_counts_lease_servers(fraction, code) -> None:  # type: ignore[no-untyped-def]
    # Demand doubles to 16,000 tokens/s in Q2..Q4: two servers. The previous plan's future lines are one leased
    # server, so adding a second (leased or bought) changes 1 server: within 100 % of 1, beyond 50 % -> exit 3.
    inputs = _inputs({**DEMAND, "2027Q2": 16_000, "2027Q3": 16_000, "2027Q4": 16_000},
                     policy={"replan": {"max_change_fraction": fraction}})
    got, plan = _run(inputs, _plan0(), "2027Q1")
    assert got == code
    if code == 0:
        assert _contracts(plan) == [("a", "2027Q2", 2)]
        (row,) = plan["replan"]["changes"]
        assert (row["kind"], row["delta_servers"], row["cause"]) == ("lease", 1, "demand")
        assert "the change limit" in row["why"]  # 1 server of 1 allowed: the limit is reached


def test_a_lease_that_can_no_longer_be_signed_is_a_forced_change() -> None:
    # The new scenario forbids leasing a: the Q2 contract cannot be signed again, so the re-plan buys one server in Q2
    # ($100k + 2 % = $2,000 penalty for the added order). The lost contract is listed with a limits cause, unpenalised.
    inputs = _inputs(chip_terms={"a": {"lease_allowed": False}})
    code, plan = _run(inputs, _plan0(), "2027Q1")
    assert code == 0 and plan["lease_contracts"] == []
    assert [(p["chip"], p["order_quarter"], p["servers"]) for p in plan["purchases"]] == [("a", "2027Q2", 1)]
    rows = {r["kind"]: r for r in plan["replan"]["changes"]}
    assert rows["lease"]["delta_servers"] == -1 and "limits" in rows["lease"]["causes"]
    assert "a can no longer be leased from 2027Q2" in rows["lease"]["why"]
    assert rows["purchase"]["delta_servers"] == 1
    assert plan["replan"]["change_penalty_usd"] == pytest.approx(2_000)
