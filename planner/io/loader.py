"""Stage 1 of the pipeline: load and validate every input file of a scenario into `PlanInputs`.

All problems from all files are collected and raised together as one `InputError`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from planner.catalog import read_chip_catalog, read_model_catalog
from planner.checks.cross import cross_check
from planner.errors import InputError, Problem
from planner.io.safe_yaml import load_yaml
from planner.io.scenario_file import read_scenario_raw
from planner.io.validate import validate_model
from planner.io.workloads_csv import read_workloads
from planner.schemas.chips import ChipSpec
from planner.schemas.common import quarter_range
from planner.schemas.models import ModelSpec
from planner.schemas.scenario import Scenario
from planner.schemas.sites import FleetEntry, Site, SitesFile
from planner.schemas.workloads import WorkloadRow


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
    file_hashes: dict[str, str] = field(default_factory=dict)
    file_paths: dict[str, str] = field(default_factory=dict)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sites(path: Path) -> tuple[SitesFile | None, list[Problem]]:
    data, problems = load_yaml(path, path.name)
    if data is None:
        return None, problems
    return validate_model(SitesFile, data, path.name)


def load_inputs(scenario_path: str | Path) -> PlanInputs:
    """Read the scenario and the files it names; raise `InputError` listing every problem."""
    scenario_path = Path(scenario_path)
    label = scenario_path.name
    raw, problems = read_scenario_raw(scenario_path)
    if raw is None:
        raise InputError(problems)
    scenario, problems = validate_model(Scenario, raw, label)
    if scenario is None:
        raise InputError(problems)

    all_problems: list[Problem] = []
    paths = {
        "chips": Path(scenario.inputs.chips),
        "models": Path(scenario.inputs.models),
        "workloads": Path(scenario.inputs.workloads),
        "sites": Path(scenario.inputs.sites),
    }
    chips, p = read_chip_catalog(paths["chips"])
    all_problems += p
    models, p = read_model_catalog(paths["models"])
    all_problems += p
    workloads, p, workload_rows = read_workloads(paths["workloads"])
    all_problems += p
    sites_file, p = _sites(paths["sites"])
    all_problems += p
    calibration = Path(scenario.inputs.calibration) if scenario.inputs.calibration else None
    if calibration is not None and not calibration.is_file():
        all_problems.append(Problem(label, "inputs.calibration", f"file not found: {calibration}"))

    # Cross-file checks run on whatever loaded, so one report lists every problem; a check whose file
    # failed to load at all is skipped (its own problems are already reported).
    quarters = quarter_range(scenario.horizon.first_quarter, scenario.horizon.quarters)
    all_problems += cross_check(scenario, label, quarters, chips, models, workloads, workload_rows, sites_file, paths)
    if all_problems:
        raise InputError(all_problems)
    assert sites_file is not None

    hashes = {"scenario": sha256_of(scenario_path)}
    hashes.update({role: sha256_of(p) for role, p in paths.items()})
    file_paths = {"scenario": str(scenario_path), **{k: str(v) for k, v in paths.items()}}
    if calibration is not None:
        hashes["calibration"] = sha256_of(calibration)
        file_paths["calibration"] = str(calibration)
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
        file_hashes=hashes,
        file_paths=file_paths,
    )
