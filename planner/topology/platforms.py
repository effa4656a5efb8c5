"""Published reference figures for common inference platforms, with sources.

The catalog's `server` and `scaleup` blocks are the inputs the planner uses; this table is what those
blocks should look like for well-known platforms, so a catalog entry can be checked against it
(`reference_for`) and tests can build realistic chips. `estimate=True` marks figures that are not
published by the vendor (derived, third-party or our own).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformReference:
    """Reference figures for one platform (a server or a rack-scale system)."""

    name: str
    kind: str                       # "server" or "rack_scale"
    chips_per_server: int
    server_power_w: float           # whole unit at nameplate
    rack_units: int
    cooling: str
    domain_size_chips: int
    domain_spans_servers: bool
    domain_spans_racks: bool
    scaleout_gbs_per_server: float  # per direction
    source: str
    estimate: bool = False


PLATFORMS: dict[str, PlatformReference] = {
    "hgx_h100_8gpu": PlatformReference(
        "HGX/DGX H100 8-GPU", "server", 8, 10_200, 8, "air", 8, False, False, 400,
        "NVIDIA DGX H100 datasheet: 8x H100 SXM, ~10.2 kW max, 8U, 8x 400 Gb/s ConnectX-7 compute fabric",
    ),
    "hgx_b200_8gpu": PlatformReference(
        "HGX/DGX B200 8-GPU", "server", 8, 14_300, 10, "air", 8, False, False, 400,
        "NVIDIA DGX B200 datasheet: 8x B200, ~14.3 kW max, 10U, 8x 400 Gb/s ConnectX-7",
    ),
    "gb200_nvl72": PlatformReference(
        "GB200 NVL72", "rack_scale", 72, 132_000, 48, "liquid", 72, True, False, 3_600,
        "NVIDIA GB200 NVL72 page: 72 Blackwell GPUs + 36 Grace in one NVLink domain (18 compute trays, "
        "9 NVLink switch trays), liquid-cooled; rack power ~120-132 kW per OEM specs; scale-out 400 Gb/s per GPU",
        estimate=True,
    ),
    "mi300x_8gpu": PlatformReference(
        "AMD Instinct MI300X Platform (8x OAM UBB)", "server", 8, 10_000, 8, "air", 8, False, False, 400,
        "AMD MI300X platform: 8 OAM at 750 W on one xGMI-connected UBB; server ~10 kW and 8x 400 Gb/s NICs "
        "as in OEM 8U systems (Supermicro AS-8125GS-TNMR2)",
        estimate=True,
    ),
    "tpu_v5e_host": PlatformReference(
        "TPU v5e host (v5litepod-8)", "server", 8, 2_000, 2, "air", 256, True, True, 25,
        "Google Cloud TPU v5e docs: 8 chips per host, slices up to 256 chips on a 2D ICI torus; host power, "
        "rack units and DCN bandwidth are not published (our estimates)",
        estimate=True,
    ),
    "groqnode": PlatformReference(
        "GroqNode (8 GroqCards) / GroqRack (9 nodes)", "server", 8, 3_400, 4, "air", 576, True, True, 1_080,
        "Linley Group 'Groq Gets Connected' (2020): 8 cards per 4U node, 16 C2C links per chip (480 GB/s "
        "total) reaching other nodes and racks; a GroqRack holds 9 nodes (8 + 1 spare) in 42U. Power is a "
        "third-party estimate (~300 W per card); scale-out = 9 off-node links x 15 GB/s x 8 chips (derived)",
        estimate=True,
    ),
    "cerebras_cs3": PlatformReference(
        "Cerebras CS-3", "server", 1, 23_000, 15, "liquid", 1, False, False, 150,
        "Cerebras CS-3 launch coverage (2024): one WSE-3 per ~15U water-cooled system, ~23 kW, "
        "12x 100 GbE system I/O; systems cluster over SwarmX (Ethernet), not a scale-up fabric",
        estimate=True,
    ),
    "gaudi3_8x": PlatformReference(
        "Intel Gaudi 3 8-OAM server (HLS-3 class)", "server", 8, 11_000, 8, "air", 8, False, False, 600,
        "Intel Gaudi 3 white paper: 24x 200 GbE per OAM, 21 used all-to-all inside the 8-chip node, "
        "3 for scale-out (8 x 3 x 200 Gb/s = 600 GB/s); 900 W air-cooled OAM; server power our estimate",
        estimate=True,
    ),
    "gaudi2_8x": PlatformReference(
        "Intel Gaudi 2 HLS-Gaudi2", "server", 8, 7_500, 8, "air", 8, False, False, 300,
        "Intel Gaudi 2 (HL-225H): 600 W OAM, 24x 100 GbE with 3 per chip for scale-out (300 GB/s per "
        "server); server power our estimate",
        estimate=True,
    ),
    "inf2_48xlarge": PlatformReference(
        "AWS inf2.48xlarge (12 Inferentia2)", "server", 12, 4_000, 4, "air", 12, False, False, 12.5,
        "AWS Neuron docs: 12 Inferentia2 per inf2.48xlarge on a NeuronLink-v2 ring, 100 Gb/s instance "
        "networking; power and rack units are not published (our estimates)",
        estimate=True,
    ),
}


#: The catalog chip each reference platform describes.
CATALOG_CHIP: dict[str, str] = {
    "hgx_h100_8gpu": "h100_sxm", "hgx_b200_8gpu": "b200", "gb200_nvl72": "gb200", "mi300x_8gpu": "mi300x",
    "tpu_v5e_host": "tpu_v5e", "groqnode": "groq_lpu_v1", "cerebras_cs3": "cerebras_wse3", "gaudi3_8x": "gaudi3",
    "gaudi2_8x": "gaudi2", "inf2_48xlarge": "inferentia2",
}


def reference_for(name: str) -> PlatformReference:
    """The reference figures of a platform by key (see `PLATFORMS`)."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise KeyError(f"no reference platform {name!r}; known: {', '.join(sorted(PLATFORMS))}") from None
