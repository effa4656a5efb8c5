"""The MILP's optimum on generated tiny instances equals a brute-force enumeration of every purchase plan.

`benchmarks/generate.py --size tiny` gives one workload, two chips (lead time 0), two quarters and one site of four
racks with an existing fleet. The exhaustive search of `tests/_exhaustive.py` (written from the README's Model
rules) walks every purchase vector buy[c,s,r,t] up to what the racks hold; for each it takes the fewest racks
(facility costs are positive), checks rack positions and site power, and finds the cheapest whole-replica
deployment per quarter exactly (an exact knapsack over 1/8-server units per server pool, pools merged by Pareto
fronts), over every option the performance model offers, before the planner's option reduction. Both HiGHS paths
(fix-and-optimize and the monolithic MIP) must reach it within HiGHS's absolute gap (1e-6 = $1).
Every other constraint family, leases included, is in `tests/test_exhaustive.py`.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _exhaustive import Exhaustive, edit_case, generated_tiny, load_case  # noqa: E402

from planner.pipeline import effective_settings  # noqa: E402
from solvers.backends import solve_highs, verify_solution  # noqa: E402
from solvers.build import build_model  # noqa: E402
from solvers.decompose import solve_fix_and_optimize  # noqa: E402

#: HiGHS stops when the absolute gap is below mip_abs_gap (default 1e-6 in model units = $1)
ABS_TOL = 2e-6


def _no_leases(sc: dict, sites: dict, _rows: list[dict]) -> None:
    """The plain case: purchases only (leasing is in test_exhaustive)."""
    for c in {*sc["policy"]["allowed_chips"], *(f["chip_id"] for f in sites.get("fleet", []))}:
        sc.setdefault("chip_terms", {}).setdefault(c, {})["lease_allowed"] = False


@pytest.mark.parametrize("seed", range(8))
def test_milp_matches_brute_force_on_tiny(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, seed: int) -> None:
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "tiny-generated"
    inputs, S, S_full = load_case(edit_case(generated_tiny(root, seed), tmp_path / "tiny", _no_leases))
    assert not S.lease_keys
    # the exhaustive search runs over every option the performance model offers, before any pruning: the planner's
    # option reduction must not change the optimum (a bound on a reduced model is no bound on the problem)
    assert len(S_full.options) >= len(S.options)
    best = Exhaustive(inputs, S_full).optimum()
    assert math.isfinite(best.value), "the generated tiny instance must be feasible"
    settings = effective_settings(inputs, {"mip_gap": 0.0, "time_limit_s": 60})
    for solve in (solve_fix_and_optimize, solve_highs):
        m, _ = build_model(S)
        r = solve(m, settings)
        assert r.status == "optimal", (solve.__name__, r.raw_status)
        assert verify_solution(m, r.values) == []
        assert r.objective == pytest.approx(best.value, abs=ABS_TOL, rel=1e-9), (solve.__name__, best.buys)
        assert r.best_bound is not None and r.best_bound <= best.value + ABS_TOL
