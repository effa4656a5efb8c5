"""The workbook finance signs, on the small fixture plan with a finance block: every schedule cell is a live
formula that gives plan.json's figure, money follows the Assumptions sheet, and figures are labelled."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from planner.finance.schedule import SCHEDULE_COLUMNS, build_finance
from planner.report.workbook import write_workbook
from planner.report.xlsx_schedule import COLUMNS
from planner.results.plan_io import validate_plan
from planner.results.reconcile import reconcile
from planner.results.summary import key_figures, summary_line
from tests.test_report_workbook import Evaluator, _find_row

FIXTURE = Path(__file__).parent / "fixtures" / "plan_small.json"
PRICES = {"h100_sxm": 280_000.0, "mi300x": 210_000.0}  # net: h100 $350,000 list less 20 %; mi300x no discount


def finance_assumptions() -> dict[str, Any]:
    chip = {"purchasable": True, "chips_per_server": 8, "lead_time_quarters": 1, "lease_usd_per_chip_hour": 2.5,
            "price_kind": "estimate", "price_source": "test"}
    return {
        "hours_per_quarter": 2190.0, "capex_timing": "order", "objective": "min_tco",
        "depreciation": {"method": "straight_line", "salvage_fraction": 0.1, "resale_fraction_of_book_value": 0.8},
        "budget_usd_total": 9_000_000.0,
        "budget_usd_by_quarter": {"2027Q1": 5_500_000.0, "2027Q2": 2_000_000.0, "2027Q3": 1_600_000.0, "2027Q4": 1_000_000.0},
        "chips": [
            {**chip, "chip": "h100_sxm", "vendor": "NVIDIA", "name": "H100", "lifetime_quarters": 20,
             "price_components": {"accelerators": 250_000.0, "host_platform": 100_000.0}, "list_price_usd": 350_000.0,
             "discount_fraction": 0.2, "unit_price_usd": 280_000.0},
            {**chip, "chip": "mi300x", "vendor": "AMD", "name": "MI300X", "lifetime_quarters": 16,
             "price_components": {"accelerators": 160_000.0, "host_platform": 50_000.0}, "list_price_usd": 210_000.0,
             "discount_fraction": 0.0, "unit_price_usd": 210_000.0},
        ],
        "sites": [{"site": "site_a", "usd_per_kwh": 0.08, "pue": 1.3}, {"site": "site_b", "usd_per_kwh": 0.05, "pue": 1.2}],
        "rack_types": [{"site": "site_a", "rack_type": "std-41kw", "facility_usd_per_quarter": 4000.0},
                       {"site": "site_b", "rack_type": "std-41kw", "facility_usd_per_quarter": 3000.0}],
        # 4 H100 servers in service since 2023Q2 (index -15) at the $350,000 list price; life 20: disposed of in 2028Q2
        # (after the horizon); one MI300X server since 2023Q1 (index -16), life 16: disposed of in 2027Q1
        "fleet": [{"site": "site_a", "rack_type": "std-41kw", "chip": "h100_sxm", "servers": 4, "installed_quarter": "2023Q2",
                   "unit_cost_usd": 350_000.0, "lifetime_quarters": 20, "cost_basis": "estimate: catalog list price"},
                  {"site": "site_b", "rack_type": "std-41kw", "chip": "mi300x", "servers": 1, "installed_quarter": "2023Q1",
                   "unit_cost_usd": 210_000.0, "lifetime_quarters": 16, "cost_basis": "estimate: catalog list price"}],
    }


def finance_plan() -> dict[str, Any]:
    """The fixture with one price per chip, leases in 2027Q4, and its finance block."""
    plan = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for p in plan["purchases"]:
        p["unit_price_usd"] = PRICES[p["chip"]]
        p["cost_usd"] = p["servers"] * p["unit_price_usd"]
    capex = sum(p["cost_usd"] for p in plan["purchases"])
    plan["kpis"]["tco_usd"] += capex - plan["kpis"]["capex_usd"]
    plan["kpis"]["capex_usd"] = capex
    plan["leases"] = [{"quarter": "2027Q4", "chip": "h100_sxm", "vendor": "NVIDIA", "chips": 16, "servers": 2,
                       "usd_per_chip_hour": 2.5, "lease_usd": 16 * 2.5 * 2190.0, "contract_start_quarter": "2027Q4",
                       "term_quarters": 2}]
    plan["lease_contracts"] = [{"contract_start_quarter": "2027Q4", "chip": "h100_sxm", "vendor": "NVIDIA", "servers": 2,
                                "chips": 16, "term_quarters": 2, "usd_per_chip_hour": 2.5, "commitment_usd": 175_200.0,
                                "in_horizon_usd": 87_600.0, "after_horizon_usd": 87_600.0,
                                "after_horizon_quarters": ["2028Q1"]}]
    plan["finance"] = build_finance(plan, finance_assumptions())
    k, t = plan["kpis"], plan["finance"]["totals"]
    k.update(energy_usd=t["energy_usd"], facility_usd=t["facility_usd"], opex_usd=t["energy_usd"] + t["facility_usd"])
    k["tco_usd"] = k["capex_usd"] + k["opex_usd"] - k["residual_value_usd"]  # the fixture's optimizer priced by these rates
    return validate_plan(plan)


@pytest.fixture
def plan() -> dict[str, Any]:
    return finance_plan()


def _write(plan: dict[str, Any], tmp_path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(write_workbook(plan, tmp_path / "plan.xlsx"))


def assert_schedule_reconciles(ev: Any, ws: Any) -> None:
    """Every reconciliation row of the Schedule sheet (workbook minus plan.json, finance.totals and KPIs) is $0."""
    first = _find_row(ws, "Reconciliation with plan.json") + 2
    checked = 0
    for r in range(first, ws.max_row + 1):
        if ws.cell(row=r, column=4).value:
            assert ev.cell("Schedule", f"D{r}") == pytest.approx(0.0, abs=0.05), ws.cell(row=r, column=5).value
            checked += 1
    assert checked >= 15


def schedule_values(read: Any, quarters: list[str]) -> list[dict[str, Any]]:
    """Schedule sheet rows as {key: value} with `read(row, column)` giving a cell's value."""
    return [{key: read(2 + i, c + 1) for c, (key, _, _) in enumerate(COLUMNS)} for i in range(len(quarters))]


def assert_schedule_matches(rows: list[dict[str, Any]], plan: dict[str, Any], cents: float = 0.02) -> None:
    for got, want in zip(rows, plan["finance"]["schedule"], strict=True):
        for key in SCHEDULE_COLUMNS:
            if key == "quarter" or want.get(key) is None:
                assert got[key] == want.get(key) or (got[key] in (None, "") and want.get(key) is None), key
            else:
                assert got[key] == pytest.approx(want[key], abs=cents), (want["quarter"], key)


def test_plan_reconciles(plan: dict[str, Any]) -> None:
    assert reconcile(plan) == []


def test_schedule_sheet_formulas_give_plan_json(plan: dict[str, Any], tmp_path: Path) -> None:
    wb = _write(plan, tmp_path)
    ev = Evaluator(wb)
    ws = wb["Schedule"]
    quarters = plan["horizon"]["quarters"]
    for r in range(2, 2 + len(quarters)):
        for c in range(3, len(COLUMNS) + 1):
            cell = ws.cell(row=r, column=c)
            assert cell.value is None or cell.data_type == "f", (cell.coordinate, cell.value)  # live, never typed in
    rows = schedule_values(lambda r, c: ev.cell("Schedule", ws.cell(row=r, column=c).coordinate), quarters)
    assert_schedule_matches(rows, plan)
    totals = plan["finance"]["totals"]
    total = _find_row(ws, "Total")
    for c, (key, _, _) in enumerate(COLUMNS, start=1):
        if key in totals and key != "capex_budget_usd":
            assert ev.cell("Schedule", ws.cell(row=total, column=c).coordinate) == pytest.approx(totals[key], abs=0.05), key
    for label, key in (("Resale value", "resale_value_usd"), ("Net cost (net horizon cost)", "net_cost_usd"),
                       ("Opening net book value", "opening_net_book_value_usd"),
                       ("Leases committed after the horizon", "lease_after_horizon_usd")):
        assert ev.cell("Schedule", f"B{_find_row(ws, label)}") == pytest.approx(totals[key], abs=0.05)
    # every reconciliation row (finance.totals and KPIs): workbook minus plan.json is zero
    assert_schedule_reconciles(ev, ws)


def test_hand_figures(plan: dict[str, Any]) -> None:
    t = plan["finance"]["totals"]
    # fleet: 4 x 350,000 = 1.4M over 20 quarters at 90 % -> 63,000 a quarter, 15 charged before the horizon
    # mi300x fleet: 210,000 x 0.9 / 16 = 11,812.5 a quarter, fully charged before: opening = salvage 21,000
    assert t["opening_net_book_value_usd"] == pytest.approx(1_400_000 - 15 * 63_000 + 21_000)
    assert plan["finance"]["schedule"][0]["disposals_usd"] == pytest.approx(21_000)
    assert t["lease_usd"] == pytest.approx(87_600.0)  # 16 chips x $2.50 x 2,190 h in 2027Q4
    assert t["lease_after_horizon_usd"] == pytest.approx(87_600.0)  # the second quarter of the term, owed in 2028Q1
    assert t["net_cost_usd"] == pytest.approx(t["depreciation_usd"] + t["writedown_usd"] + t["energy_usd"]
                                              + t["facility_usd"] + 2 * 87_600.0)
    assert t["capex_cash_usd"] == pytest.approx(plan["kpis"]["capex_usd"])


def test_money_follows_the_assumptions_sheet(plan: dict[str, Any], tmp_path: Path) -> None:
    wb = _write(plan, tmp_path)
    ws = wb["Assumptions"]
    row = next(c.row for c in ws["A"] if c.value == "h100_sxm")
    header = row - 1 - [c.value for c in ws["A"]][row - 2::-1].index("Chip")
    discount_col = [c.value for c in ws[header]].index("Discount") + 1
    ws.cell(row=row, column=discount_col).value = 0.3  # net 350,000 x 0.7 = 245,000 instead of 280,000
    ev = Evaluator(wb)
    h100_servers = sum(p["servers"] for p in plan["purchases"] if p["chip"] == "h100_sxm")
    total = _find_row(wb["Schedule"], "Total")
    capex = ev.cell("Schedule", f"E{total}")
    assert capex == pytest.approx(plan["finance"]["totals"]["capex_cash_usd"] - h100_servers * 35_000)
    ws_general = wb["Assumptions"]
    ws_general[f"B{_find_row(ws_general, 'Capex cash counts in the')}"].value = "delivery"
    assert Evaluator(wb).cell("Schedule", "E2") == 0  # nothing is delivered in the first quarter


def test_summary_labels_cash_and_net_cost(plan: dict[str, Any], tmp_path: Path) -> None:
    wb = _write(plan, tmp_path)
    ws, ev = wb["Summary"], Evaluator(wb)
    labels = [c.value for c in ws["A"] if isinstance(c.value, str)]
    for label in ("Capex cash (USD)", "Leases, cash (USD)", "Energy, cash (USD)", "Cash out (USD)", "Depreciation (USD)",
                  "Write-down to resale value (USD)", "Net cost (USD)", "Resale value at horizon end (USD)",
                  "Objective: TCO (USD)"):
        assert label in labels, label
    assert ev.cell("Summary", f"B{_find_row(ws, 'Cash out (USD)')}") == pytest.approx(
        plan["finance"]["totals"]["cash_out_usd"], abs=0.05)
    assert ev.cell("Summary", f"B{_find_row(ws, 'Net cost (USD)')}") == pytest.approx(
        plan["finance"]["totals"]["net_cost_usd"], abs=0.05)


def test_summary_line_names_objective_and_views(plan: dict[str, Any]) -> None:
    line = summary_line(plan)
    assert line.startswith("status optimal, objective (TCO, USD) $4,264,186")  # the fixture's optimizer minimised TCO
    plan["kpis"]["tco_usd"] = None
    assert summary_line(plan).startswith("status optimal, objective (net horizon cost, USD) $4,264,186")
    for part in ("cash out $", "capex cash $", "leases $87,600", "depreciation $", "resale value $", "net cost $"):
        assert part in line, part


@pytest.mark.parametrize("objective, unit", [("max_tokens", "solver units, not USD"), ("min_energy", "USD")])
def test_other_objectives_are_labelled_in_their_units(plan: dict[str, Any], objective: str, unit: str) -> None:
    plan = copy.deepcopy(plan)
    plan["finance"]["assumptions"]["objective"] = objective
    fig = next(f for f in key_figures(plan) if f.key == "objective_usd")
    assert fig.label.endswith(f"({unit})")
    line = summary_line(plan)
    head = line.split(";")[0]
    if objective == "max_tokens":
        assert fig.kind != "usd" and "$" not in head and "solver units, not USD" in head
    else:
        assert "objective (energy cost, USD) $" in head


def test_named_objective_from_kpis(plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(plan)
    plan["kpis"].update(objective_name="tokens served", objective_unit="tokens", objective_value=1.5e12)
    fig = next(f for f in key_figures(plan) if f.key == "objective_usd")
    assert (fig.label, fig.kind, fig.value) == ("Objective: tokens served (tokens)", "tokens", 1.5e12)
    assert "$" not in summary_line(plan).split(";")[0]


@pytest.mark.parametrize("where, change, locator", [
    ("schedule", lambda f: f["schedule"][1].update(cash_out_usd=f["schedule"][1]["cash_out_usd"] + 10), "finance.schedule[1].cash_out_usd"),
    ("schedule", lambda f: f["schedule"][2].update(depreciation_usd=f["schedule"][2]["depreciation_usd"] + 10),
     "finance.schedule[2].net_book_value_usd"),
    ("totals", lambda f: f["totals"].update(net_cost_usd=f["totals"]["net_cost_usd"] - 10), "finance.totals.net_cost_usd"),
    ("totals", lambda f: f["totals"].update(energy_usd=f["totals"]["energy_usd"] + 10), "finance.totals.energy_usd"),
])
def test_reconcile_finds_broken_money(plan: dict[str, Any], where: str, change: Any, locator: str) -> None:
    change(plan["finance"])
    assert locator in [p.locator for p in reconcile(plan)]


def test_reconcile_checks_prices(plan: dict[str, Any]) -> None:
    plan["purchases"][0]["price_components"] = {"accelerators": 200_000.0, "host_platform": 70_000.0}  # 270,000 != 280,000
    plan["finance"]["assumptions"]["chips"][1]["unit_price_usd"] = 200_000.0  # mi300x lines are priced 210,000
    found = {p.locator for p in reconcile(plan)}
    assert "purchases[0].price_components" in found
    assert {f"purchases[{i}].unit_price_usd" for i, p in enumerate(plan["purchases"]) if p["chip"] == "mi300x"} <= found


def test_comparison_has_each_scenarios_schedule(plan: dict[str, Any], tmp_path: Path) -> None:
    from planner.report.compare import write_comparison
    from planner.results.comparison import comparison_rows

    other = copy.deepcopy(plan)
    other["scenario"] = "other"
    other["finance"]["schedule"][0]["cash_out_usd"] += 1000.0
    other["finance"]["totals"]["cash_out_usd"] += 1000.0
    rows = {r.key: r for r in comparison_rows([plan, other])}
    assert rows["cash_out_usd"].label == "Cash out (USD)" and rows["cash_out_usd"].delta(1) == pytest.approx(1000.0)
    assert rows["net_cost_usd"].values[0] == plan["finance"]["totals"]["net_cost_usd"]
    xlsx, _ = write_comparison([plan, other], tmp_path)
    ws = openpyxl.load_workbook(xlsx)["Schedule"]
    assert [c.value for c in ws[1]][:3] == ["Scenario", "Quarter", "Orders (servers)"]
    cash = [c.value for c in ws[1]].index("Cash out (USD)")
    got = [(r[0], r[1], r[cash]) for r in ws.iter_rows(min_row=2, values_only=True)]
    want = [(p["scenario"], r["quarter"], r["cash_out_usd"]) for p in (plan, other) for r in p["finance"]["schedule"]]
    assert got == want


def test_objective_block_and_penalties_named(plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(plan)
    plan["objective"] = {"kind": "min_tco", "name": "net horizon cost", "unit": "USD", "value": 4_000_000.0,
                         "solver_objective": 4_264_185.9, "tiebreak_usd": 264_185.9}
    head = summary_line(plan).split(";")[0]
    assert head.startswith("status optimal, objective (net horizon cost, USD) $4,000,000")
    assert "solver objective incl. penalties $4,264,186" in head


def test_hostile_site_names_still_reconcile(tmp_path: Path) -> None:
    """Site names SUMIF would read as criteria ('+1', '-2') fall back to exact matching; the schedule still adds up."""
    plan = json.loads(FIXTURE.read_text(encoding="utf-8"))
    rename = {"site_a": "+1", "site_b": "-2"}
    for row in plan["purchases"] + plan["power"] + plan["racks"] + plan["deployments"]:
        row["site"] = rename[row["site"]]
    plan["limits"]["site_power_cap_kw"] = {rename[k]: v for k, v in plan["limits"]["site_power_cap_kw"].items()}
    for p in plan["purchases"]:
        p["unit_price_usd"] = PRICES[p["chip"]]
        p["cost_usd"] = p["servers"] * p["unit_price_usd"]
    assumptions = finance_assumptions()
    for row in assumptions["sites"] + assumptions["rack_types"] + assumptions["fleet"]:
        row["site"] = rename[row["site"]]
    plan["finance"] = build_finance(plan, assumptions)
    plan = validate_plan(plan)
    assert plan["finance"]["totals"]["energy_usd"] > 0 and plan["finance"]["totals"]["facility_usd"] > 0
    wb = _write(plan, tmp_path)
    assert wb["Energy"]["D2"].value.startswith("=SUMPRODUCT(--EXACT(")
    ws, ev = wb["Schedule"], Evaluator(wb)
    rows = schedule_values(lambda r, c: ev.cell("Schedule", ws.cell(row=r, column=c).coordinate), plan["horizon"]["quarters"])
    assert_schedule_matches(rows, plan)
