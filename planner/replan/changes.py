"""What changed and why: the re-plan's orders and lease contracts against the previous plan's future orders and
contracts not yet signed, line by line.

A changed line gets every cause that applies, the first being its `cause`:
demand (forecast moved in a quarter the line can serve), price (a server price or lease rate moved), performance (a layout's
tokens/s per replica moved or a chip gained/lost a workload), limits (budget, site power, the order can no longer be
placed, or the change limit), else re-optimisation (the same inputs; the new plan is cheaper by more than the change
penalty, or the previous plan was within its MIP gap).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pandas as pd

from planner.replan.rollforward import LeaseKey, OrderKey, Rolled, order_key
from planner.schemas.common import quarter_index
from solvers.sets import PlanSets, lease_site

#: relative moves below this are noise (rounding in plan.json), not a cause
TOLERANCE = 0.005

PERF_KEY = ("workload_id", "quarter", "chip_id", "precision", "tp", "pp", "ep", "dp")


def _moved(a: float, b: float) -> bool:
    return abs(a - b) > TOLERANCE * max(abs(a), abs(b), 1e-9)


def _pct(a: float, b: float) -> str:
    return f"{(b - a) / a * 100:+.1f} %" if a else "new"


def demand_moves(prev: dict[str, Any], S: PlanSets) -> list[tuple[str, str, float, float]]:
    """(workload, quarter, previous forecast, new forecast) for quarters of the new horizon whose forecast moved."""
    old = {(c["workload"], c["quarter"]): float(c["demand_tokens_per_s"]) for c in prev.get("capacity") or []}
    new = {(w, S.quarters[t]): v for (w, t), v in S.forecast.items()}
    keep = set(S.quarters)  # a row gone from the new forecast (or fallen to 0) is a move to 0
    out = []
    for w, q in sorted(set(new) | {k for k in old if k[1] in keep}, key=lambda k: (k[0], quarter_index(k[1]))):
        before, after = old.get((w, q), 0.0), new.get((w, q), 0.0)
        if _moved(before, after):
            out.append((w, q, before, after))
    return out


def price_moves(prev: dict[str, Any], S: PlanSets) -> dict[str, tuple[float, float]]:
    """chip -> (previous unit price, new unit price) for chips the previous plan bought whose price moved."""
    old = {p["chip"]: float(p["unit_price_usd"]) for p in prev.get("purchases") or []}
    return {c: (p, S.price_usd[c]) for c, p in sorted(old.items()) if c in S.price_usd and _moved(p, S.price_usd[c])}


def performance_moves(prev: dict[str, Any], options: pd.DataFrame, quarters: list[str]) -> dict[str, str]:
    """chip -> what moved in its deployment options (tokens/s per replica, or workloads gained/lost) in the new horizon."""
    keep = set(quarters)

    def table(rows: list[dict[str, Any]]) -> dict[tuple, float]:
        return {tuple(r.get(k, 1) for k in PERF_KEY): float(r["tokens_per_s_per_replica"]) for r in rows if r["quarter"] in keep}

    old = table(prev.get("options") or [])
    new = table(options.to_dict(orient="records") if not options.empty else [])
    out: dict[str, list[str]] = defaultdict(list)
    for k in sorted(set(old) & set(new)):
        if _moved(old[k], new[k]):
            out[k[2]].append(f"{k[0]} {k[1]} {k[3]} TP{k[4]}: {old[k]:,.0f} -> {new[k]:,.0f} tokens/s per replica")
    pairs_old = {(k[0], k[2]) for k in old}
    pairs_new = {(k[0], k[2]) for k in new}
    for w, c in sorted(pairs_new - pairs_old):
        out[c].append(f"now meets the targets of {w}")
    for w, c in sorted(pairs_old - pairs_new):
        out[c].append(f"no longer meets the targets of {w}")
    return {c: "; ".join(v[:3]) + (f" (+{len(v) - 3} more)" if len(v) > 3 else "") for c, v in out.items()}


def limit_moves(prev: dict[str, Any], rolled: Rolled, S: PlanSets) -> list[str]:
    """Budget and site power limits of the new horizon that differ from the previous plan's (after the committed spend)."""
    out = []
    lim = prev.get("limits") or {}
    old_total = lim.get("budget_usd_total")
    if old_total is not None:
        old_total = max(0.0, old_total - (rolled.spent_usd - rolled.carried_usd))  # a re-plan's limit is net of what it kept
    if (old_total is None) != (S.budget_total is None) or (old_total is not None and S.budget_total is not None and _moved(old_total, S.budget_total)):
        out.append(f"total capex budget left {old_total if old_total is None else f'${old_total:,.0f}'} -> "
                   f"{S.budget_total if S.budget_total is None else f'${S.budget_total:,.0f}'}")
    old_q = lim.get("budget_usd_by_quarter") or {}
    for t, new in sorted(S.budget_q.items()):
        q = S.quarters[t]
        if q in old_q and rolled.inputs.scenario.policy.capex_timing == "order" and _moved(old_q[q], new):
            out.append(f"capex budget {q} ${old_q[q]:,.0f} -> ${new:,.0f}")
    for s, kw in sorted(S.site_cap_kw.items()):
        old = (lim.get("site_power_cap_kw") or {}).get(s)
        if old is not None and _moved(old, kw):
            out.append(f"site power {s} {old:,.0f} -> {kw:,.0f} kW")
    return out


def lease_price_moves(prev: dict[str, Any], S: PlanSets) -> dict[str, tuple[float, float]]:
    """chip -> (previous, new) lease USD per chip-hour for chips the previous plan leased whose lease rate moved."""
    old = {str(k["chip"]): float(k["usd_per_chip_hour"]) for k in prev.get("lease_contracts") or []
           if isinstance(k.get("usd_per_chip_hour"), int | float)}
    return {c: (r, S.lease[c].usd_per_chip_hour) for c, r in sorted(old.items())
            if c in S.lease and _moved(r, S.lease[c].usd_per_chip_hour)}


@dataclass
class Moves:
    """What moved between the previous plan's inputs and the re-plan's, as the causes a change can have."""

    demand: list[tuple[str, str, float, float]]
    prices: dict[str, tuple[float, float]]
    lease_prices: dict[str, tuple[float, float]]
    perf: dict[str, str]
    limits: list[str]
    max_change_binding: bool

    def causes(self, c: str, q: str, lost: str | None) -> list[tuple[str, str]]:
        """(cause, why) of a change of chip c's servers ordered or leased from quarter q, the first being the cause;
        `lost` says why the previous line can no longer be placed (None when it can)."""
        out: list[tuple[str, str]] = []
        served = [d for d in self.demand if quarter_index(d[1]) >= quarter_index(q)]
        if served:
            top = sorted(served, key=lambda d: -abs(d[3] - d[2]) / max(d[2], 1e-9))[:3]
            out.append(("demand", "forecast " + ", ".join(f"{w} {qq} {_pct(a, b)}" for w, qq, a, b in top)
                        + (f" (+{len(served) - 3} more)" if len(served) > 3 else "")))
        price = [(cc, f"{cc} ${a:,.0f} -> ${b:,.0f} per server") for cc, (a, b) in self.prices.items()]
        price += [(cc, f"{cc} lease ${a:,.2f} -> ${b:,.2f} per chip-hour") for cc, (a, b) in self.lease_prices.items()]
        if price:
            out.append(("price", "; ".join(t for cc, t in sorted(price, key=lambda p: p[0] != c))))
        if self.perf:
            out.append(("performance", "; ".join(f"{cc}: {self.perf[cc]}" for cc in ([c] if c in self.perf else [])
                                                 + [x for x in self.perf if x != c])))
        lim = list(self.limits)
        if lost:
            lim.insert(0, lost)
        if self.max_change_binding:
            lim.append("the change limit `policy.replan.max_change_fraction` is reached")
        if lim:
            out.append(("limits", "; ".join(lim)))
        if not out:
            out.append(("re-optimisation", "inputs unchanged for this line: the re-plan is cheaper by more than the change "
                        "penalty (or the previous plan stopped within its MIP gap)"))
        return out


def moves(prev: dict[str, Any], rolled: Rolled, S: PlanSets, options: pd.DataFrame, max_change_binding: bool) -> Moves:
    """What moved, computed once for the order and the lease change tables."""
    return Moves(demand_moves(prev, S), price_moves(prev, S), lease_price_moves(prev, S),
                 performance_moves(prev, options, S.quarters), limit_moves(prev, rolled, S), max_change_binding)


def _row(kind: str, q: str, c: str, site: str, rack: str | None, before: int, after: int, usd_per_server: float,
         causes: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "kind": kind, "order_quarter": q, "chip": c, "site": site, "rack_type": rack, "previous_servers": before,
        "new_servers": after, "delta_servers": after - before, "delta_usd": round((after - before) * usd_per_server, 2),
        "cause": causes[0][0], "causes": ", ".join(k for k, _ in causes), "why": " | ".join(f"{k}: {v}" for k, v in causes),
    }


def change_table(rolled: Rolled, S: PlanSets, purchases: list[dict[str, Any]], mv: Moves,
                 unplaceable: set[OrderKey]) -> list[dict[str, Any]]:
    """One row (`kind: purchase`) per order key whose servers differ between the previous plan (after commit) and
    the re-plan; `delta_usd` at the new unit price."""
    new: dict[OrderKey, int] = defaultdict(int)
    for p in purchases:
        new[order_key(p)] += int(p["servers"])
    rows = []
    for key in sorted(set(rolled.previous_future) | set(new), key=lambda k: (quarter_index(k[3]), k[0], k[1], k[2])):
        before, after = rolled.previous_future.get(key, 0), new.get(key, 0)
        if before == after:
            continue
        c, s, r, q = key
        lost = f"{c} can no longer be ordered at {s}/{r} in {q} (not buyable, or delivery past the horizon)" if key in unplaceable else None
        rows.append(_row("purchase", q, c, s, r, before, after, S.price_usd.get(c, 0.0), mv.causes(c, q, lost)))
    return rows


def lease_change_table(rolled: Rolled, S: PlanSets, contracts: list[dict[str, Any]], mv: Moves,
                       unsignable: set[LeaseKey]) -> list[dict[str, Any]]:
    """One row (`kind: lease`, `order_quarter` = the contract's start quarter, `site` = `lease:<chip>`) per chip and
    start quarter whose contracted servers differ between the previous plan's contracts not yet signed and the
    re-plan's own contracts; `delta_usd` at one server's whole contract commitment (`PlanSets.lease_cost`)."""
    new: dict[LeaseKey, int] = defaultdict(int)
    for k in contracts:
        new[(str(k["chip"]), str(k["contract_start_quarter"]))] += int(k["servers"])
    rows = []
    for key in sorted(set(rolled.previous_future_leases) | set(new), key=lambda k: (quarter_index(k[1]), k[0])):
        before, after = rolled.previous_future_leases.get(key, 0), new.get(key, 0)
        if before == after:
            continue
        c, q = key
        lost = f"{c} can no longer be leased from {q} (not leasable then, or the start is past the horizon)" if key in unsignable else None
        rows.append(_row("lease", q, c, lease_site(c), None, before, after, S.lease_cost(c) if c in S.lease else 0.0,
                         mv.causes(c, q, lost)))
    return rows
