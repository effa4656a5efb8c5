"""Tiny scenarios on disk for the what-if features (--set, sweeps, break-even), solvable in well under a second.

Two chips `twin_a` and `twin_b` are identical in every figure except price, so every plan needs the same
number of servers whichever twin it buys, and the cheaper twin wins: the break-even price of one twin is the
other's price (derived by hand, used by the tests).
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _chip(chip_id: str, price: float, vendor: str) -> dict:
    return {
        "chip_id": chip_id, "vendor": vendor, "name": chip_id, "unit_note": "test twin", "memory_gb": 80,
        "memory_type": "HBM3", "memory_kind": "hbm", "memory_bandwidth_tbs": 3.0,
        "peak_tflops": {"bf16": 1000, "fp8": 2000}, "tdp_w": 700,
        "scaleup": {"name": "link", "kind": "nvswitch", "bandwidth_gbs_per_chip": 900, "latency_us": 1.0,
                    "domain_size_chips": 8, "spans_servers": False, "spans_racks": False},
        "server": {"name": f"{chip_id} box", "kind": "server", "chips_per_server": 8, "overhead_power_w": 0,
                   "rack_units": 4, "scaleout_bandwidth_gbs_per_server": 400, "scaleout_kind": "infiniband"},
        "cooling": "air", "price": {"usd": price, "basis": "per_server", "kind": "estimate"},
        "lead_time_quarters": 0, "lifetime_quarters": 20,
        "sources": [{"fields": ["memory_gb"], "citation": "test fixture", "estimate": True}],
    }


def write_twins(folder: Path, price_a: float = 100_000.0, price_b: float = 120_000.0, tokens_per_s: float = 20_000.0,
                quarters: int = 1) -> Path:
    """A scenario with one llama-3.1-8b workload, one site and the two twins; returns the scenario path."""
    folder.mkdir(parents=True, exist_ok=True)
    chips = {"chips": [_chip("twin_a", price_a, "VendorA"), _chip("twin_b", price_b, "VendorB")]}
    (folder / "chips.yaml").write_text(yaml.safe_dump(chips, sort_keys=False))
    sites = {"sites": [{"site_id": "s1", "name": "site", "it_power_cap_kw": 10_000, "pue": 1.0,
                        "electricity_usd_per_kwh": 0.0,
                        "rack_types": [{"rack_type_id": "r", "count": 100, "power_kw": 40, "rack_units": 42,
                                        "cooling": "air", "facility_usd_per_quarter": 0}]}], "fleet": []}
    (folder / "sites.yaml").write_text(yaml.safe_dump(sites, sort_keys=False))
    header = ("workload_id,model_id,quarter,peak_output_tokens_per_s,prompt_tokens_mean,output_tokens_mean,ttft_ms,"
              "tpot_ms,latency_percentile,allowed_precisions,allowed_sites\n")
    qs = [f"2027Q{i + 1}" for i in range(quarters)]
    rows = "".join(f"chat,llama-3.1-8b,{q},{tokens_per_s:g},500,200,2000,50,99,fp8;bf16,\n" for q in qs)
    (folder / "workloads.csv").write_text(header + rows)
    scenario = {
        "name": "twins", "horizon": {"first_quarter": "2027Q1", "quarters": quarters},
        "inputs": {"chips": "chips.yaml", "models": str(REPO / "inputs/catalog/models.yaml"),
                   "workloads": "workloads.csv", "sites": "sites.yaml"},
        "policy": {"residual_value": False, "headroom_fraction": 0.0},
        "solver": {"time_limit_s": 30, "mip_gap": 0.0, "threads": 1},
    }
    path = folder / "twins.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path
