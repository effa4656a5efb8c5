"""Link kinds, default latencies and unit conversions shared by the topology graph and its queries.

Every graph edge carries `kind`, `bandwidth_gbps` (gigabits per second, per direction, as networking
quotes it), `bandwidth_gbs` (the same figure in gigabytes per second, the unit of the chip catalog) and
`latency_us` (one traversal of the edge). `scaleup` is True on edges of a scale-up fabric: a scale-up
domain is a connected component over those edges only.
"""

from __future__ import annotations

from typing import Any

#: Edge kinds that can appear in the graph (the catalog's fabric kinds plus the host link).
EDGE_KINDS: tuple[str, ...] = (
    "nvlink", "nvswitch", "pcie", "ici", "c2c", "infiniband", "ethernet", "xgmi", "neuronlink", "on_wafer",
)

#: PCIe Gen5 x16 per direction, GB/s: the host link between a chip and its server (PCI-SIG: 32 GT/s x16).
HOST_LINK_GBS = 64.0
#: Chip-to-host latency, microseconds (order of magnitude for a PCIe round through the root complex; estimate).
HOST_LINK_LATENCY_US = 1.0

#: One switch hop on the scale-out network, microseconds. Estimates: InfiniBand NDR switches quote
#: ~0.1-0.2 us port-to-port and end-to-end MPI latency is ~1-2 us; RoCE Ethernet is typically 2-3x that.
SCALEOUT_HOP_LATENCY_US: dict[str, float] = {
    "infiniband": 0.6,
    "ethernet": 1.5,
    "c2c": 1.0,
    "ici": 1.0,
    "pcie": 1.0,
}


def gbs_to_gbps(gbs: float) -> float:
    """GB/s (bytes) -> Gb/s (bits)."""
    return gbs * 8.0


def link_attrs(kind: str, bandwidth_gbs: float, latency_us: float, scaleup: bool) -> dict[str, Any]:
    """Edge attributes for one link; bandwidth is per direction."""
    return {
        "kind": kind,
        "bandwidth_gbps": round(gbs_to_gbps(bandwidth_gbs), 6),
        "bandwidth_gbs": round(bandwidth_gbs, 6),
        "latency_us": round(latency_us, 6),
        "scaleup": scaleup,
    }
