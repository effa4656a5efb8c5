"""Hand-built chips and sites with realistic figures, for tests, the benchmark and demo pictures.

The planner's real inputs come from `inputs/catalog/chips.yaml` and a scenario's sites file; these
stand-ins let the topology code be exercised without them. Platform figures follow `platforms.py`;
chip figures follow `tests/reference/chips.csv`.
"""

from __future__ import annotations

from typing import Any

from planner.schemas.chips import ChipSpec
from planner.schemas.sites import RackType, Site
from planner.topology.installed import Installed

_SRC = [{"fields": ["tdp_w", "server", "scaleup"], "citation": "planner/topology/platforms.py", "estimate": True}]

# chip_id: (name, memory_gb, memory_kind, tb/s, peak_tflops, tdp_w, scaleup, server, cooling)
_CHIPS: dict[str, tuple[Any, ...]] = {
    "h100_sxm": ("H100 SXM5 80GB", 80, "hbm", 3.35, {"bf16": 989, "fp8": 1979}, 700,
                 ("NVLink 4 + NVSwitch", "nvswitch", 900, 0.5, 8, False, False),
                 ("HGX H100 8-GPU", "server", 8, 4600, 8, 400, "infiniband"), "air"),
    "gb200": ("GB200 (NVL72), per GPU", 186, "hbm", 8.0, {"bf16": 2500, "fp8": 5000, "fp4": 10000}, 1200,
              ("NVLink 5 + NVLink Switch", "nvswitch", 1800, 0.5, 72, True, False),
              ("GB200 NVL72", "rack_scale", 72, 45600, 48, 3600, "infiniband"), "liquid"),
    "gb200_tray": ("GB200 (NVL72 compute tray), per GPU", 186, "hbm", 8.0, {"bf16": 2500, "fp8": 5000}, 1200,
                   ("NVLink 5 + NVLink Switch", "nvswitch", 1800, 0.5, 72, True, False),
                   ("GB200 NVL72 compute tray", "server", 4, 2533, 2, 200, "infiniband"), "liquid"),
    "mi300x": ("Instinct MI300X", 192, "hbm", 5.3, {"bf16": 1307.4, "fp8": 2614.9}, 750,
               ("Infinity Fabric (xGMI)", "xgmi", 896, 0.7, 8, False, False),
               ("AMD MI300X 8-GPU platform", "server", 8, 4000, 8, 400, "ethernet"), "air"),
    "tpu_v5e": ("Cloud TPU v5e", 16, "hbm", 0.819, {"bf16": 197, "int8": 393}, 200,
                ("ICI 2D torus", "ici", 400, 1.0, 256, True, True),
                ("TPU v5e host", "server", 8, 400, 2, 25, "ethernet"), "air"),
    "groq_lpu_v1": ("GroqChip LPU v1", 0.23, "sram", 80, {"fp16": 188, "int8": 750}, 300,
                    ("Groq C2C", "c2c", 480, 1.0, 576, True, True),
                    ("GroqNode", "server", 8, 1000, 4, 60, "c2c"), "air"),
    "cerebras_wse3": ("WSE-3 (CS-3)", 44, "sram", 21000, {"fp16": 62500}, 23000,
                      ("on-wafer fabric", "on_wafer", 150, 0.1, 1, False, False),
                      ("Cerebras CS-3", "server", 1, 0, 15, 150, "ethernet"), "liquid"),
    "gaudi3": ("Gaudi 3", 128, "hbm", 3.67, {"bf16": 1835, "fp8": 1835}, 900,
               ("on-die RoCE all-to-all", "ethernet", 1050, 2.0, 8, False, False),
               ("Gaudi 3 8-OAM server", "server", 8, 3800, 8, 600, "ethernet"), "air"),
    "inferentia2": ("Inferentia2", 32, "hbm", 0.82, {"bf16": 190, "fp8": 190}, 250,
                    ("NeuronLink-v2 ring", "neuronlink", 192, 2.0, 12, False, False),
                    ("inf2.48xlarge", "server", 12, 1000, 4, 12.5, "ethernet"), "air"),
    "l40s": ("L40S", 48, "gddr", 0.864, {"bf16": 362, "fp8": 733}, 350,
             ("PCIe Gen4 x16", "pcie", 64, 1.5, 1, False, False),
             ("8x L40S PCIe server", "server", 8, 2500, 4, 100, "ethernet"), "air"),
}


def example_chip(chip_id: str, **server_overrides: Any) -> ChipSpec:
    """A realistic ChipSpec for one of the example chips; `server_overrides` change its server block."""
    name, mem, kind, tbs, tflops, tdp, up, srv, cooling = _CHIPS[chip_id]
    server = dict(zip(("name", "kind", "chips_per_server", "overhead_power_w", "rack_units",
                       "scaleout_bandwidth_gbs_per_server", "scaleout_kind"), srv, strict=True))
    server.update(server_overrides)
    return ChipSpec.model_validate({
        "chip_id": chip_id, "vendor": "example", "name": name, "unit_note": "per chip", "memory_gb": mem,
        "memory_type": kind, "memory_kind": kind, "memory_bandwidth_tbs": tbs, "peak_tflops": tflops, "tdp_w": tdp,
        "scaleup": dict(zip(("name", "kind", "bandwidth_gbs_per_chip", "latency_us", "domain_size_chips",
                             "spans_servers", "spans_racks"), up, strict=True)),
        "server": server, "cooling": cooling, "price": {"usd": 25000, "basis": "per_chip", "kind": "estimate"},
        "lead_time_quarters": 2, "lifetime_quarters": 20, "sources": _SRC,
    })


def example_chips() -> dict[str, ChipSpec]:
    """Every example chip by id."""
    return {cid: example_chip(cid) for cid in _CHIPS}


def rack_type(rack_type_id: str, count: int, power_kw: float, rack_units: int = 42, cooling: str = "air") -> RackType:
    """A rack type with a nominal facility cost."""
    return RackType(rack_type_id=rack_type_id, count=count, power_kw=power_kw, rack_units=rack_units,
                    cooling=cooling, facility_usd_per_quarter=3000)


def site(site_id: str, *rack_types: RackType, it_power_cap_kw: float = 1e6) -> Site:
    """A site with the given rack types."""
    return Site(site_id=site_id, name=site_id, it_power_cap_kw=it_power_cap_kw, pue=1.3,
                electricity_usd_per_kwh=0.08, rack_types=list(rack_types))


def demo_fleet() -> tuple[dict[str, Site], dict[str, ChipSpec], list[Installed]]:
    """Two sites with several platforms and one deliberate mistake (an NVL72 rack in an air rack)."""
    sites = {
        "dc-east": site("dc-east", rack_type("air40", 12, 40), rack_type("liq135", 3, 135, 48, "liquid"),
                        it_power_cap_kw=2000),
        "dc-west": site("dc-west", rack_type("air20", 6, 20), rack_type("air150", 1, 150, 48), it_power_cap_kw=800),
    }
    installed = [
        Installed("dc-east", "air40", "h100_sxm", 20),
        Installed("dc-east", "air40", "mi300x", 8),
        Installed("dc-east", "liq135", "gb200", 2),
        Installed("dc-west", "air20", "tpu_v5e", 32),
        Installed("dc-west", "air20", "groq_lpu_v1", 9),
        Installed("dc-west", "air150", "gb200", 1),
    ]
    return sites, example_chips(), installed
