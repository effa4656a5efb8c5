"""Greedy baseline: quarter by quarter, fill each workload's demand with the lowest USD-per-token option.

What a spreadsheet planner would do: first use servers under lease contracts signed before the plan (kept by a
re-plan: already paid, energy included), then installed servers that are free, then buy just in time
(ordered lead-time quarters before the quarter that needs them) the option with the lowest cost per token/s
(capex plus energy over the rest of the horizon), within rack space, site power, supply caps and budgets.
It never signs a new lease. The result is expressed as values of the MILP's variables, so the same extraction and
the same independent constraint check apply, and the two plans' TCOs compare like for like (contracts kept by a
re-plan are costed by the extraction in both).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from solvers.build import build_model
from solvers.extract import Extracted, extract
from solvers.model import PlanModel
from solvers.sets import HOURS_PER_QUARTER, PlanSets, is_lease_site, lease_site


@dataclass
class GreedyResult:
    feasible: bool
    reason: str
    model: PlanModel
    values: dict[str, float]
    extracted: Extracted | None


def _cost_per_token(S: PlanSets, o, t: int, s: str) -> float:  # type: ignore[no-untyped-def]
    capex = S.price_usd.get(o.chip, math.inf) * o.servers_per_replica  # lease-only chips: only their fleet is used
    energy = o.power_kw * S.pue[s] * HOURS_PER_QUARTER * S.usd_per_kwh[s] * (S.T - t)
    return (capex + energy) / o.tokens_per_s


def greedy_plan(S: PlanSets) -> GreedyResult:
    """Build the greedy plan; `feasible` is False (with the reason) when it cannot meet some demand."""
    m, const = build_model(S)
    buys: dict[tuple[str, str, str, int], int] = defaultdict(int)
    inst: dict[tuple[str, str, str, int], int] = defaultdict(int, S.fleet)
    reps: dict[tuple[int, str], int] = defaultdict(int)
    spent_q: dict[int, float] = defaultdict(float)
    spent = 0.0
    supply_used: dict[tuple[str, int], int] = defaultdict(int)
    vendor_used: dict[tuple[str, int], int] = defaultdict(int)
    deploy_sites: dict[int, list[str]] = defaultdict(list)
    for i, s in S.deploy_keys:
        deploy_sites[i].append(s)
    by_wt: dict[tuple[str, int], list] = defaultdict(list)
    for o in S.options:
        by_wt[(o.workload, o.t)].append(o)
    # inst's keys per (site, quarter), in inst's insertion order: the sums below visit the same entries in the same
    # order as a scan of all of inst would (identical float results), without the scan (quadratic at scale)
    keys_st: dict[tuple[str, int], list[tuple[str, str, str, int]]] = defaultdict(list)
    for key in inst:
        keys_st[(key[1], key[3])].append(key)

    def racks_of(s: str, r: str, t: int) -> int:
        return sum(math.ceil(inst[k] / S.fit[(k[0], s, r)]) for k in keys_st[(s, t)] if k[2] == r and inst[k])

    def kw_of(s: str, t: int) -> float:
        return sum(inst[k] * S.server_kw[k[0]] for k in keys_st[(s, t)])

    def installed(c: str, s: str, t: int) -> int:
        return sum(inst[k] for k in keys_st[(s, t)] if k[0] == c)

    for t in range(S.T):
        used: dict[tuple[str, str], float] = defaultdict(float)
        for w in sorted({w for (w, tt) in S.demand if tt == t}):
            need = S.demand[(w, t)] + S.spare_max.get((w, t), 0.0)  # N+1: the baseline keeps the largest eligible replica spare
            # 0) servers under contracts signed before the plan (`S.leased`), most tokens/s per server first: paid
            # for already, so free to use; the greedy baseline never signs a new contract
            for o in sorted(by_wt[(w, t)], key=lambda o: (-o.tokens_per_s / o.servers_per_replica, o.index)):
                s = lease_site(o.chip)
                if need <= 1e-9:
                    break
                if s not in deploy_sites[o.index]:
                    continue
                free = S.leased.get((o.chip, t), 0) - used[(o.chip, s)]
                k = min(int(free / o.servers_per_replica + 1e-9), math.ceil(need / o.tokens_per_s))
                if k > 0:
                    reps[(o.index, s)] += k
                    used[(o.chip, s)] += k * o.servers_per_replica
                    need -= k * o.tokens_per_s
            # then buy (leased servers stand at virtual sites, skipped below)
            ranked = sorted((_cost_per_token(S, o, t, s), o.index, s) for o in by_wt[(w, t)] for s in deploy_sites[o.index]
                            if not is_lease_site(s))
            # 1) installed servers that are free this quarter
            for _, i, s in ranked:
                if need <= 1e-9:
                    break
                o = S.options[i]
                free = installed(o.chip, s, t) - used[(o.chip, s)]
                k = min(int(free / o.servers_per_replica + 1e-9), math.ceil(need / o.tokens_per_s))
                if k > 0:
                    reps[(i, s)] += k
                    used[(o.chip, s)] += k * o.servers_per_replica
                    need -= k * o.tokens_per_s
            # 2) buy just in time, cheapest option first
            for _, i, s in ranked:
                if need <= 1e-9:
                    break
                o = S.options[i]
                c = o.chip
                t0 = t - S.lead.get(c, 0)
                if c not in S.buyable or t0 < S.first_order_t.get(c, 0) or t0 < 0:
                    continue
                k_rep = math.ceil(need / o.tokens_per_s)
                free = installed(c, s, t) - used[(c, s)]
                want = max(0, math.ceil(k_rep * o.servers_per_replica - free - 1e-9))
                alive = range(t, min(S.T, t + S.life[c]))
                for (cc, ss, r) in sorted(S.fit):
                    if want <= 0 or cc != c or ss != s:
                        continue
                    fit = S.fit[(c, s, r)]
                    n = want
                    if c in S.supply_cap:
                        n = min(n, S.supply_cap[c] - supply_used[(c, t0)])
                    v = S.vendor_of[c]
                    if v in S.vendor_cap:
                        n = min(n, S.vendor_cap[v] - vendor_used[(v, t0)])
                    tq = S.capex_t(c, t0)
                    if tq in S.budget_q:
                        n = min(n, int((S.budget_q[tq] - spent_q[tq]) // S.price_usd[c]))
                    if S.budget_total is not None:
                        n = min(n, int((S.budget_total - spent) // S.price_usd[c]))
                    for q in alive:
                        n = min(n, int((S.site_cap_kw[s] - kw_of(s, q)) // S.server_kw[c]))
                        have = inst.get((c, s, r, q), 0)
                        spare_racks = S.rack_types[(s, r)][0] - racks_of(s, r, q)
                        n = min(n, spare_racks * fit + (math.ceil(have / fit) * fit - have))
                    if n <= 0:
                        continue
                    buys[(c, s, r, t0)] += n
                    for q in alive:
                        if (c, s, r, q) not in inst:
                            keys_st[(s, q)].append((c, s, r, q))
                        inst[(c, s, r, q)] += n
                    supply_used[(c, t0)] += n
                    vendor_used[(S.vendor_of[c], t0)] += n
                    spent_q[tq] += n * S.price_usd[c]
                    spent += n * S.price_usd[c]
                    want -= n
                free = installed(c, s, t) - used[(c, s)]
                k = min(int(free / o.servers_per_replica + 1e-9), k_rep)
                if k > 0:
                    reps[(i, s)] += k
                    used[(c, s)] += k * o.servers_per_replica
                    need -= k * o.tokens_per_s
            if need > 1e-6:
                return GreedyResult(False, f"greedy could not serve {w} in {S.quarters[t]}: {need:,.0f} tokens/s short", m, {}, None)

    values: dict[str, float] = {}
    for key, var in m.vars["buy"].items():
        values[var.name] = float(buys.get(key, 0))
    for (c, s, r, t), var in m.vars["racks"].items():
        values[var.name] = float(math.ceil(inst.get((c, s, r, t), 0) / S.fit[(c, s, r)]))
    for key, var in m.vars["rep"].items():
        values[var.name] = float(reps.get(key, 0))
    return GreedyResult(True, "", m, values, extract(S, m, values, const))
