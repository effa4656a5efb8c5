"""Input schemas: pydantic models with `extra="forbid"`, units in field names, a description on every field."""

from planner.schemas.chips import ChipCatalog, ChipSpec
from planner.schemas.models import ModelCatalog, ModelSpec
from planner.schemas.scenario import Scenario
from planner.schemas.sites import FleetEntry, RackType, Site, SitesFile
from planner.schemas.workloads import WorkloadRow

__all__ = [
    "ChipCatalog", "ChipSpec", "FleetEntry", "ModelCatalog", "ModelSpec", "RackType", "Scenario", "Site",
    "SitesFile", "WorkloadRow",
]
