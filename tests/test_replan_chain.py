"""The planning cycle plan -> replan -> replan: each re-plan keeps every order placed so far, once, and spends
the budget once. Tiny cases whose plans are derived by hand in each test (see tests/test_replan.py)."""

from __future__ import annotations

import json

import pytest

from planner.errors import InputError
from planner.replan.run import replan_inputs
from tests.milp_cases import make_chip, make_inputs, make_options, make_site
from tests.test_replan import A_ROW, BASE, EXACT, _first_plan, _orders

# Chip a: $100k per server, 8,000 tokens/s per server, lead time 0; demand 8k, 16k, 24k, 32k tokens/s in
# 2027Q1..Q4 -> one server ordered just in time in each quarter (idle power makes early buying dearer).
# Total capex budget $400k: exactly the four servers.
BUDGET = 400_000


def _inputs(demand=BASE, budget=BUDGET):  # type: ignore[no-untyped-def]
    return make_inputs([make_chip("a", price_usd_per_server=100_000)], demand, sites=[make_site(usd_per_kwh=0.1)],
                       policy={"capex_budget_usd_total": budget})


def _replan(inputs, prev, through):  # type: ignore[no-untyped-def]
    out = replan_inputs(inputs, prev, through, EXACT, options_for=lambda inp: make_options([A_ROW], inp.quarters))
    assert out.exit_code == 0
    return json.loads(json.dumps(out.plan))  # as written to plan.json and read back by the next re-plan


def _kept(plan) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return sorted((p["order_quarter"], p["servers"]) for p in plan["replan"]["committed_purchases"])


def test_chain_of_two_replans_keeps_every_order_once() -> None:
    inputs = _inputs()
    plan0 = _first_plan(inputs, [A_ROW])
    assert _orders(plan0) == {("a", q): 1 for q in BASE}
    # Re-plan 1 commits 2027Q1: one server kept, $300k left, the Q2..Q4 orders as before.
    plan1 = _replan(inputs, plan0, "2027Q1")
    assert _kept(plan1) == [("2027Q1", 1)]
    assert plan1["limits"]["budget_usd_total"] == pytest.approx(300_000)
    assert _orders(plan1) == {("a", "2027Q2"): 1, ("a", "2027Q3"): 1, ("a", "2027Q4"): 1}
    # Re-plan 2 commits 2027Q2 from re-plan 1: it keeps the Q1 order re-plan 1 kept and re-plan 1's own Q2 order
    # (2 servers, $200k), so $200k is left and it buys one server in Q3 and one in Q4 - nothing changed.
    # Forgetting the Q1 order would buy 2 in Q3 with $300k "left".
    plan2 = _replan(inputs, plan1, "2027Q2")
    assert _kept(plan2) == [("2027Q1", 1), ("2027Q2", 1)]
    assert plan2["replan"]["committed_capex_usd"] == pytest.approx(200_000)
    assert plan2["limits"]["budget_usd_total"] == pytest.approx(200_000)
    assert _orders(plan2) == {("a", "2027Q3"): 1, ("a", "2027Q4"): 1}
    assert plan2["replan"]["changes"] == []
    assert any("1 of them were kept by the previous re-plan" in n for n in plan2["replan"]["notes"])


def test_chain_of_three_replans_spends_the_budget_once() -> None:
    inputs = _inputs()
    plan1 = _replan(inputs, _first_plan(inputs, [A_ROW]), "2027Q1")
    plan2 = _replan(inputs, plan1, "2027Q2")
    plan3 = _replan(inputs, plan2, "2027Q3")
    # Three servers kept (Q1 from re-plan 1, Q2 from re-plan 2, Q3 its own), $100k left for the one Q4 order.
    assert _kept(plan3) == [("2027Q1", 1), ("2027Q2", 1), ("2027Q3", 1)]
    assert plan3["replan"]["committed_capex_usd"] == pytest.approx(300_000)
    assert plan3["limits"]["budget_usd_total"] == pytest.approx(100_000)
    assert _orders(plan3) == {("a", "2027Q4"): 1}
    # Every order of the cycle appears once: kept orders plus the last re-plan's own are the first plan's four.
    total = sum(p["servers"] for p in plan3["replan"]["committed_purchases"] + plan3["purchases"])
    assert total == 4


def test_chain_with_a_demand_shock_keeps_the_budget_binding() -> None:
    inputs = _inputs()
    plan1 = _replan(inputs, _first_plan(inputs, [A_ROW]), "2027Q1")
    # After re-plan 1, Q4 demand rises to 40k tokens/s (5 servers). The budget of $400k buys 4: re-plan 2 keeps 2
    # ($200k), has $200k for 3 more servers, so no plan meets demand -> exit 3. Restoring the kept Q1 order's
    # $100k would let it buy the fifth server and exit 0.
    shocked = _inputs({**BASE, "2027Q4": 40_000})
    out = replan_inputs(shocked, plan1, "2027Q2", EXACT, options_for=lambda inp: make_options([A_ROW], inp.quarters))
    assert out.exit_code == 3
    assert out.plan["limits"]["budget_usd_total"] == pytest.approx(200_000)
    # With $500k the fifth server fits: 2 kept, then 1 in Q3 and 2 in Q4.
    richer = _inputs({**BASE, "2027Q4": 40_000}, budget=500_000)
    plan2 = _replan(richer, plan1, "2027Q2")
    assert _orders(plan2) == {("a", "2027Q3"): 1, ("a", "2027Q4"): 2}
    assert plan2["limits"]["budget_usd_total"] == pytest.approx(300_000)


def test_commit_through_before_the_previous_replans_is_refused() -> None:
    inputs = _inputs()
    plan2 = _replan(inputs, _replan(inputs, _first_plan(inputs, [A_ROW]), "2027Q1"), "2027Q2")
    with pytest.raises(InputError) as exc:
        replan_inputs(inputs, plan2, "2027Q1", EXACT, options_for=lambda inp: make_options([A_ROW], inp.quarters))
    (p,) = exc.value.problems
    assert (p.file, p.locator) == ("command line", "--commit-through")
    assert "2027Q2" in p.message


def test_same_commit_quarter_again_keeps_the_same_orders() -> None:
    # Re-planning re-plan 1 again through the same quarter keeps exactly its kept orders (none added twice).
    inputs = _inputs()
    plan1 = _replan(inputs, _first_plan(inputs, [A_ROW]), "2027Q1")
    again = _replan(inputs, plan1, "2027Q1")
    assert _kept(again) == [("2027Q1", 1)]
    assert again["limits"]["budget_usd_total"] == pytest.approx(300_000)
    assert _orders(again) == _orders(plan1)


def test_changes_of_a_chained_replan_compare_budgets_net_of_the_same_orders() -> None:
    # Budget $500k throughout. Re-plan 1 (through Q1) has $400k left. Q4 demand then rises to 40k tokens/s (5
    # servers): re-plan 2 (through Q2) keeps Q1 and Q2 ($200k, $300k left) and orders 2 in Q4 instead of 1. Re-plan
    # 1's $400k less the Q2 order it placed itself ($100k) is the same $300k, so the only cause is demand.
    inputs = _inputs(budget=500_000)
    plan1 = _replan(inputs, _first_plan(inputs, [A_ROW]), "2027Q1")
    assert plan1["limits"]["budget_usd_total"] == pytest.approx(400_000)
    plan2 = _replan(_inputs({**BASE, "2027Q4": 40_000}, budget=500_000), plan1, "2027Q2")
    assert plan2["limits"]["budget_usd_total"] == pytest.approx(300_000)
    (row,) = plan2["replan"]["changes"]
    assert (row["order_quarter"], row["previous_servers"], row["new_servers"]) == ("2027Q4", 1, 2)
    assert row["causes"] == "demand"
