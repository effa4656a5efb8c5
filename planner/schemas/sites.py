"""Sites schema (`sites.yaml`): power, prices, rack positions and the existing fleet."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planner.schemas.common import Identifier, Quarter, StrictModel


class RackType(StrictModel):
    """A group of identical rack positions at a site."""

    rack_type_id: Identifier = Field(description="Rack type id, unique within the site.")
    count: int = Field(ge=0, le=1_000_000, description="Rack positions of this type.")
    power_kw: float = Field(gt=0, le=2000, description="IT power limit per rack, kW.")
    rack_units: int = Field(ge=1, le=60, description="Usable rack units per rack.")
    cooling: Literal["air", "liquid"] = Field(description="Cooling the position provides; liquid positions also take air-cooled servers.")
    facility_usd_per_quarter: float = Field(ge=0, le=1e8, description="Facility cost of one occupied rack per quarter, USD (space, cooling, network).")


class Site(StrictModel):
    """A data-centre site."""

    site_id: Identifier = Field(description="Site id.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    it_power_cap_kw: float = Field(gt=0, le=1e7, description="IT power available to the fleet, kW.")
    pue: float = Field(ge=1.0, le=3.0, description="Power usage effectiveness (facility power / IT power).")
    electricity_usd_per_kwh: float = Field(ge=0, le=10, description="Electricity price, USD per kWh.")
    rack_types: list[RackType] = Field(min_length=1, description="Rack positions by type.")

    @model_validator(mode="after")
    def _unique_rack_types(self) -> Site:
        ids = [r.rack_type_id for r in self.rack_types]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"rack_type_id must be unique within a site; repeated: {', '.join(dup)}")
        return self


class FleetEntry(StrictModel):
    """Servers already installed: they stay in place until retired at the end of their lifetime."""

    site_id: Identifier = Field(description="Site the servers stand in.")
    rack_type_id: Identifier = Field(description="Rack type (at that site) the servers stand in.")
    chip_id: Identifier = Field(description="Chip in the servers (an id in chips.yaml).")
    servers: int = Field(ge=1, le=1_000_000, description="Number of servers (purchasable units).")
    installed_quarter: Quarter = Field(description="Quarter the servers went into service (may precede the horizon).")


class SitesFile(StrictModel):
    """The file `sites.yaml`."""

    sites: list[Site] = Field(min_length=1, description="Sites.")
    fleet: list[FleetEntry] = Field(default_factory=list, description="Existing installed servers.")
