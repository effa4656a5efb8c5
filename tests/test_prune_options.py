"""Option reduction before the MILP (`solvers.sets.prune_options`): only replica-for-replica dominance, no cap.

An option is dropped only when another of the same workload, quarter and chip delivers at least as many tokens/s
per replica with no more servers, no more kW above its servers' idle share (what the objective charges) and no
more kW in all. The exhaustive search of `test_bruteforce.py` checks on whole plans that this keeps the optimum.
"""

from __future__ import annotations

from solvers.sets import Option, prune_options

IDLE = {"g": 3.0}  # kW per idle server


def _opt(tokens: float, spr: float, kw: float, tp: int = 1, chip: str = "g", t: int = 0) -> Option:
    return Option(index=-1, workload="w", model="m", t=t, chip=chip, precision="fp8", tp=tp, pp=1, ep=1,
                  chips_per_replica=tp, tokens_per_s=tokens, power_kw=kw, servers_per_replica=spr, ttft_ms=100.0,
                  tpot_ms=20.0, batch=8)


def _kept(opts: list[Option]) -> list[tuple[float, float, float]]:
    return [(o.tokens_per_s, o.servers_per_replica, o.power_kw) for o in prune_options(opts, IDLE)]


def test_a_replica_dominated_option_and_an_exact_tie_are_dropped() -> None:
    a = _opt(100, 0.5, 3.0)
    b = _opt(90, 0.5, 3.0)    # fewer tokens, same servers and power: every B replica can become an A replica
    tie = _opt(100, 0.5, 3.0, tp=2)  # same figures as A: the first one is kept
    assert _kept([a, b, tie]) == [(100, 0.5, 3.0)]


def test_better_per_token_does_not_drop_a_smaller_replica() -> None:
    """Big: 210 tokens/s on 1 server (0.0048 servers per token/s); small: 100 on 0.5 (0.005). Per token the big one is
    better, but a demand of 100 tokens/s takes half a server with the small one and a whole one with the big one."""
    big, small = _opt(210, 1.0, 5.5), _opt(100, 0.5, 3.0)
    assert len(_kept([big, small])) == 2


def test_energy_above_idle_and_total_draw_are_both_kept_dimensions() -> None:
    """E: 1 server drawing 2.0 kW (below the 3 kW idle share: 0 kW charged above idle); F: half a server drawing
    2.5 kW (1.0 kW above its 1.5 kW idle share). F needs fewer servers, E charges less energy: neither goes."""
    e, f = _opt(100, 1.0, 2.0), _opt(100, 0.5, 2.5)
    assert len(_kept([e, f])) == 2


def test_no_cap_on_the_options_kept_per_chip() -> None:
    """Six layouts, each with more tokens per replica on more servers, none dominating another: all six stay (the
    old rule kept four)."""
    opts = [_opt(100 * 2**k, 0.125 * 2**k, 1.0 * 2**k) for k in range(6)]
    assert len(_kept(opts)) == 6


def test_options_of_other_chips_or_quarters_never_dominate() -> None:
    a = _opt(100, 0.5, 3.0)
    other_chip = _opt(200, 0.25, 1.0, chip="h")
    later = _opt(200, 0.25, 1.0, t=1)
    idle = {**IDLE, "h": 3.0}
    assert len(prune_options([a, other_chip, later], idle)) == 3


def test_large_option_sets_are_capped_and_say_so(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Above MAX_EXACT_REPLICA_VARIABLES the heuristic cap applies (4 per workload, quarter and chip) and the plan
    warns that its status, bound and gap hold for the reduced set only."""
    import solvers.sets as sets_mod
    from tests.milp_cases import make_chip, make_inputs, make_options

    rows = [{"chip_id": "a", "tokens_per_s_per_replica": 100 * 2**k, "chips_per_replica": 2**k,
             "power_w_per_replica": 1000.0 * 2**k * (1 + 0.01 * k)} for k in range(4)]
    rows += [{"chip_id": "a", "tokens_per_s_per_replica": 90 * 2**k, "chips_per_replica": 2**k,
              "power_w_per_replica": 500.0 * 2**k} for k in range(4)]
    inputs = make_inputs([make_chip("a", price_usd_per_server=100_000)], {"2027Q1": 1000})
    opts = make_options(rows, ["2027Q1"])
    exact = sets_mod.build_sets(inputs, opts)
    assert exact.reduced_from == 0 and len(exact.options) == 8  # none dominates another replica for replica
    assert not any("reduced for speed" in w for w in exact.warnings)
    monkeypatch.setattr(sets_mod, "MAX_EXACT_REPLICA_VARIABLES", 0)
    capped = sets_mod.build_sets(inputs, opts)
    # per token/s each family's 1-chip layout is no worse than its bigger ones (equal servers, no more kW, a smaller
    # replica), and the two 1-chip layouts trade servers (0.00125 vs 0.00139 per token/s) against kW: 2 stay
    assert capped.reduced_from == 8 and [o.tokens_per_s for o in capped.options] == [100.0, 90.0]
    assert any("reduced for speed" in w and "reduced set only" in w for w in capped.warnings)
