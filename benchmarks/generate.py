"""Instance generator: a realistic planning scenario of a given size, deterministic per seed.

    python benchmarks/generate.py --size tiny|small|medium|target|large|xl --seed N --out DIR
        [--workloads N] [--models N] [--chips N] [--quarters N] [--sites N] [--racks N]
        [--fleet-scale X] [--budget-tightness B] [--time-limit S]

A preset (`--size`) names every dimension; each flag overrides one of them (the rest keep the preset's
values, and an instance with no override is the same as before the flags existed). `target` is the shape
planners ask about: 10 models x 12 chip SKUs x 8 quarters x 4 sites x 500 racks, 10 workloads.
`--fleet-scale` multiplies the existing fleet (0 = none); `--budget-tightness B` (0 <= B < 1) adds a total
capex budget of (1 - B) x an estimate of the capex the demand growth needs (median chip's USD per token/s),
so B = 0.3 asks for 30 % less than that estimate (0 = no budget).

Writes an ordinary scenario folder (same format as `inputs/`): DIR/scenario.yaml, DIR/workloads.csv and
DIR/sites.yaml; `inputs.chips` / `inputs.models` point at the bundled catalog (relative to DIR).

Shape of an instance:
- sites with different power caps, PUE and electricity prices; per site an air-cooled 40 kW rack type, a
  liquid-cooled 132 kW one and at some sites a legacy 20 kW air type; rack counts sum to the size's total;
- an existing fleet of H100 and A100 servers (some A100 retire during the horizon);
- workloads on a mix of dense and MoE catalog models, each with a request shape (chat, assistant, code,
  reasoning, batch, summarisation, agent), growth curves (steady growth, launches mid-horizon, a few
  declining legacy workloads), some restricted to a subset of sites;
- chips from `inputs/catalog/chips.yaml` via `policy.allowed_chips`, vendor discounts, supply caps on the
  newest systems, a late-available SKU and a cloud SKU with a minimum order.

Demand is sized from the performance model so that the peak quarter needs about `FILL` of the sites'
usable power at a mid-ranked chip's efficiency: plans are feasible (no budgets) and non-trivial (power and
rack space matter, the existing fleet is not enough, and chips differ in USD and kW per token).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.catalog import load_chip_catalog, load_model_catalog  # noqa: E402
from planner.perf.options import deployment_options, load_calibration  # noqa: E402

#: Generated instances keep the tuned-submission regime (the raw model) they were sized and timed with, so the
#: solver benchmarks in the README stay comparable; `--set policy.engine=vllm` plans one with a stock engine.
ENGINE = "tuned"
from planner.schemas.common import quarter_range  # noqa: E402
from planner.schemas.sites import RackType  # noqa: E402
from planner.schemas.workloads import WorkloadRow  # noqa: E402
from planner.topology.placement import rack_fit, replica_footprint  # noqa: E402

CHIPS_YAML = ROOT / "inputs" / "catalog" / "chips.yaml"
MODELS_YAML = ROOT / "inputs" / "catalog" / "models.yaml"
FIRST_QUARTER = "2027Q1"


@dataclass(frozen=True)
class Size:
    """Every dimension of a generated instance."""

    workloads: int
    chips: int
    quarters: int
    sites: int
    racks: int
    time_limit_s: float
    models: int | None = None  # None: about 0.6 x workloads (3-6 at the small end)
    fleet_scale: float = 1.0  # multiplies the existing fleet; 0 = none
    budget_tightness: float = 0.0  # 0 = no capex budget; else budget = (1 - B) x estimated need


SIZES = {
    "tiny": Size(1, 2, 2, 1, 4, 30),
    "small": Size(4, 6, 4, 2, 100, 60),
    "medium": Size(10, 12, 8, 4, 500, 60),
    "target": Size(10, 12, 8, 4, 500, 60, models=10),
    "large": Size(30, 16, 12, 8, 5_000, 300),
    "xl": Size(60, 20, 12, 12, 20_000, 900),
}

#: share of the sites' usable power the peak quarter's demand needs at a mid-ranked chip's efficiency
FILL = 0.45
#: always in the catalog selection (the existing fleet's chips and the mainstream current SKUs)
CORE_CHIPS = ["h100_sxm", "a100_80gb_sxm", "h200_sxm", "b200", "gb200", "mi300x"]
#: sampled (per seed) to fill the selection up to the size's SKU count
#: purchasable chips only: the cloud-only parts (TPU, Trainium, Inferentia) are lease-only in the catalog and stay
#: out of generated scenarios until the MILP prices leases (issue 22, item 2).
MORE_CHIPS = ["mi325x", "gaudi3", "l40s", "tt_blackhole_p150", "h100_pcie", "l4", "gaudi2", "h100_nvl",
              "groq_lpu_v1", "cerebras_wse3", "tt_wormhole_n300", "b300", "mi355x", "gb300"]
DENSE_MODELS = ["llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "qwen3-32b", "llama-2-13b", "llama-2-70b",
                "gpt-j-6b", "llama-2-7b"]
MOE_MODELS = ["deepseek-r1", "mixtral-8x7b", "qwen3-235b-a22b", "gpt-oss-120b", "llama-4-maverick"]

# request shapes: prompt, output tokens, TTFT ms, TPOT ms, percentile, allowed precisions
SHAPES = {
    "chat": (1500, 350, 2000, 60, 99, ["fp8", "bf16", "int8"]),
    "assistant": (800, 250, 800, 30, 99, ["fp8", "bf16", "int8", "int4"]),
    "code": (4000, 400, 3000, 70, 95, ["fp8", "bf16"]),
    "reasoning": (2000, 1500, 5000, 80, 95, ["fp8", "bf16"]),
    "batch": (1000, 300, 10000, 200, 90, ["fp8", "int8", "int4", "bf16"]),
    "summarize": (6000, 300, 4000, 80, 95, ["fp8", "bf16", "int8"]),
    "agent": (3000, 600, 2500, 50, 99, ["fp8", "bf16"]),
}

SITE_NAMES = [
    ("ashburn", "Ashburn VA"), ("quincy", "Quincy WA"), ("dallas", "Dallas TX"), ("phoenix", "Phoenix AZ"),
    ("council_bluffs", "Council Bluffs IA"), ("the_dalles", "The Dalles OR"), ("dublin", "Dublin IE"),
    ("frankfurt", "Frankfurt DE"), ("stockholm", "Stockholm SE"), ("singapore", "Singapore SG"),
    ("tokyo", "Tokyo JP"), ("sydney", "Sydney AU"), ("montreal", "Montreal CA"), ("sao_paulo", "Sao Paulo BR"),
]

RACK_TYPES = {  # id -> power kW, rack units, cooling, facility USD per quarter (range)
    "air40": (40.0, 42, "air", (3000, 5500)),
    "liquid132": (132.0, 48, "liquid", (7500, 11000)),
    "air20": (20.0, 42, "air", (1800, 3000)),
}


#: dimensions a caller may override: name, type, meaning
DIMENSIONS: list[tuple[str, type, str]] = [
    ("workloads", int, "workloads"), ("models", int, "distinct models"), ("chips", int, "chip SKUs allowed"),
    ("quarters", int, "quarters planned"), ("sites", int, "sites"), ("racks", int, "rack positions in total"),
    ("fleet_scale", float, "existing fleet multiplier (0 = none)"),
    ("budget_tightness", float, "0 = no budget; B in (0, 1): total capex budget (1 - B) x estimated need"),
    ("time_limit_s", float, "solver time limit written into the scenario, s"),
]


def _split(rng: random.Random, total: int, weights: list[float]) -> list[int]:
    """Integers >= 0 summing to `total`, proportional to `weights` (largest remainder)."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [math.floor(x) for x in raw]
    for i in sorted(range(len(raw)), key=lambda i: out[i] - raw[i])[: total - sum(out)]:
        out[i] += 1
    return out


def _pick_chips(rng: random.Random, n: int) -> list[str]:
    if n <= 2:  # tiny: the fleet's chip and one other (per seed)
        return ["h100_sxm", rng.choice(["h200_sxm", "mi300x", "gaudi3", "b200", "l40s"])][:n]
    more = MORE_CHIPS[:]
    rng.shuffle(more)
    return (CORE_CHIPS + more)[:n] if n > len(CORE_CHIPS) else CORE_CHIPS[:n]


def _sites(rng: random.Random, size: Size, tiny: bool) -> list[dict]:
    names = SITE_NAMES[:]
    rng.shuffle(names)
    names = (names * (size.sites // len(names) + 1))[: size.sites]
    per_site = _split(rng, size.racks, [rng.uniform(0.6, 1.4) for _ in range(size.sites)])
    sites = []
    for k, ((sid, label), racks) in enumerate(zip(names, per_site, strict=True)):
        site_id = sid if k < len(SITE_NAMES) else f"{sid}_{k}"
        if tiny:
            kinds = ["air40"]
            shares = [1.0]
        else:
            kinds = ["air40", "liquid132"] + (["air20"] if rng.random() < 0.4 else [])
            shares = [rng.uniform(0.45, 0.7), rng.uniform(0.15, 0.4)] + ([rng.uniform(0.1, 0.25)] if len(kinds) == 3 else [])
        counts = _split(rng, racks, shares)
        rack_types = []
        for kind, count in zip(kinds, counts, strict=True):
            kw, units, cooling, (lo, hi) = RACK_TYPES[kind]
            rack_types.append({"rack_type_id": kind, "count": count, "power_kw": kw, "rack_units": units,
                               "cooling": cooling, "facility_usd_per_quarter": round(rng.uniform(lo, hi), -2)})
        rack_kw = sum(r["count"] * r["power_kw"] for r in rack_types)
        cap = rack_kw if tiny else round(rack_kw * rng.uniform(0.55, 0.85), -1)
        sites.append({
            "site_id": site_id, "name": f"{label} ({'liquid-ready' if len(kinds) > 1 else 'air-cooled'})",
            "it_power_cap_kw": float(cap), "pue": round(rng.uniform(1.1, 1.45), 2),
            "electricity_usd_per_kwh": round(rng.uniform(0.03, 0.13), 3), "rack_types": rack_types,
        })
    return sites


def _fleet(rng: random.Random, sites: list[dict], chips: dict, h100_servers: dict[str, float], tiny: bool) -> list[dict]:
    """Existing servers: the H100s that serve the first quarter's demand (`h100_servers` per site, in two cohorts)
    plus, at every other site, an older A100 cohort of which part retires during the horizon."""
    fleet = []
    for k, site in enumerate(sites):
        need = math.ceil(h100_servers.get(site["site_id"], 0.0))
        if need <= 0:
            continue
        cohorts = [need] if tiny else _split(rng, need, [rng.uniform(1, 2), rng.uniform(1, 2)])
        for n, when in zip(cohorts, sorted(rng.sample(["2024Q3", "2025Q1", "2025Q4", "2026Q2"], k=len(cohorts))), strict=True):
            if n > 0:
                fleet.append({"site_id": site["site_id"], "rack_type_id": "air40", "chip_id": "h100_sxm", "servers": n,
                              "installed_quarter": when})
        if not tiny and k % 2 == 0:
            fleet.append({"site_id": site["site_id"], "rack_type_id": "air40", "chip_id": "a100_80gb_sxm",
                          "servers": max(1, round(need * rng.uniform(0.1, 0.25))), "installed_quarter": rng.choice(["2022Q3", "2023Q2"])})
    return fleet


def _fleet_fits(sites: list[dict], fleet: list[dict], chips: dict) -> bool:
    """The fleet takes at most 70 % of each site's air40 racks and 60 % of its power cap."""
    for site in sites:
        air = next(r for r in site["rack_types"] if r["rack_type_id"] == "air40")
        rt = RackType.model_validate(air)
        racks = kw = 0.0
        for f in fleet:
            if f["site_id"] == site["site_id"]:
                racks += math.ceil(f["servers"] / rack_fit(chips[f["chip_id"]], rt)[0])
                kw += f["servers"] * chips[f["chip_id"]].server_power_w / 1000.0
        if racks > 0.7 * air["count"] or kw > 0.6 * site["it_power_cap_kw"]:
            return False
    return True


def _efficiency(rows: list, chips: dict, models: dict, model_id: str) -> dict[str, float]:
    """Best output tokens/s per server (whole purchasable unit), per chip, over the options of one workload."""
    best: dict[str, float] = {}
    for o in rows:
        chip = chips[o.chip_id]
        ep_groups = 1 if o.ep <= o.tp else -(-o.ep // o.tp)
        fp = replica_footprint(chip, o.tp, o.pp, ep_groups, d_model=models[model_id].d_model, tokens_per_s=o.tokens_per_s_per_replica)
        if not fp.feasible:
            continue
        spr = fp.servers_per_replica if fp.replicas_per_server <= 1 else 1.0 / fp.replicas_per_server
        best[o.chip_id] = max(best.get(o.chip_id, 0.0), o.tokens_per_s_per_replica / spr)
    return best


#: dimensions that change no random draw (the instance is the preset's, with a budget or limit added)
NO_DRAW = {"budget_tightness", "time_limit_s"}


def resolve_size(size_name: str, **overrides: float | int | None) -> tuple[Size, str]:
    """The preset `size_name` with `overrides` (dimension name -> value; None = keep) applied, and a label
    that names them (the preset's own name when nothing is overridden, so presets stay reproducible)."""
    if size_name not in SIZES:
        raise ValueError(f"unknown size {size_name!r}; presets: {', '.join(SIZES)}")
    base = SIZES[size_name]
    unknown = {k for k, v in overrides.items() if v is not None} - set(Size.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown dimension(s) {sorted(unknown)}; known: {sorted(Size.__dataclass_fields__)}")
    changed = {k: v for k, v in overrides.items() if v is not None and getattr(base, k) != v}
    if not changed:
        return base, size_name
    size = replace(base, **changed)
    if size.budget_tightness < 0 or size.budget_tightness >= 1:
        raise ValueError("budget_tightness must be in [0, 1)")
    if min(size.workloads, size.chips, size.quarters, size.sites, size.racks) < 1 or size.fleet_scale < 0:
        raise ValueError("workloads, chips, quarters, sites and racks must be >= 1 and fleet_scale >= 0")
    # the budget and the time limit take no random draws: an instance differs from its preset only by them
    label = size_name + "".join(f"-{k}{v:g}" for k, v in sorted(changed.items()) if k not in NO_DRAW)
    return size, label


def generate(size_name: str, seed: int, out: Path, **overrides: float | int | None) -> Path:
    """Write the scenario folder; returns the path of scenario.yaml. `overrides` replace single dimensions
    of the preset (see `Size`)."""
    size, label = resolve_size(size_name, **overrides)
    tiny = size_name == "tiny"
    rng = random.Random(f"{label}-{seed}")
    chips = load_chip_catalog(CHIPS_YAML)
    models = load_model_catalog(MODELS_YAML)
    cal = load_calibration()
    quarters = quarter_range(FIRST_QUARTER, size.quarters)
    allowed = _pick_chips(rng, size.chips)
    chip_specs = [chips[c] for c in allowed]

    sites = _sites(rng, size, tiny)
    site_ids = [s["site_id"] for s in sites]

    # workloads: models (dense and MoE mixed), shapes, growth
    n_models = 1 if tiny else min(len(DENSE_MODELS) + len(MOE_MODELS), max(3 if size.workloads < 10 else 6, math.ceil(size.workloads * 0.6)))
    if size.models is not None and not tiny:
        n_models = min(len(DENSE_MODELS) + len(MOE_MODELS), size.models)
    dense, moe = DENSE_MODELS[:], MOE_MODELS[:]
    rng.shuffle(dense)
    rng.shuffle(moe)
    n_moe = 0 if tiny else max(1, min(len(moe), round(n_models * 0.4)))
    model_pool = ["llama-3.1-70b", "qwen3-32b"] if tiny else dense[: n_models - n_moe] + moe[:n_moe]
    workloads = []
    used_names: set[str] = set()
    for i in range(size.workloads):
        kind = "steady" if tiny else rng.choices(["steady", "launch", "legacy"], weights=[0.65, 0.25, 0.10])[0]
        start = rng.randint(1, max(1, size.quarters // 2)) if kind == "launch" and size.quarters > 2 else 0
        for attempt in range(100):
            model_id = model_pool[i % len(model_pool)] if attempt == 0 else rng.choice(model_pool)
            shape = "chat" if tiny and attempt == 0 else rng.choice(sorted(SHAPES))
            p, o, ttft, tpot, pct, prec = SHAPES[shape]
            if p + o > models[model_id].max_context_tokens:  # the request would not fit the model's context
                continue
            probe = WorkloadRow.model_validate({
                "workload_id": "probe", "model_id": model_id, "quarter": quarters[0], "peak_output_tokens_per_s": 1.0,
                "prompt_tokens_mean": p, "output_tokens_mean": o, "ttft_ms": ttft, "tpot_ms": tpot,
                "latency_percentile": pct, "allowed_precisions": prec,
            })
            eff = _efficiency(deployment_options(probe, models[model_id], chip_specs, cal, default_engine=ENGINE),
                              chips, models, model_id)
            # a workload served from the first quarter runs on the existing H100 fleet (every chip has a lead time)
            if len(eff) >= min(3, len(allowed)) and (start > 0 or "h100_sxm" in eff):
                break
        else:
            raise RuntimeError(f"no servable workload found for slot {i}")
        base = f"{shape}-{model_id.replace('.', '')}"
        name, k = base, 2
        while name in used_names:
            name, k = f"{base}-{k}", k + 1
        used_names.add(name)
        growth = rng.uniform(0.90, 0.98) if kind == "legacy" else rng.uniform(1.04, 1.22)
        restricted = not tiny and size.sites >= 3 and rng.random() < 0.2
        allowed_sites = sorted(rng.sample(site_ids, k=max(2, (size.sites + 1) // 2))) if restricted else []
        per_kw = {c: v / (chips[c].server_power_w / 1000.0) for c, v in eff.items()}
        workloads.append({"id": name, "model": model_id, "shape": shape, "start": start, "growth": growth,
                          "weight": rng.uniform(0.5, 1.5) * (0.5 if restricted or kind == "legacy" else 1.0),
                          "per_kw": statistics.median(sorted(per_kw.values())), "h100": eff.get("h100_sxm"),
                          "sites": allowed_sites, "eff": eff})

    # demand: the peak quarter needs FILL of the usable power (site caps; rack fit wastes ~25 % of rack kW)
    usable = sum(min(s["it_power_cap_kw"], 0.75 * sum(r["count"] * r["power_kw"] for r in s["rack_types"])) for s in sites)
    headroom = 0.15
    total_w = sum(w["weight"] for w in workloads)
    air_racks = {s["site_id"]: next(r["count"] for r in s["rack_types"] if r["rack_type_id"] == "air40") for s in sites}
    scale = 1.0
    for _ in range(60):
        levels: dict[str, list[float]] = {}
        h100_need: dict[str, float] = defaultdict(float)
        for w in workloads:
            peak = (0.5 if tiny else FILL) * scale * usable * w["weight"] / total_w * w["per_kw"] / (1.0 + headroom)
            n_active = size.quarters - w["start"]
            curve = [w["growth"] ** k for k in range(n_active)]
            ramp = [min(1.0, 0.35 + 0.65 * k / 2) if w["start"] > 0 else 1.0 for k in range(n_active)]  # launches ramp up
            levels[w["id"]] = [peak * c / max(curve) * r for c, r in zip(curve, ramp, strict=True)]
            if w["start"] == 0:  # the existing fleet serves the first quarter (10 % spare for packing)
                servers = levels[w["id"]][0] * (1.0 + headroom) / w["h100"] * (0.6 if tiny else 1.1)
                where = w["sites"] or site_ids
                for s in where:
                    h100_need[s] += servers * air_racks[s] / sum(air_racks[x] for x in where)
        fleet = _fleet(random.Random(f"{label}-{seed}-fleet"), sites, chips,
                       {k: v * size.fleet_scale for k, v in h100_need.items()}, tiny)
        if _fleet_fits(sites, fleet, chips):
            break
        scale *= 0.93
    else:
        raise RuntimeError("could not size an existing fleet that fits the sites")
    rows = []
    for w in workloads:
        p, o, ttft, tpot, pct, prec = SHAPES[w["shape"]]
        for k, tps in enumerate(levels[w["id"]]):
            rows.append({
                "workload_id": w["id"], "model_id": w["model"], "quarter": quarters[w["start"] + k],
                "peak_output_tokens_per_s": f"{tps:.0f}" if tps >= 1000 else f"{tps:.2f}",
                "prompt_tokens_mean": p, "output_tokens_mean": o, "ttft_ms": ttft, "tpot_ms": tpot,
                "latency_percentile": pct, "allowed_precisions": ";".join(prec), "allowed_sites": ";".join(w["sites"]),
            })

    # commercial terms
    vendors = {}
    for v in sorted({chips[c].vendor for c in allowed}):
        if v != "NVIDIA" and not tiny and rng.random() < 0.6:
            vendors[v] = {"discount_fraction": round(rng.uniform(0.05, 0.15), 2)}
    chip_terms: dict[str, dict] = {}
    if tiny:
        chip_terms = {c: {"lead_time_quarters": 0} for c in allowed}
    else:
        liquid = sum(r["count"] for s in sites for r in s["rack_types"] if r["cooling"] == "liquid")
        air = size.racks - liquid
        if "gb200" in allowed:
            chip_terms["gb200"] = {"supply_cap_servers_per_quarter": max(4, math.ceil(0.3 * liquid))}
        if "b200" in allowed:
            chip_terms["b200"] = {"supply_cap_servers_per_quarter": max(8, math.ceil(0.8 * air))}
        late = [c for c in allowed[len(CORE_CHIPS):] if chips[c].lead_time_quarters <= 1]
        if late and size.quarters >= 4:
            chip_terms.setdefault(late[0], {})["available_from_quarter"] = quarters[size.quarters // 4]
        cloud = [c for c in allowed if not chips[c].purchasable]
        if cloud:
            chip_terms.setdefault(cloud[0], {})["min_order_servers"] = 4

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "workloads.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(out / "sites.yaml", "w") as f:
        f.write(f"# Generated by benchmarks/generate.py --size {label} --seed {seed}: illustrative sites, not real facilities.\n")
        yaml.safe_dump({"sites": sites, "fleet": fleet}, f, sort_keys=False)

    def rel(p: Path) -> str:
        try:
            return os.path.relpath(p, out.resolve())
        except ValueError:  # another drive (Windows)
            return str(p)

    scenario = {
        "name": f"gen_{label}_{seed}".replace(".", "p") + (f"_budget{size.budget_tightness:g}".replace(".", "p") if size.budget_tightness else ""),
        "description": (f"Generated {label} instance (seed {seed}): {size.workloads} workloads on {len(model_pool)} models, "
                        f"{len(allowed)} chip SKUs, {size.quarters} quarters, {size.sites} sites, {size.racks} racks."),
        "horizon": {"first_quarter": FIRST_QUARTER, "quarters": size.quarters},
        "inputs": {"chips": rel(CHIPS_YAML), "models": rel(MODELS_YAML), "workloads": "workloads.csv", "sites": "sites.yaml"},
        "policy": {"objective": "min_tco", "capex_timing": "order", "headroom_fraction": headroom, "redundancy": "none",
                   "depreciation": {"resale_fraction_of_book_value": 1.0}, "allowed_chips": allowed, "engine": ENGINE},
        "vendors": vendors,
        "chip_terms": chip_terms,
        "solver": {"name": "highs", "time_limit_s": size.time_limit_s, "mip_gap": 0.0 if tiny else 0.01, "threads": 1, "seed": 0,
                   "strategy": "fix_and_optimize"},
    }
    if size.budget_tightness > 0:
        need = _capex_need(workloads, levels, chips, headroom)
        scenario["policy"]["capex_budget_usd_total"] = round((1.0 - size.budget_tightness) * need, -4)
    with open(out / "scenario.yaml", "w") as f:
        yaml.safe_dump(scenario, f, sort_keys=False)
    return out / "scenario.yaml"


def _capex_need(workloads: list[dict], levels: dict[str, list[float]], chips: dict, headroom: float) -> float:
    """Rough capex the demand growth needs: each workload's peak level above what it asks in its first
    quarter, with headroom, at the median chip's USD per token/s over the chips that can serve it."""
    total = 0.0
    for w in workloads:
        usd_per_tps = [chips[c].price_usd_per_server / v for c, v in w["eff"].items() if v > 0]
        if not usd_per_tps:
            continue
        base = levels[w["id"]][0] if w["start"] == 0 else 0.0
        total += max(0.0, max(levels[w["id"]]) - base) * (1.0 + headroom) * statistics.median(usd_per_tps)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    for dim, typ, what in DIMENSIONS:
        ap.add_argument(f"--{dim.replace('_', '-')}", type=typ, help=f"{what} (default: the preset's)")
    args = ap.parse_args()
    try:
        path = generate(args.size, args.seed, args.out, **{d: getattr(args, d) for d, _, _ in DIMENSIONS})
    except ValueError as e:
        ap.error(str(e))
    print(path)


if __name__ == "__main__":
    main()
