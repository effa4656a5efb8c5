"""Hardware templates: what one purchasable unit of a chip looks like in a rack, derived from the catalog.

A template is either a server (HGX 8-GPU, MI300X platform, Gaudi, GroqNode, TPU host, CS-3 system) or a
rack-scale system (GB200 NVL72: the rack is the unit you buy and the scale-up domain). The numbers come
from the chip's `server` and `scaleup` blocks; `platforms.py` lists published reference figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.schemas.chips import ChipSpec


@dataclass(frozen=True)
class HardwareTemplate:
    """One purchasable unit (server or rack-scale system) of a chip."""

    chip_id: str
    platform: str
    kind: str                       # "server" or "rack_scale"
    chips_per_server: int
    server_power_w: float
    rack_units: int
    cooling: str                    # "air" or "liquid"
    scaleup_kind: str
    scaleup_gbs_per_chip: float     # bidirectional aggregate, as in the catalog
    scaleup_latency_us: float
    domain_size_chips: int
    domain_spans_servers: bool
    domain_spans_racks: bool
    scaleout_kind: str
    scaleout_gbs_per_server: float  # per direction

    @property
    def effective_domain_chips(self) -> int:
        """Chips one scale-up domain can hold: a domain that cannot span servers stops at the server."""
        if self.domain_spans_servers:
            return self.domain_size_chips
        return min(self.domain_size_chips, self.chips_per_server)

    @property
    def servers_per_domain(self) -> int:
        """Servers one full domain takes (1 when the domain fits in a server)."""
        return max(1, self.effective_domain_chips // self.chips_per_server)

    @property
    def scaleup_gbs_per_direction(self) -> float:
        """Scale-up bandwidth per chip and direction, GB/s (the catalog figure is bidirectional)."""
        return self.scaleup_gbs_per_chip / 2.0


def template_from_chip(chip: ChipSpec) -> HardwareTemplate:
    """Build the template of one chip's purchasable unit from its catalog entry."""
    s, f = chip.server, chip.scaleup
    return HardwareTemplate(
        chip_id=chip.chip_id,
        platform=s.name,
        kind=s.kind,
        chips_per_server=s.chips_per_server,
        server_power_w=chip.server_power_w,
        rack_units=s.rack_units,
        cooling=chip.cooling,
        scaleup_kind=f.kind,
        scaleup_gbs_per_chip=f.bandwidth_gbs_per_chip,
        scaleup_latency_us=f.latency_us,
        domain_size_chips=f.domain_size_chips,
        domain_spans_servers=f.spans_servers,
        domain_spans_racks=f.spans_racks,
        scaleout_kind=s.scaleout_kind,
        scaleout_gbs_per_server=s.scaleout_bandwidth_gbs_per_server,
    )
