"""Tidy tables from a plan: fixed columns even when empty, extras appended, stable order."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from planner.results.plan_io import validate_plan
from planner.results.summary import binding_sentence, key_figures, site_peaks
from planner.results.tables import TABLE_COLUMNS, plan_tables

FIXTURE = Path(__file__).parent / "fixtures" / "plan_small.json"


@pytest.fixture
def plan() -> dict:
    return validate_plan(json.loads(FIXTURE.read_text(encoding="utf-8")))


def test_every_table_has_its_columns(plan: dict) -> None:
    tables = plan_tables(plan)
    assert set(tables) == set(TABLE_COLUMNS)
    for name, frame in tables.items():
        assert tuple(frame.columns) == TABLE_COLUMNS[name]
    assert len(tables["purchases"]) == len(plan["purchases"])
    assert tables["budget"]["budget_usd"].sum() == pytest.approx(sum(plan["limits"]["budget_usd_by_quarter"].values()))


def test_empty_tables_keep_columns(plan: dict) -> None:
    plan = copy.deepcopy(plan)
    for name in ("purchases", "racks", "options"):
        plan[name] = []
    tables = plan_tables(plan)
    assert tables["purchases"].empty and tuple(tables["purchases"].columns) == TABLE_COLUMNS["purchases"]


def test_extra_columns_are_appended_and_nested_values_flattened(plan: dict) -> None:
    plan = copy.deepcopy(plan)
    plan["purchases"][2]["discount_usd"] = 500.0
    plan["purchases"][2]["terms"] = {"net": 30}
    frame = plan_tables(plan)["purchases"]
    assert list(frame.columns[-2:]) == ["discount_usd", "terms"]
    assert '{"net":30}' in set(frame["terms"].dropna())


def test_rows_sorted_by_quarter_first(plan: dict) -> None:
    plan = copy.deepcopy(plan)
    plan["capacity"].reverse()
    frame = plan_tables(plan)["capacity"]
    assert list(frame["quarter"]) == sorted(frame["quarter"])


def test_summary_helpers(plan: dict) -> None:
    keys = [f.key for f in key_figures(plan)]
    assert keys[:4] == ["status", "objective_usd", "best_bound_usd", "mip_gap"]
    assert "tco_usd" in keys and "usd_per_million_tokens" in keys
    peaks = {p.site: p for p in site_peaks(plan)}
    assert peaks["site_a"].peak_kw == pytest.approx(290.4) and peaks["site_a"].quarter == "2027Q4"
    assert binding_sentence({"constraint": "site_power", "where": "site_a", "quarter": "2027Q3",
                             "shadow_price_usd": 1234.5, "unit": "USD per kW"}) == \
        "Site power at site_a binds in 2027Q3: one more kW is worth $1,234."
    assert binding_sentence({"constraint": "budget", "where": None, "quarter": None,
                             "shadow_price_usd": None, "unit": None}) == \
        "Budget binds over the horizon (no shadow price available)."
