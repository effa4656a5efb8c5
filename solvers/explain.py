"""Explain a solution: which limits bind and what one more unit is worth; why an impossible plan is short.

Binding = a limit-type constraint (site power, budget, supply, rack positions, vendor share, lease capacity) whose
slack in the MILP solution is zero up to the solver's tolerance (`binding_tolerance`: relative to the row's size,
with a floor in the row's own unit). A limit with real room left under it -- say $40,000 of an unspent budget
that buys no further server -- does not bind and is not listed. Its worth is the marginal value from the LP
relaxation of the same model (HiGHS row duals), in USD per unit of the limit: an approximation of the integer
re-solve, labelled as such. A worth that is zero at the precision shown (`price_is_zero`) is reported as 0.0 and
worded "has no marginal value", never "is worth $0.0000"; a worth that cannot be had is None.

Units: money rows (budgets, vendor share) are in millions of USD inside the model (`MONEY_SCALE`), as is the
objective; site power is in kW; supply in servers, rack positions in racks, lease capacity in chips.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pulp

from solvers.model import ConstraintInfo, PlanModel
from solvers.sets import MONEY_SCALE, PlanSets

LIMIT_FAMILIES = ("site_power", "budget_quarter", "budget_total", "supply_chip", "supply_vendor", "rack_positions", "vendor_share",
                  "lease_cap")
#: constraint rows whose right-hand side is money (scaled: millions of USD) vs physical units
_MONEY_ROWS = ("budget_quarter", "budget_total", "vendor_share")

#: a limit binds when its slack is at most this fraction of the row's size (the larger of |rhs| and the sum of
#: |coefficient x value| of its terms): well above the solvers' primal and integrality tolerances (HiGHS 1e-7,
#: CBC 1e-7), far below any room a plan could use. A $55M quarterly budget binds within $55.
BINDING_REL_TOL = 1e-6
#: the least slack that always counts as zero, in the row's own unit (model units: money rows in $M)
BINDING_ABS_FLOOR = {
    "budget_quarter": 1.0 / MONEY_SCALE,  # $1, in $M
    "budget_total": 1.0 / MONEY_SCALE,  # $1, in $M
    "vendor_share": 1.0 / MONEY_SCALE,  # $1 of spend, in $M
    "site_power": 1e-3,  # kW (1 W)
    "supply_chip": 1e-6, "supply_vendor": 1e-6,  # servers
    "rack_positions": 1e-6,  # rack positions
    "lease_cap": 1e-6,  # chips
}

#: a shadow price below these (USD per unit of the limit) is no marginal value: money rows (USD per USD of budget
#: or spend) print to 4 decimals below $0.01, so under $0.00005 shows as $0.0000 ($50 per $1M of budget; the LP's
#: dual tolerance is 1e-7 of a USD per USD); physical rows (USD per kW, rack position, server, chip) are worth
#: nothing a plan could use below half a cent per unit. A row the LP does not price has a dual of exactly 0.
PRICE_ZERO_USD_PER_USD = 5e-5
PRICE_ZERO_USD_PER_UNIT = 5e-3


def slack_of(m: PlanModel, name: str, values: dict[str, float]) -> float:
    """Room left under a limit, in the row's own unit (money rows in $M): rhs - lhs for <=, lhs - rhs for >=."""
    info = m.constraints[name]
    lhs = sum(values.get(v, 0.0) * c for v, c in info.pairs)
    return info.rhs - lhs if info.sense == pulp.LpConstraintLE else lhs - info.rhs


def binding_tolerance(info: ConstraintInfo, values: dict[str, float]) -> float:
    """Slack at or below which the row binds, in the row's own unit (money rows in $M):
    max(floor of its family, BINDING_REL_TOL x max(|rhs|, sum |coefficient x value|))."""
    size = max(abs(info.rhs), sum(abs(c * values.get(v, 0.0)) for v, c in info.pairs))
    return max(BINDING_ABS_FLOOR.get(info.family, 1e-6), BINDING_REL_TOL * size)


def binding_limits(m: PlanModel, values: dict[str, float]) -> list[str]:
    """Names of limit constraints that bind: slack within `binding_tolerance` (zero up to solver precision).

    Slack smaller than one more purchasable unit (say $40,000 of budget when a server costs $100,000) is not
    binding: the limit is not fully used, and its LP-relaxation dual would price room the plan does not lack.
    """
    out = []
    for name, info in m.constraints.items():
        if info.family not in LIMIT_FAMILIES:
            continue
        if slack_of(m, name, values) <= binding_tolerance(info, values):
            out.append(name)
    return out


def price_is_zero(price: float, family: str) -> bool:
    """True when a shadow price (USD per unit of the limit) is nothing at the precision reports show it."""
    return abs(price) < (PRICE_ZERO_USD_PER_USD if family in _MONEY_ROWS else PRICE_ZERO_USD_PER_UNIT)


def lp_duals(m: PlanModel) -> dict[str, float]:
    """Row duals of the LP relaxation (HiGHS), by constraint name; empty if it cannot be solved."""
    try:
        from solvers import highs_env

        with tempfile.TemporaryDirectory(prefix="planner-lp-") as tmp:
            mps = Path(tmp) / "lp.mps"
            m.prob.writeMPS(str(mps))
            h = highs_env.new_highs()
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
    """Rows {constraint, where, quarter, shadow_price_usd, unit, slack} for every binding limit.

    shadow_price_usd: USD saved per unit more of the limit, from the LP relaxation; 0.0 when that is nothing at the
    precision shown (`price_is_zero`: the limit is fully used but more of it would save nothing); None when no
    USD value exists (the LP could not be solved, or the objective is not money: max_tokens counts tokens).
    slack: room left, in USD for money rows and in the limit's own unit otherwise.
    """
    names = binding_limits(m, values)
    money_objective = S is None or S.objective != "max_tokens"  # min_tco and min_energy minimise $M
    duals = lp_duals(m) if names and money_objective else {}
    rows = []
    for name in names:
        info = m.constraints[name]
        d = duals.get(name)
        price = None
        if d is not None:
            # min problem: dual = d(objective)/d(rhs) <= 0 for a binding <= row; one more unit saves -dual.
            # The objective is in $M: a money row's rhs is in $M too, so -dual is already USD per USD; a physical
            # row's dual is $M per kW (rack, server, chip), so x MONEY_SCALE gives USD per unit.
            per_unit = -d if info.sense == pulp.LpConstraintLE else d
            price = per_unit * (1.0 if info.family in _MONEY_ROWS else MONEY_SCALE)
            price = 0.0 if price_is_zero(price, info.family) else round(price, 4)
        unit = info.unit + " (LP relaxation)" if money_objective else "no USD value (the max_tokens objective counts tokens)"
        rows.append({
            "constraint": info.family, "where": info.where, "quarter": info.quarter or None,
            "shadow_price_usd": price, "unit": unit,
            # slack in USD for money rows ($M x MONEY_SCALE), else in the row's unit (+ 0.0: no "-0.0")
            "slack": round(slack_of(m, name, values) * (MONEY_SCALE if info.family in _MONEY_ROWS else 1.0), 3) + 0.0,
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


def usd_per_unit_text(price: float) -> str | None:
    """`$16,667`, `$0.28`, `$0.0040` (the planner's report precision: 0 decimals from $100, 2 from $0.01, else 4);
    None when the price shows as zero at that precision (then it is no marginal value, not "$0.0000")."""
    decimals = 0 if abs(price) >= 100 else 2 if abs(price) >= 0.01 else 4
    if round(abs(price), decimals) == 0:
        return None
    return f"{'-' if price < 0 else ''}${abs(price):,.{decimals}f}"


def describe_binding(row: dict[str, Any]) -> str:
    """One sentence for a binding row, as plan.json's binding[].text holds it."""
    when = f" in {row['quarter']}" if row.get("quarter") else ""
    subject, unit = _PHRASES.get(row["constraint"], ("{where}{when}", "unit"))
    text = subject.format(where=row["where"], when=when) + " binds"
    price = row.get("shadow_price_usd")
    if isinstance(price, int | float):
        worth = usd_per_unit_text(float(price))
        if worth is None:
            text += f" but has no marginal value: one more {unit} would save nothing (LP-relaxation estimate)"
        else:
            text += f": one more {unit} is worth {worth} (LP-relaxation estimate)"
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
        elif info.family == "min_order":
            when = f" in {info.quarter}" if info.quarter else ""
            out.append((info.quarter, f"minimum order of {info.where}{when} short by {over:,.1f} servers (each quarter's "
                                      "order of a chip is 0 or at least its min_order_servers)"))
            continue
        else:
            amount = f"{over:,.1f} servers"
        when = f" in {info.quarter}" if info.quarter else ""
        out.append((info.quarter, f"{info.family.replace('_', ' ')} at {info.where}{when} short by {amount}"))
    return out


def _pct(fraction: float) -> str:
    """`30 %`, `12.5 %` (headroom_fraction as the README writes it)."""
    return f"{fraction * 100:.4g} %"


def shortfall_message(row: dict[str, Any], headroom_fraction: float) -> str:
    """What a diagnosis row says is short: 'demand short by N tokens/s' (the forecast peak is not served) or 'the
    forecast is served; the headroom buffer of X % is short by N tokens/s' (the policy's buffer above it is not)."""
    short, head = float(row.get("short_tokens_per_s") or 0.0), float(row.get("headroom_short_tokens_per_s") or 0.0)
    if short > 0:
        extra = f" (and the whole {_pct(headroom_fraction)} headroom buffer, {head:,.0f} tokens/s)" if head > 0 else ""
        return f"demand short by {short:,.0f} tokens/s of the forecast peak{extra}"
    if head > 0:
        return f"the forecast is served; the headroom buffer of {_pct(headroom_fraction)} is short by {head:,.0f} tokens/s"
    return "no demand short; a limit is exceeded"


def diagnose(S: PlanSets, m: PlanModel, values: dict[str, float],
             relaxed: PlanModel | None = None, relaxed_values: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """For each workload and quarter left short in the unmet-demand run: how much, and why.

    The run (`build_model(with_slack=True)`) serves every forecast peak before any headroom buffer, so each row
    tells apart demand unmet -- `short_tokens_per_s` of the forecast peak (`kind` "demand") -- from a headroom
    buffer left short while the forecast is served -- `headroom_short_tokens_per_s` (`kind` "headroom");
    `message` says which (`shortfall_message`).
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
    unmet, head_vars = m.vars.get("unmet", {}), m.vars.get("unmet_headroom", {})
    for (w, t) in sorted(set(unmet) | set(head_vars), key=lambda k: (k[1], k[0])):
        short = values.get(unmet[(w, t)].name, 0.0) if (w, t) in unmet else 0.0
        head = values.get(head_vars[(w, t)].name, 0.0) if (w, t) in head_vars else 0.0
        tol = 1e-6 * max(1.0, S.demand[(w, t)])
        short, head = (short if short > tol else 0.0), (head if head > tol else 0.0)
        if not head_vars and short > 0:  # a model without the split (max_tokens): its unmet counts against D
            buffer = max(0.0, S.demand[(w, t)] - S.forecast[(w, t)])
            short, head = max(0.0, short - buffer), min(short, buffer)
        if short <= 0 and head <= 0:
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
                if qq == q or (qq == "" or (qq in earlier and text.startswith(("budget", "supply", "vendor", "minimum order")))):
                    causes.append(text)
            if not causes:
                causes.append(f"no capacity could be added for it (chips able to serve it: {', '.join(chips) or 'none'})")
        row = {"workload": w, "quarter": q, "short_tokens_per_s": round(short, 3) + 0.0,
               "headroom_short_tokens_per_s": round(head, 3) + 0.0, "kind": "demand" if short > 0 else "headroom",
               "cause": "; ".join(dict.fromkeys(causes))}
        fc = S.forecast[(w, t)]
        row["message"] = shortfall_message(row, S.demand[(w, t)] / fc - 1.0 if fc > 0 else 0.0)
        rows.append(row)
    return rows
