"""Stage 4 of the pipeline: turn solver values into tidy plan tables (lists of row dicts).

Racks are aggregated in the MILP (integer counts per site, rack type and chip); here servers are packed
into numbered rack positions, keeping each rack's hardware in place from quarter to quarter.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from planner.schemas.common import quarter_range
from solvers.build import fleet_depreciation
from solvers.constraints import installed_pairs
from solvers.model import PlanModel
from solvers.sets import HOURS_PER_QUARTER, MONEY_SCALE, PlanSets, is_lease_site, lease_site

#: objective name, unit and KPI holding its value, per policy.objective (kpis.objective_name / _unit / _value)
OBJECTIVES = {
    "min_tco": ("net horizon cost", "USD", "net_cost_usd"),
    "min_energy": ("energy cost", "USD of energy", "energy_usd"),
    "max_tokens": ("tokens served", "tokens", "served_tokens"),
}

SECONDS_PER_QUARTER = HOURS_PER_QUARTER * 3600.0


@dataclass
class Extracted:
    """Tidy tables of one solution."""

    purchases: list[dict[str, Any]] = field(default_factory=list)
    racks: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    capacity: list[dict[str, Any]] = field(default_factory=list)
    power: list[dict[str, Any]] = field(default_factory=list)
    leases: list[dict[str, Any]] = field(default_factory=list)
    lease_contracts: list[dict[str, Any]] = field(default_factory=list)
    #: contracts signed before the plan (kept by a re-plan), measured on this plan's quarters; not the plan's own
    committed_lease_contracts: list[dict[str, Any]] = field(default_factory=list)
    kpis: dict[str, Any] = field(default_factory=dict)


def _ival(values: dict[str, float], var: Any) -> int:
    return int(round(values.get(var.name, 0.0)))


def installed_counts(S: PlanSets, m: PlanModel, values: dict[str, float]) -> dict[tuple[str, str, str, int], int]:
    """Servers standing in each (chip, site, rack type, quarter): existing fleet plus deliveries still in service."""
    inst: dict[tuple[str, str, str, int], int] = defaultdict(int)
    for key, n in S.fleet.items():
        inst[key] += n
    for key, lst in installed_pairs(S, m).items():
        inst[key] += sum(_ival(values, v) for v, _ in lst)
    return {k: v for k, v in inst.items() if v > 0}


def pack_racks(S: PlanSets, inst: dict[tuple[str, str, str, int], int]) -> dict[tuple[str, str, int], list[tuple[int, str, int]]]:
    """Assign servers to numbered racks per (site, rack type, quarter) -> [(rack index, chip, servers)].

    Each rack holds one chip type, at most fit[c,s,r] servers. A chip keeps the racks it held in the previous
    quarter (lowest indices first) and takes the lowest free index when it needs more.
    """
    out: dict[tuple[str, str, int], list[tuple[int, str, int]]] = {}
    by_srt: dict[tuple[str, str, int], list[tuple[str, int]]] = defaultdict(list)  # one pass over inst
    for (c, ss, rr, tt), n in inst.items():
        by_srt[(ss, rr, tt)].append((c, n))
    for (s, r), (count, *_rest) in sorted(S.rack_types.items()):
        held: dict[str, list[int]] = defaultdict(list)
        for t in range(S.T):
            need = {c: math.ceil(n / S.fit[(c, s, r)]) for c, n in by_srt[(s, r, t)]}
            for c in list(held):
                keep = need.get(c, 0)
                held[c] = sorted(held[c])[:keep]
            used = {i for lst in held.values() for i in lst}
            free = [i for i in range(1, count + 1) if i not in used]
            for c in sorted(need):
                while len(held[c]) < need[c] and free:
                    held[c].append(free.pop(0))
            rows = []
            for c in sorted(need):
                left = inst[(c, s, r, t)]
                for i in sorted(held[c]):
                    k = min(left, S.fit[(c, s, r)])
                    if k > 0:
                        rows.append((i, c, k))
                    left -= k
            out[(s, r, t)] = rows
    return out


def extract(S: PlanSets, m: PlanModel, values: dict[str, float], objective_constant: float) -> Extracted:
    """Build every result table from the solution values."""
    ex = Extracted()
    T = S.T
    # purchases
    for (c, s, r, t), var in sorted(m.vars["buy"].items()):
        n = _ival(values, var)
        if n <= 0:
            continue
        ex.purchases.append(purchase_row(S, c, s, r, t, n))
    ex.leases, ex.lease_contracts = lease_rows(S, m, values)
    kept_rows, ex.committed_lease_contracts = committed_lease_rows(S)
    ex.leases += kept_rows
    # racks
    inst = installed_counts(S, m, values)
    packed = pack_racks(S, inst)
    rack_rows_by: dict[tuple[str, str, int], list[tuple[str, int]]] = defaultdict(list)  # (c,s,t) -> [(rack id, servers)]
    for (s, r), (_count, kw, units, _cool, _fac) in sorted(S.rack_types.items()):
        for t in range(T):
            for i, c, k in packed.get((s, r, t), []):
                rid = f"{s}/{r}/{i:04d}"
                ex.racks.append({
                    "quarter": S.quarters[t], "site": s, "rack": rid, "rack_type": r, "chip": c, "servers": k,
                    "power_kw": round(k * S.server_kw[c], 3), "power_cap_kw": kw,
                    "rack_units": k * S.chips[c].server.rack_units, "rack_units_cap": units,
                })
                rack_rows_by[(c, s, t)].append((rid, k))
    # deployments: whole replicas placed rack by rack (a replica larger than a rack's free servers spans racks of the site)
    served: dict[tuple[str, int], float] = defaultdict(float)
    avg_kw: dict[tuple[str, int], float] = defaultdict(float)
    free = {key: [[rid, float(k)] for rid, k in rows] for key, rows in rack_rows_by.items()}
    for (i, s), var in sorted(m.vars["rep"].items()):
        n = _ival(values, var)
        if n <= 0:
            continue
        o = S.options[i]
        served[(o.workload, o.t)] += n * o.tokens_per_s
        if not is_lease_site(s):  # leased servers draw no site power: their energy is in the lease price
            avg_kw[(s, o.t)] += n * max(0.0, o.power_kw - S.idle_kw[o.chip] * o.servers_per_replica)
        placed: dict[str, int] = defaultdict(int)
        pool = free.get((o.chip, s, o.t), [])
        # First fit, replica by replica. Free servers only ever decrease, so a rack too full for one replica of
        # this option stays too full for the next: both scans resume where they stopped (linear, not quadratic).
        fit_k = nonzero_k = 0
        for _ in range(n):
            need = o.servers_per_replica
            while fit_k < len(pool) and pool[fit_k][1] + 1e-9 < need:
                fit_k += 1
            if fit_k == len(pool):  # spans racks: take servers from several racks of the site
                while nonzero_k < len(pool) and pool[nonzero_k][1] <= 1e-9:
                    nonzero_k += 1
                rid = pool[nonzero_k][0] if nonzero_k < len(pool) else (s if is_lease_site(s) else f"{s}/pool")
                k = nonzero_k
                while need > 1e-9 and k < len(pool):
                    slot = pool[k]
                    if slot[1] > 1e-9:
                        take = min(slot[1], need)
                        slot[1] -= take
                        need -= take
                    if slot[1] <= 1e-9:
                        k += 1
                placed[rid] += 1
            else:
                pool[fit_k][1] -= need
                placed[pool[fit_k][0]] += 1
        for rid, k in placed.items():
            ex.deployments.append({
                "quarter": S.quarters[o.t], "site": s, "rack": rid, "workload": o.workload, "model": o.model,
                "chip": o.chip, "precision": o.precision, "tp": o.tp, "pp": o.pp, "ep": o.ep, "dp": o.dp, "replicas": k,
                "chips": k * o.chips_per_replica, "tokens_per_s": round(k * o.tokens_per_s, 3),
                "power_kw": round(k * o.power_kw, 3), "batch": o.batch, "ttft_ms": round(o.ttft_ms, 2), "tpot_ms": round(o.tpot_ms, 2),
            })
    # capacity
    unmet_vars, spare_vars = m.vars.get("unmet", {}), m.vars.get("spare", {})
    head_vars = m.vars.get("unmet_headroom", {})  # diagnosis run: the headroom buffer's shortfall (`build_model`)
    for (w, t), need in sorted(S.demand.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        got = served[(w, t)]
        if (w, t) in spare_vars:  # N+1: the largest deployed replica's tokens/s are required on top
            need += max(0.0, values.get(spare_vars[(w, t)].name, 0.0))
        ex.capacity.append({
            "quarter": S.quarters[t], "workload": w, "demand_tokens_per_s": S.forecast[(w, t)],
            "required_tokens_per_s": round(need, 3), "served_tokens_per_s": round(got, 3),
            "unmet_tokens_per_s": round(max(0.0, need - got), 3) if (w, t) not in unmet_vars else round(max(0.0, values.get(
                unmet_vars[(w, t)].name, 0.0)) + max(0.0, values.get(getattr(head_vars.get((w, t)), "name", ""), 0.0)), 3),
        })
    # power and energy
    energy_usd = energy_kwh = 0.0
    by_site_t: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)  # one pass, in inst's order
    for (c, ss, _r, tt), n in inst.items():
        by_site_t[(ss, tt)].append((c, n))
    for s in S.sites:
        for t in range(T):
            it_kw = sum(n * S.server_kw[c] for c, n in by_site_t[(s, t)])
            idle = sum(n * S.idle_kw[c] for c, n in by_site_t[(s, t)])
            draw = idle + avg_kw[(s, t)]
            kwh = draw * S.pue[s] * HOURS_PER_QUARTER
            energy_kwh += kwh
            energy_usd += kwh * S.usd_per_kwh[s]
            ex.power.append({
                "quarter": S.quarters[t], "site": s, "it_power_kw": round(it_kw, 3), "average_it_power_kw": round(draw, 3),
                "facility_power_kw": round(it_kw * S.pue[s], 3), "cap_kw": S.site_cap_kw[s],
            })
    facility = sum(_ival(values, v) * S.rack_types[(s, r)][4] for (c, s, r, t), v in m.vars["racks"].items())
    # tokens actually served, at the forecast peak rate: capacity beyond the forecast serves nothing, short rows count what is served
    tokens = sum(min(S.forecast[k], served[k]) for k in S.forecast) * SECONDS_PER_QUARTER
    it_energy_j = sum(p["average_it_power_kw"] for p in ex.power) * 1000.0 * SECONDS_PER_QUARTER
    ex.kpis = money_kpis(S, ex, energy_usd, facility, tokens)
    ex.kpis.update({
        "energy_mwh": round(energy_kwh / 1000.0, 3), "served_tokens": tokens,
        "joules_per_token": round(it_energy_j / tokens, 6) if tokens else None,
        "objective_scale_usd": MONEY_SCALE, "objective_constant_usd": round(objective_constant * MONEY_SCALE, 2),
    })
    name, unit, key = OBJECTIVES[S.objective]
    ex.kpis.update({"objective_name": name, "objective_unit": unit, "objective_value": ex.kpis[key]})
    if S.tail_quarters:
        for rows in (ex.purchases, ex.racks, ex.deployments, ex.capacity, ex.power, ex.leases):
            for row in rows:
                row["tail"] = row.get("quarter", row.get("order_quarter")) in S.tail_quarters
    return ex


def purchase_row(S: PlanSets, c: str, s: str, r: str, t: int, n: int) -> dict[str, Any]:
    """One purchase line: n servers of c ordered in t for site s / rack type r, with its price build-up and what
    the horizon charges for it (depreciation inside it; book value at its end)."""
    chip, p = S.chips[c], S.price[c]
    dep, nbv = S.depreciation_in_horizon(c, t), S.book_value_end(c, t)
    comps = {k: round(v, 2) for k, v in p.components.items()}
    unit = round(sum(comps.values()), 2)  # the lines rounded first, so sum(price_components) == unit_price_usd
    return {
        "order_quarter": S.quarters[t], "delivery_quarter": S.quarters[S.delivery(c, t)],
        "payment_quarter": S.quarters[S.capex_t(c, t)], "site": s, "rack_type": r,
        "chip": c, "vendor": chip.vendor, "servers": n, "chips": n * chip.server.chips_per_server,
        "unit_price_usd": unit, "list_price_usd": round(p.list_usd, 2), "discount_fraction": p.discount,
        "price_components": comps, "price_kind": p.kind, "price_source": p.source,
        "cost_usd": round(n * unit, 2),
        "depreciation_in_horizon_usd": round(n * dep, 2), "book_value_at_end_usd": round(n * nbv, 2),
        "resale_value_usd": round(n * nbv * S.resale_fraction, 2),
    }


def lease_rows(S: PlanSets, m: PlanModel, values: dict[str, float]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(leases, lease_contracts). `leases`: one row per quarter x chip x virtual site x contract start, for each
    quarter inside the modelled horizon a contract is paid; `lease_contracts`: one row per contract with its whole
    commitment, split into the part paid inside the horizon and the part committed after it."""
    rows, contracts = [], []
    end = S.T - 1
    for (c, t0), var in sorted(m.vars.get("lease", {}).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        n = _ival(values, var)
        if n <= 0:
            continue
        info, chip = S.lease[c], S.chips[c]
        per_q = n * info.usd_per_server_quarter(chip.server.chips_per_server)
        inside = [t for t in range(t0, t0 + info.term) if t <= end]
        for t in inside:
            rows.append({
                "quarter": S.quarters[t], "chip": c, "vendor": chip.vendor, "site": lease_site(c),
                "chips": n * chip.server.chips_per_server, "servers": n, "usd_per_chip_hour": info.usd_per_chip_hour,
                "lease_usd": round(per_q, 2), "contract_start_quarter": S.quarters[t0], "term_quarters": info.term,
                "price_kind": info.kind, "price_source": info.source, "committed": False,
            })
        after = info.term - len(inside)
        contracts.append({
            "contract_start_quarter": S.quarters[t0], "signed_quarter": S.quarters[max(0, t0 - info.lead)],
            "chip": c, "vendor": chip.vendor, "site": lease_site(c), "servers": n, "chips": n * chip.server.chips_per_server, "term_quarters": info.term,
            "usd_per_chip_hour": info.usd_per_chip_hour, "commitment_usd": round(per_q * info.term, 2),
            "in_horizon_usd": round(per_q * len(inside), 2), "after_horizon_usd": round(per_q * after, 2),
            "after_horizon_quarters": quarter_range(S.quarters[end], after + 1)[1:] if after else [],
        })
    return rows, contracts


def committed_lease_rows(S: PlanSets) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(leases rows, committed_lease_contracts) of the contracts signed before the plan (`S.kept_leases`, kept by a
    re-plan): their payments in the modelled quarters, labelled `committed: true`, as rows of the `leases` table, and
    per contract what it pays inside the horizon and after it. Paid at the contract's own rate whatever the plan
    does, so committed cash; the quarters before the horizon were paid before it."""
    rows, contracts = [], []
    for k, paid, tail in S.kept_lease_payments():
        for t in paid:
            rows.append({
                "quarter": S.quarters[t], "chip": k.chip, "vendor": k.vendor, "site": lease_site(k.chip), "chips": k.chips,
                "servers": k.servers, "usd_per_chip_hour": k.usd_per_chip_hour, "lease_usd": k.usd_per_quarter,
                "contract_start_quarter": k.contract_start_quarter, "term_quarters": k.term_quarters,
                "price_kind": "contract", "price_source": k.rate_source, "committed": True,
            })
        contracts.append({
            "contract_start_quarter": k.contract_start_quarter, "chip": k.chip, "vendor": k.vendor, "site": lease_site(k.chip),
            "servers": k.servers, "chips": k.chips, "term_quarters": k.term_quarters, "usd_per_chip_hour": k.usd_per_chip_hour,
            "committed": True, "in_horizon_usd": round(k.usd_per_quarter * len(paid), 2),
            "after_horizon_usd": round(k.usd_per_quarter * len(tail), 2), "after_horizon_quarters": tail,
            "price_source": k.rate_source,
        })
    return rows, contracts


def money_kpis(S: PlanSets, ex: Extracted, energy_usd: float, facility_usd: float, tokens: float) -> dict[str, Any]:
    """The plan's money, USD, over the modelled quarters (the horizon plus any demand tail):
      net_cost = depreciation (bought + existing fleet) + write-down at the end + energy + facility + leases
                 (leases: the whole commitment, the part after the horizon included; contracts a re-plan kept:
                 their payments from the horizon's start on, `committed_lease_usd` / `committed_lease_after_horizon_usd`)
               = capex cash + fleet book value at the start + fleet in transit at the start + energy + facility
                 + leases - resale value (with no salvage value)
      capex cash = the plan's orders + orders a re-plan kept that are paid inside the horizon (committed)
      cash_out = capex cash + leases paid inside the horizon + energy + facility
      resale   = resale fraction x net book value at the end; write-down = the rest of that book value.
    """
    fleet = fleet_depreciation(S)
    fleet_start, fleet_dep, fleet_end = fleet.book_value_start, fleet.depreciation, fleet.book_value_end
    capex = sum(p["cost_usd"] for p in ex.purchases) + fleet.committed_capex_cash
    dep_bought = sum(p["depreciation_in_horizon_usd"] for p in ex.purchases)
    nbv_bought = sum(p["book_value_at_end_usd"] for p in ex.purchases)
    kept_in = float(sum(r["in_horizon_usd"] for r in ex.committed_lease_contracts))
    kept_after = float(sum(r["after_horizon_usd"] for r in ex.committed_lease_contracts))
    lease_in = float(sum(r["in_horizon_usd"] for r in ex.lease_contracts)) + kept_in
    lease_after = float(sum(r["after_horizon_usd"] for r in ex.lease_contracts)) + kept_after
    nbv_end = nbv_bought + fleet_end
    resale = S.resale_fraction * nbv_end
    writedown = nbv_end - resale
    depreciation = dep_bought + fleet_dep
    net = depreciation + writedown + energy_usd + facility_usd + lease_in + lease_after
    cash = capex + lease_in + energy_usd + facility_usd
    return {
        "capex_cash_usd": round(capex, 2), "lease_usd": round(lease_in, 2), "lease_after_horizon_usd": round(lease_after, 2),
        # of which contracts signed before the plan (kept by a re-plan): committed cash, paid whatever the plan does
        "committed_lease_usd": round(kept_in, 2), "committed_lease_after_horizon_usd": round(kept_after, 2),
        "energy_usd": round(energy_usd, 2), "facility_usd": round(facility_usd, 2),
        "depreciation_usd": round(depreciation, 2), "depreciation_purchases_usd": round(dep_bought, 2),
        "depreciation_fleet_usd": round(fleet_dep, 2), "fleet_book_value_start_usd": round(fleet_start, 2),
        # of capex cash: orders a re-plan kept, paid inside the horizon (capex_timing: delivery, still in flight)
        "committed_capex_cash_usd": round(fleet.committed_capex_cash, 2),
        # hardware paid before the horizon and arriving inside it: not on the books at the start, capitalised on arrival
        "fleet_in_transit_start_usd": round(fleet.in_transit_start, 2),
        "book_value_end_usd": round(nbv_end, 2), "resale_value_usd": round(resale, 2), "writedown_usd": round(writedown, 2),
        "net_cost_usd": round(net, 2), "cash_out_usd": round(cash, 2),
        "usd_per_million_tokens": round(net / (tokens / 1e6), 6) if tokens else None,
        "usd_per_million_tokens_basis": "net_cost_usd",
        # legacy names, equal to the new figures for older readers: capex_usd = capex_cash_usd,
        # residual_value_usd = resale_value_usd, tco_usd = net_cost_usd, opex_usd = energy + facility + leases paid
        "capex_usd": round(capex, 2), "residual_value_usd": round(resale, 2), "tco_usd": round(net, 2),
        "opex_usd": round(energy_usd + facility_usd + lease_in, 2),
    }
