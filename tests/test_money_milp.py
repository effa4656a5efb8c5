"""Money in the MILP (issue 22): buy vs lease, the net-horizon-cost objective (depreciation + write-down), the
existing fleet's depreciation, prices per component, the horizon-end warning, the demand tail and objective labels.
Every expected figure is derived by hand in the test.

Common chip `a`: one 8-chip server = $100,000; a replica is 1 chip serving 1,000 tok/s, so 8,000 tok/s fill a
server (8 replicas). No energy or facility cost unless said. EPS: the model adds $1 per occupied rack-quarter and
per replica-quarter (epsilon costs) - the tests add them explicitly.
"""

from __future__ import annotations

import pytest

from planner.schemas.chips import LeaseTerms
from planner.schemas.scenario import Policy, SolverSettings
from solvers.backends import verify_solution
from solvers.build import build_model
from solvers.extract import extract
from solvers.sets import HOURS_PER_QUARTER, MONEY_SCALE, build_sets
from solvers.solve import solve
from tests.milp_cases import make_chip, make_inputs, make_options

EXACT = SolverSettings(name="highs", time_limit_s=30, mip_gap=0.0, threads=1, seed=0)
PRICE = 100_000.0
LEASE_H = 2.0  # USD per chip-hour
LEASE_Q = LEASE_H * 8 * HOURS_PER_QUARTER  # one 8-chip server leased for one quarter: $35,040


def chip(*, lease: bool = True, term: int = 1, cap: int | None = None, life: int = 20, lead: int = 0, price: float = PRICE):  # type: ignore[no-untyped-def]
    c = make_chip("a", price_usd_per_server=price, life=life, lead=lead)
    if lease:
        c = c.model_copy(update={"lease": LeaseTerms(usd_per_chip_hour=LEASE_H, min_term_quarters=term,
                                                      capacity_chips_per_quarter=cap, kind="estimate", source="test")})
    return c


def run(inputs):  # type: ignore[no-untyped-def]
    quarters = inputs.quarters
    opts = make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1000}], quarters)
    S = build_sets(inputs, opts)
    m, const = build_model(S)
    r = solve(m, EXACT)
    assert r.status == "optimal", r.raw_status
    assert verify_solution(m, r.values) == []
    return S, m, r, extract(S, m, r.values, const), const


def objective_usd(r, const: float) -> float:  # type: ignore[no-untyped-def]
    return (r.objective + const) * MONEY_SCALE


QS = ["2027Q1", "2027Q2", "2027Q3", "2027Q4"]


def test_lease_beats_buying_for_a_short_peak() -> None:
    # Demand 8,000 tok/s (1 server) in 2027Q3 only; resale 0 (residual_value: false), so buying costs $100,000.
    # Leasing one server for one quarter: 8 chips x 2,190 h x $2 = $35,040 < $100,000 -> lease.
    inputs = make_inputs([chip()], {"2027Q1": 0, "2027Q2": 0, "2027Q3": 8_000, "2027Q4": 0})
    S, _, r, ex, const = run(inputs)
    assert ex.purchases == []
    assert [(row["quarter"], row["servers"], row["chips"], row["lease_usd"]) for row in ex.leases] == [("2027Q3", 1, 8, pytest.approx(LEASE_Q))]
    assert ex.leases[0]["site"] == "lease:a" and ex.leases[0]["contract_start_quarter"] == "2027Q3"
    eps = 8 * 1.0  # 8 replicas in one quarter, $1 each
    assert objective_usd(r, const) == pytest.approx(LEASE_Q + eps, abs=1e-3)
    k = ex.kpis
    assert k["lease_usd"] == pytest.approx(LEASE_Q) and k["capex_cash_usd"] == 0.0
    assert k["net_cost_usd"] == pytest.approx(LEASE_Q) and k["cash_out_usd"] == pytest.approx(LEASE_Q)
    assert {d["site"] for d in ex.deployments} == {"lease:a"}
    assert sum(p["it_power_kw"] for p in ex.power) == 0.0  # leased servers stand at the provider


def test_buying_beats_leasing_for_steady_demand() -> None:
    # 1 server all 4 quarters: leasing 4 x $35,040 = $140,160 > buying $100,000 (resale 0) -> buy in 2027Q1.
    inputs = make_inputs([chip()], dict.fromkeys(QS, 8_000))
    _, _, r, ex, const = run(inputs)
    assert ex.leases == []
    assert [(p["order_quarter"], p["servers"]) for p in ex.purchases] == [("2027Q1", 1)]
    eps = 4 * 1.0 + 4 * 8 * 1.0  # 1 rack and 8 replicas in each of 4 quarters
    assert objective_usd(r, const) == pytest.approx(PRICE + eps, abs=1e-3)
    assert ex.kpis["net_cost_usd"] == pytest.approx(PRICE)


def test_lease_commitment_past_the_horizon_is_paid_and_reported() -> None:
    # Term 2 quarters, a one-quarter horizon (2027Q4) with 1 server of demand: the contract runs 2027Q4-2028Q1 and
    # costs 2 x $35,040 = $70,080 (< $100,000, so still leased). Inside the horizon $35,040 is paid; $35,040 is
    # committed after it. (In a longer horizon an earlier start of the same cost would tie.)
    inputs = make_inputs([chip(term=2)], {"2027Q4": 8_000})
    _, _, r, ex, const = run(inputs)
    assert ex.purchases == []
    assert [row["quarter"] for row in ex.leases] == ["2027Q4"] and ex.leases[0]["term_quarters"] == 2
    (contract,) = ex.lease_contracts
    assert contract["commitment_usd"] == pytest.approx(2 * LEASE_Q)
    assert contract["after_horizon_usd"] == pytest.approx(LEASE_Q) and contract["after_horizon_quarters"] == ["2028Q1"]
    assert ex.kpis["lease_usd"] == pytest.approx(LEASE_Q) and ex.kpis["lease_after_horizon_usd"] == pytest.approx(LEASE_Q)
    assert ex.kpis["net_cost_usd"] == pytest.approx(2 * LEASE_Q) and ex.kpis["cash_out_usd"] == pytest.approx(LEASE_Q)
    assert objective_usd(r, const) == pytest.approx(2 * LEASE_Q + 8, abs=1e-3)


def test_lease_term_covers_a_two_quarter_peak_once() -> None:
    # Term 2, demand in Q2 and Q3: one contract started in Q2 covers both (2 x $35,040), never two contracts.
    inputs = make_inputs([chip(term=2)], {"2027Q1": 0, "2027Q2": 8_000, "2027Q3": 8_000, "2027Q4": 0})
    _, _, _, ex, _ = run(inputs)
    assert [(c["contract_start_quarter"], c["servers"]) for c in ex.lease_contracts] == [("2027Q2", 1)]
    assert [row["quarter"] for row in ex.leases] == ["2027Q2", "2027Q3"]


def test_lease_capacity_cap_forces_a_purchase_for_the_rest() -> None:
    # Peak 16,000 tok/s (2 servers) in Q3 only; at most 8 chips (1 server) can be leased: lease 1, buy 1.
    inputs = make_inputs([chip(cap=8)], {"2027Q1": 0, "2027Q2": 0, "2027Q3": 16_000, "2027Q4": 0})
    _, _, r, ex, const = run(inputs)
    assert sum(p["servers"] for p in ex.purchases) == 1
    assert [row["servers"] for row in ex.leases] == [1]
    assert ex.kpis["net_cost_usd"] == pytest.approx(PRICE + LEASE_Q)


def test_lease_allowed_false_forbids_leasing() -> None:
    inputs = make_inputs([chip()], {"2027Q1": 0, "2027Q2": 0, "2027Q3": 8_000, "2027Q4": 0},
                         chip_terms={"a": {"lease_allowed": False}})
    _, _, _, ex, _ = run(inputs)
    assert ex.leases == [] and sum(p["servers"] for p in ex.purchases) == 1


def test_chip_terms_lease_quote_overrides_the_catalog() -> None:
    # A quote of $6/chip-h: one quarter = 8 x 2,190 x 6 = $105,120 > $100,000 -> buy instead.
    inputs = make_inputs([chip()], {"2027Q1": 0, "2027Q2": 0, "2027Q3": 8_000, "2027Q4": 0},
                         chip_terms={"a": {"lease_usd_per_chip_hour": 6.0}})
    _, _, _, ex, _ = run(inputs)
    assert ex.leases == [] and sum(p["servers"] for p in ex.purchases) == 1


def test_lease_only_chip_is_never_bought() -> None:
    c = chip().model_copy(update={"price": None})
    inputs = make_inputs([c], dict.fromkeys(QS, 8_000))
    S, _, _, ex, _ = run(inputs)
    assert S.buy_keys == [] and ex.purchases == []
    assert [row["quarter"] for row in ex.leases] == QS
    assert ex.kpis["net_cost_usd"] == pytest.approx(4 * LEASE_Q)


def test_net_cost_is_depreciation_plus_write_down() -> None:
    # Life 8 quarters, resale 1 x book value, salvage 0, steady demand 1 server for 4 quarters, no lease.
    # Bought in Q1 (lead 0): depreciation 4 x $12,500 = $50,000, book value at the end $50,000 (resold):
    # net cost = $50,000; capex cash $100,000.
    pol = {"depreciation": {"resale_fraction_of_book_value": 1.0}}
    inputs = make_inputs([chip(lease=False, life=8)], dict.fromkeys(QS, 8_000), policy=pol)
    _, _, r, ex, const = run(inputs)
    (p,) = ex.purchases
    assert p["depreciation_in_horizon_usd"] == pytest.approx(50_000) and p["book_value_at_end_usd"] == pytest.approx(50_000)
    k = ex.kpis
    assert k["capex_cash_usd"] == pytest.approx(100_000) and k["depreciation_usd"] == pytest.approx(50_000)
    assert k["resale_value_usd"] == pytest.approx(50_000) and k["writedown_usd"] == 0.0
    assert k["net_cost_usd"] == pytest.approx(50_000)
    assert objective_usd(r, const) == pytest.approx(50_000 + 36, abs=1e-3)
    # resale 0.6 x book value: write-down 0.4 x $50,000 = $20,000 -> net $70,000; salvage 0.2: depreciation
    # 4 x 100,000 x 0.8 / 8 = $40,000, book value $60,000, resale $36,000, write-down $24,000 -> net $64,000.
    pol = {"depreciation": {"resale_fraction_of_book_value": 0.6, "salvage_fraction": 0.2}}
    _, _, r, ex, const = run(make_inputs([chip(lease=False, life=8)], dict.fromkeys(QS, 8_000), policy=pol))
    assert ex.kpis["depreciation_usd"] == pytest.approx(40_000) and ex.kpis["resale_value_usd"] == pytest.approx(36_000)
    assert ex.kpis["net_cost_usd"] == pytest.approx(64_000)
    assert objective_usd(r, const) == pytest.approx(64_000 + 36, abs=1e-3)


def test_depreciation_makes_a_late_buy_cheap_and_a_lease_lose() -> None:
    # Resale 1, life 8: a server bought for a peak in Q4 only is charged 1 quarter of depreciation, $12,500, less
    # than one lease quarter ($35,040) -> buy. With resale 0 the same buy costs $100,000 -> lease.
    demand = {"2027Q1": 0, "2027Q2": 0, "2027Q3": 0, "2027Q4": 8_000}
    _, _, _, ex, _ = run(make_inputs([chip(life=8)], demand, policy={"depreciation": {"resale_fraction_of_book_value": 1.0}}))
    assert ex.leases == [] and ex.kpis["net_cost_usd"] == pytest.approx(12_500)
    _, _, _, ex, _ = run(make_inputs([chip(life=8)], demand))
    assert ex.purchases == [] and ex.kpis["net_cost_usd"] == pytest.approx(LEASE_Q)


def test_existing_fleet_depreciation_is_a_constant_of_the_objective() -> None:
    # Fleet: 1 server installed 2026Q1 (4 quarters before the horizon), cost basis = catalog $100,000, life 20:
    # $5,000 per quarter; book value at the start $80,000, depreciation in the 4 quarters $20,000, at the end $60,000.
    fleet = [{"site_id": "s1", "rack_type_id": "r", "chip_id": "a", "servers": 1, "installed_quarter": "2026Q1"}]
    eps = 4 + 32  # the fleet's rack and 8 replicas, 4 quarters
    for resale, net in ((0.0, 20_000 + 60_000), (1.0, 20_000), (0.5, 20_000 + 30_000)):
        pol = {"depreciation": {"resale_fraction_of_book_value": resale}}
        _, _, r, ex, const = run(make_inputs([chip(lease=False)], dict.fromkeys(QS, 8_000), fleet=fleet, policy=pol))
        assert ex.purchases == []
        k = ex.kpis
        assert k["fleet_book_value_start_usd"] == pytest.approx(80_000) and k["depreciation_fleet_usd"] == pytest.approx(20_000)
        assert k["book_value_end_usd"] == pytest.approx(60_000) and k["net_cost_usd"] == pytest.approx(net)
        assert const * MONEY_SCALE == pytest.approx(net)  # a constant: it cannot change the plan
        assert objective_usd(r, const) == pytest.approx(net + eps, abs=1e-3)
        # the identity finance reconciles: net = capex cash + fleet book value at start + opex + leases - resale
        assert k["net_cost_usd"] == pytest.approx(k["capex_cash_usd"] + k["fleet_book_value_start_usd"] + k["energy_usd"]
                                                  + k["facility_usd"] + k["lease_usd"] + k["lease_after_horizon_usd"] - k["resale_value_usd"])


def test_price_components_and_discount_on_purchase_lines() -> None:
    # Quote host_platform $40,000 over a catalog single-line price ($100,000 accelerators): list $140,000, 10 % vendor
    # discount -> unit $126,000; the lines are scaled by 0.9 and sum to it.
    inputs = make_inputs([chip(lease=False)], {"2027Q1": 8_000}, chip_terms={"a": {"price_components_usd": {"host_platform": 40_000}}},
                         vendors={"VendorA": {"discount_fraction": 0.1}})
    _, _, _, ex, _ = run(inputs)
    (p,) = ex.purchases
    assert p["list_price_usd"] == pytest.approx(140_000) and p["discount_fraction"] == pytest.approx(0.1)
    assert p["unit_price_usd"] == pytest.approx(126_000)
    assert p["price_components"] == {"accelerators": pytest.approx(90_000), "host_platform": pytest.approx(36_000)}
    assert sum(p["price_components"].values()) == pytest.approx(p["unit_price_usd"], abs=0.005)
    assert p["price_kind"] == "quote + estimate" and "chip_terms.a.price_components_usd" in p["price_source"]
    # a whole-system quote replaces the components with one line
    inputs = make_inputs([chip(lease=False)], {"2027Q1": 8_000}, chip_terms={"a": {"price_usd_per_server": 90_000}})
    (p,) = run(inputs)[3].purchases
    assert p["price_components"] == {"system_quote": pytest.approx(90_000)} and p["price_kind"] == "quote"


def test_horizon_end_warning_when_the_last_quarters_cannot_order() -> None:
    # Lead 1 quarter: an order in the last quarter would arrive after it.
    fleet = [{"site_id": "s1", "rack_type_id": "r", "chip_id": "a", "servers": 1, "installed_quarter": "2026Q4"}]
    inputs = make_inputs([chip(lease=False, lead=1)], {"2027Q1": 8_000, "2027Q2": 8_000}, fleet=fleet)
    S, _, _, _, _ = run(inputs)
    assert len(S.warnings) == 1 and "nothing can be ordered in 2027Q2" in S.warnings[0]
    assert "horizon_tail_quarters" in S.warnings[0]
    # lead 0: nothing to warn about
    S, _, _, _, _ = run(make_inputs([chip(lease=False)], {"2027Q1": 8_000, "2027Q2": 8_000}))
    assert S.warnings == []


def test_demand_tail_extends_at_the_last_growth_rate() -> None:
    # Demand 8,000 then 16,000 (x2 per quarter); a 2-quarter tail adds 32,000 and 64,000, marked as tail.
    # Resale 1 and life 4: servers bought for the tail are charged only their depreciation inside the tail.
    pol = {"horizon_tail_quarters": 2, "depreciation": {"resale_fraction_of_book_value": 1.0}}
    inputs = make_inputs([chip(lease=False, life=4)], {"2027Q1": 8_000, "2027Q2": 16_000}, policy=pol)
    S, _, _, ex, _ = run(inputs)
    assert S.quarters == ["2027Q1", "2027Q2", "2027Q3", "2027Q4"] and S.tail_quarters == ["2027Q3", "2027Q4"]
    assert [(c["quarter"], c["demand_tokens_per_s"], c["tail"]) for c in ex.capacity] == [
        ("2027Q1", 8_000, False), ("2027Q2", 16_000, False), ("2027Q3", 32_000, True), ("2027Q4", 64_000, True)]
    bought = {p["order_quarter"]: p["servers"] for p in ex.purchases}
    assert bought == {"2027Q1": 1, "2027Q2": 1, "2027Q3": 2, "2027Q4": 4}
    assert [p["tail"] for p in ex.purchases] == [False, False, True, True]
    # depreciation $25,000 per server-quarter: 4 + 3 + 2x2 + 4x1 = 15 server-quarters = $375,000
    assert ex.kpis["depreciation_usd"] == pytest.approx(375_000) and ex.kpis["net_cost_usd"] == pytest.approx(375_000)


@pytest.mark.parametrize(("objective", "name", "unit", "key"), [
    ("min_tco", "net horizon cost", "USD", "net_cost_usd"),
    ("min_energy", "energy cost", "USD of energy", "energy_usd"),
    ("max_tokens", "tokens served", "tokens", "served_tokens"),
])
def test_objectives_are_labelled_in_their_units(objective: str, name: str, unit: str, key: str) -> None:
    inputs = make_inputs([chip(lease=False)], {"2027Q1": 8_000}, policy={"objective": objective})
    _, _, _, ex, _ = run(inputs)
    k = ex.kpis
    assert (k["objective_name"], k["objective_unit"]) == (name, unit)
    assert k["objective_value"] == k[key]
    assert k["usd_per_million_tokens_basis"] == "net_cost_usd"
    assert k["usd_per_million_tokens"] == pytest.approx(k["net_cost_usd"] / (k["served_tokens"] / 1e6))


def test_residual_value_false_maps_to_no_resale_and_a_contradiction_is_an_error() -> None:
    assert Policy.model_validate({"residual_value": False}).depreciation.resale_fraction_of_book_value == 0.0
    assert Policy.model_validate({"residual_value": True}).depreciation.resale_fraction_of_book_value == 1.0
    with pytest.raises(ValueError, match="replaced by resale_fraction_of_book_value"):
        Policy.model_validate({"residual_value": False, "depreciation": {"resale_fraction_of_book_value": 0.5}})
    # true asked only for a residual credit: an explicit fraction says how much
    pol = Policy.model_validate({"residual_value": True, "depreciation": {"resale_fraction_of_book_value": 0.3}})
    assert pol.depreciation.resale_fraction_of_book_value == 0.3


def test_demand_tail_is_outside_the_budget_and_a_target_not_a_requirement() -> None:
    # Demand 8,000 then 16,000: 2 servers in the horizon ($200,000, exactly the total budget). The 1-quarter tail
    # (32,000) needs 2 more servers, ordered in the tail quarter: outside the horizon's budget, so still bought.
    pol = {"horizon_tail_quarters": 1, "capex_budget_usd_total": 200_000}
    _, _, _, ex, _ = run(make_inputs([chip(lease=False)], {"2027Q1": 8_000, "2027Q2": 16_000}, policy=pol))
    assert sum(p["servers"] for p in ex.purchases if not p["tail"]) == 2  # 1 + 1 or 2 in Q1: a tie at $200,000
    assert [(p["order_quarter"], p["servers"]) for p in ex.purchases if p["tail"]] == [("2027Q3", 2)]
    assert all(c["unmet_tokens_per_s"] == 0 for c in ex.capacity)
    # A site cap of 8 kW (2 servers of 4 kW) cannot hold the tail's 4 servers: the tail is short by 16,000 tokens/s
    # and the plan still stands (the horizon's rows are all served).
    from tests.milp_cases import make_site
    _, _, _, ex, _ = run(make_inputs([chip(lease=False)], {"2027Q1": 8_000, "2027Q2": 16_000},
                                     sites=[make_site(cap_kw=8.0)], policy=pol))
    assert [(c["quarter"], c["unmet_tokens_per_s"]) for c in ex.capacity] == [("2027Q1", 0), ("2027Q2", 0), ("2027Q3", 16_000)]
