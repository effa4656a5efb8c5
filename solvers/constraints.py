"""Constraint families of the fleet MILP, one function each, with a stable name prefix.

Notation: t quarter, c chip, s site, r rack type, w workload, o deployment option (a chip layout that meets
w's latency and quality targets), v vendor.
Variables: buy[c,s,r,t] servers ordered in t (usable from t + lead_c for life_c quarters), racks[c,s,r,t]
occupied racks, rep[o,s] replicas of option o at site s (o belongs to one workload and quarter),
unmet[w,t] tokens/s not served (only in diagnosis or max-tokens runs), ordered[c,t] binary order flag,
lease[c,t] servers of chip c whose lease contract starts in t (term m_c quarters; they stand at the provider, the
virtual site `lease:<c>`, with no rack positions, site power or facility cost; energy is in the lease price).
inst[c,s,r,t] = fleet[c,s,r,t] + sum_{t': t'+lead_c <= t < t'+lead_c+life_c} buy[c,s,r,t'] (an expression).
active[c,t] = sum_{t' in (t - m_c, t]} lease[c,t'] (an expression).
"""

from __future__ import annotations

import math
from collections import defaultdict

import pulp

from solvers.model import PlanModel, safe_name
from solvers.sets import PlanSets, is_lease_site, lease_site


def installed_pairs(S: PlanSets, m: PlanModel) -> dict[tuple[str, str, str, int], list[tuple[pulp.LpVariable, float]]]:
    """For each (c,s,r,t): the purchase variables alive in t (coefficient 1). Fleet is a constant kept apart."""
    out: dict[tuple[str, str, str, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    buy = m.vars["buy"]
    for (c, s, r, t0), var in buy.items():
        d = S.delivery(c, t0)
        for t in range(d, min(S.T, d + S.life[c])):
            out[(c, s, r, t)].append((var, 1.0))
    return out


def add_demand(S: PlanSets, m: PlanModel) -> None:
    """demand_{w}_{t}:  sum_{o in O(w,t), s} tokens_o * rep[o,s] + unmet[w,t] - spare[w,t] >= D[w,t]   (tokens/s;
    spare only with policy.redundancy n_plus_1, `add_redundancy`).

    Every demand row gets its constraint. A row no option can serve (`S.no_option` says why) and without an
    unmet variable reads `none_{w}_{t} >= D` with `none` fixed at 0: the model is infeasible, never met by omission.
    """
    rep, unmet = m.vars["rep"], m.vars.get("unmet", {})
    by_wt: dict[tuple[str, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (i, _s), var in rep.items():
        o = S.options[i]
        by_wt[(o.workload, o.t)].append((var, o.tokens_per_s))
    for (w, t), need in sorted(S.demand.items()):
        pairs = by_wt.get((w, t), [])
        if (w, t) in unmet:
            pairs = [*pairs, (unmet[(w, t)], 1.0)]
        if (w, t) in m.vars.get("unmet_headroom", {}):  # diagnosis run: the buffer's shortfall apart (`build_model`)
            pairs = [*pairs, (m.vars["unmet_headroom"][(w, t)], 1.0)]
        if (w, t) in m.vars.get("spare", {}) and pairs:
            pairs = [*pairs, (m.vars["spare"][(w, t)], -1.0)]
        if not pairs:
            none = m.prob.add_variable(safe_name("none", w, S.quarters[t]), lowBound=0, upBound=0, cat="Continuous")
            m.vars.setdefault("none", {})[(w, t)] = none
            pairs = [(none, 1.0)]
        m.add(safe_name("demand", w, S.quarters[t]), pairs, ">=", need, family="demand", where=w, quarter=S.quarters[t], unit="USD per token/s")


def redundancy_bound(S: PlanSets, i: int) -> int:
    """M_i: replicas of option i an optimal N+1 plan never exceeds: ceil((D[w,t] + spare_max[w,t]) / tokens_i) + 1
    (one replica fewer would still meet demand with the spare, at no higher cost)."""
    o = S.options[i]
    return int(math.ceil((S.demand[(o.workload, o.t)] + S.spare_max[(o.workload, o.t)]) / o.tokens_per_s)) + 1


def add_redundancy(S: PlanSets, m: PlanModel) -> None:
    """N+1 (policy.redundancy n_plus_1): demand is met with any one deployed replica of the workload lost.

    n1used_{i}:     sum_s rep[i,s] - M_i * used[i] <= 0        (used[i] binary: option i runs at least one replica;
                                                                 M_i = `redundancy_bound`)
    n1spare_{i}:    tokens_i * used[i] - spare[w,t] <= 0        (the spare covers every deployed option's replica)
    and demand_{w}_{t} subtracts spare[w,t] (0 <= spare <= spare_max[w,t], the largest eligible replica): served
    tokens/s minus the largest deployed replica's tokens/s >= D[w,t]. Exact for "lose one replica", anywhere.
    """
    used, spare = m.vars.get("used", {}), m.vars.get("spare", {})
    reps: dict[int, list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (i, _s), var in m.vars["rep"].items():
        if i in used:
            reps[i].append((var, 1.0))
    for i, u in sorted(used.items()):
        o = S.options[i]
        m.add(safe_name("n1used", i), [*reps[i], (u, -float(redundancy_bound(S, i)))], "<=", 0.0,
              family="redundancy_used", where=o.workload, quarter=S.quarters[o.t], unit="replicas")
        m.add(safe_name("n1spare", i), [(u, o.tokens_per_s), (spare[(o.workload, o.t)], -1.0)], "<=", 0.0,
              family="redundancy_spare", where=o.workload, quarter=S.quarters[o.t], unit="tokens/s")


def add_servers(S: PlanSets, m: PlanModel, inst: dict) -> None:
    """servers_{c}_{s}_{t}:  sum_o servers_per_replica_o * rep[o,s] <= sum_r inst[c,s,r,t]   (chips used <= installed)."""
    used: dict[tuple[str, str, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (i, s), var in m.vars["rep"].items():
        o = S.options[i]
        used[(o.chip, s, o.t)].append((var, o.servers_per_replica))
    alive: dict[tuple[str, str, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (c, s, _r, t), lst in inst.items():
        alive[(c, s, t)].extend((v, -1.0) for v, _ in lst)
    fleet: dict[tuple[str, str, int], float] = defaultdict(float)
    for (c, s, _r, t), n in S.fleet.items():
        fleet[(c, s, t)] += n
    for (c, s, t), pairs in sorted(used.items()):
        if is_lease_site(s):
            continue  # leased servers: see add_lease_active
        m.add(safe_name("servers", c, s, S.quarters[t]), [*pairs, *alive[(c, s, t)]], "<=", fleet[(c, s, t)],
              family="servers", where=f"{c} at {s}", quarter=S.quarters[t], unit="USD per server")


def add_rack_fill(S: PlanSets, m: PlanModel, inst: dict) -> None:
    """rackfill_{c}_{s}_{r}_{t}:  inst[c,s,r,t] <= fit[c,s,r] * racks[c,s,r,t]   (fit = servers per rack by power, space, cooling)."""
    racks = m.vars["racks"]
    for (c, s, r, t), var in racks.items():
        pairs = [*inst.get((c, s, r, t), []), (var, -float(S.fit[(c, s, r)]))]
        m.add(safe_name("rackfill", c, s, r, S.quarters[t]), pairs, "<=", -float(S.fleet.get((c, s, r, t), 0)), family="rack_fill", where=f"{c} in {s}/{r}", quarter=S.quarters[t], unit="USD per server slot")


def add_rack_count(S: PlanSets, m: PlanModel) -> None:
    """rackcount_{s}_{r}_{t}:  sum_c racks[c,s,r,t] <= count[s,r]   (rack positions; one chip type per rack)."""
    by: dict[tuple[str, str, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (_c, s, r, t), var in m.vars["racks"].items():
        by[(s, r, t)].append((var, 1.0))
    for (s, r, t), pairs in sorted(by.items()):
        m.add(safe_name("rackcount", s, r, S.quarters[t]), pairs, "<=", float(S.rack_types[(s, r)][0]), family="rack_positions", where=f"{s}/{r}", quarter=S.quarters[t], unit="USD per rack position")


def add_site_power(S: PlanSets, m: PlanModel, inst: dict) -> None:
    """sitepower_{s}_{t}:  sum_{c,r} server_kw_c * inst[c,s,r,t] <= it_power_cap_kw_s   (nameplate IT power).

    Added for every (s, t) where any server stands or may stand, existing fleet included: with no purchase
    possible the row is `zero_{s}_{t} <= cap - fleet_kw` on a variable fixed at 0, so a fleet over the cap is
    infeasible (and, in a diagnosis run, its slack says by how many kW).
    """
    by: dict[tuple[str, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    fleet_kw: dict[tuple[str, int], float] = defaultdict(float)
    for (c, s, _r, t), lst in inst.items():
        by[(s, t)].extend((v, S.server_kw[c]) for v, _ in lst)
    for (c, s, _r, t), n in S.fleet.items():
        if n:
            fleet_kw[(s, t)] += n * S.server_kw[c]
    for s in S.sites:
        for t in range(S.T):
            if by.get((s, t)) or (s, t) in fleet_kw:
                name = safe_name("sitepower", s, S.quarters[t])
                m.add(name, by.get((s, t)) or [(zero_var(m, name), 1.0)], "<=", S.site_cap_kw[s] - fleet_kw.get((s, t), 0.0),
                      family="site_power", where=s, quarter=S.quarters[t], unit="USD per kW of IT power")


def zero_var(m: PlanModel, name: str) -> pulp.LpVariable:
    """A variable fixed at 0 that keeps a row with no decision in it (a limit on the existing fleet alone) in the model."""
    var = m.prob.add_variable(safe_name("zero", name), lowBound=0, upBound=0, cat="Continuous")
    m.vars.setdefault("zero", {})[name] = var
    return var


def capex_pairs(S: PlanSets, m: PlanModel, scale: float) -> dict[int, list[tuple[pulp.LpVariable, float]]]:
    """Capex by the quarter it counts in (order or delivery), in units of `scale` USD."""
    out: dict[int, list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (c, _s, _r, t), var in m.vars["buy"].items():
        out[S.capex_t(c, t)].append((var, S.price_usd[c] / scale))
    return out


def add_budget(S: PlanSets, m: PlanModel, scale: float) -> None:
    """budget_{t}: capex_t <= B_t ;  budget_total: sum_t capex_t <= B   (USD, scaled).

    Budgets are the horizon's: capex counted in a demand-tail quarter (policy.horizon_tail_quarters) is outside them.
    """
    by_t = {t: pairs for t, pairs in capex_pairs(S, m, scale).items() if t < S.planned_T}
    for t, limit in sorted(S.budget_q.items()):
        if by_t.get(t):
            m.add(safe_name("budget", S.quarters[t]), by_t[t], "<=", limit / scale, family="budget_quarter", where="capex", quarter=S.quarters[t], unit="USD per USD of quarterly budget")
    if S.budget_total is not None:
        allp = [p for lst in by_t.values() for p in lst]
        if allp:
            m.add("budget_total", allp, "<=", S.budget_total / scale, family="budget_total", where="capex", unit="USD per USD of total budget")


def add_supply(S: PlanSets, m: PlanModel) -> None:
    """supply_chip_{c}_{t}: sum_{s,r} buy[c,s,r,t] <= cap_c ;  supply_vendor_{v}_{t}: sum_{c of v} ... <= cap_v   (servers)."""
    by_ct: dict[tuple[str, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (c, _s, _r, t), var in m.vars["buy"].items():
        by_ct[(c, t)].append((var, 1.0))
    for (c, t), pairs in sorted(by_ct.items()):
        if c in S.supply_cap:
            m.add(safe_name("supply_chip", c, S.quarters[t]), pairs, "<=", float(S.supply_cap[c]), family="supply_chip", where=c, quarter=S.quarters[t], unit="USD per server of supply")
    for v, cap in sorted(S.vendor_cap.items()):
        for t in range(S.T):
            pairs = [p for (c, tt), lst in by_ct.items() if tt == t and S.vendor_of[c] == v for p in lst]
            if pairs:
                m.add(safe_name("supply_vendor", v, S.quarters[t]), pairs, "<=", float(cap), family="supply_vendor", where=v, quarter=S.quarters[t], unit="USD per server of supply")


def add_min_order(S: PlanSets, m: PlanModel) -> None:
    """minorder_lo_{c}_{t}: sum buy[c,.,.,t] >= min_c * ordered[c,t]  and  minorder_hi_{c}_{t}: sum buy[c,.,.,t] <= M *
    ordered[c,t]   (nothing or at least min_c). Only the `_lo` row is the limit (family `min_order`, relaxed in a
    diagnosis run); `_hi` links the flag to the order (family `min_order_link`)."""
    ordered = m.vars.get("ordered", {})
    by_ct: dict[tuple[str, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (c, _s, _r, t), var in m.vars["buy"].items():
        by_ct[(c, t)].append((var, 1.0))
    for (c, t), y in ordered.items():
        pairs = by_ct[(c, t)]
        big = float(S.supply_cap.get(c, sum(S.rack_types[(s, r)][0] * S.fit[(c, s, r)] for (cc, s, r) in S.fit if cc == c)))
        m.add(safe_name("minorder_lo", c, S.quarters[t]), [*pairs, (y, -float(S.min_order[c]))], ">=", 0.0, family="min_order", where=c, quarter=S.quarters[t], unit="servers")
        m.add(safe_name("minorder_hi", c, S.quarters[t]), [*pairs, (y, -big)], "<=", 0.0, family="min_order_link", where=c, quarter=S.quarters[t], unit="servers")


def add_vendor_share(S: PlanSets, m: PlanModel, scale: float) -> None:
    """vendorshare_{v}: sum_{c of v} capex_c <= share_v * sum_c capex_c   (USD, scaled)."""
    buy = m.vars["buy"]
    for v, share in sorted(S.vendor_share.items()):
        pairs = [(var, S.price_usd[c] / scale * ((1.0 if S.vendor_of[c] == v else 0.0) - share)) for (c, s, r, t), var in buy.items()]
        if any(S.vendor_of[c] == v for (c, _, _, _) in buy):
            m.add(safe_name("vendorshare", v), pairs, "<=", 0.0, family="vendor_share", where=v, unit="USD per USD of vendor share")


def lease_active_pairs(S: PlanSets, m: PlanModel) -> dict[tuple[str, int], list[tuple[pulp.LpVariable, float]]]:
    """For each (c,t): the lease-start variables whose contract is active in t (coefficient 1)."""
    lease = m.vars.get("lease", {})
    out: dict[tuple[str, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (c, t0), var in lease.items():
        for t in range(t0, min(S.T, t0 + S.lease[c].term)):
            out[(c, t)].append((var, 1.0))
    return out


def add_lease_active(S: PlanSets, m: PlanModel) -> None:
    """lease_active_{c}_{t}:  sum_o servers_per_replica_o * rep[o, lease:c] - sum_{t' in (t-m_c, t]} lease[c,t']
    <= leased[c,t]   (replicas on leased servers fit the servers under contract in t: new contracts plus those
    signed before the plan, `PlanSets.leased`)."""
    active = lease_active_pairs(S, m)
    used: dict[tuple[str, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for (i, s), var in m.vars["rep"].items():
        o = S.options[i]
        if s == lease_site(o.chip):
            used[(o.chip, o.t)].append((var, o.servers_per_replica))
    for (c, t), pairs in sorted(used.items()):
        m.add(safe_name("lease_active", c, S.quarters[t]), [*pairs, *((v, -1.0) for v, _ in active[(c, t)])], "<=",
              float(S.leased.get((c, t), 0)),
              family="lease_active", where=lease_site(c), quarter=S.quarters[t], unit="USD per leased server")


def add_lease_cap(S: PlanSets, m: PlanModel) -> None:
    """lease_cap_{c}_{t}:  chips_per_server_c * sum_{t' in (t-m_c, t]} lease[c,t'] <= max(0, cap_c - chips_per_server_c
    x leased[c,t])   (chips leased at once; contracts signed before the plan count, and are kept even above the cap)."""
    for (c, t), pairs in sorted(lease_active_pairs(S, m).items()):
        cap = S.lease[c].cap_chips
        if cap is None:
            continue
        k = float(S.chips[c].server.chips_per_server)
        m.add(safe_name("lease_cap", c, S.quarters[t]), [(v, k) for v, _ in pairs], "<=",
              max(0.0, float(cap) - k * S.leased.get((c, t), 0)),
              family="lease_cap", where=lease_site(c), quarter=S.quarters[t], unit="USD per chip of lease capacity")
