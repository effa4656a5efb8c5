"""The key figures of a plan and its findings in words, shared by the workbook, HTML and comparison."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from planner.results.units import fmt_usd, format_value, is_number
from solvers.result import SOLUTION_STATUSES


@dataclass(frozen=True)
class Figure:
    """One headline number: `key` is stable (used in comparisons), `kind` says how to show it."""

    key: str
    label: str
    value: Any
    kind: str
    note: str = ""


@dataclass(frozen=True)
class SitePeak:
    """Highest IT power a site draws over the horizon, against its cap."""

    site: str
    peak_kw: float
    quarter: str | None
    cap_kw: float | None

    @property
    def utilisation(self) -> float | None:
        return self.peak_kw / self.cap_kw if self.cap_kw else None


_STATUS_TEXT = {
    "optimal": "Optimal: the cheapest plan within the solver's gap target.",
    "optimal_in_reduced_set": "Optimal within the reduced option set: proven the cheapest within the gap target among "
                              "the layouts the MILP was given (capped for speed), not on every layout; the gap shown is "
                              "against a bound on the full problem, where one is known.",
    "feasible": "Feasible but not proven optimal (the solver stopped early): a cheaper plan may exist, "
                "by at most the gap.",
    "infeasible": "Infeasible: no plan meets every hard limit. See the diagnosis for what is missing.",
    "no_plan": "No plan: the solver stopped before finding any plan. Raise the time limit or relax limits.",
}

_CONSTRAINT_WORDS = {
    "site_power": "Site power", "rack_power": "Rack power", "rack_space": "Rack space", "budget": "Budget",
    "budget_quarter": "Quarterly budget", "budget_total": "Total budget", "supply": "Supply",
    "supply_chip": "Chip supply", "supply_vendor": "Vendor supply", "rack_positions": "Rack space",
    "vendor_share": "Vendor share limit", "latency": "Latency", "demand": "Demand", "lead_time": "Lead time",
}


#: statuses shown in words where plain text reads better than the plan.json token
_STATUS_LABEL = {"optimal_in_reduced_set": "optimal within the reduced option set"}


def status_text(status: str) -> str:
    """One sentence saying what the solver status means for the reader."""
    return _STATUS_TEXT.get(status, f"Status {status!r}.")


def status_label(status: str, plan: dict[str, Any] | None = None) -> str:
    """The status for text: `optimal_in_reduced_set (optimal within the reduced option set)`, `infeasible (headroom
    short, forecast served)` when only headroom buffers are short (`headroom_only`), others as they are."""
    if status == "infeasible" and plan is not None and headroom_only(plan):
        return f"{status} ({HEADROOM_ONLY_LABEL})"
    return f"{status} ({_STATUS_LABEL[status]})" if status in _STATUS_LABEL else status


#: the status's words when every forecast peak is served and only headroom buffers are short
HEADROOM_ONLY_LABEL = "headroom short, forecast served"


def headroom_only(plan: dict[str, Any]) -> bool:
    """True for an infeasible plan whose diagnosis leaves no forecast peak short, only headroom buffers
    (plan.json diagnosis rows of kind `headroom`): infeasible against the policy, not against the demand."""
    rows = [r for r in plan.get("diagnosis") or [] if isinstance(r, dict)]
    return (plan.get("status") == "infeasible" and any(r.get("kind") == "headroom" for r in rows)
            and all(r.get("kind") == "headroom" for r in rows))


def shortfall_heading(plan: dict[str, Any]) -> str:
    """Heading of the diagnosis sentences: 'Unmet demand', or 'Headroom short (forecast served)'."""
    return "Headroom short (forecast served)" if headroom_only(plan) else "Unmet demand"


def plan_status_text(plan: dict[str, Any]) -> str:
    """`status_text` of the plan's status; an infeasible plan whose only shortfall is headroom says so."""
    status = str(plan.get("status"))
    if status == "infeasible" and headroom_only(plan):
        return ("Infeasible against the policy (headroom short, forecast served): every forecast peak is served, but "
                "not the full headroom buffer policy.headroom_fraction asks for. See the diagnosis for how much and why.")
    return status_text(status)


def _bound_notes(plan: dict[str, Any]) -> tuple[str, str]:
    """Notes of the best bound and the gap: which bound they use (plan.json `option_set`, `solvers.full_bound`)."""
    opts = plan.get("option_set") if isinstance(plan.get("option_set"), dict) else {}
    if not opts.get("reduced"):
        return "the objective of no plan can be lower than this", "(objective - bound) / objective"
    reduced = opts.get("reduced_set_mip_bound_usd")
    own = f" (its own bound, {fmt_usd(reduced)}, holds for that set only)" if is_number(reduced) else ""
    if opts.get("gap_uses"):
        return (f"LP relaxation on every undominated option: the MILP ran on a capped option set{own}; no plan can "
                "cost less than this", "(objective - bound) / objective, against the LP bound on every undominated option")
    return (f"unknown: the LP bound on every undominated option did not finish ({opts.get('unreduced_lp_status')}); "
            f"the MILP ran on a capped option set{own}", "unknown: no bound on the full problem")


#: policy.objective -> (name, unit, how) when the plan does not name its objective (plans before kpis.objective_name)
_OBJECTIVES = {
    "min_tco": ("net horizon cost", "USD", "minimised; plus penalties on unmet demand"),
    "min_energy": ("energy cost", "USD", "minimised, with hardware cost as a tie-break; plus penalties on unmet demand"),
    "max_tokens": ("unmet demand", "solver units, not USD",
                   "minimised (serves the most tokens), with cost as a tie-break"),
}


@dataclass(frozen=True)
class Objective:
    """What the optimizer minimised: its name, its unit and its value in that unit."""

    name: str
    unit: str
    value: Any
    how: str

    @property
    def kind(self) -> str:
        """Value kind: dollars only when the unit is USD."""
        unit = self.unit.strip().lower()
        return "usd" if unit in ("usd", "$") else "tokens" if unit.startswith("token") else "number"

    @property
    def label(self) -> str:
        return f"Objective: {self.name} ({self.unit})"


def objective_of(plan: dict[str, Any]) -> Objective:
    """The plan's objective as named in `kpis.objective_name/unit/value`, else from the scenario's policy."""
    k = plan.get("kpis") or {}
    block = plan.get("objective") if isinstance(plan.get("objective"), dict) else {}
    if block.get("name") or k.get("objective_name"):
        name = block.get("name") or k["objective_name"]
        unit = block.get("unit") or k.get("objective_unit") or "USD"
        value = block["value"] if "value" in block else k.get("objective_value", plan.get("objective_usd"))
        return Objective(str(name), str(unit), value, str(block.get("note") or "minimised"))
    policy = ((plan.get("finance") or {}).get("assumptions") or {}).get("objective") or "min_tco"
    name, unit, how = _OBJECTIVES.get(str(policy), (str(policy), "solver units", ""))
    if policy == "min_tco" and is_number(k.get("tco_usd")):  # an optimizer that minimised capex + opex - residual
        name, how = "TCO", "capex + energy + facility - residual value, minimised; plus penalties on unmet demand"
    return Objective(name, unit, plan.get("objective_usd"), how)


def _money(plan: dict[str, Any], key: str) -> Any:
    """A horizon money figure: the finance schedule's total, else the optimizer's KPI of the same name."""
    totals = (plan.get("finance") or {}).get("totals") or {}
    if is_number(totals.get(key)):
        return totals[key]
    return (plan.get("kpis") or {}).get(key)


def key_figures(plan: dict[str, Any]) -> list[Figure]:
    """Headline figures in reading order: result, cash, accounting (net cost), legacy cost split, efficiency."""
    k = plan.get("kpis") or {}
    totals = (plan.get("finance") or {}).get("totals") or {}
    obj = objective_of(plan)
    bound_kind = obj.kind
    bound_note, gap_note = _bound_notes(plan)
    capex_cash = _money(plan, "capex_cash_usd")
    return [
        Figure("status", "Status", plan.get("status"), "text", plan_status_text(plan)),
        Figure("objective_usd", obj.label, obj.value, obj.kind, obj.how),
        Figure("best_bound_usd", f"Best bound ({obj.unit})", plan.get("best_bound_usd"), bound_kind,
               bound_note),
        Figure("mip_gap", "Optimality gap", plan.get("mip_gap"), "pct", gap_note),
        Figure("capex_cash_usd", "Capex cash (USD)", capex_cash if capex_cash is not None else k.get("capex_usd"), "usd",
               "cash paid for hardware over the horizon" + (f", of which {fmt_usd(k['committed_capex_cash_usd'])} for orders "
                                                            "a re-plan kept (committed)" if k.get("committed_capex_cash_usd") else "")),
        Figure("lease_usd", "Leases, cash (USD)", _money(plan, "lease_usd"), "usd", "lease payments over the horizon"),
        Figure("cash_out_usd", "Cash out (USD)", _money(plan, "cash_out_usd"), "usd",
               "capex cash + leases + energy + facility"),
        Figure("depreciation_usd", "Depreciation (USD)", _money(plan, "depreciation_usd"), "usd",
               "straight line, bought hardware and the existing fleet"),
        Figure("resale_value_usd", "Resale value at horizon end (USD)", _money(plan, "resale_value_usd"), "usd",
               "resale fraction x closing net book value (an assumption)"),
        Figure("net_book_value_usd", "Net book value at horizon end (USD)", totals.get("net_book_value_usd"), "usd",
               "cost - depreciation of hardware in service"),
        Figure("net_cost_usd", "Net cost (USD)", _money(plan, "net_cost_usd"), "usd",
               "depreciation + write-down to resale value + energy + facility + leases"),
        Figure("capex_usd", "Capex (cash)", k.get("capex_usd"), "usd", "hardware bought over the horizon, paid in full"
               + (" (with kept orders paid inside it)" if k.get("committed_capex_cash_usd") else "")),
        Figure("energy_usd", "Energy", k.get("energy_usd"), "usd", "IT power x PUE x hours x price"),
        Figure("facility_usd", "Facility", k.get("facility_usd"), "usd", "space, cooling and network of occupied racks"),
        Figure("fleet_book_value_start_usd", "Existing fleet book value at the start", k.get("fleet_book_value_start_usd"),
               "usd", "in service at the start: estimate (catalog price as the cost basis; a re-plan's kept orders at "
               "their own price), straight-line"),
        Figure("fleet_in_transit_start_usd", "Hardware in transit at the start", k.get("fleet_in_transit_start_usd"),
               "usd", "paid before the horizon, arriving inside it (a re-plan's kept orders): capitalised on arrival"),
        Figure("lease_after_horizon_usd", "Leases committed after the horizon", k.get("lease_after_horizon_usd"), "usd",
               "minimum terms running past the horizon (counted in the net cost, not in cash out)"),
        Figure("residual_value_usd", "Resale value", k.get("residual_value_usd"), "usd",
               "resale fraction x net book value at the horizon's end (deducted)"),
        Figure("tco_usd", "Net horizon cost", k.get("tco_usd"), "usd",
               "capex + fleet book value and in transit at the start + energy + facility + leases - resale value "
               "(= depreciation + write-down + energy + facility + leases)"),
        Figure("opex_usd", "Opex", k.get("opex_usd"), "usd", "energy + facility + leases paid"),
        Figure("usd_per_million_tokens", "Cost per million tokens", k.get("usd_per_million_tokens"), "usd_small",
               "net horizon cost / tokens served"),
        Figure("joules_per_token", "Energy per token (J)", k.get("joules_per_token"), "joules",
               "facility energy / tokens served"),
        Figure("energy_mwh", "Energy (MWh)", k.get("energy_mwh"), "mwh", "facility energy over the horizon"),
        Figure("served_tokens", "Tokens served", k.get("served_tokens"), "tokens", "over the horizon"),
    ]


def site_peaks(plan: dict[str, Any]) -> list[SitePeak]:
    """Peak IT power per site (first quarter reaching it) and the cap in force then; sorted by site."""
    caps = (plan.get("limits") or {}).get("site_power_cap_kw") or {}
    best: dict[str, tuple[float, str | None, float | None]] = {}
    for row in sorted(plan.get("power") or [], key=lambda r: (str(r["quarter"]), str(r["site"]))):
        site, kw = row["site"], row["it_power_kw"]
        cap = row.get("cap_kw") if is_number(row.get("cap_kw")) else caps.get(site)
        if site not in best or kw > best[site][0]:
            best[site] = (kw, row["quarter"], cap)
    for site, cap in caps.items():
        best.setdefault(site, (0.0, None, cap))
    return [SitePeak(s, *best[s]) for s in sorted(best, key=str)]


def _per_unit(unit: str | None) -> tuple[str, str]:
    """('one more kW', '') from 'USD per kW'; ('one more dollar of budget', ' (LP relaxation)') from
    'USD per USD of budget (LP relaxation)'."""
    text = (unit or "").strip()
    note = ""
    m = re.match(r"^(.*?)\s*(\([^()]*\))$", text)
    if m:
        text, note = m.group(1), f" {m.group(2)}"
    m = re.match(r"^USD\s+per\s+(.+)$", text, re.IGNORECASE)
    thing = m.group(1) if m else (text or "unit")
    thing = re.sub(r"^(USD|\$)(?=\s|$)", "dollar", thing, flags=re.IGNORECASE)
    return f"one more {thing}", note


def binding_sentence(row: dict[str, Any]) -> str:
    """'Site power at site_a binds in 2027Q3: one more kW is worth $1,234.'; a price that shows as zero at the
    precision printed: '... binds in 2027Q3 but has no marginal value: one more kW would save nothing.'"""
    name = str(row.get("constraint") or "constraint")
    words = _CONSTRAINT_WORDS.get(name, name.replace("_", " ").strip().capitalize())
    place = row.get("where")
    where = f" at {place}" if place and place != row.get("quarter") else ""
    when = f" in {row['quarter']}" if row.get("quarter") else " over the horizon"
    price = row.get("shadow_price_usd")
    if not is_number(price):
        return f"{words}{where} binds{when} (no shadow price available)."
    decimals = 0 if abs(price) >= 100 else 2 if abs(price) >= 0.01 else 4
    thing, note = _per_unit(row.get("unit"))
    if round(abs(price), decimals) == 0:  # "$0.0000" would read as a price; the limit is full but more saves nothing
        return f"{words}{where} binds{when} but has no marginal value: {thing} would save nothing{note}."
    return f"{words}{where} binds{when}: {thing} is worth {fmt_usd(abs(price), decimals)}{note}."


def binding_sentences(plan: dict[str, Any]) -> list[str]:
    """Binding constraints in words, most valuable first."""
    rows = sorted(plan.get("binding") or [],
                  key=lambda r: (-abs(r["shadow_price_usd"]) if is_number(r.get("shadow_price_usd")) else 1.0,
                                 str(r.get("quarter")), str(r.get("constraint")), str(r.get("where"))))
    return [binding_sentence(r) for r in rows]


def diagnosis_sentences(plan: dict[str, Any]) -> list[str]:
    """Unmet demand in words: 'chat-70b is short 6,000 tokens/s in 2027Q1: cause'; first a caution when the
    diagnosis stopped at its time limit (plan.json `diagnosis_run`: its figures are then not proven)."""
    run = plan.get("diagnosis_run") if isinstance(plan.get("diagnosis_run"), dict) else {}
    head = [f"Caution: {run['caution']}"] if run.get("caution") else []
    out: list[str] = []
    for row in sorted(plan.get("diagnosis") or [], key=lambda r: (str(r.get("quarter")), str(r["workload"]))):
        when = f" in {row['quarter']}" if row.get("quarter") else ""
        short = format_value(row["short_tokens_per_s"], "tokens")
        if row.get("kind") == "headroom":  # the forecast is served: only the policy's buffer above it is short
            out.append(f"{row['workload']}{when}: {row.get('message') or 'the headroom buffer is short'}: {row['cause']}")
        else:
            out.append(f"{row['workload']} is short {short} tokens/s{when}: {row['cause']}")
    if not out:  # no diagnosis, yet a capacity row short (or no capacity table at all): never say "all demand is met"
        for row in plan.get("capacity") or []:
            if float(row.get("unmet_tokens_per_s") or 0.0) > 1e-6 * max(1.0, float(row.get("required_tokens_per_s") or 0.0)):
                out.append(f"{row['workload']} is short {format_value(row['unmet_tokens_per_s'], 'tokens')} tokens/s in {row['quarter']}")
        if not out and plan.get("status") not in SOLUTION_STATUSES:
            out.append(f"no plan meets the demand (status {plan.get('status')})")
    return head + out


def _short_usd(value: Any) -> str:
    """`$175.1M`, `$43,641` (under a million), an em dash when missing."""
    if not is_number(value):
        return "—"
    return f"${value / 1e6:,.1f}M" if abs(value) >= 1e6 else fmt_usd(value)


def summary_line(plan: dict[str, Any]) -> str:
    """One line for the terminal: status, the objective in its own unit, then cash and net cost, each labelled.

    `status optimal, objective (net horizon cost, USD) $96,889,824, gap 0.76%; cash out $196.5M (capex cash $175.1M,
    leases $0, energy $11.1M, facility $10.4M); depreciation $75.4M, resale value $170.5M, net cost $96.9M`
    The objective is read from plan.json's `objective` block or `kpis.objective_name/unit/value` when present.
    """
    obj = objective_of(plan)
    parts = [f"status {status_label(str(plan.get('status')), plan)}"]
    if is_number(obj.value):
        shown = fmt_usd(obj.value) if obj.kind == "usd" else f"{format_value(obj.value, obj.kind)} {obj.unit}"
        parts.append(f"objective ({obj.name}, {obj.unit}) {shown}" if obj.kind == "usd" else f"objective ({obj.name}) {shown}")
    if is_number(plan.get("mip_gap")):
        parts.append(f"gap {plan['mip_gap'] * 100:.2f}%")
    block = plan.get("objective") if isinstance(plan.get("objective"), dict) else {}
    tiebreak, solver = block.get("tiebreak_usd"), block.get("solver_objective")
    if is_number(tiebreak) and is_number(solver) and is_number(obj.value) and abs(tiebreak) > 0.01 * abs(obj.value):
        parts.append(f"solver objective incl. penalties {fmt_usd(solver)}")
    line = ", ".join(parts)
    figs = {f.key: f.value for f in key_figures(plan)}
    energy, facility = _money(plan, "energy_usd"), _money(plan, "facility_usd")
    if is_number(figs["cash_out_usd"]):
        line += (f"; cash out {_short_usd(figs['cash_out_usd'])} (capex cash {_short_usd(figs['capex_cash_usd'])}, "
                 f"leases {_short_usd(figs['lease_usd'] or 0.0)}, energy {_short_usd(energy)}, "
                 f"facility {_short_usd(facility)})")
    elif is_number(figs["capex_cash_usd"]):
        line += f"; capex cash {_short_usd(figs['capex_cash_usd'])}"
    money = [(label, figs[key]) for key, label in (("depreciation_usd", "depreciation"),
                                                   ("resale_value_usd", "resale value"), ("net_cost_usd", "net cost"))
             if is_number(figs[key])]
    if money:
        line += "; " + ", ".join(f"{label} {_short_usd(v)}" for label, v in money)
    return line
