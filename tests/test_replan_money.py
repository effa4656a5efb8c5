"""A re-plan's money agrees with itself and with the plan it came from (issue 24). Tiny case derived by hand:

Chip a costs $100k per server, life 20 quarters (charge $5k per quarter, no salvage, worthless at the end: resale 0),
lead time 1 quarter. One server of a is owned, in service since 2026Q1. Demand 8,000 tokens/s in 2027Q1..Q2 (the
owned server) and 16,000 in Q3..Q4: the first plan orders one server in 2027Q2 (delivered Q3; later is too late,
earlier only adds idle power). Re-planned through 2027Q2, that order is kept and is still in flight at the new
horizon's start (2027Q3):
  * book value at the start = the owned server: $100k - 6 quarters (2026Q1..2027Q2) x $5k = $70,000, which is the
    first plan's book value at the end of 2027Q2; the kept order is not on the books yet (in transit, $100k);
  * depreciation in the new horizon: 2 servers x 2 quarters x $5k = $20,000; book value at the end $60k + $90k.
With `capex_timing: delivery` the kept order is paid on delivery, in 2027Q3, inside the new horizon: $100k of
committed capex cash there, once; nothing is in transit paid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from planner.replan.reconcile import reconcile_replan
from planner.replan.run import replan_inputs
from planner.report.workbook import write_workbook
from planner.results.reconcile import reconcile
from planner.results.summary import key_figures
from tests.milp_cases import make_chip, make_inputs, make_options, make_site
from tests.test_finance_workbook import assert_schedule_matches, assert_schedule_reconciles, schedule_values
from tests.test_replan import A_ROW, EXACT, _first_plan
from tests.test_report_workbook import Evaluator, _find_row

DEMAND = {"2027Q1": 8_000, "2027Q2": 8_000, "2027Q3": 16_000, "2027Q4": 16_000}
FLEET = [{"site_id": "s1", "rack_type_id": "r", "chip_id": "a", "servers": 1, "installed_quarter": "2026Q1"}]


def _inputs(timing: str, discount: float = 0.0) -> Any:
    policy = {"capex_timing": timing, "capex_budget_usd_total": 250_000, "capex_budget_usd_per_quarter": 150_000}
    terms = {"a": {"discount_fraction": discount}} if discount else None
    return make_inputs([make_chip("a", price_usd_per_server=100_000, lead=1)], DEMAND, sites=[make_site(usd_per_kwh=0.1)],
                       policy=policy, fleet=FLEET, chip_terms=terms)


def _replan(inputs: Any, prev: dict[str, Any], through: str) -> dict[str, Any]:
    out = replan_inputs(inputs, prev, through, EXACT, options_for=lambda inp: make_options([A_ROW], inp.quarters))
    assert out.exit_code == 0
    return json.loads(json.dumps(out.plan))


def _plans(timing: str, discount: float = 0.0) -> tuple[dict[str, Any], dict[str, Any]]:
    inputs = _inputs(timing, discount)
    plan0 = _first_plan(inputs, [A_ROW])
    assert [(p["order_quarter"], p["delivery_quarter"], p["servers"]) for p in plan0["purchases"]] == [("2027Q2", "2027Q3", 1)]
    return plan0, _replan(inputs, plan0, "2027Q2")


@pytest.mark.parametrize("timing", ["order", "delivery"])
def test_book_value_at_the_start_is_the_fleet_in_service(timing: str) -> None:
    plan0, plan = _plans(timing)
    k, t = plan["kpis"], plan["finance"]["totals"]
    assert plan["replan"]["committed_purchases"][0]["order_quarter"] == "2027Q2" and plan["purchases"] == []
    assert k["fleet_book_value_start_usd"] == pytest.approx(70_000)
    assert t["opening_net_book_value_usd"] == pytest.approx(70_000)
    assert next(r for r in plan0["finance"]["schedule"] if r["quarter"] == "2027Q2")["net_book_value_usd"] == pytest.approx(70_000)
    assert k["depreciation_fleet_usd"] == pytest.approx(20_000) and k["book_value_end_usd"] == pytest.approx(150_000)
    assert [r["capitalised_usd"] for r in plan["finance"]["schedule"]] == [pytest.approx(100_000), 0.0]
    assert reconcile(plan) == [] and reconcile_replan(plan0, plan) == []


def test_order_timing_kept_order_was_paid_before_the_horizon() -> None:
    _plan0, plan = _plans("order")
    k, t = plan["kpis"], plan["finance"]["totals"]
    assert k["capex_cash_usd"] == 0 and k["committed_capex_cash_usd"] == 0 and t["committed_capex_cash_usd"] == 0
    assert k["fleet_in_transit_start_usd"] == pytest.approx(100_000)
    assert t["capex_budget_usd"] == pytest.approx(150_000)  # $250k less the $100k paid in 2027Q2
    # net cost = capex cash + book value and in transit at the start + energy + facility + leases - resale
    assert k["net_cost_usd"] == pytest.approx(70_000 + 100_000 + k["energy_usd"])


def test_delivery_timing_kept_order_in_flight_is_committed_cash_of_its_delivery_quarter_once() -> None:
    _plan0, plan = _plans("delivery")
    k, t = plan["kpis"], plan["finance"]["totals"]
    rows = {r["quarter"]: r for r in plan["finance"]["schedule"]}
    assert (rows["2027Q3"]["capex_cash_usd"], rows["2027Q3"]["committed_capex_cash_usd"]) == (100_000, 100_000)
    assert (rows["2027Q4"]["capex_cash_usd"], rows["2027Q4"]["committed_capex_cash_usd"]) == (0, 0)
    assert k["capex_cash_usd"] == 100_000 and k["committed_capex_cash_usd"] == 100_000 and t["capex_cash_usd"] == 100_000
    assert k["fleet_in_transit_start_usd"] == 0
    assert k["cash_out_usd"] == pytest.approx(100_000 + k["energy_usd"])
    # the budget of the horizon's cash: the $100k is counted once against it, not also as spent beforehand
    assert t["capex_budget_usd"] == pytest.approx(250_000) and rows["2027Q3"]["capex_budget_usd"] == pytest.approx(150_000)
    assert rows["2027Q4"]["cumulative_capex_usd"] == pytest.approx(100_000)
    assert k["net_cost_usd"] == pytest.approx(100_000 + 70_000 + k["energy_usd"])
    # the report's capex cash figure says how much of it is committed
    (fig,) = [f for f in key_figures(plan) if f.key == "capex_cash_usd"]
    assert "of which $100,000 for orders a re-plan kept (committed)" in fig.note
    # a fixed-asset row says where the committed cash comes from
    (asset,) = [a for a in plan["finance"]["assets"] if a["payment_quarter"]]
    assert (asset["order_quarter"], asset["payment_quarter"], asset["cost_usd"]) == ("2027Q2", "2027Q3", 100_000)


@pytest.mark.parametrize("timing", ["order", "delivery"])
def test_chained_replan_rolls_the_book_value_on(timing: str) -> None:
    # Through 2027Q3 from the re-plan: both servers are in service at 2027Q4's start: owned $100k - 7 x $5k = $65k,
    # the kept order $100k - $5k = $95k: $160,000, the first re-plan's book value at the end of 2027Q3. The kept
    # order was paid in 2027Q2 or Q3, before the new horizon: no committed cash, nothing in transit.
    _plan0, plan1 = _plans(timing)
    plan2 = _replan(_inputs(timing), plan1, "2027Q3")
    k = plan2["kpis"]
    assert k["fleet_book_value_start_usd"] == pytest.approx(160_000)
    assert plan2["finance"]["totals"]["opening_net_book_value_usd"] == pytest.approx(160_000)
    assert k["capex_cash_usd"] == 0 and k["fleet_in_transit_start_usd"] == 0
    assert reconcile_replan(plan1, plan2) == []
    assert not [w for w in plan1["warnings"] + plan2["warnings"] if "does not reconcile" in w]


def test_the_check_finds_a_book_value_the_previous_plan_does_not_have() -> None:
    plan0, plan = _plans("order")
    plan["finance"]["totals"]["opening_net_book_value_usd"] = 170_000.0  # in-flight order counted as on the books
    plan["kpis"]["fleet_book_value_start_usd"] = 170_000.0
    locators = [p.locator for p in reconcile_replan(plan0, plan)]
    assert "finance.totals.opening_net_book_value_usd" in locators


@pytest.mark.parametrize(("timing", "discount"), [("order", 0.0), ("delivery", 0.0), ("delivery", 0.2)])
def test_workbook_schedule_gives_the_replans_figures(timing: str, discount: float, tmp_path: Path) -> None:
    # The Schedule sheet's formulas (committed capex from the Fixed assets sheet's payment quarter, the kept order at
    # its own price, not the Assumptions list price) give plan.json's schedule, and every reconciliation row against
    # finance.totals and KPIs is $0.
    _plan0, plan = _plans(timing, discount)
    wb = openpyxl.load_workbook(write_workbook(plan, tmp_path / "plan.xlsx"))
    ev, ws = Evaluator(wb), wb["Schedule"]
    quarters = plan["horizon"]["quarters"]
    assert_schedule_matches(schedule_values(lambda r, c: ev.cell("Schedule", ws.cell(row=r, column=c).coordinate),
                                            quarters), plan)
    assert_schedule_reconciles(ev, ws)
    # the Summary sheet's net horizon cost: capex + fleet book value and in transit at the start + ... - resale
    summary = wb["Summary"]
    first = _find_row(summary, "Reconciliation with plan.json") + 2
    assert [ev.cell("Summary", f"D{r}") for r in (first, first + 1)] == [pytest.approx(0.0, abs=0.05)] * 2


def test_kept_order_is_carried_at_its_own_price() -> None:
    # A 20 % discount: the order costs $80k ($4k a quarter), the owned server stays at the $100k list estimate. The
    # kept order is in transit at $80k (not the $100k list), its 2 quarters charge $8k: fleet depreciation $18,000.
    inputs = _inputs("order", discount=0.2)
    plan0 = _first_plan(inputs, [A_ROW])
    assert [(p["order_quarter"], p["cost_usd"]) for p in plan0["purchases"]] == [("2027Q2", 80_000)]
    plan = _replan(inputs, plan0, "2027Q2")
    k = plan["kpis"]
    assert k["fleet_in_transit_start_usd"] == pytest.approx(80_000) and k["fleet_book_value_start_usd"] == pytest.approx(70_000)
    assert k["depreciation_fleet_usd"] == pytest.approx(18_000) and k["book_value_end_usd"] == pytest.approx(60_000 + 72_000)
    (kept,) = [a for a in plan["finance"]["assets"] if a["order_quarter"]]
    assert (kept["unit_cost_usd"], kept["cost_usd"]) == (80_000, 80_000)
    assert reconcile_replan(plan0, plan) == []


#: ways the sites file's existing fleet (or its catalog cost basis) can change between the plan and its re-plan, with
#: the owned hardware's book value at the new start (2027Q3), derived by hand: $100k each, $5k a quarter from service
FLEET_CHANGES = {
    "one more server": ({"fleet": [{**FLEET[0], "servers": 2}]}, 140_000),           # 2 x ($100k - 6 x $5k)
    "installed earlier": ({"fleet": [{**FLEET[0], "installed_quarter": "2025Q1"}]}, 50_000),  # $100k - 10 x $5k
    "catalog price": ({"price": 120_000}, 84_000),                                    # $120k - 6 x $6k
    "installed later": ({"fleet": [{**FLEET[0], "installed_quarter": "2026Q3"}]}, 80_000),  # $100k - 4 x $5k
}


def _changed_inputs(change: dict[str, Any]) -> Any:
    policy = {"capex_timing": "order", "capex_budget_usd_total": 250_000, "capex_budget_usd_per_quarter": 150_000}
    chip = make_chip("a", price_usd_per_server=change.get("price", 100_000), lead=1)
    return make_inputs([chip], DEMAND, sites=[make_site(usd_per_kwh=0.1)], policy=policy, fleet=change.get("fleet", FLEET))


@pytest.mark.parametrize(("change", "owned"), FLEET_CHANGES.values(), ids=FLEET_CHANGES.keys())
def test_a_changed_existing_fleet_is_reconciled_on_the_previous_plans_basis(change: dict[str, Any], owned: float) -> None:
    # The previous plan's book value at the end of 2027Q2 is $70,000 (the one owned server). Re-planned with a changed
    # sites file or catalog price, the start's book value is the changed fleet's; the check reconciles the difference
    # (it is said as a warning) instead of skipping, so a wrong figure is still found.
    plan0 = _first_plan(_inputs("order"), [A_ROW])
    plan = _replan(_changed_inputs(change), plan0, "2027Q2")
    assert plan["finance"]["totals"]["opening_net_book_value_usd"] == pytest.approx(owned)
    assert reconcile_replan(plan0, plan) == []
    [said] = [w for w in plan["warnings"] if "existing fleet" in w and "differs from the previous plan" in w]
    diff = owned - 70_000
    assert f"({'+' if diff >= 0 else '-'}${abs(diff):,.0f})" in said, said
    assert not [w for w in plan["warnings"] if "does not reconcile" in w]
    plan["finance"]["totals"]["opening_net_book_value_usd"] = owned + 100_000.0  # the in-flight order counted twice
    found = [p.message for p in reconcile_replan(plan0, plan) if p.locator == "finance.totals.opening_net_book_value_usd"]
    assert [m for m in found if f"should be ${owned:,.0f}" in m], found


def test_the_same_fleet_gives_no_basis_warning() -> None:
    plan0, plan = _plans("order")
    assert not [w for w in plan["warnings"] if "differs from the previous plan" in w]
