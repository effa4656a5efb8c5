"""Cross-file consistency: dangling ids, duplicates, quarters outside the horizon or with gaps.

Runs after each file validated on its own and before anything is built. Each check returns problems
that name the file, the locator and the fix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from planner.errors import Problem
from planner.schemas.chips import ChipSpec
from planner.schemas.common import quarter_index, quarter_name
from planner.schemas.models import ModelSpec
from planner.schemas.scenario import Scenario
from planner.schemas.sites import FleetEntry, Site, SitesFile
from planner.schemas.workloads import WorkloadRow


def _suggest(value: str, known: list[str]) -> str:
    import difflib

    by_lower = {k.lower(): k for k in known}  # 'Nvidia' -> 'NVIDIA': case alone must not hide the match
    close = difflib.get_close_matches(value.lower(), list(by_lower), n=1)
    return f" Did you mean {by_lower[close[0]]!r}?" if close else f" Known: {', '.join(sorted(known)[:12])}{' ...' if len(known) > 12 else ''}."


def check_workloads(
    workloads: list[WorkloadRow],
    row_numbers: list[int],
    file: str,
    quarters: list[str],
    models: Mapping[str, ModelSpec],
    site_ids: set[str],
    rows_complete: bool = True,
) -> list[Problem]:
    """Models exist, quarters inside the horizon, one row per (workload, quarter), one model per workload, no gaps.

    A workload's model is the one most of its rows name; only rows that differ are reported. Gaps are only
    checked when every row of the file was valid (a rejected row would otherwise show up twice).
    """
    from collections import Counter

    out: list[Problem] = []
    horizon = set(quarters)
    seen: dict[tuple[str, str], int] = {}
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    first_row: dict[tuple[str, str], int] = {}
    for i, w in enumerate(workloads):
        votes[w.workload_id][w.model_id] += 1
        first_row.setdefault((w.workload_id, w.model_id), i)
    model_of = {wid: max(sorted(c), key=lambda m: c[m]) for wid, c in votes.items()}
    by_workload: dict[str, list[str]] = defaultdict(list)
    for i, w in enumerate(workloads):
        row = f"row {row_numbers[i]}"
        if w.model_id not in models:
            out.append(Problem(file, f"{row}, model_id", f"unknown model {w.model_id!r}.{_suggest(w.model_id, list(models))}"))
        if w.quarter not in horizon:
            out.append(Problem(file, f"{row}, quarter", f"{w.quarter} is outside the horizon {quarters[0]}..{quarters[-1]}; drop the row or widen horizon.quarters."))
        key = (w.workload_id, w.quarter)
        if key in seen:
            out.append(Problem(file, f"{row}, workload_id", f"duplicate row for workload {w.workload_id!r} in {w.quarter} (also row {row_numbers[seen[key]]}); keep one."))
        else:
            seen[key] = i
        main = model_of[w.workload_id]
        if main != w.model_id and w.model_id in models:
            out.append(Problem(file, f"{row}, model_id", f"workload {w.workload_id!r} serves {main!r} in its other rows (e.g. row {row_numbers[first_row[(w.workload_id, main)]]}); one workload serves one model. Use a new workload id."))
        if w.spec_tokens is not None and w.model_id in models:
            from planner.perf.speculative import speculation_problem

            names = {"tokens": "spec_tokens", "acceptance": "spec_acceptance", "draft_model": "spec_draft_model",
                     "head_cost": "spec_head_cost"}
            bad = speculation_problem(w.spec_tokens, w.spec_acceptance, w.spec_draft_model, w.spec_head_cost,
                                      models[w.model_id], models, names)
            if bad:
                out.append(Problem(file, f"{row}, spec_draft_model", bad))
        for s in w.allowed_sites:
            if s not in site_ids:
                out.append(Problem(file, f"{row}, allowed_sites", f"unknown site {s!r}.{_suggest(s, list(site_ids))}"))
        by_workload[w.workload_id].append(w.quarter)
    for wid, qs in by_workload.items() if rows_complete else ():
        idx = sorted({quarter_index(q) for q in qs if q in horizon})
        if idx:
            missing = [quarter_name(k) for k in range(idx[0], idx[-1] + 1) if k not in idx]
            if missing:
                out.append(Problem(file, f"workload {wid}", f"no row for {', '.join(missing)} between {quarter_name(idx[0])} and {quarter_name(idx[-1])}; quarters must not have gaps (repeat the previous row if demand is flat)."))
    return out


def check_sites(sites: SitesFile, file: str, quarters: list[str], chips: Mapping[str, ChipSpec]) -> list[Problem]:
    """Unique site ids; fleet entries point at existing sites, rack types and chips, installed before the horizon ends."""
    out: list[Problem] = []
    by_id: dict[str, int] = {}
    for i, s in enumerate(sites.sites):
        if s.site_id in by_id:
            out.append(Problem(file, f"sites[{i}].site_id", f"duplicate site id {s.site_id!r} (also sites[{by_id[s.site_id]}])."))
        else:
            by_id[s.site_id] = i
    last = quarter_index(quarters[-1])
    for i, f in enumerate(sites.fleet):
        loc = f"fleet[{i}]"
        if f.site_id not in by_id:
            out.append(Problem(file, f"{loc}.site_id", f"unknown site {f.site_id!r}.{_suggest(f.site_id, list(by_id))}"))
        else:
            site = sites.sites[by_id[f.site_id]]
            racks = [r.rack_type_id for r in site.rack_types]
            if f.rack_type_id not in racks:
                out.append(Problem(file, f"{loc}.rack_type_id", f"site {f.site_id!r} has no rack type {f.rack_type_id!r}.{_suggest(f.rack_type_id, racks)}"))
        if f.chip_id not in chips:
            out.append(Problem(file, f"{loc}.chip_id", f"unknown chip {f.chip_id!r}.{_suggest(f.chip_id, list(chips))}"))
        if quarter_index(f.installed_quarter) > last:
            out.append(Problem(file, f"{loc}.installed_quarter", f"{f.installed_quarter} is after the horizon ends ({quarters[-1]})."))
        elif f.site_id in by_id and f.chip_id in chips:
            out += _fleet_fits(f, loc, sites.sites[by_id[f.site_id]], chips[f.chip_id], quarters, file)
    return out


def _fleet_fits(f: FleetEntry, loc: str, site: Site, chip: ChipSpec, quarters: list[str], file: str) -> list[Problem]:
    """Existing servers still in service during the horizon must fit the rack type they stand in."""
    from planner.topology.placement import rack_fit

    rack = next((r for r in site.rack_types if r.rack_type_id == f.rack_type_id), None)
    retired = quarter_index(f.installed_quarter) + chip.lifetime_quarters <= quarter_index(quarters[0])
    if rack is None or retired:
        return []
    where = f"{site.site_id}/{rack.rack_type_id}"
    if rack.count == 0:
        return [Problem(file, f"{loc}.rack_type_id", f"{f.servers} existing {chip.chip_id} servers stand in {where}, which has "
                                                     "count: 0 rack positions. Give the rack type its positions or move the servers.")]
    n, why = rack_fit(chip, rack)
    if n == 0:
        return [Problem(file, f"{loc}.rack_type_id", f"{f.servers} existing {chip.chip_id} servers cannot stand in {where}: "
                                                     f"{why}. Fix the rack type or move the servers.")]
    return []


def check_scenario(scenario: Scenario, file: str, quarters: list[str], chips: Mapping[str, ChipSpec]) -> list[Problem]:
    """Chip ids, vendor names and budget quarters named by the scenario exist."""
    out: list[Problem] = []
    vendors = sorted({c.vendor for c in chips.values()})
    for cid in scenario.policy.allowed_chips or []:
        if cid not in chips:
            out.append(Problem(file, "policy.allowed_chips", f"unknown chip {cid!r}.{_suggest(cid, list(chips))}"))
    for cid in scenario.chip_terms:
        if cid not in chips:
            out.append(Problem(file, f"chip_terms.{cid}", f"unknown chip {cid!r}.{_suggest(cid, list(chips))}"))
    for v in scenario.vendors:
        if v not in vendors:
            out.append(Problem(file, f"vendors.{v}", f"no chip in the catalog has vendor {v!r}.{_suggest(v, vendors)}"))
    for q in scenario.policy.capex_budget_usd_by_quarter:
        if q not in quarters:
            out.append(Problem(file, f"policy.capex_budget_usd_by_quarter.{q}", f"{q} is outside the horizon {quarters[0]}..{quarters[-1]}."))
    return out


def cross_check(
    scenario: Scenario,
    scenario_file: str,
    quarters: list[str],
    chips: Mapping[str, ChipSpec],
    models: Mapping[str, ModelSpec],
    workloads: list[WorkloadRow],
    workload_rows: list[int],
    sites: SitesFile | None,
    paths: Mapping[str, Path],
    rows_complete: bool = True,
) -> list[Problem]:
    """All cross-file checks, in file order; checks needing a file that failed to load are skipped."""
    first = quarter_index(scenario.horizon.first_quarter)
    first_year, last_year = first // 4, (first + scenario.horizon.quarters - 1) // 4
    if first_year < 1000 or last_year > 9999:  # quarters are named with 4-digit years (0000Q1 would become 0Q1)
        return [Problem(scenario_file, "horizon.first_quarter", f"the horizon must lie within the years 1000..9999; "
                                                                 f"it spans {first_year}..{last_year}.")]
    out: list[Problem] = []
    if chips:
        out += check_scenario(scenario, scenario_file, quarters, chips)
    if models and sites is not None:
        site_ids = {s.site_id for s in sites.sites}
        out += check_workloads(workloads, workload_rows, paths["workloads"].name, quarters, models, site_ids, rows_complete)
    if sites is not None and chips:
        out += check_sites(sites, paths["sites"].name, quarters, chips)
    return out
