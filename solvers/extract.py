"""Stage 4 of the pipeline: turn solver values into tidy plan tables (lists of row dicts).

Racks are aggregated in the MILP (integer counts per site, rack type and chip); here servers are packed
into numbered rack positions, keeping each rack's hardware in place from quarter to quarter.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from solvers.constraints import installed_pairs
from solvers.model import PlanModel
from solvers.sets import HOURS_PER_QUARTER, MONEY_SCALE, PlanSets

SECONDS_PER_QUARTER = HOURS_PER_QUARTER * 3600.0


@dataclass
class Extracted:
    """Tidy tables of one solution."""

    purchases: list[dict[str, Any]] = field(default_factory=list)
    racks: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    capacity: list[dict[str, Any]] = field(default_factory=list)
    power: list[dict[str, Any]] = field(default_factory=list)
    kpis: dict[str, float] = field(default_factory=dict)


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
        chip = S.chips[c]
        ex.purchases.append({
            "order_quarter": S.quarters[t], "delivery_quarter": S.quarters[S.delivery(c, t)], "site": s, "rack_type": r,
            "chip": c, "vendor": chip.vendor, "servers": n, "chips": n * chip.server.chips_per_server,
            "unit_price_usd": round(S.price_usd[c], 2), "cost_usd": round(n * S.price_usd[c], 2),
            "residual_value_usd": round(n * S.price_usd[c] * S.residual_fraction(c, t), 2) if S.residual_value else 0.0,
        })
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
                rid = pool[nonzero_k][0] if nonzero_k < len(pool) else f"{s}/pool"
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
                "chip": o.chip, "precision": o.precision, "tp": o.tp, "pp": o.pp, "ep": o.ep, "replicas": k,
                "chips": k * o.chips_per_replica, "tokens_per_s": round(k * o.tokens_per_s, 3),
                "power_kw": round(k * o.power_kw, 3), "batch": o.batch, "ttft_ms": round(o.ttft_ms, 2), "tpot_ms": round(o.tpot_ms, 2),
            })
    # capacity
    unmet_vars = m.vars.get("unmet", {})
    for (w, t), need in sorted(S.demand.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        got = served[(w, t)]
        ex.capacity.append({
            "quarter": S.quarters[t], "workload": w, "demand_tokens_per_s": S.forecast[(w, t)],
            "required_tokens_per_s": round(need, 3), "served_tokens_per_s": round(got, 3),
            "unmet_tokens_per_s": round(max(0.0, need - got), 3) if not unmet_vars else round(max(0.0, values.get(unmet_vars[(w, t)].name, 0.0)), 3),
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
    capex = sum(p["cost_usd"] for p in ex.purchases)
    residual = sum(p["residual_value_usd"] for p in ex.purchases)
    facility = sum(_ival(values, v) * S.rack_types[(s, r)][4] for (c, s, r, t), v in m.vars["racks"].items())
    # tokens actually served, at the forecast peak rate: capacity beyond the forecast serves nothing, short rows count what is served
    tokens = sum(min(S.forecast[k], served[k]) for k in S.forecast) * SECONDS_PER_QUARTER
    it_energy_j = sum(p["average_it_power_kw"] for p in ex.power) * 1000.0 * SECONDS_PER_QUARTER
    tco = capex + energy_usd + facility - residual
    ex.kpis = {
        "capex_usd": round(capex, 2), "energy_usd": round(energy_usd, 2), "facility_usd": round(facility, 2),
        "residual_value_usd": round(residual, 2), "opex_usd": round(energy_usd + facility, 2), "tco_usd": round(tco, 2),
        "energy_mwh": round(energy_kwh / 1000.0, 3), "served_tokens": tokens,
        "usd_per_million_tokens": round(tco / (tokens / 1e6), 6) if tokens else None,
        "joules_per_token": round(it_energy_j / tokens, 6) if tokens else None,
        "objective_scale_usd": MONEY_SCALE, "objective_constant_usd": round(objective_constant * MONEY_SCALE, 2),
    }
    return ex
