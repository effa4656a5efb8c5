"""The bundled example's money end to end: the finance block adds up and agrees with the optimizer's KPIs, and
plan.xlsx, opened and recalculated by LibreOffice, gives plan.json's schedule quarter by quarter."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from planner.finance.schedule import SCHEDULE_COLUMNS
from planner.results.reconcile import reconcile
from tests.test_finance_workbook import assert_schedule_matches, schedule_values
from tests.test_report_workbook import _find_row


@pytest.fixture(scope="module")
def run_folder(example_run: Path) -> Path:
    """The example planned once per session (conftest.example_run, shared with test_plan_example): read only."""
    return example_run


@pytest.fixture(scope="module")
def plan(run_folder: Path) -> dict[str, Any]:
    return json.loads((run_folder / "plan.json").read_text(encoding="utf-8"))


def test_finance_block_adds_up(plan: dict[str, Any]) -> None:
    fin = plan["finance"]
    rows, totals, k = fin["schedule"], fin["totals"], plan["kpis"]
    assert [r["quarter"] for r in rows] == plan["horizon"]["quarters"]
    assert all(list(r) == list(SCHEDULE_COLUMNS) for r in rows)
    nbv = totals["opening_net_book_value_usd"]
    for r in rows:
        assert r["cash_out_usd"] == pytest.approx(r["capex_cash_usd"] + r["lease_usd"] + r["energy_usd"] + r["facility_usd"],
                                                  abs=0.01)
        nbv = nbv + r["capitalised_usd"] - r["depreciation_usd"] - r["disposals_usd"]
        assert r["net_book_value_usd"] == pytest.approx(nbv, abs=0.01)
        budget = r["capex_budget_usd"]
        assert budget is None or r["capex_cash_usd"] <= budget + 0.5  # policy.capex_timing: order
    assert totals["capex_cash_usd"] == pytest.approx(k["capex_usd"], abs=0.01)
    assert totals["facility_usd"] == pytest.approx(k["facility_usd"], abs=0.01)
    assert totals["energy_usd"] == pytest.approx(k["energy_usd"], abs=0.5)  # power table rounded to watts
    assert totals["net_cost_usd"] == pytest.approx(totals["depreciation_usd"] + totals["writedown_usd"]
                                                   + totals["energy_usd"] + totals["facility_usd"] + totals["lease_usd"], abs=0.01)
    assert totals["depreciation_fleet_usd"] > 0  # the fleet's depreciation is on the books
    assert reconcile(plan) == []


@pytest.mark.skipif(shutil.which("soffice") is None,
                    reason="LibreOffice (soffice) is not installed: .ci/run installs libreoffice-calc-nogui when apt-get "
                           "is usable; without it the workbook cannot be recalculated independently")
def test_libreoffice_recalculates_the_schedule(plan: dict[str, Any], run_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "recalculated"
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"
    subprocess.run(["soffice", profile, "--headless", "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out),
                    str(run_folder / "plan.xlsx")], check=True, capture_output=True, timeout=300)
    wb = openpyxl.load_workbook(out / "plan.xlsx", data_only=True)  # the values LibreOffice computed on load
    ws = wb["Schedule"]
    quarters = plan["horizon"]["quarters"]
    assert_schedule_matches(schedule_values(lambda r, c: ws.cell(row=r, column=c).value, quarters), plan, cents=0.01)
    totals = plan["finance"]["totals"]
    cents = 0.005 * len(quarters) + 0.01  # plan.json rounds each quarter to cents, the workbook sums unrounded
    total = _find_row(ws, "Total")
    header = [c.value for c in ws[1]]
    for key, heading in (("capex_cash_usd", "Capex cash (USD)"), ("lease_usd", "Leases (USD)"), ("energy_usd", "Energy (USD)"),
                         ("facility_usd", "Facility (USD)"), ("cash_out_usd", "Cash out (USD)"),
                         ("depreciation_usd", "Depreciation (USD)"), ("net_book_value_usd", "Net book value (USD)")):
        assert ws.cell(row=total, column=header.index(heading) + 1).value == pytest.approx(totals[key], abs=cents), key
    for label, key in (("Resale value", "resale_value_usd"), ("Net cost (net horizon cost)", "net_cost_usd"),
                       ("Opening net book value", "opening_net_book_value_usd")):
        assert ws[f"B{_find_row(ws, label)}"].value == pytest.approx(totals[key], abs=cents), key
    first = _find_row(ws, "Reconciliation with plan.json") + 2
    for r in range(first, ws.max_row + 1):
        diff = ws.cell(row=r, column=4).value
        if diff is not None:
            assert diff == pytest.approx(0.0, abs=0.5), ws.cell(row=r, column=5).value
    orders = wb["Purchase orders"]
    assert orders[f"J{_find_row(orders, 'Total, all orders')}"].value == pytest.approx(plan["kpis"]["capex_usd"], abs=0.01)
    summary = wb["Summary"]
    assert summary[f"B{_find_row(summary, 'Cash out (USD)')}"].value == pytest.approx(totals["cash_out_usd"], abs=cents)
