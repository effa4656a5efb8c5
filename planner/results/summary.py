"""The key figures of a plan and its findings in words, shared by the workbook, HTML and comparison."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from planner.results.units import fmt_usd, format_value, is_number


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


def status_text(status: str) -> str:
    """One sentence saying what the solver status means for the reader."""
    return _STATUS_TEXT.get(status, f"Status {status!r}.")


def key_figures(plan: dict[str, Any]) -> list[Figure]:
    """Headline figures in reading order: result, cost split, efficiency."""
    k = plan.get("kpis") or {}
    return [
        Figure("status", "Status", plan.get("status"), "text", status_text(str(plan.get("status")))),
        Figure("objective_usd", "Objective", plan.get("objective_usd"), "usd",
               "net horizon cost + epsilon tie-breaks ($1 per rack- and replica-quarter) + penalties (unmet demand); "
               "empty when the objective is not money (see objective_name)"),
        Figure("best_bound_usd", "Best bound", plan.get("best_bound_usd"), "usd", "no plan can cost less than this"),
        Figure("mip_gap", "Optimality gap", plan.get("mip_gap"), "pct", "(objective - bound) / objective"),
        Figure("capex_usd", "Capex (cash)", k.get("capex_usd"), "usd", "hardware bought over the horizon, paid in full"),
        Figure("energy_usd", "Energy", k.get("energy_usd"), "usd", "IT power x PUE x hours x price"),
        Figure("facility_usd", "Facility", k.get("facility_usd"), "usd", "space, cooling and network of occupied racks"),
        Figure("fleet_book_value_start_usd", "Existing fleet book value at the start", k.get("fleet_book_value_start_usd"),
               "usd", "estimate: catalog price as the fleet's cost basis, straight-line"),
        Figure("lease_usd", "Leases", k.get("lease_usd"), "usd", "lease payments inside the horizon (energy included)"),
        Figure("lease_after_horizon_usd", "Leases committed after the horizon", k.get("lease_after_horizon_usd"), "usd",
               "minimum terms running past the horizon (counted in the net cost, not in cash out)"),
        Figure("residual_value_usd", "Resale value", k.get("residual_value_usd"), "usd",
               "resale fraction x net book value at the horizon's end (deducted)"),
        Figure("tco_usd", "Net horizon cost", k.get("tco_usd"), "usd",
               "capex + fleet book value at the start + energy + facility + leases - resale value "
               "(= depreciation + write-down + energy + facility + leases)"),
        Figure("opex_usd", "Opex", k.get("opex_usd"), "usd", "energy + facility + leases paid"),
        Figure("depreciation_usd", "Depreciation", k.get("depreciation_usd"), "usd",
               "charged inside the horizon, bought hardware and the existing fleet"),
        Figure("cash_out_usd", "Cash out", k.get("cash_out_usd"), "usd", "capex + leases paid + energy + facility"),
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
    """'Site power at site_a binds in 2027Q3: one more kW is worth $1,234'."""
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
    return f"{words}{where} binds{when}: {thing} is worth {fmt_usd(abs(price), decimals)}{note}."


def binding_sentences(plan: dict[str, Any]) -> list[str]:
    """Binding constraints in words, most valuable first."""
    rows = sorted(plan.get("binding") or [],
                  key=lambda r: (-abs(r["shadow_price_usd"]) if is_number(r.get("shadow_price_usd")) else 1.0,
                                 str(r.get("quarter")), str(r.get("constraint")), str(r.get("where"))))
    return [binding_sentence(r) for r in rows]


def diagnosis_sentences(plan: dict[str, Any]) -> list[str]:
    """Unmet demand in words: 'chat-70b is short 6,000 tokens/s in 2027Q1: cause'."""
    out = []
    for row in sorted(plan.get("diagnosis") or [], key=lambda r: (str(r.get("quarter")), str(r["workload"]))):
        when = f" in {row['quarter']}" if row.get("quarter") else ""
        short = format_value(row["short_tokens_per_s"], "tokens")
        out.append(f"{row['workload']} is short {short} tokens/s{when}: {row['cause']}")
    if not out:  # no diagnosis, yet a capacity row short (or no capacity table at all): never say "all demand is met"
        for row in plan.get("capacity") or []:
            if float(row.get("unmet_tokens_per_s") or 0.0) > 1e-6 * max(1.0, float(row.get("required_tokens_per_s") or 0.0)):
                out.append(f"{row['workload']} is short {format_value(row['unmet_tokens_per_s'], 'tokens')} tokens/s in {row['quarter']}")
        if not out and plan.get("status") not in ("optimal", "feasible"):
            out.append(f"no plan meets the demand (status {plan.get('status')})")
    return out
