"""Cross-file consistency: dangling ids, duplicates, quarters outside the horizon or with gaps.

Runs after each file validated on its own and before anything is built. Each check returns problems
that name the file, the locator and the fix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from planner.errors import Problem
from planner.io.workloads_csv import RejectedRow
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
    quarters: list[str] | None,
    models: Mapping[str, ModelSpec],
    site_ids: set[str] | None,
    rows_complete: bool = True,
    rejected: Sequence[RejectedRow] = (),
) -> list[Problem]:
    """Models exist, quarters inside the horizon, one row per (workload, quarter), one model per workload, no gaps.

    A workload's model is the one most of its rows name; only rows that differ are reported. Gaps are only
    checked when every row of the file was valid (a rejected row would otherwise show up twice). `quarters` None
    (the scenario's horizon is itself invalid): the horizon checks are skipped. `rejected` rows (invalid in some
    field) still have their other fields' model and quarter checked, so one report lists both kinds of problem.
    """
    from collections import Counter

    out: list[Problem] = []
    for r in rejected:
        model_id, quarter = r.good.get("model_id"), r.good.get("quarter")
        if model_id and model_id not in models:
            out.append(Problem(file, f"row {r.line_no}, model_id", f"unknown model {model_id!r}.{_suggest(model_id, list(models))}"))
        if quarters is not None and quarter and quarter not in quarters:
            out.append(Problem(file, f"row {r.line_no}, quarter", f"{quarter} is outside the horizon {quarters[0]}..{quarters[-1]}; drop the row or widen horizon.quarters."))
    horizon = set(quarters) if quarters is not None else {w.quarter for w in workloads}
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
        if quarters is not None and w.quarter not in horizon:
            out.append(Problem(file, f"{row}, quarter", f"{w.quarter} is outside the horizon {quarters[0]}..{quarters[-1]}; drop the row or widen horizon.quarters."))
        key = (w.workload_id, w.quarter)
        if key in seen:
            out.append(Problem(file, f"{row}, workload_id", f"duplicate row for workload {w.workload_id!r} in {w.quarter} (also row {row_numbers[seen[key]]}); keep one."))
        else:
            seen[key] = i
        main = model_of[w.workload_id]
        if main != w.model_id and w.model_id in models:
            out.append(Problem(file, f"{row}, model_id", f"workload {w.workload_id!r} serves {main!r} in its other rows (e.g. row {row_numbers[first_row[(w.workload_id, main)]]}); one workload serves one model. Use a new workload id."))
        if w.model_id in models and w.prompt_tokens_mean + w.output_tokens_mean > models[w.model_id].max_context_tokens:
            ctx = models[w.model_id].max_context_tokens
            out.append(Problem(file, f"{row}, prompt_tokens_mean", f"prompt_tokens_mean {w.prompt_tokens_mean:g} + output_tokens_mean {w.output_tokens_mean:g} = {w.prompt_tokens_mean + w.output_tokens_mean:g} tokens do not fit the context of {w.model_id!r} ({ctx:,} tokens, max_context_tokens in the model catalog); shorten the requests or serve a model with a longer context."))
        if w.spec_tokens is not None and w.model_id in models:
            from planner.perf.speculative import speculation_problem

            names = {"tokens": "spec_tokens", "acceptance": "spec_acceptance", "draft_model": "spec_draft_model",
                     "head_cost": "spec_head_cost"}
            bad = speculation_problem(w.spec_tokens, w.spec_acceptance, w.spec_draft_model, w.spec_head_cost,
                                      models[w.model_id], models, names)
            if bad:
                out.append(Problem(file, f"{row}, spec_draft_model", bad))
        for s in w.allowed_sites if site_ids is not None else ():
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


@dataclass(frozen=True)
class PartialSites:
    """What of an invalid sites file is valid on its own: the site ids (None when any site entry is invalid, so
    no reference to a site can be judged) and the valid fleet entries with their index in the file."""

    site_ids: set[str] | None
    fleet: list[tuple[int, FleetEntry]]


def partial_sites(data: Mapping[str, object]) -> PartialSites:
    """The valid parts of an unvalidated sites mapping (see `PartialSites`)."""
    from pydantic import ValidationError

    raw_sites, raw_fleet = data.get("sites"), data.get("fleet")
    sites: list[Site] = []
    for item in raw_sites if isinstance(raw_sites, list) else ():
        try:
            sites.append(Site.model_validate(item))
        except (ValidationError, RecursionError):
            continue
    fleet: list[tuple[int, FleetEntry]] = []
    for i, item in enumerate(raw_fleet if isinstance(raw_fleet, list) else ()):
        try:
            fleet.append((i, FleetEntry.model_validate(item)))
        except (ValidationError, RecursionError):
            continue
    all_sites_ok = isinstance(raw_sites, list) and bool(sites) and len(sites) == len(raw_sites)
    return PartialSites({s.site_id for s in sites} if all_sites_ok else None, fleet)


def check_partial_sites(sites: PartialSites, file: str, chips: Mapping[str, ChipSpec]) -> list[Problem]:
    """The references of an invalid sites file's valid fleet entries: chips, and sites when every site is valid."""
    out = []
    for i, f in sites.fleet:
        if sites.site_ids is not None and f.site_id not in sites.site_ids:
            out.append(Problem(file, f"fleet[{i}].site_id", f"unknown site {f.site_id!r}.{_suggest(f.site_id, list(sites.site_ids))}"))
        if chips and f.chip_id not in chips:
            out.append(Problem(file, f"fleet[{i}].chip_id", f"unknown chip {f.chip_id!r}.{_suggest(f.chip_id, list(chips))}"))
    return out


def check_sites(sites: SitesFile, file: str, quarters: list[str] | None, chips: Mapping[str, ChipSpec]) -> list[Problem]:
    """Unique site ids; fleet entries point at existing sites, rack types and chips, installed before the horizon ends
    (`quarters` None: an invalid horizon, whose checks are skipped)."""
    out: list[Problem] = []
    by_id: dict[str, int] = {}
    for i, s in enumerate(sites.sites):
        if s.site_id in by_id:
            out.append(Problem(file, f"sites[{i}].site_id", f"duplicate site id {s.site_id!r} (also sites[{by_id[s.site_id]}])."))
        else:
            by_id[s.site_id] = i
    last = quarter_index(quarters[-1]) if quarters is not None else None
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
        if quarters is None or last is None:
            continue
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


@dataclass(frozen=True)
class ScenarioRefs:
    """The ids a scenario names in other files: taken from a valid `Scenario`, or from the parts of an invalid
    one that are valid on their own (`refs_of_raw`), so its unknown chips are reported beside its schema errors."""

    allowed_chips: tuple[str, ...] = ()
    chip_terms: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    budget_quarters: tuple[str, ...] = ()

    @classmethod
    def of(cls, scenario: Scenario) -> ScenarioRefs:
        return cls(tuple(scenario.policy.allowed_chips or ()), tuple(scenario.chip_terms), tuple(scenario.vendors),
                   tuple(scenario.policy.capex_budget_usd_by_quarter))


def refs_of_raw(raw: Mapping[str, object], bad_locators: set[str]) -> ScenarioRefs:
    """The references of an unvalidated scenario mapping; a value whose own locator has a problem is left out."""

    def keys(value: object, where: str) -> tuple[str, ...]:
        if not isinstance(value, Mapping):
            return ()
        return tuple(k for k in value if isinstance(k, str) and not any(b.startswith(f"{where}.{k}.[key]") for b in bad_locators))

    policy = raw.get("policy")
    policy = policy if isinstance(policy, Mapping) else {}
    allowed = policy.get("allowed_chips")
    allowed_ok = isinstance(allowed, list) and not any(b.startswith("policy.allowed_chips") for b in bad_locators)
    return ScenarioRefs(tuple(c for c in allowed if isinstance(c, str)) if allowed_ok and isinstance(allowed, list) else (),
                        keys(raw.get("chip_terms"), "chip_terms"), keys(raw.get("vendors"), "vendors"),
                        keys(policy.get("capex_budget_usd_by_quarter"), "policy.capex_budget_usd_by_quarter"))


def check_scenario(scenario: Scenario | ScenarioRefs, file: str, quarters: list[str] | None,
                   chips: Mapping[str, ChipSpec]) -> list[Problem]:
    """Chip ids, vendor names and budget quarters named by the scenario exist (quarters: None skips the last)."""
    refs = scenario if isinstance(scenario, ScenarioRefs) else ScenarioRefs.of(scenario)
    out: list[Problem] = []
    vendors = sorted({c.vendor for c in chips.values()})
    for cid in refs.allowed_chips:
        if cid not in chips:
            out.append(Problem(file, "policy.allowed_chips", f"unknown chip {cid!r}.{_suggest(cid, list(chips))}"))
    for cid in refs.chip_terms:
        if cid not in chips:
            out.append(Problem(file, f"chip_terms.{cid}", f"unknown chip {cid!r}.{_suggest(cid, list(chips))}"))
    for v in refs.vendors:
        if v not in vendors:
            out.append(Problem(file, f"vendors.{v}", f"no chip in the catalog has vendor {v!r}.{_suggest(v, vendors)}"))
    for q in refs.budget_quarters if quarters is not None else ():
        if q not in quarters:
            out.append(Problem(file, f"policy.capex_budget_usd_by_quarter.{q}", f"{q} is outside the horizon {quarters[0]}..{quarters[-1]}."))
    return out


def horizon_years_problem(first_quarter: str, n_quarters: int, file: str) -> Problem | None:
    """Quarters are named with 4-digit years (0000Q1 would become 0Q1): a horizon outside 1000..9999 is refused."""
    first = quarter_index(first_quarter)
    first_year, last_year = first // 4, (first + n_quarters - 1) // 4
    if first_year < 1000 or last_year > 9999:
        return Problem(file, "horizon.first_quarter", f"the horizon must lie within the years 1000..9999; "
                                                       f"it spans {first_year}..{last_year}.")
    return None


def cross_check(
    scenario: Scenario | ScenarioRefs,
    scenario_file: str,
    quarters: list[str] | None,
    chips: Mapping[str, ChipSpec],
    models: Mapping[str, ModelSpec],
    workloads: list[WorkloadRow],
    workload_rows: list[int],
    sites: SitesFile | PartialSites | None,
    paths: Mapping[str, Path],
    rows_complete: bool = True,
    rejected: Sequence[RejectedRow] = (),
) -> list[Problem]:
    """All cross-file checks, in file order; checks needing a file that failed to load are skipped, and so are the
    horizon checks when `quarters` is None (the scenario's horizon is invalid and already reported)."""
    out: list[Problem] = []
    if isinstance(scenario, Scenario):
        year_problem = horizon_years_problem(scenario.horizon.first_quarter, scenario.horizon.quarters, scenario_file)
        if year_problem:
            return [year_problem]
    if chips:
        out += check_scenario(scenario, scenario_file, quarters, chips)
    if models:  # without a valid sites file the rows' allowed_sites wait; models and quarters are still checked
        site_ids = ({s.site_id for s in sites.sites} if isinstance(sites, SitesFile)
                    else sites.site_ids if isinstance(sites, PartialSites) else None)
        out += check_workloads(workloads, workload_rows, paths["workloads"].name, quarters, models, site_ids,
                               rows_complete, rejected)
    if isinstance(sites, SitesFile) and chips:
        out += check_sites(sites, paths["sites"].name, quarters, chips)
    elif isinstance(sites, PartialSites):
        out += check_partial_sites(sites, paths["sites"].name, chips)
    return out
