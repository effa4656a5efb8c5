"""Stage 2 of the pipeline: build the MILP from the sets (variables, constraint families, objective).

Money is in millions of USD inside the model (`MONEY_SCALE`) so coefficients stay near 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulp

from planner.finance.depreciation import Depreciation
from solvers import constraints as cf
from solvers.model import PlanModel, safe_name
from solvers.sets import HOURS_PER_QUARTER, MONEY_SCALE, PlanSets

#: value of one tokens/s short for one quarter in the diagnosis run, USD: far above any real cost of serving it.
#: In a diagnosis run (`with_slack`) this prices the headroom buffer (policy.headroom_fraction above the forecast
#: peak); the forecast itself costs FORECAST_PRIORITY times more, so the run serves every forecast first.
UNMET_PENALTY_USD = 1e5
#: in a diagnosis run, one tokens/s of the forecast peak left short costs this many times one tokens/s of the
#: headroom buffer: capacity goes to forecasts before buffers unless a buffer yields over 100x the tokens/s per
#: unit of a limit (no workload pair in the catalog comes near)
FORECAST_PRIORITY = 100.0
#: weight of cost in the max-tokens and min-energy objectives (a tie-breaker, not a trade-off): among plans that
#: serve the same tokens (or use the same energy), the cheaper one; 1e-4 x $1M of net cost = 1 token/s-quarter
TIE_BREAK = 1e-4
#: tiny cost per occupied rack-quarter and per replica-quarter ($1 in scaled USD) so idle capacity is not left
#: switched on at zero cost; reported apart from the net cost (kpis.objective_tiebreak_usd)
EPSILON_COST = 1e-6
#: diagnosis runs: penalty per unit of a limit that has to be exceeded (scaled USD); all far below the unmet penalty
LIMIT_PENALTY = {
    "budget_quarter": 10.0, "budget_total": 10.0, "vendor_share": 10.0,  # per $M over the limit
    "site_power": 0.01,  # per kW over the cap ($10k/kW)
    "supply_chip": 1.0, "supply_vendor": 1.0,  # per server over the cap ($1M/server)
    "rack_positions": 1.0,  # per rack over the site's positions ($1M/rack)
    "lease_cap": 0.1,  # per chip over the lease capacity ($100k/chip)
    "min_order": 1.0,  # per server an order falls short of the chip's minimum ($1M/server)
}


def energy_pairs(S: PlanSets, m: PlanModel, inst: dict) -> tuple[list[tuple[pulp.LpVariable, float]], float]:
    """Energy cost over the horizon (scaled USD) and its constant part from the existing fleet.

    kW(s,t) = sum_{c,r} idle_kw_c * inst[c,s,r,t] + sum_o max(0, p_o - idle_kw_c * spr_o) * rep[o,s]
    cost = sum_{s,t} kW(s,t) * PUE_s * hours_per_quarter * usd_per_kwh_s
    Replicas on leased servers draw no site energy: the lease price includes it.
    """
    pairs: list[tuple[pulp.LpVariable, float]] = []
    const = 0.0
    f = {s: S.pue[s] * HOURS_PER_QUARTER * S.usd_per_kwh[s] / MONEY_SCALE for s in S.sites}
    for (c, s, _r, _t), lst in inst.items():
        pairs.extend((v, S.idle_kw[c] * f[s]) for v, _ in lst)
    for (c, s, _r, _t), n in S.fleet.items():
        const += n * S.idle_kw[c] * f[s]
    for (i, s), var in m.vars["rep"].items():
        if s not in f:
            continue  # leased (virtual site)
        o = S.options[i]
        pairs.append((var, max(0.0, o.power_kw - S.idle_kw[o.chip] * o.servers_per_replica) * f[s]))
    return pairs, const


@dataclass(frozen=True)
class FleetMoney:
    """The existing fleet's money over the modelled quarters, USD (kept orders of a re-plan included)."""

    book_value_start: float  # on the books at the horizon's start: in service then (`Depreciation.held_book_value(-1)`)
    depreciation: float  # charged inside the horizon
    book_value_end: float  # at the end of its last quarter
    in_transit_start: float  # cost of hardware arriving inside the horizon, paid before it: capitalised on arrival
    committed_capex_cash: float  # kept orders paid inside the horizon (capex_timing: delivery): committed cash


def fleet_depreciation(S: PlanSets) -> FleetMoney:
    """Existing fleet, USD. Cost basis = the catalog's list price per server (an estimate: the fleet's real cost is not
    an input); an order a re-plan kept is carried at its own price. One definition of the book value at the start
    (`Depreciation.held_book_value`), shared with the finance schedule's opening book value."""
    start = charged = end = arriving = 0.0
    for c, _s, _r, t0, n, basis in S.fleet_entries:
        d = Depreciation(basis, S.life[c], t0, S.salvage_fraction)
        start += n * d.held_book_value(-1)
        charged += n * d.charged_between(0, S.T - 1)
        end += n * d.book_value(S.T - 1)
        arriving += n * basis if 0 <= t0 < S.T else 0.0
    committed = sum(usd for _i, _t, usd in S.kept_capex)
    paid_inside = sum(S.fleet_entries[i][4] * S.fleet_entries[i][5] for i, _t, _usd in S.kept_capex
                      if 0 <= S.fleet_entries[i][3] < S.T)
    return FleetMoney(start, charged, end, arriving - paid_inside, committed)


#: the demand tail's penalty is this multiple of the workload's cheapest capacity cost per tokens/s
TAIL_PENALTY_MARGIN = 2.0


def tail_penalty_usd(S: PlanSets) -> dict[tuple[str, int], float]:
    """USD per tokens/s-quarter of demand-tail demand (w, t) left unserved (min_tco): TAIL_PENALTY_MARGIN x the
    workload's cheapest option in t, costed per tokens/s as its servers bought (or leased for a whole term) plus one
    quarter of energy and facility at the dearest site. The tail is served wherever capacity costing up to that
    margin fits the limits; the penalty stays on the scale of the plan's cost, so the MIP gap still measures cost.
    The cheapest option is sought among every undominated one (`PlanSets.problem_options`), also when the MILP runs on
    a capped set, so the capped and the uncapped model (`solvers.full_bound`) minimise the same objective."""
    e = max((S.pue[s] * HOURS_PER_QUARTER * S.usd_per_kwh[s] for s in S.sites), default=0.0)
    fac = max((S.rack_types[(s, r)][4] / n for (_c, s, r), n in S.fit.items()), default=0.0)
    best: dict[tuple[str, int], float] = {}
    for o in S.problem_options:
        if o.tokens_per_s <= 0 or not S.is_tail(o.t):
            continue
        costs = [S.price_usd[o.chip]] if o.chip in S.price_usd else []
        costs += [S.lease_cost(o.chip)] if o.chip in S.lease else []
        if not costs:
            continue
        per = (o.servers_per_replica * (min(costs) + fac) + o.power_kw * e) / o.tokens_per_s
        best[(o.workload, o.t)] = min(best.get((o.workload, o.t), per), per)
    return {k: TAIL_PENALTY_MARGIN * v for k, v in best.items()}


def net_cost_terms(S: PlanSets, m: PlanModel) -> dict[str, list[tuple[pulp.LpVariable, float]]]:
    """The net horizon cost by term, scaled USD (unweighted):
      purchases: sum buy[c,s,r,t] x (price_c - resale x NBV_end(c,t))   (depreciation in the horizon + write-down)
      facility:  sum racks[c,s,r,t] x facility_usd[s,r]
      lease:     sum lease[c,t] x term_c x hours/quarter x usd/chip-h_c x chips/server_c   (whole commitment)
    Energy is `energy_pairs`; the existing fleet's depreciation and write-down is the constant `fleet_depreciation`.
    """
    return {
        "purchases": [(v, S.net_unit_cost(c, t) / MONEY_SCALE) for (c, _s, _r, t), v in m.vars["buy"].items()],
        "facility": [(v, S.rack_types[(s, r)][4] / MONEY_SCALE) for (c, s, r, t), v in m.vars["racks"].items()],
        "lease": [(v, S.lease_cost(c) / MONEY_SCALE) for (c, _t), v in m.vars.get("lease", {}).items()],
    }


def build_model(S: PlanSets, *, with_slack: bool = False, relax_limits: bool = False) -> tuple[PlanModel, float]:
    """Create variables for eligible keys only, add every constraint family, set the objective.

    Objectives (minimised, scaled USD unless said):
      min_tco:    net horizon cost = purchases (depreciation + write-down) + facility + energy + leases
                  + existing fleet's depreciation and write-down (constant) + epsilon;
      min_energy: energy USD + TIE_BREAK x the other net-cost terms + epsilon;
      max_tokens: unserved tokens/s-quarters + TIE_BREAK x net cost + epsilon.
    Returns the model and the objective's constant (existing fleet energy and depreciation, weighted like the
    objective's terms, scaled USD).
    `with_slack` adds penalised unmet demand so an impossible plan can say what is short: unmet[w,t] <= the forecast
    peak (penalty FORECAST_PRIORITY x UNMET_PENALTY_USD per tokens/s-quarter) and unmet_headroom[w,t] <= D - forecast,
    the headroom buffer (UNMET_PENALTY_USD), so the run serves forecasts before buffers; `relax_limits`
    also lets every limit family be exceeded at a penalty, to find which limits stand in the way.
    """
    m = PlanModel(pulp.LpProblem(safe_name("fleet", S.objective), pulp.LpMinimize), relax=dict(LIMIT_PENALTY) if relax_limits else {})
    m.add_vars("buy", S.buy_keys, "Integer", 0, None)
    m.add_vars("racks", S.rack_keys, "Integer", 0, None)
    for (_c, s, r, _t), var in m.vars["racks"].items():
        var.upBound = S.rack_types[(s, r)][0]
    m.add_vars("rep", S.deploy_keys, "Integer", 0, None)
    split = with_slack and S.objective != "max_tokens"  # diagnosis: forecast part and headroom part apart
    if with_slack or S.objective == "max_tokens":
        m.add_vars("unmet", sorted(S.demand), "Continuous", 0, None)
    elif S.tail_quarters:  # the demand tail is a target, not a requirement: what limits cannot serve is reported
        m.add_vars("unmet", sorted(k for k in S.demand if S.is_tail(k[1])), "Continuous", 0, None)
    if "unmet" in m.vars:
        for (w, t), var in m.vars["unmet"].items():
            var.upBound = S.forecast[(w, t)] if split else S.demand[(w, t)]
    if split:  # unmet_headroom[w,t] <= D - forecast: the part of the headroom buffer left short
        m.add_vars("unmet_headroom", sorted(k for k in S.demand if S.demand[k] > S.forecast[k]), "Continuous", 0, None)
        for k, var in m.vars["unmet_headroom"].items():
            var.upBound = S.demand[k] - S.forecast[k]
    if S.spare_max:  # policy.redundancy n_plus_1 (`constraints.add_redundancy`)
        m.add_vars("spare", sorted(S.spare_max), "Continuous", 0, None)
        for k, var in m.vars["spare"].items():
            var.upBound = S.spare_max[k]
        m.add_vars("used", sorted({i for i, _s in S.deploy_keys if (S.options[i].workload, S.options[i].t) in S.spare_max}),
                   "Binary", 0, 1)
    m.add_vars("ordered", sorted({(c, t) for (c, _s, _r, t) in S.buy_keys if c in S.min_order}), "Binary", 0, 1)
    m.add_vars("lease", S.lease_keys, "Integer", 0, None)

    inst = cf.installed_pairs(S, m)
    cf.add_demand(S, m)
    cf.add_redundancy(S, m)
    cf.add_servers(S, m, inst)
    cf.add_rack_fill(S, m, inst)
    cf.add_rack_count(S, m)
    cf.add_site_power(S, m, inst)
    cf.add_budget(S, m, MONEY_SCALE)
    cf.add_supply(S, m)
    cf.add_min_order(S, m)
    cf.add_vendor_share(S, m, MONEY_SCALE)
    cf.add_lease_active(S, m)
    cf.add_lease_cap(S, m)

    cost_weight = 1.0 if S.objective == "min_tco" else TIE_BREAK
    for term, pairs in net_cost_terms(S, m).items():
        m.add_objective(term, [(v, c * cost_weight) for v, c in pairs])
    e_pairs, e_const = energy_pairs(S, m, inst)
    e_weight = 1.0 if S.objective in ("min_tco", "min_energy") else TIE_BREAK
    m.add_objective("energy", [(v, c * e_weight) for v, c in e_pairs])
    fleet = fleet_depreciation(S)
    kept_in, kept_after = S.kept_lease_usd()  # contracts a re-plan kept: paid whatever the plan does
    fleet_const = (fleet.depreciation + (1.0 - S.resale_fraction) * fleet.book_value_end + kept_in + kept_after) / MONEY_SCALE
    m.add_objective("epsilon", [(v, EPSILON_COST) for d in ("racks", "rep") for v in m.vars[d].values()])
    if "unmet" in m.vars:
        per = UNMET_PENALTY_USD / MONEY_SCALE if S.objective != "max_tokens" else 1.0
        if not with_slack and S.objective == "min_tco":  # only the demand tail has unmet variables
            tail = tail_penalty_usd(S)
            m.add_objective("unmet", [(v, tail.get(k, UNMET_PENALTY_USD) / MONEY_SCALE) for k, v in m.vars["unmet"].items()])
        elif split:  # the forecast first: its shortfall costs FORECAST_PRIORITY x the buffer's
            m.add_objective("unmet", [(v, per * FORECAST_PRIORITY) for v in m.vars["unmet"].values()])
            m.add_objective("unmet_headroom", [(v, per) for v in m.vars["unmet_headroom"].values()])
        else:
            m.add_objective("unmet", [(v, per) for v in m.vars["unmet"].values()])
    m.set_objective(pulp.LpMinimize)
    return m, e_const * e_weight + fleet_const * cost_weight
