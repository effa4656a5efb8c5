"""Figures that compare scenarios side by side, with differences against the first (the base)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.results.summary import site_peaks
from planner.results.units import is_number

_MONEY = (("tco_usd", "Net horizon cost"), ("capex_usd", "Capex (cash)"), ("energy_usd", "Energy"),
          ("facility_usd", "Facility"), ("residual_value_usd", "Resale value"))


@dataclass(frozen=True)
class CompareRow:
    """One figure across scenarios; `values[i]` belongs to scenario i (None when absent)."""

    key: str
    label: str
    kind: str
    values: list[Any]

    def delta(self, i: int) -> float | None:
        """values[i] - values[0], when both are numbers."""
        base, other = self.values[0], self.values[i]
        return other - base if is_number(base) and is_number(other) else None

    def delta_pct(self, i: int) -> float | None:
        """Relative difference against the base (0.05 = +5%); None when the base is zero or missing."""
        d = self.delta(i)
        return d / abs(self.values[0]) if d is not None and self.values[0] != 0 else None


def scenario_names(plans: list[dict[str, Any]]) -> list[str]:
    """Column names: each plan's scenario, numbered when two plans share a name."""
    names = [str(p.get("scenario") or f"plan {i + 1}") for i, p in enumerate(plans)]
    out = []
    for i, name in enumerate(names):
        out.append(f"{name} ({i + 1})" if names.count(name) > 1 else name)
    return out


def _chips_by_vendor(plan: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in plan.get("purchases") or []:
        out[str(p["vendor"])] = out.get(str(p["vendor"]), 0) + int(p["chips"])
    return out


def comparison_rows(plans: list[dict[str, Any]]) -> list[CompareRow]:
    """Status, gap, cost split, unit cost, chips bought per vendor, peak power per site."""
    kpis = [p.get("kpis") or {} for p in plans]
    rows = [CompareRow("status", "Status", "text", [p.get("status") for p in plans]),
            CompareRow("mip_gap", "Optimality gap", "pct", [p.get("mip_gap") for p in plans])]
    rows += [CompareRow(key, label, "usd", [k.get(key) for k in kpis]) for key, label in _MONEY]
    rows.append(CompareRow("usd_per_million_tokens", "Cost per million tokens", "usd_small",
                           [k.get("usd_per_million_tokens") for k in kpis]))
    rows.append(CompareRow("joules_per_token", "Energy per token (J)", "joules", [k.get("joules_per_token") for k in kpis]))
    chips = [_chips_by_vendor(p) for p in plans]
    for vendor in sorted({v for c in chips for v in c}):
        rows.append(CompareRow(f"chips_bought.{vendor}", f"Chips bought: {vendor}", "int", [c.get(vendor, 0) for c in chips]))
    peaks = [{s.site: s.peak_kw for s in site_peaks(p)} for p in plans]
    for site in sorted({s for pk in peaks for s in pk}):
        rows.append(CompareRow(f"peak_it_power_kw.{site}", f"Peak IT power: {site} (kW)", "kw",
                               [pk.get(site) for pk in peaks]))
    return rows
