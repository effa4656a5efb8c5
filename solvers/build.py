"""Stage 2 of the pipeline: build the MILP from the sets (variables, constraint families, objective).

Money is in millions of USD inside the model (`MONEY_SCALE`) so coefficients stay near 1.
"""

from __future__ import annotations

import pulp

from solvers import constraints as cf
from solvers.model import PlanModel, safe_name
from solvers.sets import HOURS_PER_QUARTER, MONEY_SCALE, PlanSets

#: value of one tokens/s short for one quarter in the diagnosis run, USD: far above any real cost of serving it
UNMET_PENALTY_USD = 1e5
#: weight of cost in the max-tokens and min-energy objectives (a tie-breaker, not a trade-off)
TIE_BREAK = 1e-4
#: tiny cost per occupied rack and per replica (scaled USD) so idle capacity is not left switched on at zero cost
EPSILON_COST = 1e-6
#: diagnosis runs: penalty per unit of a limit that has to be exceeded (scaled USD); all far below the unmet penalty
LIMIT_PENALTY = {
    "budget_quarter": 10.0, "budget_total": 10.0, "vendor_share": 10.0,  # per $M over the limit
    "site_power": 0.01,  # per kW over the cap ($10k/kW)
    "supply_chip": 1.0, "supply_vendor": 1.0,  # per server over the cap ($1M/server)
    "rack_positions": 1.0,  # per rack over the site's positions ($1M/rack)
}


def energy_pairs(S: PlanSets, m: PlanModel, inst: dict) -> tuple[list[tuple[pulp.LpVariable, float]], float]:
    """Energy cost over the horizon (scaled USD) and its constant part from the existing fleet.

    kW(s,t) = sum_{c,r} idle_kw_c * inst[c,s,r,t] + sum_o max(0, p_o - idle_kw_c * spr_o) * rep[o,s]
    cost = sum_{s,t} kW(s,t) * PUE_s * hours_per_quarter * usd_per_kwh_s
    """
    pairs: list[tuple[pulp.LpVariable, float]] = []
    const = 0.0
    f = {s: S.pue[s] * HOURS_PER_QUARTER * S.usd_per_kwh[s] / MONEY_SCALE for s in S.sites}
    for (c, s, _r, _t), lst in inst.items():
        pairs.extend((v, S.idle_kw[c] * f[s]) for v, _ in lst)
    for (c, s, _r, _t), n in S.fleet.items():
        const += n * S.idle_kw[c] * f[s]
    for (i, s), var in m.vars["rep"].items():
        o = S.options[i]
        pairs.append((var, max(0.0, o.power_kw - S.idle_kw[o.chip] * o.servers_per_replica) * f[s]))
    return pairs, const


def build_model(S: PlanSets, *, with_slack: bool = False, relax_limits: bool = False) -> tuple[PlanModel, float]:
    """Create variables for eligible keys only, add every constraint family, set the objective.

    Returns the model and the objective's constant (existing fleet energy, scaled USD).
    `with_slack` adds penalised unmet demand so an impossible plan can say what is short; `relax_limits`
    also lets every limit family be exceeded at a penalty, to find which limits stand in the way.
    """
    m = PlanModel(pulp.LpProblem(safe_name("fleet", S.objective), pulp.LpMinimize), relax=dict(LIMIT_PENALTY) if relax_limits else {})
    m.add_vars("buy", S.buy_keys, "Integer", 0, None)
    m.add_vars("racks", S.rack_keys, "Integer", 0, None)
    for (_c, s, r, _t), var in m.vars["racks"].items():
        var.upBound = S.rack_types[(s, r)][0]
    m.add_vars("rep", S.deploy_keys, "Integer", 0, None)
    if with_slack or S.objective == "max_tokens":
        m.add_vars("unmet", sorted(S.demand), "Continuous", 0, None)
        for (w, t), var in m.vars["unmet"].items():
            var.upBound = S.demand[(w, t)]
    m.add_vars("ordered", sorted({(c, t) for (c, _s, _r, t) in S.buy_keys if c in S.min_order}), "Binary", 0, 1)

    inst = cf.installed_pairs(S, m)
    cf.add_demand(S, m)
    cf.add_servers(S, m, inst)
    cf.add_rack_fill(S, m, inst)
    cf.add_rack_count(S, m)
    cf.add_site_power(S, m, inst)
    cf.add_budget(S, m, MONEY_SCALE)
    cf.add_supply(S, m)
    cf.add_min_order(S, m)
    cf.add_vendor_share(S, m, MONEY_SCALE)

    cost_weight = 1.0 if S.objective == "min_tco" else TIE_BREAK
    capex = [(v, S.price_usd[c] / MONEY_SCALE * cost_weight) for (c, _s, _r, _t), v in m.vars["buy"].items()]
    facility = [(v, S.rack_types[(s, r)][4] / MONEY_SCALE * cost_weight) for (c, s, r, t), v in m.vars["racks"].items()]
    residual = []
    if S.residual_value:
        residual = [(v, -S.price_usd[c] * S.residual_fraction(c, t) / MONEY_SCALE * cost_weight) for (c, s, r, t), v in m.vars["buy"].items()]
    e_pairs, e_const = energy_pairs(S, m, inst)
    e_weight = 1.0 if S.objective in ("min_tco", "min_energy") else TIE_BREAK
    m.add_objective("capex", capex)
    m.add_objective("facility", facility)
    m.add_objective("residual", residual)
    m.add_objective("energy", [(v, c * e_weight) for v, c in e_pairs])
    m.add_objective("epsilon", [(v, EPSILON_COST) for d in ("racks", "rep") for v in m.vars[d].values()])
    if "unmet" in m.vars:
        per = UNMET_PENALTY_USD / MONEY_SCALE if S.objective != "max_tokens" else 1.0
        m.add_objective("unmet", [(v, per) for v in m.vars["unmet"].values()])
    m.set_objective(pulp.LpMinimize)
    return m, e_const * e_weight
