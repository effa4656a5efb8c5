"""A re-plan charges and lists changes to lease contracts not yet signed as it does changes to orders, counts the
contracts it keeps in its cash out, and its greedy baseline uses their servers. Tiny cases derived by hand
(tests/test_replan_leases.py's chip: one 8-chip server serves 8,000 tokens/s; leased at $1 per chip-hour for a
3-quarter term = 8 x 2,190 h = $17,520 per server-quarter, $52,560 per contract; bought at $100k, worthless at the
end). The first plan leases one server from 2027Q2 (demand 8,000 tokens/s in Q2..Q4)."""

from __future__ import annotations

import json
from typing import Any

import openpyxl
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


# ------------------------------------------------------------------ kept contracts are committed cash, counted once

@pytest.mark.parametrize("term", [3, 4])
def test_kept_lease_payments_are_committed_cash_once(term, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The first plan leases one server from Q2 for `term` quarters ($17,520 a quarter; cheaper than buying at $100k).
    # Re-planned through 2027Q2, the contract is kept; the new horizon is Q3..Q4. Its payments there (2 x $17,520 =
    # $35,040) are the re-plan's committed cash: leases, cash out and net cost; a term of 4 also owes Q5 ($17,520,
    # after the horizon: net cost, not cash out). Leased servers draw no site energy and use no racks, so nothing
    # else is paid. Signing nothing new, the re-plan's own contracts are none: each contract counted once.
    from planner.report.workbook import write_workbook
    from planner.report.xlsx_schedule import COLUMNS
    from planner.results.reconcile import reconcile
    from tests.test_finance_workbook import _find_row, assert_schedule_matches, schedule_values
    from tests.test_report_workbook import Evaluator

    inputs = _inputs(chips=[_chip("a", 1.0, term=term)])
    plan0 = _first_plan(inputs, [A_ROW])
    assert _contracts(plan0) == [("a", "2027Q2", 1)]
    code, plan = _run(inputs, plan0, "2027Q2")
    assert code == 0 and plan["lease_contracts"] == [] and plan["purchases"] == []
    after = (term - 3) * SERVER_QUARTER
    assert [(r["quarter"], r["lease_usd"], r["committed"]) for r in plan["leases"]] == [
        ("2027Q3", SERVER_QUARTER, True), ("2027Q4", SERVER_QUARTER, True)]
    (kept,) = plan["committed_lease_contracts"]
    assert (kept["in_horizon_usd"], kept["after_horizon_usd"]) == (2 * SERVER_QUARTER, after)
    assert kept["after_horizon_quarters"] == (["2028Q1"] if term == 4 else [])
    sched = {r["quarter"]: r for r in plan["finance"]["schedule"]}
    for q in ("2027Q3", "2027Q4"):
        assert (sched[q]["lease_usd"], sched[q]["committed_lease_usd"], sched[q]["cash_out_usd"]) == (SERVER_QUARTER,) * 3
    totals, k = plan["finance"]["totals"], plan["kpis"]
    assert totals["cash_out_usd"] == k["cash_out_usd"] == 2 * SERVER_QUARTER
    assert totals["committed_lease_usd"] == k["committed_lease_usd"] == 2 * SERVER_QUARTER
    assert totals["lease_after_horizon_usd"] == k["lease_after_horizon_usd"] == after
    assert totals["committed_lease_after_horizon_usd"] == k["committed_lease_after_horizon_usd"] == after
    assert totals["net_cost_usd"] == k["net_cost_usd"] == 2 * SERVER_QUARTER + after
    # the objective holds the same constant: only the epsilon costs ($1 per replica-quarter, 8 replicas x 2) remain
    assert k["objective_tiebreak_usd"] == pytest.approx(16, abs=0.01)
    assert reconcile(plan) == []
    # the workbook: the Leases sheet labels the rows committed and prices them at the contract's rate; the Schedule's
    # formulas give plan.json's figures, the committed column included
    wb = openpyxl.load_workbook(write_workbook(plan, tmp_path / "plan.xlsx"))
    ws, ev = wb["Schedule"], Evaluator(wb)
    assert_schedule_matches(schedule_values(lambda r, c: ev.cell("Schedule", ws.cell(row=r, column=c).coordinate),
                                            plan["horizon"]["quarters"]), plan)
    assert ev.cell("Schedule", f"B{_find_row(ws, 'Leases committed after the horizon')}") == pytest.approx(after, abs=0.01)
    assert "committed_lease_usd" in [key for key, _, _ in COLUMNS]
    leases = wb["Leases"]
    header = [c.value for c in leases[1]]
    assert [leases.cell(row=r, column=header.index("Committed") + 1).value for r in (2, 3)] == ["yes", "yes"]


def test_a_new_contract_and_a_kept_one_are_each_paid_once() -> None:
    # Demand doubles in Q3..Q4 after the Q2 contract (term 3) is kept: the re-plan signs one more contract from Q3
    # (2 x $17,520 inside the horizon, Q3..Q4, and $17,520 in 2028Q1 after it). Leases paid per quarter: $35,040, of
    # which committed $17,520 (the kept contract), never the kept one twice nor the new one as committed.
    inputs = _inputs()
    plan0 = _first_plan(inputs, [A_ROW])
    code, plan = _run(_inputs({**DEMAND, "2027Q3": 16_000, "2027Q4": 16_000}), plan0, "2027Q2")
    assert code == 0 and _contracts(plan) == [("a", "2027Q3", 1)]
    sched = {r["quarter"]: r for r in plan["finance"]["schedule"]}
    for q in ("2027Q3", "2027Q4"):
        assert (sched[q]["lease_usd"], sched[q]["committed_lease_usd"]) == (2 * SERVER_QUARTER, SERVER_QUARTER)
    k = plan["kpis"]
    assert (k["lease_usd"], k["committed_lease_usd"]) == (4 * SERVER_QUARTER, 2 * SERVER_QUARTER)
    assert (k["lease_after_horizon_usd"], k["committed_lease_after_horizon_usd"]) == (SERVER_QUARTER, 0.0)


# ------------------------------------------------------------------ the greedy baseline uses the kept contracts

def test_greedy_baseline_uses_kept_lease_servers() -> None:
    # Through 2027Q2 the Q2 contract (term 3) is kept: its server serves Q3 and Q4 (8 one-chip replicas of 1,000
    # tokens/s). The greedy baseline, which never signs a lease, must use it rather than buy a $100k server, and its
    # net cost is then the kept contract's payments: 2 x $17,520.
    from planner.replan.rollforward import roll_forward
    from solvers.greedy import greedy_plan
    from solvers.sets import build_sets

    inputs = _inputs()
    rolled = roll_forward(inputs, _plan0(), "2027Q2")
    S = build_sets(rolled.inputs, make_options([A_ROW], rolled.inputs.quarters))
    g = greedy_plan(S)
    assert g.feasible, g.reason
    assert g.extracted is not None and g.extracted.purchases == []
    on_lease = {(d["quarter"], d["site"]): d["replicas"] for d in g.extracted.deployments}
    assert on_lease == {("2027Q3", "lease:a"): 8, ("2027Q4", "lease:a"): 8}
    assert g.extracted.kpis["net_cost_usd"] == pytest.approx(2 * SERVER_QUARTER)
    assert g.extracted.kpis["committed_lease_usd"] == pytest.approx(2 * SERVER_QUARTER)


def test_a_lease_rate_rise_is_a_price_cause() -> None:
    # The lease rate doubles to $2 per chip-hour: the Q2 contract (not signed by Q1) would cost $105,120, more than a
    # $100k server plus the penalties of switching (2 % x $105,120 = $2,102.40 to drop the contract at its new price,
    # 2 % x $100k = $2,000 to add the order; $104,102.40 in all), so the re-plan buys, and both lines name the rate.
    inputs = _inputs(chip_terms={"a": {"lease_usd_per_chip_hour": 2.0}})
    code, plan = _run(inputs, _plan0(), "2027Q1")
    assert code == 0 and plan["lease_contracts"] == []
    assert [(p["chip"], p["order_quarter"], p["servers"]) for p in plan["purchases"]] == [("a", "2027Q2", 1)]
    rows = {r["kind"]: r for r in plan["replan"]["changes"]}
    assert (rows["lease"]["delta_servers"], rows["lease"]["cause"]) == (-1, "price")
    assert "a lease $1.00 -> $2.00 per chip-hour" in rows["lease"]["why"]
    assert plan["replan"]["change_penalty_usd"] == pytest.approx(0.02 * 2 * CONTRACT + 2_000)


def test_a_kept_contract_is_paid_at_its_own_rate() -> None:
    # Signed at $1 per chip-hour and kept through Q2, the contract is paid $17,520 a quarter in Q3 and Q4 even though
    # the scenario's rate is now $2 (what a new contract would cost). A plan written before contracts carried their
    # price has neither commitment_usd nor usd_per_chip_hour: the scenario's rate is used, marked as an estimate.
    inputs = _inputs(chip_terms={"a": {"lease_usd_per_chip_hour": 2.0}})
    plan0 = _plan0()
    code, plan = _run(inputs, plan0, "2027Q2")
    assert code == 0 and plan["lease_contracts"] == []
    assert [(r["quarter"], r["lease_usd"], r["usd_per_chip_hour"]) for r in plan["leases"]] == [
        ("2027Q3", SERVER_QUARTER, 1.0), ("2027Q4", SERVER_QUARTER, 1.0)]
    assert plan["kpis"]["committed_lease_usd"] == 2 * SERVER_QUARTER
    for key in ("commitment_usd", "usd_per_chip_hour"):
        del plan0["lease_contracts"][0][key]
    _, old = _run(inputs, plan0, "2027Q2")
    assert old["kpis"]["committed_lease_usd"] == 2 * 2 * SERVER_QUARTER
    assert all(r["price_source"].startswith("estimate") for r in old["leases"])
