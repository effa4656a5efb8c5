"""The MILP's optimum on generated tiny instances equals a brute-force enumeration of every purchase plan.

`benchmarks/generate.py --size tiny` gives one workload, two chips (lead time 0), two quarters and one site of four
racks with an existing fleet. The enumerator walks every purchase vector buy[c,s,r,t] up to what the racks hold;
for each it takes the fewest racks (facility costs are positive), checks rack positions and site power, and
finds the cheapest whole-replica deployment per quarter exactly (every replica vector per server pool, reduced to
its tokens/cost Pareto front by an exact knapsack over 1/8-server units, pools merged), over every option the
performance model offers, before the planner's option reduction. The cost is the MILP's objective written out term by term. Both
HiGHS paths (fix-and-optimize and the monolithic MIP) must reach it within HiGHS's absolute gap (1e-6 = $1).
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import replace
from fractions import Fraction
from functools import cache
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import solvers.sets as sets_mod  # noqa: E402
from benchmarks.generate import generate  # noqa: E402
from planner.io.loader import load_inputs  # noqa: E402
from planner.pipeline import deployment_table, effective_settings  # noqa: E402
from planner.schemas.scenario import ChipTerms  # noqa: E402
from solvers.backends import solve_highs, verify_solution  # noqa: E402
from solvers.build import EPSILON_COST, build_model  # noqa: E402
from solvers.decompose import solve_fix_and_optimize  # noqa: E402
from solvers.sets import HOURS_PER_QUARTER, MONEY_SCALE, PlanSets, build_sets  # noqa: E402

#: HiGHS stops when the absolute gap is below mip_abs_gap (default 1e-6 in model units = $1)
ABS_TOL = 2e-6


def _pareto(points: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """(tokens, cost) points no other point beats with at least as many tokens at no more cost; tokens descending."""
    front, best = [], math.inf
    for tok, cost in sorted(points, key=lambda p: (-p[0], p[1])):
        if cost < best - 1e-15:
            front.append((tok, cost))
            best = cost
    return tuple(front)


def brute_force(S: PlanSets) -> tuple[float, dict]:
    """Cheapest objective (model units, fleet energy constant excluded) over every purchase vector, and its buys."""
    assert len({o.workload for o in S.options}) == 1, "the enumerator handles one workload"
    assert not (S.supply_cap or S.vendor_cap or S.vendor_share or S.min_order or S.budget_q or S.budget_total), "no limits beyond racks and power"
    assert S.objective == "min_tco"
    f = {s: S.pue[s] * HOURS_PER_QUARTER * S.usd_per_kwh[s] / MONEY_SCALE for s in S.sites}
    opts_at: dict[tuple[int, str, str], list[tuple[float, float, float]]] = {}  # (t, c, s) -> [(spr, tokens, cost)]
    for i, s in S.deploy_keys:
        o = S.options[i]
        cost = max(0.0, o.power_kw - S.idle_kw[o.chip] * o.servers_per_replica) * f[s] + EPSILON_COST
        opts_at.setdefault((o.t, o.chip, s), []).append((o.servers_per_replica, o.tokens_per_s, cost))

    @cache
    def pool_fronts(t: int, c: str, s: str, servers: int) -> tuple[tuple[tuple[float, float], ...], ...]:
        """Exact unbounded knapsack over the pool's options in units of 1/den server: fronts[u] is the (tokens, cost)
        Pareto front of every whole-replica multiset using at most u units."""
        opts = opts_at.get((t, c, s), [])
        den = math.lcm(1, *(Fraction(spr).limit_denominator(64).denominator for spr, _, _ in opts))
        units = servers * den
        fronts: list[tuple[tuple[float, float], ...]] = [((0.0, 0.0),)] * (units + 1)
        for spr, tk, ck in opts:
            w = round(spr * den)
            for u in range(w, units + 1):
                fronts[u] = _pareto([*fronts[u], *((a + tk, x + ck) for a, x in fronts[u - w])])
        return tuple(fronts)

    def pool_front(t: int, c: str, s: str, servers: int) -> tuple[tuple[float, float], ...]:
        return pool_fronts(t, c, s, servers)[-1]

    @cache
    def dispatch(t: int, pools: tuple[tuple[str, str, int], ...]) -> float:
        """Cheapest replica cost meeting the quarter's demand from the given server pools (inf if impossible)."""
        front: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
        for c, s, n in pools:
            front = _pareto([(a + b, x + y) for a, x in front for b, y in pool_front(t, c, s, n)])
        need = next(d for (_w, tt), d in S.demand.items() if tt == t)
        ok = [cost for tok, cost in front if tok >= need * (1 - 1e-9)]
        return min(ok) if ok else math.inf

    keys = list(S.buy_keys)
    cap = [S.rack_types[(s, r)][0] * S.fit[(c, s, r)] for c, s, r, _t in keys]
    best, best_buy = math.inf, {}
    for buy in itertools.product(*(range(k + 1) for k in cap)):
        inst = dict(S.fleet)
        cost = 0.0
        for (c, s, r, t0), n in zip(keys, buy, strict=True):
            if not n:
                continue
            cost += n * S.price_usd[c] / MONEY_SCALE
            if S.residual_value:
                cost -= n * S.price_usd[c] * S.residual_fraction(c, t0) / MONEY_SCALE
            d = S.delivery(c, t0)
            for t in range(d, min(S.T, d + S.life[c])):
                inst[(c, s, r, t)] = inst.get((c, s, r, t), 0) + n
                cost += n * S.idle_kw[c] * f[s]
        feasible = True
        racks_used: dict[tuple[str, str, int], int] = {}
        kw: dict[tuple[str, int], float] = {}
        for (c, s, r, t), n in inst.items():
            if n <= 0:
                continue
            k = math.ceil(n / S.fit[(c, s, r)])
            racks_used[(s, r, t)] = racks_used.get((s, r, t), 0) + k
            kw[(s, t)] = kw.get((s, t), 0.0) + n * S.server_kw[c]
            cost += k * (S.rack_types[(s, r)][4] / MONEY_SCALE + EPSILON_COST)
        if any(v > S.rack_types[(s, r)][0] for (s, r, _t), v in racks_used.items()) or any(
                v > S.site_cap_kw[s] + 1e-9 for (s, _t), v in kw.items()):
            feasible = False
        for t in range(S.T) if feasible else ():
            pools: dict[tuple[str, str], int] = {}
            for (c, s, _r, tt), n in inst.items():
                if tt == t and n > 0:
                    pools[(c, s)] = pools.get((c, s), 0) + n
            cost += dispatch(t, tuple(sorted((c, s, n) for (c, s), n in pools.items())))
            if cost >= best:
                break
        if feasible and cost < best:
            best, best_buy = cost, {k: n for k, n in zip(keys, buy, strict=True) if n}
    return best, best_buy


@pytest.mark.parametrize("seed", range(8))
def test_milp_matches_brute_force_on_tiny(tmp_path: Path, seed: int) -> None:
    scenario = generate("tiny", seed, tmp_path / "tiny")
    inputs = load_inputs(scenario)
    # the exhaustive search enumerates purchases only: leasing (tested by hand in test_money_milp) is switched off
    old = inputs.scenario.chip_terms
    terms = {c: (old[c].model_copy(update={"lease_allowed": False}) if c in old else ChipTerms(lease_allowed=False))
             for c in inputs.chips}
    inputs = replace(inputs, scenario=inputs.scenario.model_copy(update={"chip_terms": terms}))
    table = deployment_table(inputs)
    S = build_sets(inputs, table)
    assert not S.lease_keys
    # the exhaustive search runs over every option the performance model offers, before any pruning: the planner's
    # option reduction must not change the optimum (a bound on a reduced model is no bound on the problem)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sets_mod, "prune_options", lambda candidates, *_a, **_k: list(candidates))
        S_full = build_sets(inputs, table)
    assert len(S_full.options) >= len(S.options)
    expected, buys = brute_force(S_full)
    assert math.isfinite(expected), "the generated tiny instance must be feasible"
    settings = effective_settings(inputs, {"mip_gap": 0.0, "time_limit_s": 60})
    for solve in (solve_fix_and_optimize, solve_highs):
        m, _ = build_model(S)
        r = solve(m, settings)
        assert r.status == "optimal", (solve.__name__, r.raw_status)
        assert verify_solution(m, r.values) == []
        assert r.objective == pytest.approx(expected, abs=ABS_TOL, rel=1e-9), (solve.__name__, buys)
        assert r.best_bound is not None and r.best_bound <= expected + ABS_TOL
