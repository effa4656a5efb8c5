"""Why this chip and not that one: every candidate chip per workload and quarter, its cost per served token/s and
the reason a rejected one lost.

Cost of one replica per quarter, divided by the tokens/s it serves (USD per quarter per token/s):
  amortised capex = net horizon cost of a server (price after discounts - resale value at the horizon's end, as
            the objective charges it) x servers per replica / the quarters it serves inside the horizon: amortised
            capex, not cash (the cash is the whole price, paid in the order or delivery quarter);
  energy  = replica kW x PUE x hours per quarter x USD/kWh of the cheapest site the layout may use;
  facility= rack facility USD per quarter / servers per rack x servers per replica (same site and rack type);
  lease   = lease USD per server-quarter x servers per replica (energy included; no facility), for chips that
            may be leased; a chip's cost is the cheaper of buying and leasing (`acquire` says which).
The best layout of a chip is its cheapest option. Reasons for a chip the plan does not use in that quarter:
  `latency/memory`: no layout meets the TTFT/TPOT targets with the model and KV cache in memory;
  `price`: its best layout costs more per token/s than the chosen chip's;
  `lead time`: it cannot be ordered early enough to be in service that quarter;
  `rack/power fit`: no rack type at an allowed site takes its servers (cooling, power, space);
  `limits`: cheaper per token/s, but shared limits (supply caps, budgets, site power, rack count, minimum orders)
  kept the plan from using it - see the binding limits.
These are per-replica screening figures, not the MILP's exact costs (integer servers and racks are ignored).
"""

from __future__ import annotations

from typing import Any

from solvers.sets import HOURS_PER_QUARTER, PlanSets, lease_site

COLUMNS = ["workload", "quarter", "chip", "chosen", "best_layout", "acquire", "usd_per_token_s_quarter",
           "amortised_capex_usd_per_token_s_quarter", "energy_usd_per_token_s_quarter", "facility_usd_per_token_s_quarter",
           "lease_usd_per_token_s_quarter", "vs_chosen_fraction", "reason"]


def _option_cost(S: PlanSets, o: Any, sites: set[str]) -> tuple[float, float, float, float] | None:
    """(amortised capex, energy, facility, lease) USD per quarter per token/s of one option at its cheapest site,
    bought (lease 0) or leased (the others 0), whichever is cheaper; None if it can be neither."""
    lease = None
    if lease_site(o.chip) in sites and o.tokens_per_s > 0:
        per = S.lease[o.chip].usd_per_server_quarter(S.chips[o.chip].server.chips_per_server)
        lease = (0.0, 0.0, 0.0, per * o.servers_per_replica / o.tokens_per_s)
    bought = _buy_cost(S, o, sites)
    if bought is None or (lease is not None and sum(lease) < sum(bought)):
        return lease
    return bought


def _buy_cost(S: PlanSets, o: Any, sites: set[str]) -> tuple[float, float, float, float] | None:
    price = S.price_usd.get(o.chip)
    if price is None or o.tokens_per_s <= 0:
        return None
    t0 = max(S.first_order_t.get(o.chip, 0), o.t - S.lead.get(o.chip, 0), 0)
    serving = max(1, min(S.life[o.chip], S.T - max(o.t, S.delivery(o.chip, t0))))
    net = S.net_unit_cost(o.chip, t0) if S.delivery(o.chip, t0) <= S.T - 1 else price
    capex = net * o.servers_per_replica / serving
    best: tuple[float, float] | None = None
    for (c, s, r), per_rack in S.fit.items():
        if c != o.chip or s not in sites or per_rack <= 0:
            continue
        energy = o.power_kw * S.pue[s] * HOURS_PER_QUARTER * S.usd_per_kwh[s]
        facility = S.rack_types[(s, r)][4] / per_rack * o.servers_per_replica
        if best is None or energy + facility < sum(best):
            best = (energy, facility)
    if best is None:
        return None
    return capex / o.tokens_per_s, best[0] / o.tokens_per_s, best[1] / o.tokens_per_s, 0.0


def _layout(o: Any) -> str:
    return f"{o.precision} TP{o.tp} PP{o.pp} EP{o.ep} ({o.chips_per_replica} chips/replica, {o.tokens_per_s:,.0f} tok/s)"


def explain_candidates(S: PlanSets, plan_doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (workload, quarter, candidate chip), chosen and rejected, with the reason it lost."""
    used = {(d["workload"], d["quarter"], d["chip"]) for d in plan_doc.get("deployments", []) if d.get("replicas", 0) > 0}
    sites_of: dict[int, set[str]] = {}
    for i, s in S.deploy_keys:
        sites_of.setdefault(i, set()).add(s)
    best: dict[tuple[str, int, str], tuple[float, tuple[float, float, float, float] | None, Any]] = {}
    workloads = sorted({o.workload for o in S.options} | {w for w, _ in S.demand})
    for o in S.options:
        cost = _option_cost(S, o, sites_of.get(o.index, set()))
        total = sum(cost) if cost else float("inf")
        key = (o.workload, o.t, o.chip)
        if key not in best or total < best[key][0]:
            best[key] = (total, cost, o)
    rows = []
    for w in workloads:
        for t, q in enumerate(S.quarters):
            if (w, t) not in S.demand:
                continue
            chosen_costs = [best[(w, t, c)][0] for c in S.chips if (w, q, c) in used and (w, t, c) in best]
            ref = min(chosen_costs) if chosen_costs else None
            for c in sorted(S.chips):
                rows.append(_row(S, w, t, q, c, best.get((w, t, c)), (w, q, c) in used, ref))
    return rows


def _row(S: PlanSets, w: str, t: int, q: str, c: str, entry: Any, chosen: bool, ref: float | None) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(workload=w, quarter=q, chip=c, chosen=chosen)
    if entry is None:
        row["reason"] = "latency/memory: no layout meets the latency targets with the model in memory"
        return row
    total, cost, o = entry
    row["best_layout"] = _layout(o)
    if cost is None:
        row["reason"] = "" if chosen else "rack/power fit: no rack type at an allowed site takes its servers"
        return row
    row.update(usd_per_token_s_quarter=round(total, 6), amortised_capex_usd_per_token_s_quarter=round(cost[0], 6),
               energy_usd_per_token_s_quarter=round(cost[1], 6), facility_usd_per_token_s_quarter=round(cost[2], 6),
               lease_usd_per_token_s_quarter=round(cost[3], 6), acquire="lease" if cost[3] > 0 else "buy")
    if ref:
        row["vs_chosen_fraction"] = round(total / ref - 1.0, 4)
    if chosen:
        row["reason"] = ""
    elif c in S.first_order_t and t < S.first_order_t[c] + S.lead.get(c, 0) and not _in_fleet(S, c, t):
        row["reason"] = f"lead time: first in service {S.quarters[min(len(S.quarters) - 1, S.first_order_t[c] + S.lead.get(c, 0))]}" \
            if S.first_order_t[c] + S.lead.get(c, 0) < len(S.quarters) else "lead time: not in service within the horizon"
    elif ref is not None and total > ref:
        row["reason"] = f"price: {total / ref - 1:+.0%} per token/s vs the chosen chip"
    elif ref is None:
        row["reason"] = "not served by any chip this quarter (see diagnosis)"
    else:
        row["reason"] = "limits: cheaper per token/s but held back by supply, budget, site power, racks or minimum orders"
    return row


def _in_fleet(S: PlanSets, c: str, t: int) -> bool:
    return any(k[0] == c and k[3] == t and n > 0 for k, n in S.fleet.items())


def cheapest_rejected(rows: list[dict[str, Any]]) -> list[str]:
    """Per workload, in its first quarter with a plan: the cheapest chip not used and why (report sentences)."""
    out, seen = [], set()
    for r in rows:
        if r["workload"] in seen or r["chosen"] or r["usd_per_token_s_quarter"] is None:
            continue
        same = [x for x in rows if x["workload"] == r["workload"] and x["quarter"] == r["quarter"]]
        if not any(x["chosen"] for x in same):
            continue
        rejected = [x for x in same if not x["chosen"] and x["usd_per_token_s_quarter"] is not None]
        best = min(rejected, key=lambda x: x["usd_per_token_s_quarter"])
        chosen = ", ".join(sorted(x["chip"] for x in same if x["chosen"]))
        seen.add(r["workload"])
        out.append(f"{r['workload']} ({r['quarter']}): uses {chosen}; cheapest rejected chip {best['chip']} at "
                   f"${best['usd_per_token_s_quarter']:,.3f} per token/s per quarter - {best['reason']}")
    return out
