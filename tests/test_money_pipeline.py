"""Money through the whole pipeline (issue 22): plan.json carries the lease table, the horizon-end warning, the
objective labelled in its unit and money KPIs that reconcile; the CLI prints the warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.api import plan
from planner.cli import main
from planner.results.plan_io import validate_plan
from planner.results.reconcile import reconcile
from tests.whatif_cases import write_twins

# Both twins take a quarter to arrive, so the first quarter can only be served by leasing twin_a (a quote), and
# nothing can be ordered in the last quarter.
LEAD_AND_LEASE = {"chip_terms.twin_a.lead_time_quarters": 1, "chip_terms.twin_b.lead_time_quarters": 1,
                  "chip_terms.twin_a.lease_usd_per_chip_hour": 2.0}


def test_plan_json_has_leases_warning_and_reconciling_money(tmp_path: Path) -> None:
    p = plan(write_twins(tmp_path / "sc", quarters=3), overrides=LEAD_AND_LEASE)
    doc = p.document
    assert p.status == "optimal"
    assert any("nothing can be ordered in 2027Q3" in w for w in doc["warnings"])
    assert {row["quarter"] for row in doc["leases"]} >= {"2027Q1"}
    for row in doc["leases"]:
        assert row["site"] == "lease:twin_a" and row["usd_per_chip_hour"] == 2.0
        assert row["lease_usd"] == pytest.approx(row["chips"] * 2.0 * 8760 / 4)
    k = doc["kpis"]
    assert k["lease_usd"] == pytest.approx(sum(row["lease_usd"] for row in doc["leases"]))
    assert k["cash_out_usd"] == pytest.approx(k["capex_cash_usd"] + k["lease_usd"] + k["energy_usd"] + k["facility_usd"])
    assert doc["objective"]["name"] == "net horizon cost" and doc["objective"]["unit"] == "USD"
    validated = validate_plan(doc)
    assert reconcile(validated) == []
    assert validated["leases"] and validated["horizon"]["tail_quarters"] == []


def test_max_tokens_objective_is_not_reported_as_dollars(tmp_path: Path) -> None:
    p = plan(write_twins(tmp_path / "sc"), overrides={"policy.objective": "max_tokens"})
    doc = p.document
    assert doc["objective_usd"] is None and doc["best_bound_usd"] is None
    assert (doc["objective"]["name"], doc["objective"]["unit"]) == ("tokens served", "tokens")
    assert doc["objective"]["value"] == doc["kpis"]["served_tokens"] > 0
    assert "not USD" in doc["objective"]["note"]


def test_cli_prints_the_horizon_end_warning(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scenario = write_twins(tmp_path / "sc", quarters=3)
    args = ["plan", str(scenario), "--out", str(tmp_path / "run"), "--quiet"]
    for key, value in LEAD_AND_LEASE.items():
        args += ["--set", f"{key}={value}"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "objective (net horizon cost, USD) $" in out and "capex cash $" in out and "cash out $" in out
    assert "warning: horizon end: nothing can be ordered in 2027Q3" in err


def test_reconcile_flags_price_components_that_do_not_add_up(tmp_path: Path) -> None:
    p = plan(write_twins(tmp_path / "sc"))
    doc = validate_plan(p.document)
    assert reconcile(doc) == []
    line = doc["purchases"][0]
    assert sum(line["price_components"].values()) == pytest.approx(line["unit_price_usd"])
    line["price_components"] = {k: v + 1000.0 for k, v in line["price_components"].items()}
    assert [pr.locator for pr in reconcile(doc)] == ["purchases[0].price_components"]


def test_candidates_show_amortised_capex_and_lease(tmp_path: Path) -> None:
    # One quarter, resale 0: buying twin_a is charged its whole price in that quarter; leasing it at $1/chip-h costs
    # 8 x 2,190 = $17,520 per server-quarter, far less than $100,000 -> the plan leases and the table says so.
    p = plan(write_twins(tmp_path / "sc"), overrides={"chip_terms.twin_a.lease_usd_per_chip_hour": 1.0})
    c = p.candidates.set_index("chip")
    assert "amortised_capex_usd_per_token_s_quarter" in c.columns and "capex_usd_per_token_s_quarter" not in c.columns
    assert c.loc["twin_a", "acquire"] == "lease" and bool(c.loc["twin_a", "chosen"])
    assert c.loc["twin_b", "acquire"] == "buy"
    ratio = c.loc["twin_a", "lease_usd_per_token_s_quarter"] / c.loc["twin_b", "amortised_capex_usd_per_token_s_quarter"]
    assert ratio == pytest.approx(8 * 2190 * 1.0 / 120_000, rel=1e-3)  # same layouts: the ratio of the per-server costs
    assert p.document["leases"] and not p.document["purchases"]


def test_whole_catalog_buys_only_complete_systems() -> None:
    """With every chip allowed, every purchase is a complete system: its price lines include a host platform (or
    a whole-system price), add up to the unit price, and lease-only parts are only ever leased."""
    from planner.catalog import load_chip_catalog
    from tests.conftest import REPO

    chips = load_chip_catalog()
    # what is checked is how each purchase is priced, not that the mix is optimal: a 2 % gap proves in seconds
    # (the default gap took over a minute, the suite's slowest test)
    result = plan(REPO / "inputs" / "scenarios" / "example.yaml", {"policy.allowed_chips": None},
                  solver={"mip_gap": 0.02, "time_limit_s": 60})
    doc = result.document
    assert result.exit_code == 0
    assert doc["purchases"], "the whole-catalog plan buys something"
    for p in doc["purchases"]:
        parts = p["price_components"]
        assert chips[p["chip"]].purchasable, p["chip"]
        assert parts.get("host_platform", 0) > 0 or "system_quote" in parts, (p["chip"], parts)
        assert sum(parts.values()) == pytest.approx(p["unit_price_usd"], abs=0.01)
    for row in doc.get("leases") or []:
        assert chips[row["chip"]].lease is not None
    assert reconcile(doc, "plan.json") == []
