"""Re-plan from a previous plan on tiny cases whose plans are derived by hand in each test."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from planner.pipeline import assemble_plan
from planner.replan.run import replan_inputs
from planner.schemas.scenario import SolverSettings
from solvers.build import build_model
from solvers.sets import build_sets
from solvers.solve import solve
from tests.milp_cases import make_chip, make_inputs, make_options, make_site

EXACT = SolverSettings(name="highs", time_limit_s=30, mip_gap=0.0, threads=1, seed=0)
QUARTERS = ["2027Q1", "2027Q2", "2027Q3", "2027Q4"]
# Chip a: $100k per 8-chip server, 1,000 tokens/s per 1-chip replica = 8,000 tokens/s per server, lead time 0.
# Installed servers draw idle power (8 x 500 W x 0.3 = 1.2 kW at $0.10/kWh = $263 per quarter), so buying just in
# time is strictly cheapest: demand 8k, 16k, 24k, 32k tokens/s -> one server ordered in each quarter.
A_ROW = {"chip_id": "a", "tokens_per_s_per_replica": 1000}
BASE = {"2027Q1": 8_000, "2027Q2": 16_000, "2027Q3": 24_000, "2027Q4": 32_000}


def _inputs(demand, chips=None, policy=None):  # type: ignore[no-untyped-def]
    return make_inputs(chips or [make_chip("a", price_usd_per_server=100_000)], demand,
                       sites=[make_site(usd_per_kwh=0.1)], policy=policy)


def _first_plan(inputs, rows):  # type: ignore[no-untyped-def]
    opts = make_options(rows, inputs.quarters)
    S = build_sets(inputs, opts)
    m, const = build_model(S)
    r = solve(m, EXACT)
    assert r.status == "optimal"
    return json.loads(json.dumps(assemble_plan(inputs, S, m, r, EXACT, const, opts, {}, "2027-01-01T00:00:00+00:00")))


def _replan(inputs, prev, rows):  # type: ignore[no-untyped-def]
    out = replan_inputs(inputs, prev, "2027Q2", EXACT, options_for=lambda inp: make_options(rows, inp.quarters))
    assert out.exit_code == 0
    return out.plan


def _orders(plan) -> dict[tuple[str, str], int]:  # type: ignore[no-untyped-def]
    return {(p["chip"], p["order_quarter"]): p["servers"] for p in plan["purchases"]}


def test_first_plan_buys_just_in_time() -> None:
    prev = _first_plan(_inputs(BASE), [A_ROW])
    assert _orders(prev) == {("a", q): 1 for q in QUARTERS}


def test_unchanged_forecast_keeps_committed_orders_and_changes_nothing() -> None:
    inputs = _inputs(BASE)
    prev = _first_plan(inputs, [A_ROW])
    plan = _replan(inputs, prev, [A_ROW])
    rp = plan["replan"]
    committed_before = [json.dumps(p, sort_keys=True) for p in prev["purchases"] if p["order_quarter"] <= "2027Q2"]
    assert [json.dumps(p, sort_keys=True) for p in rp["committed_purchases"]] == committed_before
    assert rp["committed_capex_usd"] == pytest.approx(200_000)
    assert plan["horizon"]["quarters"] == ["2027Q3", "2027Q4"]
    # The two committed servers are fleet now, so the future orders are those of the previous plan: 1 in Q3, 1 in Q4.
    assert _orders(plan) == {("a", "2027Q3"): 1, ("a", "2027Q4"): 1}
    assert rp["changes"] == [] and rp["change_penalty_usd"] == pytest.approx(0.0)
    assert any("forecast rows" in n and "ignored" in n for n in rp["notes"])


def test_demand_shock_lists_changed_orders_with_demand_as_cause() -> None:
    inputs = _inputs(BASE)
    prev = _first_plan(inputs, [A_ROW])
    # +20 % from 2027Q3: 28,800 and 38,400 tokens/s need 4 and 5 servers. Two are committed, so the re-plan orders
    # 2 in Q3 (+1 against the previous plan) and 1 in Q4 (unchanged). Penalty 2 % x $100k = $2,000 for the one added.
    shocked = _inputs({**BASE, "2027Q3": 28_800, "2027Q4": 38_400})
    plan = _replan(shocked, prev, [A_ROW])
    assert _orders(plan) == {("a", "2027Q3"): 2, ("a", "2027Q4"): 1}
    (row,) = plan["replan"]["changes"]
    assert (row["order_quarter"], row["chip"], row["delta_servers"], row["cause"]) == ("2027Q3", "a", 1, "demand")
    assert "w 2027Q3 +20.0 %" in row["why"]
    assert plan["replan"]["change_penalty_usd"] == pytest.approx(2_000, rel=1e-6)


def test_change_penalty_stops_churn_for_a_small_saving() -> None:
    inputs = _inputs(BASE)
    prev = _first_plan(inputs, [A_ROW])
    # Chip b appears: same performance, $99,500 (0.5 % cheaper). Switching the two future orders saves $1,000 but
    # costs 2 x $2,000 (remove a) + 2 x $1,990 (add b) at the default 2 % penalty: the re-plan keeps chip a.
    chips = [make_chip("a", price_usd_per_server=100_000), make_chip("b", price_usd_per_server=99_500)]
    rows = [A_ROW, {"chip_id": "b", "tokens_per_s_per_replica": 1000}]
    kept = _replan(_inputs(BASE, chips), prev, rows)
    assert _orders(kept) == {("a", "2027Q3"): 1, ("a", "2027Q4"): 1}
    # Without a penalty the cheaper chip wins, and the table says why: b now serves w (performance).
    free = _inputs(BASE, chips, policy={"replan": {"change_penalty_usd_per_server": 0}})
    switched = _replan(free, prev, rows)
    assert _orders(switched) == {("b", "2027Q3"): 1, ("b", "2027Q4"): 1}
    causes = {(r["chip"], r["delta_servers"]): r["cause"] for r in switched["replan"]["changes"]}
    assert set(causes) == {("a", -1), ("b", 1)} and set(causes.values()) == {"performance"}


def test_max_change_fraction_limits_changes() -> None:
    inputs = _inputs(BASE)
    prev = _first_plan(inputs, [A_ROW])
    # A +60 % shock in Q4 (51,200 tokens/s = 7 servers; 2 committed + 1 in Q3 -> 4 more in Q4, +3 vs previous) with
    # at most 50 % of the 2 previous future servers changed (1 server): no plan meets demand -> exit 3.
    shocked = _inputs({**BASE, "2027Q4": 51_200}, policy={"replan": {"max_change_fraction": 0.5}})
    out = replan_inputs(shocked, prev, "2027Q2", EXACT, options_for=lambda inp: make_options([A_ROW], inp.quarters))
    assert out.exit_code == 3
    assert out.plan["diagnosis"]


def test_in_flight_delivery_arrives_later_and_budget_is_deducted() -> None:
    # Lead time 1: demand 8k from Q2 and 16k from Q4 -> order 1 in Q1 (arrives Q2) and 1 in Q3 (arrives Q4).
    chip = make_chip("a", price_usd_per_server=100_000, lead=1)
    demand = {"2027Q1": 1.0, "2027Q2": 8_000, "2027Q3": 8_000, "2027Q4": 16_000}
    inputs = make_inputs([chip], demand, sites=[make_site(usd_per_kwh=0.1)], policy={"capex_budget_usd_total": 250_000})
    inputs = replace(inputs, workloads=[w for w in inputs.workloads if w.quarter != "2027Q1"])
    prev = _first_plan(inputs, [A_ROW])
    assert _orders(prev) == {("a", "2027Q1"): 1, ("a", "2027Q3"): 1}
    plan = replan_inputs(inputs, prev, "2027Q1", EXACT, options_for=lambda inp: make_options([A_ROW], inp.quarters)).plan
    # The Q1 order is fleet arriving in Q2; $250k - $100k = $150k left, enough for the Q3 order only.
    assert plan["limits"]["budget_usd_total"] == pytest.approx(150_000)
    assert _orders(plan) == {("a", "2027Q3"): 1}
    assert plan["replan"]["changes"] == []
