"""The Model section's rules on orders, supply, spend and money (issue 23), one tiny hand-derived case per rule.

Rules: minimum order per chip and order quarter (summed over sites), supply caps per chip and per vendor and order
quarter, the vendor spend share, the ordering window (first order quarter, lead time, delivery inside the horizon),
capex timing, residual value at the horizon's end, and capex budgets per quarter and in total.

Common ground unless a test says otherwise: one workload `w`; chips hold 8 chips per 4U server, 8 x 500 W = 4 kW
nameplate per server; a 1-chip replica serves 1,000 tok/s, so one server serves 8,000 tok/s; site `s1` has free
electricity and facility, 100 racks of 48U / 1,000 kW (12 servers per rack); lead time 0, life 20 quarters, salvage 0
and resale 0 (`make_inputs`' default), so a purchase's net horizon cost is its price. The objective also carries $1
per occupied rack-quarter and per replica-quarter (epsilon), never enough to change a choice below.
"""

from __future__ import annotations

from typing import Any

import pytest

from planner.schemas.chips import LeaseTerms
from planner.schemas.scenario import SolverSettings
from solvers.backends import verify_solution
from solvers.build import build_model
from solvers.explain import diagnose
from solvers.extract import Extracted, extract
from solvers.sets import HOURS_PER_QUARTER, MONEY_SCALE, PlanSets, build_sets
from solvers.solve import solve
from tests.milp_cases import make_chip, make_inputs, make_options, make_site

EXACT = SolverSettings(name="highs", time_limit_s=30, mip_gap=0.0, threads=1, seed=0)
PRICE = 100_000.0
TOK = 1_000.0  # tok/s per 1-chip replica; 8,000 per server
SERVER = 8 * TOK


def _options(chips: list[str], quarters: list[str]) -> Any:
    return make_options([{"chip_id": c, "tokens_per_s_per_replica": TOK} for c in chips], quarters)


def _solve(inputs: Any) -> tuple[str, PlanSets, Extracted | None, float]:
    """(status, sets, extracted tables or None, objective incl. its constant in USD or nan)."""
    S = build_sets(inputs, _options(sorted(inputs.chips), inputs.quarters))
    m, const = build_model(S)
    r = solve(m, EXACT)
    if r.status != "optimal":
        return r.status, S, None, float("nan")
    assert verify_solution(m, r.values) == []
    return r.status, S, extract(S, m, r.values, const), (r.objective + const) * MONEY_SCALE


def _plan(inputs: Any) -> tuple[PlanSets, Extracted, float]:
    status, S, ex, obj = _solve(inputs)
    assert status == "optimal" and ex is not None, status
    return S, ex, obj


def _orders(ex: Extracted) -> list[tuple[str, str, int]]:
    """(order quarter, chip, servers), summed over sites and rack types."""
    out: dict[tuple[str, str], int] = {}
    for p in ex.purchases:
        out[(p["order_quarter"], p["chip"])] = out.get((p["order_quarter"], p["chip"]), 0) + p["servers"]
    return sorted((q, c, n) for (q, c), n in out.items())


def _by_chip(ex: Extracted) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in ex.purchases:
        out[p["chip"]] = out.get(p["chip"], 0) + p["servers"]
    return out


# ----------------------------------------------------------------------------------------------- 1. minimum order


def test_min_order_rounds_a_small_order_up() -> None:
    # 8,000 tok/s in 2027Q1 needs 1 server ($100,000). min_order_servers 3: an order is 0 or >= 3 servers, and 0
    # leaves the demand unserved, so the plan orders 3: capex 3 x $100,000 = $300,000.
    a = make_chip("a", price_usd_per_server=PRICE)
    _, ex, _ = _plan(make_inputs([a], {"2027Q1": SERVER}))
    assert _orders(ex) == [("2027Q1", "a", 1)]
    _, ex, _ = _plan(make_inputs([a], {"2027Q1": SERVER}, chip_terms={"a": {"min_order_servers": 3}}))
    assert _orders(ex) == [("2027Q1", "a", 3)]
    assert ex.kpis["capex_cash_usd"] == pytest.approx(3 * PRICE)


def test_min_order_is_per_order_quarter_and_a_quarter_may_order_nothing() -> None:
    # Demand 1 server in Q1, 2 in Q2 (life 20: a Q1 server still stands in Q2). min 2 per order quarter.
    # Any plan needs Q1 >= 1 and Q1 + Q2 >= 2; each quarter's order is 0 or >= 2. Fewest servers: Q1 = 2, Q2 = 0
    # ($200,000); 1 + 1 (what an unlimited plan may pick at the same price) breaks the minimum in both quarters.
    a = make_chip("a", price_usd_per_server=PRICE)
    _, ex, _ = _plan(make_inputs([a], {"2027Q1": SERVER, "2027Q2": 2 * SERVER}, chip_terms={"a": {"min_order_servers": 2}}))
    assert _orders(ex) == [("2027Q1", "a", 2)]
    assert ex.kpis["capex_cash_usd"] == pytest.approx(2 * PRICE)


def test_min_order_is_summed_over_sites() -> None:
    # Two sites of 8 kW each hold 2 servers (4 kW) each. Demand 24,000 tok/s = 3 servers, min order 3 in the quarter:
    # 2 at one site + 1 at the other totals 3 >= 3 and is feasible, although one site orders only 1 (a per-site
    # minimum of 3 would need 3 servers at any site that orders: 12 kW > 8 kW, infeasible).
    a = make_chip("a", price_usd_per_server=PRICE)
    sites = [make_site("s1", cap_kw=8.0), make_site("s2", cap_kw=8.0)]
    _, ex, _ = _plan(make_inputs([a], {"2027Q1": 3 * SERVER}, sites=sites, chip_terms={"a": {"min_order_servers": 3}}))
    per_site: dict[str, int] = {}
    for p in ex.purchases:
        per_site[p["site"]] = per_site.get(p["site"], 0) + p["servers"]
    assert sorted(per_site.values()) == [1, 2]
    # min 5: the order would need 5 x 4 kW = 20 kW > 2 x 8 kW of site power; ordering nothing leaves demand unmet.
    status, *_ = _solve(make_inputs([a], {"2027Q1": 3 * SERVER}, sites=sites, chip_terms={"a": {"min_order_servers": 5}}))
    assert status == "infeasible"


def test_diagnosis_names_the_minimum_order() -> None:
    # Supply cap 2 servers per quarter, minimum order 3, demand 1 server in the first quarter: no order is allowed.
    # Allowed to break limits at a penalty ($1M per server over the supply cap or short of the minimum), the cheapest
    # plan orders 2 servers with the minimum 1 short ($1M + $200,000) rather than 3 with the cap 1 over ($1M +
    # $300,000): the diagnosis names the minimum order and by how much it is short.
    a = make_chip("a", price_usd_per_server=PRICE)
    terms = {"a": {"min_order_servers": 3, "supply_cap_servers_per_quarter": 2}}
    inputs = make_inputs([a], {"2027Q1": SERVER}, chip_terms=terms)
    S = build_sets(inputs, _options(sorted(inputs.chips), inputs.quarters))
    m2, _ = build_model(S, with_slack=True)
    r2 = solve(m2, EXACT)
    m3, _ = build_model(S, with_slack=True, relax_limits=True)
    r3 = solve(m3, EXACT)
    rows = diagnose(S, m2, r2.values, m3, r3.values)
    assert [(row["workload"], row["quarter"], row["short_tokens_per_s"]) for row in rows] == [("w", "2027Q1", SERVER)]
    assert "minimum order of a in 2027Q1 short by 1.0 servers" in rows[0]["cause"]


def test_min_order_above_the_supply_cap_forbids_ordering() -> None:
    # cap 2 servers per quarter < min 3: every order quarter orders 0, so 1 server of demand cannot be met.
    a = make_chip("a", price_usd_per_server=PRICE)
    terms = {"a": {"min_order_servers": 3, "supply_cap_servers_per_quarter": 2}}
    status, *_ = _solve(make_inputs([a], {"2027Q1": SERVER}, chip_terms=terms))
    assert status == "infeasible"


# ------------------------------------------------------------------------------------------------- 2. supply caps


def test_chip_supply_cap_counts_orders_per_order_quarter() -> None:
    # Lead 1, life 8, resale 1 (so a server costs only its depreciation inside the horizon: $100,000 / 8 = $12,500
    # per quarter from delivery to the horizon's end, 2027Q3). Demand: 3 servers in 2027Q3 only.
    # Orders may be placed in Q1 (delivered Q2: 2 quarters charged, $25,000) or Q2 (delivered Q3: $12,500).
    # No cap: 3 in Q2 = $37,500. Cap 2 per order quarter: 2 in Q2 + 1 in Q1 = 2 x 12,500 + 25,000 = $50,000.
    a = make_chip("a", price_usd_per_server=PRICE, lead=1, life=8)
    demand = {"2027Q1": 0, "2027Q2": 0, "2027Q3": 3 * SERVER}
    pol = {"depreciation": {"resale_fraction_of_book_value": 1.0}}
    _, ex, _ = _plan(make_inputs([a], demand, policy=pol))
    assert _orders(ex) == [("2027Q2", "a", 3)] and ex.kpis["net_cost_usd"] == pytest.approx(3 * PRICE / 8)
    _, ex, _ = _plan(make_inputs([a], demand, policy=pol, chip_terms={"a": {"supply_cap_servers_per_quarter": 2}}))
    assert _orders(ex) == [("2027Q1", "a", 1), ("2027Q2", "a", 2)]
    assert [(p["order_quarter"], p["delivery_quarter"]) for p in ex.purchases] == [("2027Q1", "2027Q2"), ("2027Q2", "2027Q3")]
    assert ex.kpis["net_cost_usd"] == pytest.approx(2 * PRICE / 8 + 2 * PRICE / 8)


def test_vendor_supply_cap_sums_the_vendors_chips() -> None:
    # a $100k and b $150k of VendorA, c $200k of VendorB; demand 16,000 tok/s = 2 servers in one quarter.
    # Chip cap a <= 1: a + b = $250,000 (a + c $300k, b + b $300k). Add VendorA <= 1 server per quarter: a and b
    # share it, so a + b is out: a + c = $300,000 (b + c $350k, c + c $400k).
    a = make_chip("a", price_usd_per_server=100_000)
    b = make_chip("b", price_usd_per_server=150_000)
    c = make_chip("c", price_usd_per_server=200_000, vendor="VendorB")
    terms = {"a": {"supply_cap_servers_per_quarter": 1}}
    _, ex, _ = _plan(make_inputs([a, b, c], {"2027Q1": 2 * SERVER}, chip_terms=terms))
    assert _by_chip(ex) == {"a": 1, "b": 1} and ex.kpis["capex_cash_usd"] == pytest.approx(250_000)
    _, ex, _ = _plan(make_inputs([a, b, c], {"2027Q1": 2 * SERVER}, chip_terms=terms,
                                 vendors={"VendorA": {"supply_cap_servers_per_quarter": 1}}))
    assert _by_chip(ex) == {"a": 1, "c": 1} and ex.kpis["capex_cash_usd"] == pytest.approx(300_000)


# ------------------------------------------------------------------------------------------------ 3. vendor share


@pytest.mark.parametrize(("policy_share", "vendor_a_share", "n_a", "n_c"), [
    # a: VendorA $100k; c: VendorB $150k; 8 servers needed. Share s of VendorA: 100 n_a <= s (100 n_a + 150 n_c),
    # i.e. n_a <= 1.5 s / (1 - s) x n_c. Cheapest n_a + n_c >= 8 (fewest c servers that let enough a in):
    (None, None, 8, 0),  # no limit: 8 a = $800k
    (None, 0.7, 6, 2),  # n_a <= 3.5 n_c: c = 1 allows 3 a (4 < 8); c = 2 allows 7: 6 a + 2 c = $900k
    # policy 0.6, VendorA 0.7 -> A 0.6 (smaller wins); the policy's 0.6 also caps VendorB: 150 n_c <= 0.6 x total
    # i.e. n_c <= n_a. n_a <= 2.25 n_c: c = 2 allows 4 a (6 < 8); c = 3 allows 6: 5 a + 3 c = $950k (c 3 <= a 5)
    (0.6, 0.7, 5, 3),
    # policy 0.7, VendorA 0.5 -> A 0.5 (smaller wins), B 0.7. n_a <= 1.5 n_c: c = 3 allows 4 a (7 < 8); c = 4:
    # 4 a + 4 c = $1,000k (B: 600 <= 0.7 x 1,000). Had the policy's 0.7 won for A: 6 a + 2 c = $900k.
    (0.7, 0.5, 4, 4),
])
def test_vendor_share_caps_a_vendors_share_of_capex(policy_share: float | None, vendor_a_share: float | None,
                                                    n_a: int, n_c: int) -> None:
    a = make_chip("a", price_usd_per_server=100_000)
    c = make_chip("c", price_usd_per_server=150_000, vendor="VendorB")
    policy = {"max_vendor_spend_share": policy_share} if policy_share is not None else None
    vendors = {"VendorA": {"max_spend_share": vendor_a_share}} if vendor_a_share is not None else None
    S, ex, _ = _plan(make_inputs([a, c], {"2027Q1": 8 * SERVER}, policy=policy, vendors=vendors))
    expected_share = {}
    if vendor_a_share is not None or policy_share is not None:
        expected_share["VendorA"] = min(x for x in (vendor_a_share, policy_share, 1.0) if x is not None)
    if policy_share is not None:
        expected_share["VendorB"] = policy_share
    assert S.vendor_share == pytest.approx(expected_share)
    assert _by_chip(ex) == {k: v for k, v in (("a", n_a), ("c", n_c)) if v}
    assert ex.kpis["capex_cash_usd"] == pytest.approx(100_000 * n_a + 150_000 * n_c)


@pytest.mark.parametrize(("shares", "warned"), [((0.5, 0.4), True), ((0.5, 0.5), False), ((0.9, None), False)])
def test_vendor_shares_summing_below_one_warn(shares: tuple[float, float | None], warned: bool) -> None:
    # Vendors A (chip a) and B (chip c): spend_A <= s_A x total and spend_B <= s_B x total sum to total <= (s_A + s_B)
    # x total, so shares 0.5 + 0.4 = 0.9 < 1 forbid any purchase (warned); 0.5 + 0.5 = 1 allows equal spend; a vendor
    # without a share is not limited.
    from solvers.sets import vendor_share_warnings
    share = {"A": shares[0], **({"B": shares[1]} if shares[1] is not None else {})}
    assert bool(vendor_share_warnings({"A", "B"}, share)) is warned


def test_policy_vendor_share_below_one_with_one_vendor_forbids_buying() -> None:
    # One vendor, share 0.9: capex_A <= 0.9 x capex_A  <=>  0.1 x capex_A <= 0  <=>  nothing bought; the demand
    # (1 server) cannot be met. The share counts purchases only: leasing the same vendor's chip is not limited.
    a = make_chip("a", price_usd_per_server=PRICE)
    status, S, *_ = _solve(make_inputs([a], {"2027Q1": SERVER}, policy={"max_vendor_spend_share": 0.9}))
    assert status == "infeasible"
    assert any("vendor spend shares forbid every purchase" in w and "at most 90%" in w for w in S.warnings)
    leasable = a.model_copy(update={"lease": LeaseTerms(usd_per_chip_hour=2.0, min_term_quarters=1,
                                                        capacity_chips_per_quarter=None, kind="estimate", source="test")})
    _, ex, _ = _plan(make_inputs([leasable], {"2027Q1": SERVER}, policy={"max_vendor_spend_share": 0.9}))
    assert ex.purchases == [] and sum(r["servers"] for r in ex.leases) == 1


# ------------------------------------------------------------------------- 4. ordering window and capex timing


def test_orders_start_at_the_first_order_quarter_and_deliver_inside_the_horizon() -> None:
    # 4 quarters (t = 0..3), lead 2 (chip_terms overrides the catalog's 0), available from 2027Q2 (t = 1):
    # order quarters t with 1 <= t and t + 2 <= 3, i.e. t = 1 only.
    a = make_chip("a", price_usd_per_server=PRICE)
    qs = ["2027Q1", "2027Q2", "2027Q3", "2027Q4"]
    terms = {"a": {"lead_time_quarters": 2, "available_from_quarter": "2027Q2"}}
    demand = dict.fromkeys(qs, 0.0) | {"2027Q4": SERVER}
    S, ex, _ = _plan(make_inputs([a], demand, chip_terms=terms))
    first, lead, T = 1, 2, len(qs)
    assert {t for (_c, _s, _r, t) in S.buy_keys} == set(range(first, T - lead))
    assert [(p["order_quarter"], p["delivery_quarter"], p["servers"]) for p in ex.purchases] == [("2027Q2", "2027Q4", 1)]
    # demand in 2027Q3 needs an order in 2027Q1 (3 - 2 = 1 - 1 = t 0), before the chip is available: infeasible
    demand = dict.fromkeys(qs, 0.0) | {"2027Q3": SERVER}
    status, *_ = _solve(make_inputs([a], demand, chip_terms=terms))
    assert status == "infeasible"
    # without available_from the same demand is met by an order in 2027Q1, delivered 2027Q3
    _, ex, _ = _plan(make_inputs([a], demand, chip_terms={"a": {"lead_time_quarters": 2}}))
    assert [(p["order_quarter"], p["delivery_quarter"]) for p in ex.purchases] == [("2027Q1", "2027Q3")]


@pytest.mark.parametrize(("timing", "zero_budget_quarter", "paid_in"), [
    # lead 1, demand 1 server in Q2 and Q3: the one server must be ordered in Q1 and arrives in Q2.
    ("order", "2027Q1", None),  # its $100k counts in Q1, whose budget is 0: infeasible
    ("delivery", "2027Q1", "2027Q2"),  # counts in Q2 (no budget): feasible, paid in Q2
    ("order", "2027Q2", "2027Q1"),  # counts in Q1: feasible
    ("delivery", "2027Q2", None),  # counts in Q2, budget 0: infeasible
])
def test_capex_counts_in_the_order_or_the_delivery_quarter(timing: str, zero_budget_quarter: str, paid_in: str | None) -> None:
    a = make_chip("a", price_usd_per_server=PRICE, lead=1)
    inputs = make_inputs([a], {"2027Q1": 0, "2027Q2": SERVER, "2027Q3": SERVER},
                         policy={"capex_timing": timing, "capex_budget_usd_by_quarter": {zero_budget_quarter: 0}})
    status, S, ex, _ = _solve(inputs)
    if paid_in is None:
        assert status == "infeasible"
        return
    assert ex is not None
    assert [(p["order_quarter"], p["delivery_quarter"], p["payment_quarter"]) for p in ex.purchases] == [("2027Q1", "2027Q2", paid_in)]
    assert S.quarters[S.capex_t("a", 0)] == paid_in


# ---------------------------------------------------------------------------------------------- 5. residual value


@pytest.mark.parametrize(("life", "salvage", "resale"), [(6, 0.1, 0.5), (2, 0.0, 0.5), (6, 0.0, 1.0)])
def test_residual_value_is_resale_times_book_value_at_the_horizon_end(life: int, salvage: float, resale: float) -> None:
    # 4 quarters, lead 1, demand 1 server in Q2 and Q3: one server ordered in Q1 (t = 0), delivered Q2 (d = 1).
    # Depreciated from d through the horizon's last quarter T - 1 = 3 (sold at the end, not when idle), at most
    # `life` quarters: charged = min(T - d, life) x price x (1 - salvage) / life; NBV_end = price - charged;
    # resale value = resale x NBV_end; net cost of the purchase = price - resale value.
    #   life 6, salvage 0.1, resale 0.5: 3 x 15,000 = 45,000; NBV 55,000; resale 27,500; net 72,500
    #   life 2, salvage 0,   resale 0.5: 2 x 50,000 = 100,000; NBV 0; resale 0; net 100,000
    #   life 6, salvage 0,   resale 1  : 3 x 16,666.67 = 50,000; NBV 50,000; resale 50,000; net 50,000
    a = make_chip("a", price_usd_per_server=PRICE, lead=1, life=life)
    pol = {"depreciation": {"salvage_fraction": salvage, "resale_fraction_of_book_value": resale}}
    S, ex, obj = _plan(make_inputs([a], {"2027Q1": 0, "2027Q2": SERVER, "2027Q3": SERVER, "2027Q4": 0}, policy=pol))
    T, d = 4, 1
    charged = min(T - d, life) * PRICE * (1 - salvage) / life
    nbv = PRICE - charged
    (p,) = ex.purchases
    assert (p["order_quarter"], p["servers"]) == ("2027Q1", 1)
    assert p["depreciation_in_horizon_usd"] == pytest.approx(charged)
    assert p["book_value_at_end_usd"] == pytest.approx(nbv)
    assert p["resale_value_usd"] == pytest.approx(resale * nbv)
    assert S.residual_fraction("a", 0) == pytest.approx(resale * nbv / PRICE)
    assert ex.kpis["net_cost_usd"] == pytest.approx(PRICE - resale * nbv)
    # epsilon: 8 replicas in each of the 2 demand quarters, and the server occupies a rack in every quarter it stands
    # (from delivery to the end of its life or of the horizon): min(T - d, life) rack-quarters, $1 each.
    eps = min(T - d, life) * 1 + 2 * 8
    assert obj == pytest.approx(PRICE - resale * nbv + eps, abs=1e-3)


def test_residual_value_can_make_the_dearer_longer_lived_chip_cheaper() -> None:
    # 4 quarters, 1 server of demand in each, lead 0, salvage 0. a: $100k, life 4; b: $120k, life 40.
    # Resale 0: net = price, a ($100k) < b ($120k) -> a.
    # Resale 1: a is fully depreciated by the end: net 100k - 0 = $100,000; b is charged 4 x 120k / 40 = $12,000
    # and resold at 120k - 12k = $108,000: net $12,000 -> b.
    a = make_chip("a", price_usd_per_server=100_000, life=4)
    b = make_chip("b", price_usd_per_server=120_000, life=40)
    demand = dict.fromkeys(["2027Q1", "2027Q2", "2027Q3", "2027Q4"], SERVER)
    _, ex, _ = _plan(make_inputs([a, b], demand))
    assert _by_chip(ex) == {"a": 1} and ex.kpis["net_cost_usd"] == pytest.approx(100_000)
    _, ex, _ = _plan(make_inputs([a, b], demand, policy={"depreciation": {"resale_fraction_of_book_value": 1.0}}))
    assert _by_chip(ex) == {"b": 1} and ex.kpis["net_cost_usd"] == pytest.approx(4 * 120_000 / 40)


def test_existing_fleet_residual_is_a_constant_on_the_catalog_list_price() -> None:
    # 1 existing server of a, installed 2026Q1 (t0 = -4), life 20, salvage 0, resale 0.5; 4 quarters of 1 server of
    # demand, which it serves: nothing is bought. Its cost basis is the catalog list price $100,000 even though the
    # vendor's 50 % discount makes a new server $50,000: $5,000 per quarter; 4 charged in the horizon = $20,000;
    # book value at the end 100,000 - 8 x 5,000 = $60,000; write-down (1 - 0.5) x 60,000 = $30,000.
    # The objective's constant is 20,000 + 30,000 = $50,000; the fleet's resale value is 0.5 x 60,000 = $30,000.
    a = make_chip("a", price_usd_per_server=PRICE)
    fleet = [{"site_id": "s1", "rack_type_id": "r", "chip_id": "a", "servers": 1, "installed_quarter": "2026Q1"}]
    pol = {"depreciation": {"resale_fraction_of_book_value": 0.5}}
    S, ex, obj = _plan(make_inputs([a], dict.fromkeys(["2027Q1", "2027Q2", "2027Q3", "2027Q4"], SERVER), fleet=fleet,
                                   policy=pol, vendors={"VendorA": {"discount_fraction": 0.5}}))
    assert S.price_usd["a"] == pytest.approx(50_000)
    assert ex.purchases == []
    k = ex.kpis
    assert k["depreciation_fleet_usd"] == pytest.approx(20_000) and k["book_value_end_usd"] == pytest.approx(60_000)
    assert k["resale_value_usd"] == pytest.approx(30_000) and k["net_cost_usd"] == pytest.approx(50_000)
    assert k["objective_constant_usd"] == pytest.approx(50_000)
    assert obj == pytest.approx(50_000 + 4 * 1 + 4 * 8, abs=1e-3)  # + epsilon: 1 rack and 8 replicas x 4 quarters


# ---------------------------------------------------------------------------------------------- 6. capex budgets


def test_quarterly_budget_and_its_per_quarter_override() -> None:
    # Demand 1 server in Q1, 3 in Q2 (lead 0, life 20). $100,000 per quarter: Q1 <= 1, Q2 <= 1 server; 2 < 3:
    # infeasible. capex_budget_usd_by_quarter 2027Q2: $200,000 overrides Q2: Q1 = 1 (demand >= 1, budget <= 1),
    # Q2 = 2 (3 - 1 needed, 200k / 100k allowed).
    a = make_chip("a", price_usd_per_server=PRICE)
    demand = {"2027Q1": SERVER, "2027Q2": 3 * SERVER}
    status, *_ = _solve(make_inputs([a], demand, policy={"capex_budget_usd_per_quarter": PRICE}))
    assert status == "infeasible"
    _, ex, _ = _plan(make_inputs([a], demand, policy={"capex_budget_usd_per_quarter": PRICE,
                                                       "capex_budget_usd_by_quarter": {"2027Q2": 2 * PRICE}}))
    assert _orders(ex) == [("2027Q1", "a", 1), ("2027Q2", "a", 2)]


@pytest.mark.parametrize(("budget", "feasible"), [(160_000, True), (159_999, False)])
def test_total_budget_limits_capex_at_the_discounted_price(budget: float, feasible: bool) -> None:
    # 20 % vendor discount: $100,000 x 0.8 = $80,000 per server; 2 servers (16,000 tok/s) cost $160,000.
    a = make_chip("a", price_usd_per_server=PRICE)
    inputs = make_inputs([a], {"2027Q1": 2 * SERVER}, policy={"capex_budget_usd_total": budget},
                         vendors={"VendorA": {"discount_fraction": 0.2}})
    status, _, ex, _ = _solve(inputs)
    assert (status == "optimal") == feasible
    if feasible:
        assert ex is not None and ex.kpis["capex_cash_usd"] == pytest.approx(2 * PRICE * 0.8)


def test_budgets_count_purchases_only_not_leases() -> None:
    # Total and quarterly budgets of $0 forbid buying, not leasing: 1 server leased for 1 quarter at $2/chip-h =
    # 8 x 2,190 h x $2 = $35,040.
    a = make_chip("a", price_usd_per_server=PRICE).model_copy(update={"lease": LeaseTerms(
        usd_per_chip_hour=2.0, min_term_quarters=1, capacity_chips_per_quarter=None, kind="estimate", source="test")})
    _, ex, _ = _plan(make_inputs([a], {"2027Q1": SERVER}, policy={"capex_budget_usd_total": 0, "capex_budget_usd_per_quarter": 0}))
    assert ex.purchases == [] and ex.kpis["capex_cash_usd"] == 0.0
    assert ex.kpis["lease_usd"] == pytest.approx(8 * HOURS_PER_QUARTER * 2.0)
