"""Builders for tiny planning problems whose optimum can be derived by hand.

The optimizer's input is the validated inputs plus the performance model's options table; here both are
built directly so each test controls every number (tokens/s per replica, prices, power).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from planner.io.loader import PlanInputs
from planner.schemas.chips import ChipSpec
from planner.schemas.common import quarter_range
from planner.schemas.models import ModelSpec
from planner.schemas.scenario import Scenario
from planner.schemas.sites import FleetEntry, Site
from planner.schemas.workloads import WorkloadRow

SRC = [{"fields": ["memory_gb"], "citation": "test fixture", "estimate": True}]


def make_chip(chip_id: str, *, price_usd_per_server: float, vendor: str = "VendorA", chips_per_server: int = 8,
              tdp_w: float = 500.0, overhead_w: float = 0.0, rack_units: int = 4, lead: int = 0, life: int = 20,
              cooling: str = "air", domain: int = 8) -> ChipSpec:
    return ChipSpec.model_validate({
        "chip_id": chip_id, "vendor": vendor, "name": chip_id, "unit_note": "test", "memory_gb": 80,
        "memory_type": "HBM3", "memory_kind": "hbm", "memory_bandwidth_tbs": 3.0, "peak_tflops": {"bf16": 1000, "fp8": 2000},
        "tdp_w": tdp_w,
        "scaleup": {"name": "link", "kind": "nvswitch", "bandwidth_gbs_per_chip": 900, "latency_us": 1.0,
                    "domain_size_chips": domain, "spans_servers": False, "spans_racks": False},
        "server": {"name": f"{chip_id} box", "kind": "server", "chips_per_server": chips_per_server,
                   "overhead_power_w": overhead_w, "rack_units": rack_units, "scaleout_bandwidth_gbs_per_server": 400,
                   "scaleout_kind": "infiniband"},
        "cooling": cooling, "price": {"usd": price_usd_per_server, "basis": "per_server", "kind": "estimate"},
        "lead_time_quarters": lead, "lifetime_quarters": life, "sources": SRC,
    })


MODEL = ModelSpec.model_validate({
    "model_id": "m", "name": "m", "params_total_b": 8, "params_active_b": 8, "n_layers": 32, "d_model": 4096,
    "n_heads": 32, "n_kv_heads": 8, "head_dim": 128, "d_ff": 14336, "vocab_size": 128256, "max_context_tokens": 8192,
    "attention": "GQA", "kv_bytes_per_token_bf16": 131072, "sources": [{"fields": ["n_layers"], "citation": "test"}],
})


def make_site(site_id: str = "s1", *, cap_kw: float = 1e6, racks: int = 100, rack_kw: float = 1000.0, rack_units: int = 48,
              usd_per_kwh: float = 0.0, facility: float = 0.0, pue: float = 1.0, cooling: str = "air") -> Site:
    return Site.model_validate({
        "site_id": site_id, "name": site_id, "it_power_cap_kw": cap_kw, "pue": pue, "electricity_usd_per_kwh": usd_per_kwh,
        "rack_types": [{"rack_type_id": "r", "count": racks, "power_kw": rack_kw, "rack_units": rack_units,
                        "cooling": cooling, "facility_usd_per_quarter": facility}],
    })


def make_inputs(chips: list[ChipSpec], demand: dict[str, float], *, sites: list[Site] | None = None,
                policy: dict[str, Any] | None = None, fleet: list[dict[str, Any]] | None = None,
                chip_terms: dict[str, Any] | None = None, vendors: dict[str, Any] | None = None) -> PlanInputs:
    """`demand`: quarter -> peak output tokens/s of the single workload `w` (model `m`)."""
    quarters = sorted(demand)
    pol = dict(policy or {})  # default: hardware worthless at the horizon's end (resale 0), so net cost = price paid
    pol["depreciation"] = {"resale_fraction_of_book_value": 0.0, **pol.get("depreciation", {})}
    sc = Scenario.model_validate({
        "name": "tiny", "horizon": {"first_quarter": quarters[0], "quarters": len(quarters)},
        "inputs": {"chips": "-", "models": "-", "workloads": "-", "sites": "-"},
        "policy": pol, "chip_terms": chip_terms or {}, "vendors": vendors or {},
        "solver": {"time_limit_s": 30, "mip_gap": 0.0},
    })
    workloads = [WorkloadRow.model_validate({
        "workload_id": "w", "model_id": "m", "quarter": q, "peak_output_tokens_per_s": d, "prompt_tokens_mean": 100,
        "output_tokens_mean": 100, "ttft_ms": 1000, "tpot_ms": 100, "latency_percentile": 99, "allowed_precisions": ["fp8"],
    }) for q, d in demand.items() if d > 0]  # a quarter given 0 has no demand row (the horizon still covers it)
    site_list = sites or [make_site()]
    return PlanInputs(
        scenario=sc, scenario_path=Path("tiny.yaml"), quarters=quarter_range(quarters[0], len(quarters)),
        chips={c.chip_id: c for c in chips}, models={"m": MODEL}, workloads=workloads,
        sites={s.site_id: s for s in site_list}, fleet=[FleetEntry.model_validate(f) for f in fleet or []],
        file_hashes={}, file_paths={},
    )


def make_options(rows: list[dict[str, Any]], quarters: list[str]) -> pd.DataFrame:
    """One option per dict (chip_id, tokens_per_s_per_replica, chips_per_replica, power_w_per_replica) in every quarter."""
    out = []
    for q in quarters:
        for r in rows:
            cpr = r.get("chips_per_replica", 1)
            out.append({
                "workload_id": "w", "quarter": q, "model_id": "m", "chip_id": r["chip_id"], "precision": "fp8",
                "kv_precision": "fp8", "tp": r.get("tp", cpr), "pp": r.get("pp", 1), "ep": 1, "chips_per_replica": cpr, "batch": 8,
                "tokens_per_s_per_replica": r["tokens_per_s_per_replica"], "ttft_ms": 100.0, "tpot_ms": 20.0,
                "power_w_per_replica": r.get("power_w_per_replica", 0.0), "joules_per_token": 0.0, "bound": "memory",
            })
    return pd.DataFrame(out)
