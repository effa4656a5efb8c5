"""Every limit holds for the whole fleet, existing and new, whatever is for sale (issue 17 item 2).

Chip `a`: 8 chips x 1,275 W = 10.2 kW per server, $100k. Two existing servers draw 20.4 kW nameplate.
"""

from __future__ import annotations

import pytest

from planner.schemas.scenario import SolverSettings
from solvers.build import build_model
from solvers.sets import build_sets
from solvers.solve import solve
from tests.milp_cases import make_chip, make_inputs, make_options, make_site

EXACT = SolverSettings(name="highs", time_limit_s=10, mip_gap=0.0, strategy="monolithic")
FLEET = [{"site_id": "s1", "rack_type_id": "r", "chip_id": "a", "servers": 2, "installed_quarter": "2026Q1"}]


def _status(cap_kw: float, allowed: list[str] | None, racks: int = 100) -> str:
    a = make_chip("a", price_usd_per_server=100_000, tdp_w=1275.0)
    b = make_chip("b", price_usd_per_server=100_000, tdp_w=100.0)  # 0.8 kW per server
    inputs = make_inputs([a, b], {"2027Q1": 1_000.0}, sites=[make_site(cap_kw=cap_kw, racks=racks, rack_kw=11.0)],
                         policy={"allowed_chips": allowed} if allowed is not None else None, fleet=FLEET)
    options = make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1_000.0},
                            {"chip_id": "b", "tokens_per_s_per_replica": 1_000.0}], ["2027Q1"])
    S = build_sets(inputs, options)
    m, _ = build_model(S)
    return solve(m, EXACT).status


@pytest.mark.parametrize("allowed", [[], ["b"], None], ids=["nothing_for_sale", "b_for_sale", "all_for_sale"])
def test_existing_fleet_over_the_site_power_cap_is_infeasible(allowed: list[str] | None) -> None:
    # 20.4 kW of existing servers in a 15 kW site: no plan keeps the cap, whether or not anything can be bought.
    assert _status(15.0, allowed) == "infeasible"


@pytest.mark.parametrize("allowed", [[], ["b"], None], ids=["nothing_for_sale", "b_for_sale", "all_for_sale"])
def test_existing_fleet_within_the_cap_plans(allowed: list[str] | None) -> None:
    # 20.4 kW <= 21 kW: one existing server (8 replicas of 1,000 tok/s) serves the 1,000 tok/s.
    assert _status(21.0, allowed) == "optimal"


@pytest.mark.parametrize("allowed", [[], ["b"]], ids=["nothing_for_sale", "b_for_sale"])
def test_existing_fleet_over_the_rack_count_is_infeasible(allowed: list[str]) -> None:
    # 11 kW racks hold one 10.2 kW server each: two servers need two racks, the site has one.
    assert _status(1e6, allowed, racks=1) == "infeasible"


def test_fleet_over_the_cap_exits_3_naming_site_quarter_and_kw(monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.pipeline as pipeline
    from planner.errors import EXIT_INFEASIBLE

    a = make_chip("a", price_usd_per_server=100_000, tdp_w=1275.0)
    inputs = make_inputs([a], {"2027Q1": 1_000.0}, sites=[make_site(cap_kw=15.0, rack_kw=11.0)],
                         policy={"allowed_chips": []}, fleet=FLEET)
    options = make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1_000.0}], ["2027Q1"])
    monkeypatch.setattr(pipeline, "load_inputs", lambda _path, _sets=None: inputs)
    monkeypatch.setattr(pipeline, "deployment_table", lambda _inputs: options)
    out = pipeline.plan_scenario("tiny.yaml")
    assert out.exit_code == EXIT_INFEASIBLE
    # 20.4 kW - 15 kW = 5.4 kW over the cap
    assert any("site power at s1 in 2027Q1 short by 5.4 kW" in d["cause"] for d in out.plan["diagnosis"]), out.plan["diagnosis"]
