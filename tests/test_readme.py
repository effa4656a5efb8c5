"""The README stays true: two quick-start commands, and every input field documented."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from planner.schemas.chips import (
    ChipSpec,
    LeaseTerms,
    PeakTflops,
    Price,
    PriceComponent,
    ScaleupFabric,
    ServerPackaging,
    SourceRef,
)
from planner.schemas.models import MLASpec, ModelSpec, MoESpec
from planner.schemas.scenario import (
    ChipTerms,
    DepreciationPolicy,
    Horizon,
    InputPaths,
    MeasurementFile,
    Policy,
    Scenario,
    SolverSettings,
    VendorTerms,
)
from planner.schemas.sites import FleetEntry, RackType, Site
from planner.schemas.workloads import WorkloadRow
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_quick_start_has_exactly_two_commands() -> None:
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", README, re.S)
    assert block, "README must open with a Quick start code block"
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2
    assert "planner plan inputs/scenarios/example.yaml" in commands[0]
    assert "pytest" in commands[1]
    assert README.index("## Quick start") < README.index("## What it does")


@pytest.mark.parametrize("model", [Scenario, Horizon, InputPaths, MeasurementFile, Policy, VendorTerms, ChipTerms, SolverSettings, WorkloadRow,
                                   Site, RackType, FleetEntry, ChipSpec, PeakTflops, ScaleupFabric, ServerPackaging, Price,
                                   PriceComponent, LeaseTerms, DepreciationPolicy,
                                   SourceRef, ModelSpec, MoESpec, MLASpec])
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    missing = [name for name in model.model_fields if not re.search(rf"`([a-z_]+\.)?{name}`", README)]
    assert not missing, f"{model.__name__} fields not in README: {missing}"
