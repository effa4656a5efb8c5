"""Racks a solve holds beyond need are released before the plan is written (solvers/polish.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from planner.schemas.scenario import SolverSettings
from solvers.backends import solve_highs, verify_solution
from solvers.build import EPSILON_COST, MONEY_SCALE, build_model
from solvers.extract import extract
from solvers.polish import release_idle_racks
from solvers.sets import build_sets
from tests.milp_cases import make_chip, make_inputs, make_options, make_site


def test_an_idle_rack_is_released_with_its_facility_cost_and_the_gap_recomputed() -> None:
    # One chip, $100k per 8-chip server, 1,000 tok/s per 1-chip replica; demand 16,000 -> 2 servers, one 40 kW rack
    # (fit by power: 2 servers of 8 x 500 W = 8 kW). Facility $5,000 per rack-quarter.
    a = make_chip("a", price_usd_per_server=100_000)
    inputs = make_inputs([a], {"2027Q1": 16_000}, sites=[make_site(rack_kw=40.0, facility=5_000.0)])
    S = build_sets(inputs, make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1000}], ["2027Q1"]))
    m, const = build_model(S)
    r = solve_highs(m, SolverSettings(time_limit_s=30, mip_gap=0.0))
    assert r.status == "optimal"
    rack = next(v.name for v in m.vars["racks"].values() if r.values.get(v.name, 0) >= 1)
    assert r.values[rack] == 1
    # a solve stopped inside its gap holding a second, empty rack: its facility cost plus the per-rack tie-break more
    extra = 5_000.0 / MONEY_SCALE + EPSILON_COST
    held = replace(r, values={**r.values, rack: 2.0}, objective=r.objective + extra, mip_gap=0.02,
                   best_bound=r.objective)
    assert verify_solution(m, held.values) == []  # still feasible: nothing forces the rack to be used
    out = release_idle_racks(m, held)
    assert out.values[rack] == 1
    assert out.objective == pytest.approx(r.objective, rel=1e-9)
    assert out.mip_gap == pytest.approx(0.0, abs=1e-9) and out.status == held.status
    assert verify_solution(m, out.values) == []
    assert extract(S, m, out.values, const).kpis["facility_usd"] == pytest.approx(5_000.0)
    assert extract(S, m, held.values, const).kpis["facility_usd"] == pytest.approx(10_000.0)
    # an optimal result has nothing to release
    assert release_idle_racks(m, r) is r
