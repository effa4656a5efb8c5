"""Fix-and-optimize (solvers/decompose.py) against the monolithic MIP: same model, valid bound, loss within the gap."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.generate import generate  # noqa: E402
from planner.io.loader import load_inputs  # noqa: E402
from planner.pipeline import deployment_table, effective_settings  # noqa: E402
from solvers.backends import solve_highs, verify_solution  # noqa: E402
from solvers.build import build_model  # noqa: E402
from solvers.decompose import solve_fix_and_optimize  # noqa: E402
from solvers.sets import build_sets  # noqa: E402
from tests.milp_cases import make_chip, make_inputs, make_options, make_site  # noqa: E402


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    scenario = generate("small", 0, tmp_path_factory.mktemp("small") / "small")
    inputs = load_inputs(scenario)
    return inputs, build_sets(inputs, deployment_table(inputs))


def test_loss_against_the_monolithic_mip_is_within_the_gap(small) -> None:  # type: ignore[no-untyped-def]
    inputs, S = small
    m1, _ = build_model(S)
    mono = solve_highs(m1, effective_settings(inputs, {"mip_gap": 1e-4, "time_limit_s": 25}))
    # the reference: HiGHS on the whole model for 25 s (with the v3 layout search, twice the options, it ends seed 0
    # at ~0.3 % on an idle machine after 20 s, ~1.3 % after 60 s on 2 loaded cores, rather than at 1e-4)
    assert mono.status in ("optimal", "feasible") and mono.mip_gap is not None and mono.mip_gap <= 0.03
    m2, _ = build_model(S)
    # it stops as soon as its gap is proven; the generous limit is for two test workers sharing two loaded cores
    fo = solve_fix_and_optimize(m2, effective_settings(inputs, {"mip_gap": 0.01, "time_limit_s": 180}))
    assert fo.status == "optimal" and fo.mip_gap is not None and fo.mip_gap <= 0.01
    assert verify_solution(m2, fo.values) == []
    # the bound is valid for the full model, and the plan is within the requested gap of the (near) optimum
    assert fo.best_bound <= mono.objective + 1e-6
    # fix-and-optimize proves its own 1 % gap against a bound valid for the full model (checked above), and its plan
    # is no worse than the monolithic solve's best plan by more than that gap
    assert fo.objective <= mono.objective * 1.01 + 1e-6, "the fix-and-optimize plan is within 1 % of the monolithic plan"
    assert fo.mip_gap == pytest.approx((fo.objective - fo.best_bound) / abs(fo.objective), abs=1e-9)


def test_time_limit_returns_the_best_plan_with_its_gap(small) -> None:  # type: ignore[no-untyped-def]
    inputs, S = small
    m, _ = build_model(S)
    r = solve_fix_and_optimize(m, effective_settings(inputs, {"mip_gap": 0.0, "time_limit_s": 1.5}))
    # What 1.5 s buys depends on the machine's load (CI shares 2 cores): either the best plan found, with its gap and
    # bound, or no plan, said to be the time limit's doing. Anything else (infeasible, a plan without a gap, a plan
    # breaking a row, a solve that ignores the limit) is a bug.
    if r.status == "no_plan":
        assert "time limit" in r.raw_status.lower() and not r.values, r.raw_status
    else:
        assert r.status in ("optimal", "feasible") and r.mip_gap is not None and r.best_bound is not None
        assert verify_solution(m, r.values) == []
    assert r.solve_seconds < 60  # a hang guard, not a speed target


def test_infeasible_model_is_reported_infeasible() -> None:
    a = make_chip("a", price_usd_per_server=100_000, tdp_w=1000)
    inputs = make_inputs([a], {"2027Q1": 16_000}, sites=[make_site(cap_kw=5.0)])  # one 8 kW server needs more power
    opts = make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1000}], ["2027Q1"])
    m, _ = build_model(build_sets(inputs, opts))
    r = solve_fix_and_optimize(m, effective_settings(inputs, {"mip_gap": 0.0}))
    assert r.status == "infeasible" and not r.values
