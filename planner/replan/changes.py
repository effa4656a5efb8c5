"""What changed and why: the re-plan's orders against the previous plan's future orders, order by order.

A changed order gets every cause that applies, the first being its `cause`:
demand (forecast moved in a quarter the order can serve), price (a server price moved), performance (a layout's
tokens/s per replica moved or a chip gained/lost a workload), limits (budget, site power, the order can no longer be
placed, or the change limit), else re-optimisation (the same inputs; the new plan is cheaper by more than the change
penalty, or the previous plan was within its MIP gap).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from planner.replan.rollforward import OrderKey, Rolled, order_key
from planner.schemas.common import quarter_index
from solvers.sets import PlanSets

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
    out = []
    for (w, t), new in sorted(S.forecast.items()):
        before = old.get((w, S.quarters[t]), 0.0)
        if _moved(before, new):
            out.append((w, S.quarters[t], before, new))
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


def change_table(prev: dict[str, Any], rolled: Rolled, S: PlanSets, purchases: list[dict[str, Any]], options: pd.DataFrame,
                 unplaceable: set[OrderKey], max_change_binding: bool) -> list[dict[str, Any]]:
    """One row per order key whose servers differ between the previous plan (after commit) and the re-plan."""
    new: dict[OrderKey, int] = defaultdict(int)
    for p in purchases:
        new[order_key(p)] += int(p["servers"])
    demand = demand_moves(prev, S)
    prices = price_moves(prev, S)
    perf = performance_moves(prev, options, S.quarters)
    limits = limit_moves(prev, rolled, S)
    rows = []
    for key in sorted(set(rolled.previous_future) | set(new), key=lambda k: (quarter_index(k[3]), k[0], k[1], k[2])):
        before, after = rolled.previous_future.get(key, 0), new.get(key, 0)
        if before == after:
            continue
        c, s, r, q = key
        causes: list[tuple[str, str]] = []
        served = [d for d in demand if quarter_index(d[1]) >= quarter_index(q)]
        if served:
            top = sorted(served, key=lambda d: -abs(d[3] - d[2]) / max(d[2], 1e-9))[:3]
            causes.append(("demand", "forecast " + ", ".join(f"{w} {qq} {_pct(a, b)}" for w, qq, a, b in top)
                           + (f" (+{len(served) - 3} more)" if len(served) > 3 else "")))
        if prices:
            own = [c] if c in prices else []
            causes.append(("price", "; ".join(f"{cc} ${prices[cc][0]:,.0f} -> ${prices[cc][1]:,.0f} per server"
                                              for cc in own + [x for x in prices if x != c])))
        if perf:
            causes.append(("performance", "; ".join(f"{cc}: {perf[cc]}" for cc in ([c] if c in perf else []) + [x for x in perf if x != c])))
        lim = list(limits)
        if key in unplaceable:
            lim.insert(0, f"{c} can no longer be ordered at {s}/{r} in {q} (not buyable, or delivery past the horizon)")
        if max_change_binding:
            lim.append("the change limit `policy.replan.max_change_fraction` is reached")
        if lim:
            causes.append(("limits", "; ".join(lim)))
        if not causes:
            causes.append(("re-optimisation", "inputs unchanged for this order: the re-plan is cheaper by more than the change "
                           "penalty (or the previous plan stopped within its MIP gap)"))
        rows.append({
            "order_quarter": q, "chip": c, "site": s, "rack_type": r, "previous_servers": before, "new_servers": after,
            "delta_servers": after - before, "delta_usd": round((after - before) * S.price_usd.get(c, 0.0), 2),
            "cause": causes[0][0], "causes": ", ".join(k for k, _ in causes), "why": " | ".join(f"{k}: {v}" for k, v in causes),
        })
    return rows
