"""Stage 1 of the pipeline: load and validate every input file of a scenario into `PlanInputs`.

All problems from all files are collected and raised together as one `InputError`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.catalog import read_chip_catalog, read_model_catalog
from planner.checks.cross import (
    PartialSites,
    ScenarioRefs,
    cross_check,
    horizon_years_problem,
    partial_sites,
    refs_of_raw,
)
from planner.errors import InputError, Problem
from planner.io.safe_yaml import load_yaml, read_text
from planner.io.scenario_file import origin_of, read_scenario_raw
from planner.io.validate import validate_model
from planner.io.workloads_csv import RejectedRow, read_workloads
from planner.schemas.chips import ChipSpec
from planner.schemas.common import quarter_range
from planner.schemas.models import ModelSpec
from planner.schemas.scenario import Horizon, InputPaths, Scenario
from planner.schemas.sites import FleetEntry, Site, SitesFile
from planner.schemas.workloads import WorkloadRow


@dataclass(frozen=True)
class KeptLease:
    """A lease contract signed before this plan (kept by a re-plan): paid per quarter at its own rate for its whole
    term, so its payments from the plan's first quarter on are committed cash of the plan."""

    chip: str
    vendor: str
    contract_start_quarter: str
    term_quarters: int
    servers: int
    chips: int
    usd_per_chip_hour: float
    usd_per_quarter: float  # the contract's payment per quarter, all its servers
    rate_source: str  # where the rate comes from (the contract as written, else an estimate)


@dataclass(frozen=True)
class KeptOrder:
    """An order placed before this plan (kept by a re-plan), standing in `PlanInputs.fleet` from its delivery quarter:
    carried at its own price, and paid in `payment_quarter` (committed cash of the plan when that is inside it)."""

    order_quarter: str
    payment_quarter: str
    unit_price_usd: float
    cost_usd: float


@dataclass
class PlanInputs:
    """Everything a plan needs, validated and cross-checked."""

    scenario: Scenario
    scenario_path: Path
    quarters: list[str]
    chips: dict[str, ChipSpec]
    models: dict[str, ModelSpec]
    workloads: list[WorkloadRow]
    sites: dict[str, Site]
    fleet: list[FleetEntry]
    calibration_path: Path | None = None
    measurements: list[Any] = field(default_factory=list)  # planner.perf.measured.MeasuredPoint of inputs.measurements
    file_hashes: dict[str, str] = field(default_factory=dict)
    file_paths: dict[str, str] = field(default_factory=dict)
    #: servers under lease contracts signed before this plan (a re-plan keeps an earlier plan's, see
    #: `planner.replan.leases`): (chip, quarter) -> servers under contract in that quarter; they need no new lease
    leased: dict[tuple[str, str], int] = field(default_factory=dict)
    #: the same contracts, for their payments: each is paid for its whole term whatever the plan does
    kept_leases: list[KeptLease] = field(default_factory=list)
    #: index in `fleet` -> the kept order behind that entry (a re-plan's committed orders; the sites file's fleet has none)
    kept_orders: dict[int, KeptOrder] = field(default_factory=dict)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sites(path: Path) -> tuple[SitesFile | PartialSites | None, list[Problem]]:
    """The sites file; when it is invalid, the parts that are valid on their own (`PartialSites`) so their
    references are still cross-checked in the same report."""
    label = _label(path)
    data, problems = load_yaml(path, label)
    if data is None:
        return None, problems
    sites_file, problems = validate_model(SitesFile, data, label)
    if sites_file is not None or not isinstance(data, dict):
        return sites_file, problems
    return partial_sites(data), problems


def _blame_base(problems: list[Problem], label: str, origins: dict[str, str]) -> list[Problem]:
    """A problem in a value the scenario inherited through `extends` names the base file that wrote it."""
    out = []
    for p in problems:
        origin = origin_of(p.locator, origins) if p.file == label and p.locator else None
        out.append(Problem(origin, p.locator, p.message) if origin and origin != label else p)
    return out


def _check_calibration(path: Path, label: str) -> list[Problem]:
    """The optional calibration file exists, is a readable text file and parses (checked now, not mid-plan)."""
    _, problems = read_text(path, _label(path))
    if problems:
        return [Problem(label, "inputs.calibration", p.message) for p in problems]
    from planner.perf.calibration_io import load_calibration

    try:
        load_calibration(path)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return [Problem(label, "inputs.calibration", f"cannot use {path.name} as a calibration table: {exc}")]
    return []


def _label(path: Path) -> str:
    """How problems name a file: its name (`/` or `.` have none, so the path itself)."""
    return path.name or str(path)


def _read_files(paths: dict[str, Path], rejected: list[RejectedRow] | None = None) -> tuple[Any, list[Problem]]:
    """Each input file read and validated on its own: (chips, models, workloads, rows, sites_file), problems.
    `rejected` receives the forecast rows that failed validation (their valid fields are still cross-checked)."""
    problems: list[Problem] = []
    chips, p = read_chip_catalog(paths["chips"], _label(paths["chips"]))
    problems += p
    models, p = read_model_catalog(paths["models"], _label(paths["models"]))
    problems += p
    workloads, p, workload_rows = read_workloads(paths["workloads"], _label(paths["workloads"]), rejected)
    problems += p
    sites_file, p = _sites(paths["sites"])
    problems += p
    return (chips, models, workloads, workload_rows, sites_file), problems


def _cross_checked(scenario: Scenario | ScenarioRefs, label: str, quarters: list[str] | None,
                   paths: dict[str, Path]) -> list[Problem]:
    """Every file read on its own, then the cross-file checks on whatever loaded: one report of both kinds."""
    rejected: list[RejectedRow] = []
    (chips, models, workloads, workload_rows, sites_file), problems = _read_files(paths, rejected)
    rows_complete = not any(p.file == _label(paths["workloads"]) for p in problems)
    return problems + cross_check(scenario, label, quarters, chips, models, workloads, workload_rows, sites_file,
                                  paths, rows_complete, rejected)


def _input_paths(inputs: Any, label: str) -> tuple[dict[str, Path] | None, list[Problem]]:
    """The four required input paths, or problems when one is empty (an empty path would mean the folder)."""
    values = {role: getattr(inputs, role) for role in ("chips", "models", "workloads", "sites")}
    empty = [role for role, v in values.items() if not str(v).strip()]
    if empty:
        return None, [Problem(label, f"inputs.{role}", "is empty; give the path of the file (relative to the scenario file)") for role in empty]
    return {role: Path(v) for role, v in values.items()}, []


def _files_alone(raw: dict[str, Any], label: str, scenario_problems: list[Problem]) -> list[Problem]:
    """When the scenario itself is invalid but its `inputs:` block is fine, still report the other files' problems
    and the cross-file problems of the parts that are valid (an unknown chip in `policy.allowed_chips` beside a bad
    `horizon`); the horizon checks need a valid horizon."""
    inputs, problems = validate_model(InputPaths, raw.get("inputs"), label, "inputs")
    if inputs is None or problems:
        return []
    paths, problems = _input_paths(inputs, label)
    if paths is None:
        return problems
    horizon, bad_horizon = validate_model(Horizon, raw.get("horizon"), label, "horizon")
    quarters = None
    if horizon is not None and not bad_horizon and not horizon_years_problem(horizon.first_quarter, horizon.quarters, label):
        quarters = quarter_range(horizon.first_quarter, horizon.quarters)
    refs = refs_of_raw(raw, {p.locator for p in scenario_problems if p.file == label})
    return _cross_checked(refs, label, quarters, paths)


def load_inputs(scenario_path: str | Path, sets: Any = None) -> PlanInputs:
    """Read the scenario and the files it names; raise `InputError` listing every problem.

    `sets`: `--set` what-ifs (`["policy.headroom_fraction=0.2"]` or `{"policy.headroom_fraction": 0.2}`),
    applied to the merged scenario before validation (planner.io.overrides). A problem the what-ifs caused (one
    the scenario does not have without them) is located at the command line, `(example.yaml --set, ...)`.
    """
    try:
        return _load_inputs(scenario_path, sets)
    except InputError as exc:
        if not sets:
            raise
        raise InputError(_blamed(exc, Path(scenario_path), sets)) from None


def _blamed(exc: InputError, path: Path, sets: Any) -> list[Problem]:
    """The problems of a load with overrides, those the overrides caused located at the command line; a path an
    `inputs.*` override gave is relative to the working directory, and its not-found hint says so."""
    from planner.io.overrides import blame_overrides, normalise_sets, set_hint, set_label

    label = _label(path)
    at_set = set_label(label)
    try:  # the input files the overrides name, by the label their problems carry
        named = {_label(Path(v)): k for k, v in normalise_sets(sets, label).items()
                 if k.startswith("inputs.") and isinstance(v, str) and v.strip()}
    except (InputError, ValueError, TypeError):
        named = {}

    def hinted(problems: list[Problem]) -> list[Problem]:
        return [set_hint(p) if p.file == at_set and p.locator in named.values() else p for p in problems]

    if all(p.file == at_set for p in exc.problems):
        return hinted(exc.problems)
    try:
        _load_inputs(path, None)
        base: list[Problem] = []
    except InputError as without:
        base = without.problems
    except Exception:  # noqa: BLE001 - the scenario alone fails otherwise: keep the report as it was
        return exc.problems
    origins: dict[str, str] = {}
    read_scenario_raw(path, origins=origins)
    return hinted(blame_overrides(exc.problems, base, {label, *origins.values()}, label, named))


def _load_inputs(scenario_path: str | Path, sets: Any = None) -> PlanInputs:
    scenario_path = Path(scenario_path)
    label = _label(scenario_path)
    origins: dict[str, str] = {}
    raw, problems = read_scenario_raw(scenario_path, origins=origins)
    if raw is None:
        raise InputError(problems)
    set_problems: list[Problem] = []
    if sets:
        from planner.io.overrides import apply_sets

        # a refused override is not applied; the valid ones are, and validation goes on, so one report lists the
        # override's problem beside every other one (a boolean headroom beside an unknown chip in chip_terms)
        raw, set_problems = apply_sets(raw, sets, label, origins)
    scenario, problems = validate_model(Scenario, raw, label)
    if scenario is None:
        raise InputError(set_problems + _blame_base(problems + _files_alone(raw, label, problems), label, origins))

    paths, all_problems = _input_paths(scenario.inputs, label)
    if paths is None:
        raise InputError(set_problems + _blame_base(all_problems, label, origins))
    rejected: list[RejectedRow] = []
    (chips, models, workloads, workload_rows, sites_file), all_problems = _read_files(paths, rejected)
    calibration = Path(scenario.inputs.calibration) if scenario.inputs.calibration else None
    if calibration is not None:
        all_problems += _check_calibration(calibration, label)
    from planner.io.measurements import read_measurements

    measured, p, measurement_files = read_measurements(scenario.inputs.measurements, label, models, chips)
    all_problems += p

    # Cross-file checks run on whatever loaded, so one report lists every problem; a check whose file
    # failed to load at all is skipped (its own problems are already reported).
    quarters = quarter_range(scenario.horizon.first_quarter, scenario.horizon.quarters)
    workload_file = _label(paths["workloads"])
    rows_complete = not any(p.file == workload_file for p in all_problems)
    all_problems += cross_check(scenario, label, quarters, chips, models, workloads, workload_rows, sites_file, paths,
                                rows_complete, rejected)
    if all_problems:
        raise InputError(set_problems + _blame_base(all_problems, label, origins))
    if set_problems:
        raise InputError(set_problems)
    assert isinstance(sites_file, SitesFile)

    hashes = {"scenario": sha256_of(scenario_path)}
    hashes.update({role: sha256_of(p) for role, p in paths.items()})
    file_paths = {"scenario": str(scenario_path), **{k: str(v) for k, v in paths.items()}}
    if calibration is not None:
        hashes["calibration"] = sha256_of(calibration)
        file_paths["calibration"] = str(calibration)
    for role, path in measurement_files.items():
        hashes[role] = sha256_of(path)
        file_paths[role] = str(path)
    return PlanInputs(
        scenario=scenario,
        scenario_path=scenario_path,
        quarters=quarters,
        chips=chips,
        models=models,
        workloads=workloads,
        sites={s.site_id: s for s in sites_file.sites},
        fleet=list(sites_file.fleet),
        calibration_path=calibration,
        measurements=measured,
        file_hashes=hashes,
        file_paths=file_paths,
    )
