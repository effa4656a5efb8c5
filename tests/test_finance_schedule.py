"""The finance schedule on a tiny plan built by hand: every figure derived in the comments."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from planner.finance.schedule import SCHEDULE_COLUMNS, build_finance, purchase_orders

QUARTERS = ["2027Q1", "2027Q2", "2027Q3", "2027Q4"]


def tiny_assumptions() -> dict[str, Any]:
    """One chip x (net $1,000 per server, life 4 quarters), one site (PUE 1.5, $0.10/kWh), one rack type
    ($100 per occupied rack-quarter), 2,000 hours a quarter, salvage 10 %, resale at half of book value."""
    return {
        "hours_per_quarter": 2000.0, "capex_timing": "order", "objective": "min_tco",
        "depreciation": {"method": "straight_line", "salvage_fraction": 0.1, "resale_fraction_of_book_value": 0.5},
        "budget_usd_total": 10000.0, "budget_usd_by_quarter": {"2027Q1": 5000.0},
        "chips": [{"chip": "x", "vendor": "V", "name": "X", "purchasable": True, "chips_per_server": 8,
                   "lead_time_quarters": 1, "lifetime_quarters": 4, "lease_usd_per_chip_hour": 2.0,
                   "price_components": {"accelerators": 800.0, "host_platform": 450.0}, "list_price_usd": 1250.0,
                   "discount_fraction": 0.2, "unit_price_usd": 1000.0, "price_kind": "estimate", "price_source": "test"}],
        "sites": [{"site": "s", "usd_per_kwh": 0.1, "pue": 1.5}],
        "rack_types": [{"site": "s", "rack_type": "r", "facility_usd_per_quarter": 100.0}],
        # 2 servers installed 2026Q3 (index -2) at $800: cost $1,600, $360 a quarter in -2..1, retired in 2 at $160
        "fleet": [{"site": "s", "rack_type": "r", "chip": "x", "servers": 2, "installed_quarter": "2026Q3",
                   "unit_cost_usd": 800.0, "lifetime_quarters": 4, "cost_basis": "estimate: catalog list price"}],
    }


def tiny_plan() -> dict[str, Any]:
    """3 servers ordered 2027Q1 for $3,000 (two lines: two sites' worth), delivered 2027Q2; $675 a quarter."""
    line = {"order_quarter": "2027Q1", "delivery_quarter": "2027Q2", "vendor": "V", "chip": "x", "rack_type": "r",
            "unit_price_usd": 1000.0}
    racks = [{"quarter": q, "site": "s", "rack": f"s/r/{i:04d}", "rack_type": "r", "chip": "x", "servers": 1}
             for q, n in zip(QUARTERS, (1, 2, 2, 2), strict=True) for i in range(1, n + 1)]
    return {
        "horizon": {"first_quarter": QUARTERS[0], "quarters": QUARTERS},
        "purchases": [{**line, "site": "s", "servers": 1, "chips": 8, "cost_usd": 1000.0},
                      {**line, "site": "t", "servers": 2, "chips": 16, "cost_usd": 2000.0}],
        "power": [{"quarter": q, "site": "s", "it_power_kw": 9.0, "average_it_power_kw": kw}
                  for q, kw in zip(QUARTERS, (1.0, 2.0, 2.0, 2.0), strict=True)],  # energy = kW x 1.5 x 2000 x 0.1
        "racks": racks,
        "leases": [{"quarter": "2027Q4", "chip": "x", "vendor": "V", "chips": 1, "servers": 0, "usd_per_chip_hour": 0.025,
                    "lease_usd": 50.0, "contract_start_quarter": "2027Q4", "term_quarters": 1}],
    }


def column(rows: list[dict[str, Any]], key: str) -> list[Any]:
    return [r[key] for r in rows]


def test_schedule_by_hand() -> None:
    fin = build_finance(tiny_plan(), tiny_assumptions())
    rows = fin["schedule"]
    assert list(rows[0]) == list(SCHEDULE_COLUMNS)
    assert column(rows, "quarter") == QUARTERS
    assert column(rows, "orders_servers") == [3, 0, 0, 0]
    assert column(rows, "deliveries_servers") == [0, 3, 0, 0]
    assert column(rows, "capex_cash_usd") == [3000.0, 0.0, 0.0, 0.0]
    assert column(rows, "energy_usd") == pytest.approx([300.0, 600.0, 600.0, 600.0])
    assert column(rows, "facility_usd") == [100.0, 200.0, 200.0, 200.0]
    assert column(rows, "lease_usd") == [0.0, 0.0, 0.0, 50.0]
    assert column(rows, "cash_out_usd") == pytest.approx([3400.0, 800.0, 800.0, 850.0])
    assert column(rows, "cumulative_cash_out_usd") == pytest.approx([3400.0, 4200.0, 5000.0, 5850.0])
    assert column(rows, "capex_budget_usd") == [5000.0, None, None, None]
    assert column(rows, "cumulative_capex_usd") == [3000.0] * 4
    assert column(rows, "capitalised_usd") == [0.0, 3000.0, 0.0, 0.0]
    # fleet $360 in quarters 0 and 1; purchase $3,000 x 0.9 / 4 = $675 from quarter 1
    assert column(rows, "depreciation_usd") == pytest.approx([360.0, 1035.0, 675.0, 675.0])
    assert column(rows, "disposals_usd") == pytest.approx([0.0, 0.0, 160.0, 0.0])  # fleet retired at salvage
    # opening 1600 - 2 x 360 = 880; 880-360; +3000-1035; -675-160; -675
    assert column(rows, "net_book_value_usd") == pytest.approx([520.0, 2485.0, 1650.0, 975.0])

    t = fin["totals"]
    assert t["capex_cash_usd"] == 3000.0 and t["lease_usd"] == 50.0
    assert t["energy_usd"] == pytest.approx(2100.0) and t["facility_usd"] == 700.0
    assert t["cash_out_usd"] == pytest.approx(5850.0)
    assert t["depreciation_usd"] == pytest.approx(2745.0)
    assert t["depreciation_fleet_usd"] == pytest.approx(720.0)
    assert t["depreciation_purchases_usd"] == pytest.approx(2025.0)
    assert t["opening_net_book_value_usd"] == pytest.approx(880.0)
    assert t["net_book_value_usd"] == pytest.approx(975.0)
    assert t["resale_value_usd"] == pytest.approx(487.5)
    assert t["writedown_usd"] == pytest.approx(487.5)
    # net cost = depreciation 2745 + write-down 487.5 + energy 2100 + facility 700 + leases 50
    assert t["net_cost_usd"] == pytest.approx(6082.5)
    assert t["capex_budget_usd"] == 10000.0


def test_identities_hold_every_quarter() -> None:
    fin = build_finance(tiny_plan(), tiny_assumptions())
    prev = fin["totals"]["opening_net_book_value_usd"]
    for r in fin["schedule"]:
        assert r["cash_out_usd"] == pytest.approx(r["capex_cash_usd"] + r["lease_usd"] + r["energy_usd"] + r["facility_usd"])
        assert r["net_book_value_usd"] == pytest.approx(prev + r["capitalised_usd"] - r["depreciation_usd"] - r["disposals_usd"])
        prev = r["net_book_value_usd"]
    assets = fin["assets"]
    assert sum(a["book_value_at_end_usd"] for a in assets) == pytest.approx(fin["totals"]["net_book_value_usd"])
    assert sum(a["depreciation_in_horizon_usd"] for a in assets) == pytest.approx(fin["totals"]["depreciation_usd"])


def test_capex_in_delivery_quarter_and_no_leases() -> None:
    plan, assumptions = tiny_plan(), tiny_assumptions()
    assumptions["capex_timing"] = "delivery"
    del plan["leases"]  # plans from before leases existed
    rows = build_finance(plan, assumptions)["schedule"]
    assert column(rows, "capex_cash_usd") == [0.0, 3000.0, 0.0, 0.0]
    assert column(rows, "lease_usd") == [0.0] * 4
    assert column(rows, "cumulative_capex_usd") == [0.0, 3000.0, 3000.0, 3000.0]


def test_power_table_without_average_uses_it_power() -> None:
    plan = tiny_plan()
    for row in plan["power"]:
        del row["average_it_power_kw"]  # 9 kW x 1.5 x 2000 x 0.1 = $2,700
    assert column(build_finance(plan, tiny_assumptions())["schedule"], "energy_usd") == [2700.0] * 4


def test_purchase_orders_merge_sites_and_rack_types() -> None:
    orders = purchase_orders(tiny_plan()["purchases"])
    assert orders == [{"order_quarter": "2027Q1", "delivery_quarter": "2027Q2", "vendor": "V", "chip": "x",
                       "servers": 3, "chips": 24, "unit_price_usd": 1000.0, "cost_usd": 3000.0}]


def test_fleet_retired_before_the_horizon_is_not_on_the_books() -> None:
    assumptions = copy.deepcopy(tiny_assumptions())
    assumptions["fleet"][0]["installed_quarter"] = "2025Q1"  # index -8, life 4: gone by index -4
    fin = build_finance(tiny_plan(), assumptions)
    assert fin["totals"]["opening_net_book_value_usd"] == 0.0
    assert fin["totals"]["depreciation_fleet_usd"] == 0.0
    assert column(fin["schedule"], "disposals_usd") == [0.0] * 4


def test_payment_quarter_and_lease_commitments_after_the_horizon() -> None:
    plan = tiny_plan()
    plan["purchases"][1]["payment_quarter"] = "2027Q2"  # the optimizer says when a line is paid: $2,000 in 2027Q2
    plan["lease_contracts"] = [{"contract_start_quarter": "2027Q4", "chip": "x", "term_quarters": 3,
                                "in_horizon_usd": 50.0, "after_horizon_usd": 100.0}]
    fin = build_finance(plan, tiny_assumptions())
    assert column(fin["schedule"], "capex_cash_usd") == [1000.0, 2000.0, 0.0, 0.0]
    assert fin["totals"]["lease_after_horizon_usd"] == 100.0
    assert fin["totals"]["cash_out_usd"] == pytest.approx(5850.0)  # owed after the horizon, not paid inside it
    assert fin["totals"]["net_cost_usd"] == pytest.approx(6082.5 + 100.0)
