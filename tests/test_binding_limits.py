"""Binding limits and their worth, on tiny plans derived by hand (issue 23).

A limit binds only when its slack is zero up to the solver's tolerance (relative to the row's size); its worth is the
LP-relaxation dual in USD per unit; a worth that is zero at the precision printed says "no marginal value", never
"is worth $0.0000".

Every case: one workload `w`, one quarter 2027Q1, one site `s1` with free electricity and facility, resale 0 (so the
net cost of a server is its price). Chips hold 8 chips per 4U server; a 1-chip replica serves 1,000 tok/s, so one
server serves 8,000 tok/s. The objective also carries $1 per rack-quarter and per replica-quarter (the epsilon
tie-break): 8 replicas and 1/12 of a rack (12 servers per 48U rack) per server in the LP relaxation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from planner.results.summary import binding_sentence, binding_sentences
from planner.schemas.scenario import SolverSettings
from solvers.build import build_model
from solvers.explain import binding_limits, describe_binding, explain_binding, slack_of
from solvers.sets import MONEY_SCALE, build_sets
from solvers.solve import solve
from tests.milp_cases import make_chip, make_inputs, make_options, make_site

EXACT = SolverSettings(name="highs", time_limit_s=30, mip_gap=0.0, threads=1, seed=0)
Q = "2027Q1"

#: "worth $0", "worth $0.00", "worth $0.0000", "worth -$0.00": a price line that says nothing is worth something
ZERO_WORTH = re.compile(r"worth -?\$0(?:\.0*)?(?![\d.,]*[1-9])")


def _solve(inputs: Any, options: Any) -> tuple[Any, Any, dict[str, float]]:
    S = build_sets(inputs, options)
    m, _ = build_model(S)
    r = solve(m, EXACT)
    assert r.status == "optimal", r.raw_status
    return S, m, r.values


def _one_chip_plan(price: float, demand: float, **kw: Any) -> tuple[Any, Any, dict[str, float]]:
    a = make_chip("a", price_usd_per_server=price)
    options = make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1000}], [Q])
    return _solve(make_inputs([a], {Q: demand}, **kw), options)


def _texts(rows: list[dict[str, Any]]) -> list[str]:
    return [describe_binding(r) for r in rows] + [binding_sentence(r) for r in rows]


# ------------------------------------------------------------------------------------------- (a) slack: not binding


@pytest.mark.parametrize(("price", "budget", "binds"), [
    # 16,000 tok/s needs 2 servers. $100,000 each: $200,000 of a $240,000 budget, $40,000 left. One more server
    # ($100,000) does not fit, but $40,000 is 1/6 of the budget: the limit is not used up, it does not bind.
    (100_000, 240_000, False),
    # the same 2 servers with a budget of exactly $200,000: slack 0, it binds
    (100_000, 200_000, True),
    # the tolerance is relative: 1e-6 x $55M = $55. Two $27,499,980 servers leave $40 of $55M (binds), two
    # $27,499,970 servers leave $60 (does not)
    (27_499_980, 55_000_000, True),
    (27_499_970, 55_000_000, False),
])
def test_a_budget_binds_only_when_its_slack_is_within_the_relative_tolerance(price: float, budget: float, binds: bool) -> None:
    S, m, values = _one_chip_plan(price, 16_000, policy={"capex_budget_usd_total": budget})
    # money inside the model is in $M: the row's slack is (budget - 2 x price) / MONEY_SCALE
    assert slack_of(m, "budget_total", values) * MONEY_SCALE == pytest.approx(budget - 2 * price, abs=1e-3)
    assert ("budget_total" in binding_limits(m, values)) is binds
    rows = [r for r in explain_binding(m, values, S) if r["constraint"] == "budget_total"]  # as plan.json lists them
    assert len(rows) == (1 if binds else 0)
    if binds:
        assert rows[0]["slack"] == pytest.approx(budget - 2 * price, abs=1e-3)  # reported in USD


def test_a_quarterly_budget_with_40000_dollars_of_slack_is_not_listed() -> None:
    # The case through the whole pipeline: a quarterly budget of $240,000 buys the 2 servers ($200,000) the
    # demand needs; $40,000 stays unspent. Rack positions (100), site power (1,000 kW vs 8 kW) have room too:
    # nothing binds, so plan.json lists nothing and the summary says nothing binds.
    import planner.pipeline as pipeline

    a = make_chip("a", price_usd_per_server=100_000)
    inputs = make_inputs([a], {Q: 16_000}, policy={"capex_budget_usd_by_quarter": {Q: 240_000}})
    options = make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1000}], [Q])
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(pipeline, "load_inputs", lambda _path, _sets=None: inputs)
        mp.setattr(pipeline, "deployment_table", lambda _inputs: options)
        out = pipeline.plan_scenario("tiny.yaml")
    finally:
        mp.undo()
    assert out.plan["status"] == "optimal"
    assert sum(p["servers"] for p in out.plan["purchases"]) == 2
    assert out.plan["binding"] == []
    assert binding_sentences(out.plan) == []


# ------------------------------------------------------------------------------- (b) binds: listed, price by hand


def test_b_site_power_that_binds_is_listed_with_its_lp_shadow_price() -> None:
    # A: $100,000, 8 x 1,000 W = 8 kW per server. B: $200,000, 8 x 250 W = 2 kW. Both 8,000 tok/s per server.
    # Demand 16,000 -> 2 servers; site cap 10 kW. MILP: 2 A = 16 kW (no); A + B = 10 kW, $300,000 (optimum);
    # the cap is used to the watt: it binds.
    # LP relaxation: min 100,000 a + 200,000 b (+ the same $8 1/12 of epsilon per server for both chips)
    #   s.t. a + b >= 2 (demand, dual y), 8 a + 2 b <= 10 (power, dual p). Both tight at a = b = 1:
    #   100,000 = y - 8 p and 200,000 = y - 2 p -> p = 100,000 / 6 = $16,666.67 per kW
    #   (one more kW: a = 1 + 1/6, b = 1 - 1/6, saving $100,000 / 6).
    a = make_chip("a", price_usd_per_server=100_000, tdp_w=1000)
    b = make_chip("b", price_usd_per_server=200_000, tdp_w=250)
    options = make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1000},
                            {"chip_id": "b", "tokens_per_s_per_replica": 1000}], [Q])
    S, m, values = _solve(make_inputs([a, b], {Q: 16_000}, sites=[make_site(cap_kw=10.0)]), options)
    rows = explain_binding(m, values, S)
    assert [(r["constraint"], r["where"], r["quarter"]) for r in rows] == [("site_power", "s1", Q)]
    (row,) = rows
    assert row["slack"] == pytest.approx(0.0, abs=1e-6)
    assert row["shadow_price_usd"] == pytest.approx(100_000 / 6, rel=1e-6)
    assert describe_binding(row) == "Site power at s1 in 2027Q1 binds: one more kW is worth $16,667 (LP-relaxation estimate)"
    assert binding_sentence(row) == "Site power at s1 binds in 2027Q1: one more kW of IT power is worth $16,667 (LP relaxation)."


def test_b_a_budget_spent_to_the_dollar_binds() -> None:
    # 2 servers at $100,000 against a total budget of exactly $200,000: slack 0, listed, slack reported in USD.
    S, m, values = _one_chip_plan(100_000, 16_000, policy={"capex_budget_usd_total": 200_000})
    rows = [r for r in explain_binding(m, values, S) if r["constraint"] == "budget_total"]
    assert len(rows) == 1 and rows[0]["slack"] == pytest.approx(0.0, abs=1e-3)
    price = rows[0]["shadow_price_usd"]
    assert price is None or isinstance(price, float)


# ------------------------------------------------------------------------------------------- (c) no "$0.0000" line


def test_c_a_full_limit_worth_nothing_says_no_marginal_value() -> None:
    # Demand 8,000 -> 1 server, in a site with 1 rack position: the MILP fills 1 rack of 1 (slack 0: it binds).
    # The LP relaxation needs 1/12 of a rack, so its rack-position row has room and a dual of 0: one more rack
    # position saves nothing. The row stays listed (the limit is full) with price 0.0, and no text prints "$0.0000".
    S, m, values = _one_chip_plan(100_000, 8_000, sites=[make_site(racks=1)])
    rows = explain_binding(m, values, S)
    assert [(r["constraint"], r["where"], r["quarter"]) for r in rows] == [("rack_positions", "s1/r", Q)]
    (row,) = rows
    assert row["shadow_price_usd"] == 0.0 and isinstance(row["shadow_price_usd"], float)
    assert describe_binding(row) == ("Rack positions s1/r in 2027Q1 binds but has no marginal value: one more rack would "
                                     "save nothing (LP-relaxation estimate)")
    assert binding_sentence(row) == ("Rack space at s1/r binds in 2027Q1 but has no marginal value: one more rack "
                                     "position would save nothing (LP relaxation).")
    for text in _texts(rows):
        assert not ZERO_WORTH.search(text), text


@pytest.mark.parametrize(("constraint", "unit", "price", "shown"), [
    # money rows print 4 decimals below $0.01: 0.00004 shows as $0.0000 -> no marginal value; 0.0004 is a price
    ("budget_total", "USD per USD of total budget (LP relaxation)", 0.00004, None),
    ("budget_total", "USD per USD of total budget (LP relaxation)", -0.0, None),
    ("budget_total", "USD per USD of total budget (LP relaxation)", 0.0004, "$0.0004"),
    ("budget_quarter", "USD per USD of quarterly budget (LP relaxation)", 0.003, "$0.0030"),
    ("budget_quarter", "USD per USD of quarterly budget (LP relaxation)", 0.2753, "$0.28"),
    ("rack_positions", "USD per rack position (LP relaxation)", 0.0, None),
    ("site_power", "USD per kW of IT power (LP relaxation)", 1234.5, "$1,234"),
])
def test_c_texts_never_say_a_limit_is_worth_zero(constraint: str, unit: str, price: float, shown: str | None) -> None:
    row = {"constraint": constraint, "where": "capex" if "budget" in constraint else "s1", "quarter": Q,
           "shadow_price_usd": price, "unit": unit}
    for text in (describe_binding(row), binding_sentence(row)):
        assert not ZERO_WORTH.search(text), text
        if shown is None:
            assert "no marginal value" in text and "$" not in text, text
        else:
            assert f"worth {shown}" in text, text  # before: plan.json's text printed 0.003 per USD as "$0.00"


def test_c_max_tokens_duals_are_not_reported_as_usd() -> None:
    # Objective max_tokens: demand 20,000 tok/s, total budget $100,000 buys one server (8,000 tok/s): the budget is
    # spent to the dollar and binds. The LP dual is in tokens/s-quarters per $M (8,000 tok/s per $0.1M), not USD:
    # no USD price is reported (before: "one more dollar of total budget is worth $80,000").
    S, m, values = _one_chip_plan(100_000, 20_000, policy={"objective": "max_tokens", "capex_budget_usd_total": 100_000})
    rows = [r for r in explain_binding(m, values, S) if r["constraint"] == "budget_total"]
    assert len(rows) == 1
    assert rows[0]["shadow_price_usd"] is None
    assert "worth" not in describe_binding(rows[0]) and "worth" not in binding_sentence(rows[0])


# ------------------------------------------------------------------------------------------- the bundled example


def test_the_bundled_example_lists_only_full_limits_and_no_zero_worth(example_run: Path) -> None:
    # Before: quarterly and total budgets with $36,790 and $80,920 unspent were listed as binding, and two rack rows
    # read "one more rack position is worth $0.0000".
    plan = json.loads((example_run / "plan.json").read_text())
    limits = plan["limits"]
    for row in plan["binding"]:
        if row["constraint"] == "budget_total":
            assert row["slack"] <= max(1.0, 1e-6 * limits["budget_usd_total"]), row
        elif row["constraint"] == "budget_quarter":
            assert row["slack"] <= max(1.0, 1e-6 * limits["budget_usd_by_quarter"][row["quarter"]]), row
        else:
            assert row["slack"] <= 1e-3, row  # kW, racks, servers, chips: full to the solver's precision
        assert row["shadow_price_usd"] is None or isinstance(row["shadow_price_usd"], float)
    for text in [r["text"] for r in plan["binding"]] + binding_sentences(plan):
        assert not ZERO_WORTH.search(text), text
