"""Constraint families of a re-plan: changes to the previous plan's future orders and lease contracts are penalised
or limited.

prev[c,s,r,t] = servers the previous plan ordered (0 where it ordered none); buy[c,s,r,t] as in constraints.py.
prev_lease[c,t] = servers of the previous plan's lease contracts starting in t that were not signed by the commit
quarter (0 where it signed none); lease[c,t] as in constraints.py.
Orders of committed quarters are not variables at all: they enter the sets as existing fleet, and contracts signed
by then as servers already under contract (`PlanSets.leased`).
"""

from __future__ import annotations

import pulp

from solvers.model import PlanModel, safe_name
from solvers.sets import MONEY_SCALE, PlanSets, lease_site

OrderIndex = tuple[str, str, str, int]  # (chip, site, rack type, order quarter index in the new horizon)
LeaseIndex = tuple[str, int]  # (chip, contract start quarter index in the new horizon)


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


def add_lease_change(S: PlanSets, m: PlanModel, prev: dict[LeaseIndex, int], penalty_usd: dict[str, float]) -> None:
    """leasechange_{c}_{t}:  lease[c,t] - lup[c,t] + ldown[c,t] == prev_lease[c,t]   (servers), for every contract
    start the previous plan had not signed yet; objective term `replan_change` (as orders) += sum penalty_c * (lup +
    ldown) over those keys + sum penalty_c * lease over starts the previous plan left at 0. A contract moved to
    another start quarter is one server removed and one added per server, as a moved order is.
    """
    lease = m.vars.get("lease", {})
    keys = sorted(k for k in prev if k in lease)
    up = m.add_vars("lchg_up", keys, "Continuous", 0, None)
    down = m.add_vars("lchg_down", keys, "Continuous", 0, None)
    terms: list[tuple[pulp.LpVariable, float]] = []
    for k in keys:
        c, t = k
        m.add(safe_name("leasechange", c, S.quarters[t]), [(lease[k], 1.0), (up[k], -1.0), (down[k], 1.0)], "==", float(prev[k]),
              family="replan_change", where=lease_site(c), quarter=S.quarters[t], unit="USD per server of the previous contract")
        terms += [(up[k], penalty_usd[c] / MONEY_SCALE), (down[k], penalty_usd[c] / MONEY_SCALE)]
    terms += [(v, penalty_usd[k[0]] / MONEY_SCALE) for k, v in lease.items() if k not in prev]
    m.add_objective("replan_change", terms)


def add_max_change(S: PlanSets, m: PlanModel, prev: dict[OrderIndex, int], fraction: float, forced: int,
                   prev_lease: dict[LeaseIndex, int] | None = None) -> None:
    """replan_max_change:  sum (up + down + lup + ldown) + sum_{prev = 0} buy + sum_{prev_lease = 0} lease
    <= fraction * (sum prev + sum prev_lease + forced) - forced   (servers).

    `forced` counts servers of previous orders and contracts that can no longer be placed or signed (chip not
    buyable or leasable, delivery or start past the horizon): they change whatever the plan does. Call after
    `add_order_change` and `add_lease_change`.
    """
    prev_lease = prev_lease or {}
    pairs = [(v, 1.0) for fam in ("chg_up", "chg_down", "lchg_up", "lchg_down") for v in m.vars.get(fam, {}).values()]
    pairs += [(v, 1.0) for k, v in m.vars["buy"].items() if k not in prev]
    pairs += [(v, 1.0) for k, v in m.vars.get("lease", {}).items() if k not in prev_lease]
    if pairs:
        total = float(sum(prev.values()) + sum(prev_lease.values()) + forced)
        m.add("replan_max_change", pairs, "<=", max(0.0, fraction * total - forced), family="replan_max_change",
              where="previous plan's future orders and lease contracts", unit="USD per server changed")
