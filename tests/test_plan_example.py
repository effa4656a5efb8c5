"""The bundled example, planned end to end, re-checked from plan.json alone (independently of the model)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from planner.io.loader import load_inputs
from tests.conftest import INPUTS, run_cli

EXAMPLE = INPUTS / "scenarios" / "example.yaml"


@pytest.fixture(scope="module")
def run_folder(example_run: Path) -> Path:
    """`planner plan example.yaml --out DIR --quiet --time-limit 120`, in-process, shared with
    test_finance_example (conftest.example_run): read only."""
    return example_run


@pytest.fixture(scope="module")
def plan(run_folder: Path) -> dict[str, Any]:
    return json.loads((run_folder / "plan.json").read_text())


def test_status_is_honest(plan: dict[str, Any]) -> None:
    assert plan["status"] in ("optimal", "feasible")
    assert plan["mip_gap"] is not None and plan["best_bound_usd"] is not None
    if plan["status"] == "optimal":
        assert plan["mip_gap"] <= plan["solver"]["mip_gap_target"] + 1e-9
    assert plan["best_bound_usd"] <= plan["objective_usd"] + 1e-6 * abs(plan["objective_usd"])
    # one gap: the reported one is recomputable from the reported objective and bound (constant included)
    recomputed = (plan["objective_usd"] - plan["best_bound_usd"]) / abs(plan["objective_usd"])
    assert plan["mip_gap"] == pytest.approx(recomputed, abs=1e-8)


def test_demand_met_every_quarter(plan: dict[str, Any]) -> None:
    inputs = load_inputs(EXAMPLE)
    headroom = 1 + inputs.scenario.policy.headroom_fraction
    served: dict[tuple[str, str], float] = defaultdict(float)
    for d in plan["deployments"]:
        served[(d["workload"], d["quarter"])] += d["tokens_per_s"]
    for w in inputs.workloads:
        assert served[(w.workload_id, w.quarter)] >= w.peak_output_tokens_per_s * headroom * (1 - 1e-9), (w.workload_id, w.quarter)


def test_racks_and_sites_within_power_and_space(plan: dict[str, Any]) -> None:
    inputs = load_inputs(EXAMPLE)
    site_kw: dict[tuple[str, str], float] = defaultdict(float)
    seen: set[tuple[str, str]] = set()
    for r in plan["racks"]:
        chip = inputs.chips[r["chip"]]
        rack_type = next(t for t in inputs.sites[r["site"]].rack_types if t.rack_type_id == r["rack_type"])
        kw = r["servers"] * chip.server_power_w / 1000
        assert kw <= rack_type.power_kw + 1e-9, r
        assert r["servers"] * chip.server.rack_units <= rack_type.rack_units, r
        assert not (chip.cooling == "liquid" and rack_type.cooling == "air"), r
        assert (r["rack"], r["quarter"]) not in seen, "one chip type per rack"
        seen.add((r["rack"], r["quarter"]))
        site_kw[(r["site"], r["quarter"])] += kw
    for (site, _q), kw in site_kw.items():
        assert kw <= inputs.sites[site].it_power_cap_kw + 1e-6
    racks_used: dict[tuple[str, str, str], int] = defaultdict(int)
    for (rid, q) in seen:
        site, rtype, _ = rid.split("/")
        racks_used[(site, rtype, q)] += 1
    for (site, rtype, _q), n in racks_used.items():
        assert n <= next(t.count for t in inputs.sites[site].rack_types if t.rack_type_id == rtype)


def test_chips_used_within_installed(plan: dict[str, Any]) -> None:
    inputs = load_inputs(EXAMPLE)
    installed: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in plan["racks"]:
        installed[(r["site"], r["chip"], r["quarter"])] += r["servers"] * inputs.chips[r["chip"]].server.chips_per_server
    for r in plan.get("leases") or []:  # leased servers stand at the provider's virtual site
        installed[(r["site"], r["chip"], r["quarter"])] += r["chips"]
    used: dict[tuple[str, str, str], int] = defaultdict(int)
    for d in plan["deployments"]:
        used[(d["site"], d["chip"], d["quarter"])] += d["chips"]
    for key, n in used.items():
        assert n <= installed[key], key


def test_spend_within_budget_and_lead_times(plan: dict[str, Any]) -> None:
    inputs = load_inputs(EXAMPLE)
    policy = inputs.scenario.policy
    by_q: dict[str, float] = defaultdict(float)
    for p in plan["purchases"]:
        assert p["cost_usd"] == pytest.approx(p["servers"] * p["unit_price_usd"])
        by_q[p["order_quarter"]] += p["cost_usd"]
        lead = inputs.chips[p["chip"]].lead_time_quarters
        assert inputs.quarters.index(p["delivery_quarter"]) - inputs.quarters.index(p["order_quarter"]) == lead
        assert p["chip"] in (policy.allowed_chips or inputs.chips)
    for q, usd in by_q.items():
        assert usd <= policy.capex_budget_usd_per_quarter + 1e-6, q
    assert sum(by_q.values()) <= policy.capex_budget_usd_total + 1e-6
    assert plan["kpis"]["capex_usd"] == pytest.approx(sum(by_q.values()))


def test_tco_adds_up(plan: dict[str, Any]) -> None:
    k = plan["kpis"]
    # net horizon cost = capex + the existing fleet's book value at the start + opex + leases - resale value
    #                  = depreciation + write-down + energy + facility + leases; tco_usd is its legacy name
    assert k["net_cost_usd"] == pytest.approx(k["capex_cash_usd"] + k["fleet_book_value_start_usd"] + k["energy_usd"] + k["facility_usd"]
                                              + k["lease_usd"] + k["lease_after_horizon_usd"] - k["resale_value_usd"], abs=1.0)
    assert k["net_cost_usd"] == pytest.approx(k["depreciation_usd"] + k["writedown_usd"] + k["energy_usd"] + k["facility_usd"]
                                              + k["lease_usd"] + k["lease_after_horizon_usd"], abs=1.0)
    assert k["tco_usd"] == k["net_cost_usd"] and k["capex_usd"] == k["capex_cash_usd"]
    assert k["cash_out_usd"] == pytest.approx(k["capex_cash_usd"] + k["lease_usd"] + k["energy_usd"] + k["facility_usd"], abs=1.0)
    assert k["opex_usd"] == pytest.approx(k["energy_usd"] + k["facility_usd"] + k["lease_usd"], abs=1.0)
    assert plan["objective"]["name"] == "net horizon cost" and k["objective_value"] == k["net_cost_usd"]
    assert plan["objective_usd"] == pytest.approx(k["net_cost_usd"] + k["objective_tiebreak_usd"], abs=1.0)
    for p in plan["purchases"]:
        assert sum(p["price_components"].values()) == pytest.approx(p["unit_price_usd"], abs=0.01)


def test_run_folder_has_every_output(run_folder: Path) -> None:
    for name in ("plan.json", "plan.xlsx", "report.html"):
        assert (run_folder / name).is_file(), name
    assert any((run_folder / "csv").glob("*.csv"))
    assert not list(run_folder.parent.glob(".*tmp-*")), "no temp folders left behind"


def test_existing_run_folder_is_refused_without_force(run_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["plan", str(EXAMPLE), "--out", str(run_folder), "--quiet"], capsys)
    assert code == 2 and "--force" in err


def test_run_folder_says_where_tokens_came_from(run_folder: Path, plan: dict[str, Any]) -> None:
    inputs = load_inputs(EXAMPLE)
    fit = json.loads((run_folder / "perf_fit.json").read_text())
    assert fit["default_engine"] == inputs.scenario.policy.engine
    assert len([r for r in fit["rows"] if r["origin"] == "bundled"]) == fit["points"]
    expected = "model" if inputs.scenario.policy.engine == "tuned" else "corrected"
    assert plan["deployments"] and {d["perf_source"] for d in plan["deployments"]} <= {expected, "measured"}
    assert all(d["tokens_per_s_p10"] <= d["tokens_per_s"] <= d["tokens_per_s_p90"] for d in plan["deployments"])
    assert plan["perf_quantile"]["quantile"] == inputs.scenario.policy.perf_quantile
    html = (run_folder / "report.html").read_text()
    replicas = sum(d["replicas"] for d in plan["deployments"])
    assert "Performance figures" in html and f"{replicas:,} of {replicas:,} replica-quarters rest on" in html
