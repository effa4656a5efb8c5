"""Release racks a solve held beyond need, so the plan pays only for racks it fills.

Racks enter the model only in rackfill_{c,s,r,t} (fit x racks >= installed servers + fleet servers), in
rackcount_{s,r,t} (sum_c racks <= rack positions) and in the objective (facility USD per rack-quarter, plus the
epsilon tie-break). A solve stopped inside its gap may hold a rack no server needs: lowering racks[c,s,r,t] to
ceil((installed + fleet) / fit) keeps every constraint (rackfill stays met, rackcount only loosens) and lowers the
objective by the released racks' coefficients. The bound is unchanged, so the gap is recomputed against it:
  objective' = objective - sum_released (racks - need) x cost,   gap' = (objective' - bound) / |objective'|.
The status is not upgraded (a `feasible` plan stays `feasible`). Without this, KPIs counted the model's racks while
the finance schedule counted the racks placement fills, and the two disagreed by the idle racks' facility cost.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace

from solvers.model import PlanModel
from solvers.result import SolveResult


def release_idle_racks(model: PlanModel, result: SolveResult) -> SolveResult:
    """The result with every rack variable at the least its rackfill constraint needs (module docstring)."""
    racks = {v.name for v in model.vars.get("racks", {}).values()}
    if not result.has_solution or not racks:
        return result
    cost: dict[str, float] = defaultdict(float)
    for pairs in model.objective_terms.values():
        for var, c in pairs:
            if var.name in racks:
                cost[var.name] += c
    values = dict(result.values)
    saved, released = 0.0, 0
    for info in model.constraints.values():
        if info.family != "rack_fill":
            continue
        own = [(v, c) for v, c in info.pairs if v in racks]
        if len(own) != 1 or own[0][1] >= 0:
            continue
        name, coef = own[0]
        rest = sum(values.get(v, 0.0) * c for v, c in info.pairs if v != name)
        need = max(0, math.ceil((rest - info.rhs) / -coef - 1e-9))  # rest + coef x racks <= rhs
        held = round(values.get(name, 0.0))
        if held > need and cost[name] >= 0.0:
            values[name] = float(need)
            saved += (held - need) * cost[name]
            released += held - need
    if not released or result.objective is None:
        return result
    obj = result.objective - saved
    gap = result.mip_gap
    if result.best_bound is not None and obj:
        gap = max(0.0, (obj - result.best_bound) / abs(obj))
    note = f"released {released} rack-quarter(s) the solve held beyond need (objective lowered by {saved:.6g} model units)"
    return replace(result, values=values, objective=obj, mip_gap=gap, notes=[*result.notes, note])
