"""Constraint families of a re-plan: changes to the previous plan's future orders are penalised or limited.

prev[c,s,r,t] = servers the previous plan ordered (0 where it ordered none); buy[c,s,r,t] as in constraints.py.
Orders of committed quarters are not variables at all: they enter the sets as existing fleet.
"""

from __future__ import annotations

import pulp

from solvers.model import PlanModel, safe_name
from solvers.sets import MONEY_SCALE, PlanSets

OrderIndex = tuple[str, str, str, int]  # (chip, site, rack type, order quarter index in the new horizon)


def add_order_change(S: PlanSets, m: PlanModel, prev: dict[OrderIndex, int], penalty_usd: dict[str, float]) -> None:
    """orderchange_{c}_{s}_{r}_{t}:  buy[c,s,r,t] - up[c,s,r,t] + down[c,s,r,t] == prev[c,s,r,t]   (servers),
    for every key the previous plan ordered; objective term `replan_change` =
    sum penalty_c * (up + down) over those keys + sum penalty_c * buy over keys the previous plan left at 0.
    """
    buy = m.vars["buy"]
    keys = sorted(k for k in prev if k in buy)
    up = m.add_vars("chg_up", keys, "Continuous", 0, None)
    down = m.add_vars("chg_down", keys, "Continuous", 0, None)
    terms: list[tuple[pulp.LpVariable, float]] = []
    for k in keys:
        c, s, r, t = k
        m.add(safe_name("orderchange", c, s, r, S.quarters[t]), [(buy[k], 1.0), (up[k], -1.0), (down[k], 1.0)], "==", float(prev[k]),
              family="replan_change", where=f"{c} at {s}/{r}", quarter=S.quarters[t], unit="USD per server of the previous order")
        terms += [(up[k], penalty_usd[c] / MONEY_SCALE), (down[k], penalty_usd[c] / MONEY_SCALE)]
    terms += [(v, penalty_usd[k[0]] / MONEY_SCALE) for k, v in buy.items() if k not in prev]
    m.add_objective("replan_change", terms)


def add_max_change(S: PlanSets, m: PlanModel, prev: dict[OrderIndex, int], fraction: float, forced: int) -> None:
    """replan_max_change:  sum (up + down) + sum_{prev = 0} buy <= fraction * sum prev - forced   (servers).

    `forced` counts servers of previous orders that can no longer be placed (chip not buyable, delivery past
    the horizon): they change whatever the plan does. Call after `add_order_change`.
    """
    pairs = [(v, 1.0) for fam in ("chg_up", "chg_down") for v in m.vars.get(fam, {}).values()]
    pairs += [(v, 1.0) for k, v in m.vars["buy"].items() if k not in prev]
    if pairs:
        total = float(sum(prev.values()) + forced)
        m.add("replan_max_change", pairs, "<=", max(0.0, fraction * total - forced), family="replan_max_change",
              where="previous plan's future orders", unit="USD per server changed")
