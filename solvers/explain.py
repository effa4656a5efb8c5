"""Explain a solution: which limits bind and what one more unit is worth; why an impossible plan is short.

Binding = a limit-type constraint (site power, budget, supply, rack positions, vendor share) with no slack
in the MILP solution. Its worth is the marginal value from the LP relaxation of the same model (HiGHS row
duals), in USD per unit of the limit: an approximation of the integer re-solve, labelled as such.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pulp

from solvers.model import PlanModel
from solvers.sets import MONEY_SCALE, PlanSets

LIMIT_FAMILIES = ("site_power", "budget_quarter", "budget_total", "supply_chip", "supply_vendor", "rack_positions", "vendor_share",
                  "lease_cap")
#: constraint rows whose right-hand side is money (scaled) vs physical units
_MONEY_ROWS = ("budget_quarter", "budget_total", "vendor_share")


def slack_of(m: PlanModel, name: str, values: dict[str, float]) -> float:
    info = m.constraints[name]
    lhs = sum(values.get(v, 0.0) * c for v, c in info.pairs)
    return info.rhs - lhs if info.sense == pulp.LpConstraintLE else lhs - info.rhs


def granularity(S: PlanSets | None) -> dict[str, float]:
    """Slack below which a limit binds in practice: less than one more purchasable unit fits under it."""
    if S is None or not S.buyable:
        return {}
    return {
        "budget_quarter": min(S.price_usd[c] for c in S.buyable) / MONEY_SCALE,
        "budget_total": min(S.price_usd[c] for c in S.buyable) / MONEY_SCALE,
        "site_power": min(S.server_kw[c] for c in S.buyable),
        "supply_chip": 1.0, "supply_vendor": 1.0, "rack_positions": 1.0,
        "lease_cap": min((S.chips[c].server.chips_per_server for c in S.lease), default=1),
    }


def binding_limits(m: PlanModel, values: dict[str, float], S: PlanSets | None = None, tol: float = 1e-6) -> list[str]:
    """Names of limit constraints that bind: zero slack, or (given the sets) too little slack for one more unit."""
    unit = granularity(S)
    out = []
    for name, info in m.constraints.items():
        if info.family not in LIMIT_FAMILIES:
            continue
        slack = slack_of(m, name, values)
        if slack <= tol * max(1.0, abs(info.rhs)) or slack < unit.get(info.family, 0.0) - 1e-9:
            out.append(name)
    return out


def lp_duals(m: PlanModel) -> dict[str, float]:
    """Row duals of the LP relaxation (HiGHS), by constraint name; empty if it cannot be solved."""
    try:
        from solvers.backends import _new_highs

        with tempfile.TemporaryDirectory(prefix="planner-lp-") as tmp:
            mps = Path(tmp) / "lp.mps"
            m.prob.writeMPS(str(mps))
            h = _new_highs()
            h.setOptionValue("solve_relaxation", True)
            h.setOptionValue("time_limit", 60.0)
            h.readModel(str(mps))
            h.run()
            sol = h.getSolution()
            if not sol.dual_valid:
                return {}
            return dict(zip(h.getLp().row_names_, sol.row_dual, strict=True))
    except Exception:  # noqa: BLE001 - explanation is best effort; the plan stands without it
        return {}


def explain_binding(m: PlanModel, values: dict[str, float], S: PlanSets | None = None) -> list[dict[str, Any]]:
    """Rows {constraint, where, quarter, shadow_price_usd, unit, slack} for every binding limit."""
    names = binding_limits(m, values, S)
    duals = lp_duals(m) if names else {}
    rows = []
    for name in names:
        info = m.constraints[name]
        d = duals.get(name)
        price = None
        if d is not None:
            # min problem: dual = d(objective)/d(rhs) <= 0 for a binding <= row; one more unit saves -dual.
            per_unit = -d if info.sense == pulp.LpConstraintLE else d
            price = round(per_unit * (1.0 if info.family in _MONEY_ROWS else MONEY_SCALE), 4)
        rows.append({
            "constraint": info.family, "where": info.where, "quarter": info.quarter or None,
            "shadow_price_usd": price, "unit": info.unit + " (LP relaxation)",
            "slack": round(slack_of(m, name, values) * (MONEY_SCALE if info.family in _MONEY_ROWS else 1.0), 3),
            "name": name,
        })
    return rows


_PHRASES = {
    "site_power": ("Site power at {where}{when}", "kW"),
    "budget_quarter": ("The capex budget{when}", "USD of budget"),
    "budget_total": ("The total capex budget", "USD of budget"),
    "supply_chip": ("Supply of {where}{when}", "server"),
    "supply_vendor": ("Supply from {where}{when}", "server"),
    "rack_positions": ("Rack positions {where}{when}", "rack"),
    "vendor_share": ("The spend share cap of {where}", "USD of spend"),
    "lease_cap": ("Lease capacity at {where}{when}", "chip"),
}


def describe_binding(row: dict[str, Any]) -> str:
    """One sentence for a binding row, as the Summary sheet and report show it."""
    when = f" in {row['quarter']}" if row.get("quarter") else ""
    subject, unit = _PHRASES.get(row["constraint"], ("{where}{when}", "unit"))
    text = subject.format(where=row["where"], when=when) + " binds"
    if row.get("shadow_price_usd"):
        text += f": one more {unit} is worth ${row['shadow_price_usd']:,.2f} (LP-relaxation estimate)"
    return text


def limits_exceeded(m: PlanModel, values: dict[str, float]) -> list[tuple[str, str]]:
    """In a relaxed-limits run: (quarter, sentence) for every limit the solver had to exceed to meet demand."""
    out = []
    for name, var in m.vars.get("slack", {}).items():
        over = values.get(var.name, 0.0)
        info = m.constraints[name]
        if over <= 1e-6 * max(1.0, abs(info.rhs)):
            continue
        if info.family in _MONEY_ROWS:
            amount = f"${over * MONEY_SCALE:,.0f}"
        elif info.family == "site_power":
            amount = f"{over:,.1f} kW"
        elif info.family == "rack_positions":
            amount = f"{over:,.1f} racks"
        elif info.family == "lease_cap":
            amount = f"{over:,.1f} chips"
        else:
            amount = f"{over:,.1f} servers"
        when = f" in {info.quarter}" if info.quarter else ""
        out.append((info.quarter, f"{info.family.replace('_', ' ')} at {info.where}{when} short by {amount}"))
    return out


def diagnose(S: PlanSets, m: PlanModel, values: dict[str, float],
             relaxed: PlanModel | None = None, relaxed_values: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """For each workload and quarter left short in the unmet-demand run: how much, and why.

    Causes, in order: no option meets the latency targets; lead times; the limits that a second run, allowed to
    exceed every limit at a penalty, had to exceed (budget and supply in this or earlier quarters, power and
    rack space in this quarter).
    """
    rows = []
    exceeded = limits_exceeded(relaxed, relaxed_values or {}) if relaxed is not None else []
    no_option = {(w, t): why for w, t, why in S.no_option}
    chips_for: dict[tuple[str, int], set[str]] = defaultdict(set)
    for o in S.options:
        chips_for[(o.workload, o.t)].add(o.chip)
    for (w, t), var in sorted(m.vars.get("unmet", {}).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        short = values.get(var.name, 0.0)
        if short <= 1e-6 * max(1.0, S.demand[(w, t)]):
            continue
        q = S.quarters[t]
        causes: list[str] = []
        if (w, t) in no_option:
            causes.append(no_option[(w, t)])
        else:
            chips = sorted(chips_for[(w, t)])
            buyable = [c for c in chips if c in S.buyable]
            earliest = min((S.first_order_t.get(c, 0) + S.lead[c] for c in buyable), default=None)
            if earliest is None or t < earliest:
                fleet = sorted({c for (c, _s, _r, tt) in S.fleet if tt == t and c in chips})
                when = "no chip that meets its targets can be bought" if earliest is None else (
                    f"new chips that meet its targets ({', '.join(buyable)}) arrive from "
                    f"{S.quarters[earliest] if earliest < S.T else 'after the horizon'} at the earliest (lead time)")
                causes.append(f"lead time: {when}; in {q} only the existing fleet ({', '.join(fleet) or 'none able to serve it'}) can serve it")
            earlier = set(S.quarters[: t + 1])
            for qq, text in exceeded:
                if qq == q or (qq == "" or (qq in earlier and text.startswith(("budget", "supply", "vendor")))):
                    causes.append(text)
            if not causes:
                causes.append(f"no capacity could be added for it (chips able to serve it: {', '.join(chips) or 'none'})")
        rows.append({"workload": w, "quarter": q, "short_tokens_per_s": round(short, 3), "cause": "; ".join(dict.fromkeys(causes))})
    return rows
