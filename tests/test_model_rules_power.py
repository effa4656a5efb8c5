"""README "Model" rules (issue #23) on power, energy, servers, racks and the epsilon terms, one tiny case per rule
with its expected figures derived by hand in the test.

Common chip `a` unless said: one server = 8 chips of 500 W TDP + 1,000 W of server overhead, $100,000.
  nameplate (site power, rack fit):  8 x 500 + 1,000           = 5,000 W = 5.0 kW per server
  idle share (energy):               0.2 x 8 x 500 + 1,000     = 1,800 W = 1.8 kW per server
A 1-chip replica serves 1,000 tok/s, so 8 replicas fill a server (servers_per_replica 1/8); its idle share is
1.8 / 8 = 0.225 kW. One quarter = 8,760 / 4 = 2,190 h. Resale 0 (the `make_inputs` default): a bought server costs
its price. Epsilon: the objective adds $1 per occupied rack-quarter and per replica-quarter.
"""

from __future__ import annotations

import pytest

from planner.pipeline import objective_block
from planner.schemas.chips import LeaseTerms
from planner.schemas.scenario import SolverSettings
from solvers.backends import verify_solution
from solvers.build import build_model, energy_pairs
from solvers.constraints import installed_pairs
from solvers.extract import extract
from solvers.sets import MONEY_SCALE, build_sets
from solvers.solve import solve
from tests.milp_cases import make_chip, make_inputs, make_options, make_site

EXACT = SolverSettings(name="highs", time_limit_s=30, mip_gap=0.0, threads=1, seed=0)
Q = "2027Q1"
HOURS = 8760.0 / 4  # 2,190 h per quarter
PRICE = 100_000.0
SERVER_KW = (8 * 500 + 1000) / 1000  # 5.0 kW nameplate
IDLE_KW = (0.2 * 8 * 500 + 1000) / 1000  # 1.8 kW idle share of one server
SHARE_KW = IDLE_KW / 8  # 0.225 kW: the idle share of a 1-chip replica (1/8 of a server)


def chip_a(**kw):  # type: ignore[no-untyped-def]
    return make_chip("a", price_usd_per_server=PRICE, tdp_w=500, overhead_w=1000, **kw)


def one_chip(power_w: float = 0.0, tokens: float = 1000.0) -> dict:
    return {"chip_id": "a", "tokens_per_s_per_replica": tokens, "power_w_per_replica": power_w}


def build(inputs, rows):  # type: ignore[no-untyped-def]
    S = build_sets(inputs, make_options(rows, inputs.quarters))
    m, const = build_model(S)
    return S, m, const


def run(inputs, rows):  # type: ignore[no-untyped-def]
    S, m, const = build(inputs, rows)
    r = solve(m, EXACT)
    assert r.status == "optimal", r.raw_status
    assert verify_solution(m, r.values) == []
    return S, m, r, extract(S, m, r.values, const), const


def term_usd(m, r, term: str) -> float:  # type: ignore[no-untyped-def]
    """One objective term at the solution, USD (the model counts money in $M)."""
    return sum(r.values.get(v.name, 0.0) * c for v, c in m.objective_terms.get(term, [])) * MONEY_SCALE


def servers_bought(ex, site: str | None = None) -> int:  # type: ignore[no-untyped-def]
    return sum(p["servers"] for p in ex.purchases if site is None or p["site"] == site)


def replicas(ex, site: str | None = None) -> int:  # type: ignore[no-untyped-def]
    return sum(d["replicas"] for d in ex.deployments if site is None or d["site"] == site)


def power_row(ex, site: str = "s1", quarter: str = Q) -> dict:  # type: ignore[no-untyped-def]
    (row,) = [p for p in ex.power if p["site"] == site and p["quarter"] == quarter]
    return row


# ---------------------------------------------------------------- rule 1: idle draw and energy


@pytest.mark.parametrize(("power_w", "draw_kw"), [
    # 12 replicas x (0.450 - 0.225) = 2.7 kW above the idle share of 2 servers (2 x 1.8 = 3.6 kW): 6.3 kW
    (450.0, 2 * 1.8 + 12 * (0.450 - 0.225)),
    # a replica drawing less than its idle share (0.200 < 0.225 kW) adds nothing: max(0, .) -> the idle 3.6 kW only
    (200.0, 2 * 1.8),
])
def test_energy_is_the_idle_share_of_installed_servers_plus_the_draw_above_it(power_w: float, draw_kw: float) -> None:
    # Demand 12,000 tok/s -> 12 replicas -> 12 / 8 = 1.5 -> 2 servers bought; the half-empty second server still draws
    # its whole idle share. PUE 1.5, $0.10/kWh: energy = draw x 1.5 x 2,190 h x 0.10.
    site = make_site(pue=1.5, usd_per_kwh=0.10)
    S, m, r, ex, _ = run(make_inputs([chip_a()], {Q: 12_000}, sites=[site]), [one_chip(power_w)])
    assert S.idle_kw["a"] == pytest.approx(IDLE_KW) and S.server_kw["a"] == pytest.approx(SERVER_KW)
    assert servers_bought(ex) == 2 and replicas(ex) == 12
    usd = draw_kw * 1.5 * HOURS * 0.10  # 450 W: 6.3 x 1.5 x 2,190 x 0.1 = $2,069.55; 200 W: 3.6 x ... = $1,182.60
    row = power_row(ex)
    assert row["average_it_power_kw"] == pytest.approx(draw_kw)
    assert row["it_power_kw"] == pytest.approx(2 * SERVER_KW)  # nameplate: not what energy charges
    assert ex.kpis["energy_usd"] == pytest.approx(usd, abs=0.01)
    assert ex.kpis["energy_mwh"] == pytest.approx(draw_kw * 1.5 * HOURS / 1000, abs=1e-3)
    assert term_usd(m, r, "energy") == pytest.approx(usd, abs=0.01)  # the objective charges the same figure
    assert ex.kpis["net_cost_usd"] == pytest.approx(2 * PRICE + usd, abs=0.01)


def test_leased_servers_draw_no_site_energy_and_no_site_power() -> None:
    # Lease $2/chip-h, at most 8 chips (1 server) leased: 16,000 tok/s = 16 replicas = 2 servers -> 1 leased
    # ($2 x 8 x 2,190 = $35,040 < $100,000) + 1 bought. Replicas draw 450 W. Only the bought server's idle share and
    # its own 8 replicas are charged: (1.8 + 8 x 0.225) = 3.6 kW x 1.5 x 2,190 x 0.10 = $1,182.60.
    lease = LeaseTerms(usd_per_chip_hour=2.0, min_term_quarters=1, capacity_chips_per_quarter=8, kind="estimate", source="test")
    c = chip_a().model_copy(update={"lease": lease})
    site = make_site(pue=1.5, usd_per_kwh=0.10)
    _, m, r, ex, _ = run(make_inputs([c], {Q: 16_000}, sites=[site]), [one_chip(450.0)])
    lease_usd = 2.0 * 8 * HOURS
    energy = (IDLE_KW + 8 * (0.450 - SHARE_KW)) * 1.5 * HOURS * 0.10
    assert servers_bought(ex) == 1 and [row["servers"] for row in ex.leases] == [1]
    assert replicas(ex, "lease:a") == 8 and replicas(ex, "s1") == 8
    assert ex.kpis["energy_usd"] == pytest.approx(energy, abs=0.01)
    assert term_usd(m, r, "energy") == pytest.approx(energy, abs=0.01)
    assert power_row(ex)["it_power_kw"] == pytest.approx(SERVER_KW)  # the leased server is not on the site's meter
    assert ex.kpis["net_cost_usd"] == pytest.approx(PRICE + lease_usd + energy, abs=0.01)
    # epsilon: 1 occupied rack (the bought server; leased servers have no racks) + 16 replicas, leased ones included
    assert term_usd(m, r, "epsilon") == pytest.approx(1 + 16, abs=1e-3)


def test_existing_fleet_idle_energy_is_a_constant_of_the_objective() -> None:
    # Fleet: 3 servers installed 2026Q1; demand 8,000 tok/s = 8 replicas (one server's worth), 450 W each; nothing bought.
    # Idle energy of the 3 fleet servers, used or not, is fixed before solving:
    #   3 x 1.8 kW x 1.5 x 2,190 h x $0.10 = $1,773.90 (the objective's constant, with the fleet's depreciation);
    # the replicas add 8 x (0.450 - 0.225) = 1.8 kW -> $591.30, the variable energy term. energy_usd = $2,365.20.
    # Fleet depreciation (resale 0): list $100,000 over 20 quarters, 4 quarters old -> book value 3 x $80,000 at the
    # start, all of it charged in the horizon (1 quarter of depreciation + write-down of the rest).
    fleet = [{"site_id": "s1", "rack_type_id": "r", "chip_id": "a", "servers": 3, "installed_quarter": "2026Q1"}]
    site = make_site(pue=1.5, usd_per_kwh=0.10)
    inputs = make_inputs([chip_a()], {Q: 8_000}, sites=[site], fleet=fleet)
    S, m, const = build(inputs, [one_chip(450.0)])
    idle_const = 3 * IDLE_KW * 1.5 * HOURS * 0.10
    _, e_const = energy_pairs(S, m, installed_pairs(S, m))
    assert e_const * MONEY_SCALE == pytest.approx(idle_const)
    assert const * MONEY_SCALE == pytest.approx(idle_const + 3 * PRICE * 16 / 20)
    _, m, r, ex, _ = run(inputs, [one_chip(450.0)])
    replicas_usd = 8 * (0.450 - SHARE_KW) * 1.5 * HOURS * 0.10
    assert ex.purchases == [] and replicas(ex) == 8
    assert term_usd(m, r, "energy") == pytest.approx(replicas_usd, abs=0.01)
    assert ex.kpis["energy_usd"] == pytest.approx(idle_const + replicas_usd, abs=0.01)
    assert power_row(ex)["average_it_power_kw"] == pytest.approx(3 * IDLE_KW + 8 * (0.450 - SHARE_KW))


# ---------------------------------------------------------------- rule 2: site power (nameplate of installed servers)


def test_site_power_cap_moves_servers_to_another_site() -> None:
    # 24,000 tok/s = 24 replicas = 3 full servers, replicas 400 W: draw per full server 1.8 + 8 x (0.4 - 0.225) = 3.2 kW.
    # s1: $0.10/kWh; s2: $0.20/kWh; PUE 1. Uncapped, all 3 stand at s1: 3 x 3.2 x 2,190 x 0.10 = $2,102.40.
    # s1 capped at 12 kW of nameplate: 2 servers (10 kW) fit, a third (15 kW) does not -> 2 at s1, 1 at s2:
    # 2 x 3.2 x 2,190 x 0.10 + 3.2 x 2,190 x 0.20 = $1,401.60 + $1,401.60 = $2,803.20.
    rows = [one_chip(400.0)]
    full_kw = IDLE_KW + 8 * (0.400 - SHARE_KW)
    s2 = make_site("s2", usd_per_kwh=0.20)
    _, _, _, ex, _ = run(make_inputs([chip_a()], {Q: 24_000}, sites=[make_site("s1", usd_per_kwh=0.10), s2]), rows)
    assert servers_bought(ex, "s1") == 3 and servers_bought(ex, "s2") == 0
    assert ex.kpis["energy_usd"] == pytest.approx(3 * full_kw * HOURS * 0.10, abs=0.01)
    _, m, _, ex, _ = run(make_inputs([chip_a()], {Q: 24_000}, sites=[make_site("s1", cap_kw=12.0, usd_per_kwh=0.10), s2]), rows)
    assert servers_bought(ex, "s1") == 2 and servers_bought(ex, "s2") == 1
    assert power_row(ex, "s1")["it_power_kw"] == pytest.approx(2 * SERVER_KW) and power_row(ex, "s1")["cap_kw"] == 12.0
    assert ex.kpis["energy_usd"] == pytest.approx(2 * full_kw * HOURS * 0.10 + full_kw * HOURS * 0.20, abs=0.01)
    info = m.constraints["sitepower_s1_2027Q1"]
    assert info.rhs == pytest.approx(12.0) and all(c == pytest.approx(SERVER_KW) for _, c in info.pairs)


def test_site_power_is_nameplate_not_draw_and_the_fleet_counts() -> None:
    # 17,000 tok/s = 17 replicas (400 W) -> 3 servers. Their average draw is 3 x 1.8 + 17 x 0.175 = 8.375 kW, under a
    # 12 kW cap, but their nameplate is 3 x 5 = 15 kW > 12: no plan. At a 15 kW cap the plan stands, and energy
    # charges the 8.375 kW draw: 8.375 x 1 x 2,190 x 0.10 = $1,834.13, not the 15 kW.
    rows = [one_chip(400.0)]
    draw = 3 * IDLE_KW + 17 * (0.400 - SHARE_KW)
    _, m, _ = build(make_inputs([chip_a()], {Q: 17_000}, sites=[make_site(cap_kw=12.0, usd_per_kwh=0.10)]), rows)
    assert solve(m, EXACT).status == "infeasible"
    _, _, _, ex, _ = run(make_inputs([chip_a()], {Q: 17_000}, sites=[make_site(cap_kw=15.0, usd_per_kwh=0.10)]), rows)
    assert servers_bought(ex) == 3
    row = power_row(ex)
    assert row["it_power_kw"] == pytest.approx(3 * SERVER_KW) and row["average_it_power_kw"] == pytest.approx(draw)
    assert ex.kpis["energy_usd"] == pytest.approx(draw * HOURS * 0.10, abs=0.01)
    # Existing servers count against the cap: 2 fleet servers (10 kW) leave 12 - 10 = 2 kW, less than one more server.
    fleet = [{"site_id": "s1", "rack_type_id": "r", "chip_id": "a", "servers": 2, "installed_quarter": "2026Q4"}]
    _, m, _ = build(make_inputs([chip_a()], {Q: 17_000}, sites=[make_site(cap_kw=12.0)], fleet=fleet), rows)
    assert m.constraints["sitepower_s1_2027Q1"].rhs == pytest.approx(12.0 - 2 * SERVER_KW)
    assert solve(m, EXACT).status == "infeasible"
    # ... and a fleet already over the cap (3 x 5 = 15 kW > 12) makes any plan infeasible, even one buying nothing.
    fleet[0]["servers"] = 3
    _, m, _ = build(make_inputs([chip_a()], {Q: 8_000}, sites=[make_site(cap_kw=12.0)], fleet=fleet), rows)
    assert m.constraints["sitepower_s1_2027Q1"].rhs == pytest.approx(12.0 - 3 * SERVER_KW)
    assert solve(m, EXACT).status == "infeasible"


# ---------------------------------------------------------------- rule 3: how replicas use servers and racks


@pytest.mark.parametrize(("layout", "tokens", "demand", "spr", "n_rep", "n_servers"), [
    # 1 chip: 8 // 1 = 8 replicas per server -> 1/8; 12,000 / 1,000 = 12 replicas -> 12/8 = 1.5 -> 2 servers
    ({"chips_per_replica": 1}, 1_000, 12_000, 1 / 8, 12, 2),
    # TP3: 8 // 3 = 2 replicas per server (2 chips left idle) -> 1/2; 15,000 / 3,000 = 5 replicas -> 2.5 -> 3 servers
    # (by chip count 15 chips would fit 2 servers: the plan counts servers_per_replica, not chips)
    ({"chips_per_replica": 3, "tp": 3}, 3_000, 15_000, 1 / 2, 5, 3),
    # TP8 x PP2 = 16 chips: one stage per 8-chip server -> 2 servers per replica; 40,000 / 16,000 -> 3 replicas -> 6
    ({"chips_per_replica": 16, "tp": 8, "pp": 2}, 16_000, 40_000, 2.0, 3, 6),
])
def test_servers_per_replica_sets_the_servers_installed(layout: dict, tokens: float, demand: float, spr: float,
                                                        n_rep: int, n_servers: int) -> None:
    S, m, r, ex, _ = run(make_inputs([chip_a()], {Q: demand}), [{"chip_id": "a", "tokens_per_s_per_replica": tokens, **layout}])
    (o,) = S.options
    assert o.servers_per_replica == pytest.approx(spr)
    assert replicas(ex) == n_rep and servers_bought(ex) == n_servers
    info = m.constraints["servers_a_s1_2027Q1"]  # spr x replicas - installed <= fleet (0)
    assert sum(r.values[v] * c for v, c in info.pairs) == pytest.approx(spr * n_rep - n_servers)
    assert ex.kpis["net_cost_usd"] == pytest.approx(n_servers * PRICE)


def test_replicas_of_different_options_share_a_chips_servers() -> None:
    # Two layouts of chip a: TP1 (1,000 tok/s, 1/8 server) and TP3 (3,500 tok/s, 1/2 server); demand 15,000 tok/s.
    # 15,000 > 8,000 per server on either layout, so 2 servers ($200,000) is the least; with 2 servers, x TP3 and
    # y TP1 replicas need 0.5x + y/8 <= 2 and 3,500x + 1,000y >= 15,000:
    #   x=0: y=15 (15 replicas); x=1: 11.5 <= y <= 12 -> 13; x=2: 8 <= y <= 8 -> 10; x=3: 4.5 <= y <= 4 (none);
    #   x=4: 14,000 (short). The epsilon ($1 per replica-quarter) picks x=2, y=8: 2 x 0.5 + 8 / 8 = 2 servers full.
    # Objective = $200,000 + 1 rack + 10 replicas = $200,011.
    rows = [one_chip(), {"chip_id": "a", "tokens_per_s_per_replica": 3_500, "chips_per_replica": 3, "tp": 3}]
    _, m, r, ex, const = run(make_inputs([chip_a()], {Q: 15_000}), rows)
    by_tp = {d["tp"]: d["replicas"] for d in ex.deployments}
    assert servers_bought(ex) == 2 and by_tp == {1: 8, 3: 2}
    info = m.constraints["servers_a_s1_2027Q1"]
    assert sum(r.values[v] * c for v, c in info.pairs) == pytest.approx(2 * 0.5 + 8 / 8 - 2)
    assert (r.objective + const) * MONEY_SCALE == pytest.approx(2 * PRICE + 1 + 10, abs=1e-3)


@pytest.mark.parametrize(("rack_kw", "rack_units", "fit", "racks"), [
    (12.0, 48, 2, 3),   # power-limited: floor(12 / 5) = 2 < floor(48 U / 4 U) = 12 -> 5 servers in ceil(5/2) = 3 racks
    (100.0, 12, 3, 2),  # space-limited: floor(100 / 5) = 20 > floor(12 / 4) = 3 -> 5 servers in ceil(5/3) = 2 racks
])
def test_servers_per_rack_and_facility_per_occupied_rack(rack_kw: float, rack_units: int, fit: int, racks: int) -> None:
    # 40,000 tok/s = 40 replicas = 5 servers; facility $1,000 per occupied rack-quarter.
    site = make_site(rack_kw=rack_kw, rack_units=rack_units, facility=1_000.0)
    S, m, r, ex, _ = run(make_inputs([chip_a()], {Q: 40_000}, sites=[site]), [one_chip()])
    assert S.fit[("a", "s1", "r")] == fit
    assert servers_bought(ex) == 5 and len(ex.racks) == racks
    assert max(row["servers"] for row in ex.racks) == fit
    assert ex.kpis["facility_usd"] == pytest.approx(racks * 1_000.0)
    assert term_usd(m, r, "facility") == pytest.approx(racks * 1_000.0)
    assert ex.kpis["net_cost_usd"] == pytest.approx(5 * PRICE + racks * 1_000.0)


def test_rack_positions_limit_racks_per_site() -> None:
    # fit 2 (12 kW racks); 5 servers need 3 racks. s1 has 2 rack positions at $1,000 per rack-quarter, s2 has 10 at
    # $5,000. Unlimited, s1 would take all 3 racks ($3,000); with 2 positions s1 holds 2 racks (up to 4 servers) and
    # s2 1 rack: facility 2 x $1,000 + $5,000 = $7,000.
    s1 = make_site("s1", racks=2, rack_kw=12.0, facility=1_000.0)
    s2 = make_site("s2", racks=10, rack_kw=12.0, facility=5_000.0)
    _, _, _, ex, _ = run(make_inputs([chip_a()], {Q: 40_000}, sites=[s1, s2]), [one_chip()])
    assert servers_bought(ex) == 5
    assert sum(1 for row in ex.racks if row["site"] == "s1") == 2 and sum(1 for row in ex.racks if row["site"] == "s2") == 1
    assert ex.kpis["facility_usd"] == pytest.approx(2 * 1_000.0 + 5_000.0)


def test_a_rack_holds_one_chip_type() -> None:
    # a: $100,000, 8,000 tok/s per server; b: $140,000, 16,000 tok/s per server (2,000 per 1-chip replica).
    # 24,000 tok/s: a + b = $240,000; 2 b = $280,000; 3 a = $300,000. With one rack position (fit 12) a and b cannot
    # share it (one chip type per rack), so the plan is 2 b = $280,000.
    a, b = chip_a(), make_chip("b", price_usd_per_server=140_000, tdp_w=500, overhead_w=1000)
    rows = [one_chip(), {"chip_id": "b", "tokens_per_s_per_replica": 2_000}]
    _, _, _, ex, _ = run(make_inputs([a, b], {Q: 24_000}), rows)
    assert {p["chip"]: p["servers"] for p in ex.purchases} == {"a": 1, "b": 1}
    _, _, _, ex, _ = run(make_inputs([a, b], {Q: 24_000}, sites=[make_site(racks=1)]), rows)
    assert {p["chip"]: p["servers"] for p in ex.purchases} == {"b": 2}
    assert ex.kpis["net_cost_usd"] == pytest.approx(2 * 140_000)


def test_liquid_cooled_chip_has_no_fit_in_an_air_rack() -> None:
    # fit = 0 when the hardware needs liquid cooling and the rack type is air-cooled: nothing can be bought there.
    S, _, _ = build(make_inputs([chip_a(cooling="liquid")], {Q: 8_000}), [one_chip()])
    assert S.fit == {} and S.buy_keys == []
    assert "no rack type at s1 can hold one of its servers" in S.no_option[0][2]


# ---------------------------------------------------------------- rule 4: epsilon terms of the objective


def test_epsilon_is_one_dollar_per_rack_quarter_and_replica_quarter_apart_from_the_net_cost() -> None:
    # Two quarters of 12,000 tok/s: 2 servers bought in 2027Q1 ($200,000; lead 0, resale 0), no energy or facility.
    # Each quarter: 1 occupied rack (fit 12) + 12 replicas -> epsilon 2 x (1 + 12) = $26, reported apart:
    # objective = $200,026, net cost = $200,000, objective_tiebreak_usd = $26.
    S, m, r, ex, const = run(make_inputs([chip_a()], {"2027Q1": 12_000, "2027Q2": 12_000}), [one_chip()])
    assert [(p["order_quarter"], p["servers"]) for p in ex.purchases] == [("2027Q1", 2)]
    assert term_usd(m, r, "epsilon") == pytest.approx(2 * (1 + 12), abs=1e-3)
    assert ex.kpis["net_cost_usd"] == pytest.approx(2 * PRICE)
    block = objective_block(S, m, r, r.values, const, ex.kpis)
    assert block["solver_objective"] == pytest.approx(2 * PRICE + 26, abs=0.01)
    assert block["tiebreak_usd"] == pytest.approx(26, abs=0.01)  # plan.json kpis.objective_tiebreak_usd


def test_epsilon_keeps_idle_capacity_off() -> None:
    # Fleet: 3 servers (24 replica slots), free electricity. Demand 8,000 tok/s: any 8..24 replicas cost the same net
    # (nothing bought, no energy price), so only the epsilon decides: exactly 8 replicas, in 1 rack (fit 12 >= 3
    # servers): epsilon = 1 + 8 = $9 = objective - net cost.
    fleet = [{"site_id": "s1", "rack_type_id": "r", "chip_id": "a", "servers": 3, "installed_quarter": "2026Q4"}]
    inputs = make_inputs([chip_a()], {Q: 8_000}, fleet=fleet)
    S, m, r, ex, const = run(inputs, [one_chip()])
    assert ex.purchases == [] and replicas(ex) == 8 and len(ex.racks) == 1
    assert term_usd(m, r, "epsilon") == pytest.approx(1 + 8, abs=1e-3)
    assert objective_block(S, m, r, r.values, const, ex.kpis)["tiebreak_usd"] == pytest.approx(9, abs=0.01)
