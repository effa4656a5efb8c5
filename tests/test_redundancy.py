"""policy.redundancy n_plus_1: demand is met with any one deployed replica lost (solvers.constraints.add_redundancy).

One chip, $100k per 8-chip server, two layouts of the one workload (demand 100 tokens/s, no headroom):
  small: 1 chip per replica, 50 tokens/s   -> 8 replicas per server;
  big:   8 chips per replica (a whole server), 400 tokens/s.
No redundancy: 1 server either way ($100k): 2 small replicas or 1 big one; the objective's $1 per replica-quarter
tie-breaker picks the single big replica.
N+1, exactly: with k small replicas, 50 k - 50 >= 100 -> k = 3, still one server: $100k. A big replica would need a
second one to survive its own loss (400 - 400 < 100): 2 servers. So the optimum stays 1 server, 3 small replicas.
The old rule (demand + the largest eligible replica, 100 + 400 = 500 tokens/s) bought 2 servers ($200k).
"""

from __future__ import annotations

import pytest

from planner.schemas.scenario import SolverSettings
from solvers.backends import verify_solution
from solvers.build import build_model
from solvers.extract import extract
from solvers.sets import build_sets
from solvers.solve import solve
from tests.milp_cases import make_chip, make_inputs, make_options

EXACT = SolverSettings(name="highs", time_limit_s=30, mip_gap=0.0, threads=1, seed=0)
OPTIONS = [{"chip_id": "a", "tokens_per_s_per_replica": 50}, {"chip_id": "a", "tokens_per_s_per_replica": 400,
                                                               "chips_per_replica": 8}]


def _plan(redundancy: str, demand: float = 100.0):  # type: ignore[no-untyped-def]
    a = make_chip("a", price_usd_per_server=100_000)
    inputs = make_inputs([a], {"2027Q1": demand}, policy={"redundancy": redundancy, "headroom_fraction": 0.0})
    S = build_sets(inputs, make_options(OPTIONS, ["2027Q1"]))
    m, const = build_model(S)
    r = solve(m, EXACT)
    assert r.status == "optimal", r.raw_status
    assert verify_solution(m, r.values) == []
    return extract(S, m, r.values, const)


def _replicas(ex) -> dict[float, int]:  # type: ignore[no-untyped-def]
    out: dict[float, int] = {}
    for d in ex.deployments:
        per = d["tokens_per_s"] / d["replicas"]
        out[per] = out.get(per, 0) + d["replicas"]
    return out


def test_without_redundancy_one_server_one_big_replica() -> None:
    ex = _plan("none")
    assert sum(p["servers"] for p in ex.purchases) == 1
    assert _replicas(ex) == {400.0: 1}


def test_n_plus_1_keeps_one_replica_spare_not_the_largest_eligible_one() -> None:
    ex = _plan("n_plus_1")
    assert sum(p["servers"] for p in ex.purchases) == 1
    assert ex.kpis["capex_usd"] == pytest.approx(100_000)
    assert _replicas(ex) == {50.0: 3}  # 150 tokens/s: any one replica lost leaves 100
    cap = ex.capacity[0]
    assert cap["required_tokens_per_s"] == pytest.approx(150.0)  # demand 100 + the largest deployed replica, 50


def test_n_plus_1_with_big_replicas_needs_two_of_them() -> None:
    """Demand 380: small replicas need 50 k - 50 >= 380 -> k = 9 (> 8 per server: 2 servers); big replicas need
    400 (m - 1) >= 380 -> m = 2 (2 servers); one big + small ones: 400 + 50 k - 400 >= 380 -> k = 8 small, i.e.
    1 + 1 servers. All 2 servers ($200k); two big replicas are the fewest replicas (the $1 tie-breaker)."""
    ex = _plan("n_plus_1", demand=380.0)
    assert sum(p["servers"] for p in ex.purchases) == 2
    assert _replicas(ex) == {400.0: 2}
    assert ex.capacity[0]["required_tokens_per_s"] == pytest.approx(780.0)  # 380 + the largest deployed replica
