"""Achievable-efficiency factors: the share of peak memory bandwidth and peak compute a real engine reaches.

Factors are data (`data/efficiency.json`, written by `python -m planner.perf.fit`), looked up per chip family
and compute precision with fall-backs:  (family, precision) -> (family, *) -> (*, precision) -> (*, *).
    achievable bandwidth = eta_bandwidth x peak memory bandwidth
    achievable compute   = eta_compute   x dense peak FLOP/s in the compute precision
Two global latency terms complete the model: `request_overhead_ms` (per request, added to TTFT: scheduling,
tokenization, sampling, first-token return) and `step_overhead_us` (per forward pass of a stage).
`layer_latency_us` (family -> microseconds) is a fixed latency per model layer per forward pass, paid by dataflow
chips that stream a token through every layer in turn across many chips or wafer regions (synchronisation, on-fabric
traversal, compute-pipeline fill): a decode step of one sequence takes at least layers x this latency. It is fitted
only for SRAM-only families (Groq, Cerebras; see `planner.perf.efficiency_fit`); families without an entry have none (GPU
per-layer overheads are part of their fitted efficiencies).
A user may override the bundled factors with their own JSON of factors, or with a measured table in the
columns of `data/calibration.csv`, which is then fitted (see `planner.perf.efficiency_fit`); `planner.perf.calibration_io`
loads either (this module holds the data classes, families and lookups, and imports neither loader nor fit).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from planner.perf.common import DATA_DIR
from planner.schemas.chips import ChipSpec

BUNDLED_FACTORS = DATA_DIR / "efficiency.json"
BUNDLED_MEASUREMENTS = DATA_DIR / "calibration.csv"
SCHEMA = "planner.perf.efficiency/1"

#: Chip id -> family; families share an architecture and software stack, so they share efficiency factors.
DEFAULT_FAMILIES: dict[str, str] = {
    "a100_80gb_sxm": "nvidia_ampere",
    "h100_sxm": "nvidia_hopper", "h100_pcie": "nvidia_hopper", "h100_nvl": "nvidia_hopper", "h200_sxm": "nvidia_hopper",
    "b200": "nvidia_blackwell", "gb200": "nvidia_blackwell",
    "l40s": "nvidia_ada", "l4": "nvidia_ada",
    "mi300x": "amd_cdna3", "mi325x": "amd_cdna3", "mi355x": "amd_cdna4",
    "gaudi2": "intel_gaudi", "gaudi3": "intel_gaudi",
    "tpu_v4": "google_tpu", "tpu_v5e": "google_tpu", "tpu_v5p": "google_tpu", "tpu_v6e": "google_tpu",
    "inferentia2": "aws_neuron", "trainium2": "aws_neuron",
    "groq_lpu_v1": "groq_lpu", "cerebras_wse3": "cerebras_wse",
    "tt_wormhole_n300": "tenstorrent", "tt_blackhole_p150": "tenstorrent",
}

#: Priors used where no data speaks: typical shares reached by tuned engines (bandwidth ~75 % of peak in decode
#: kernels, matmul ~55 % of dense peak end to end).
PRIOR_ETA_BANDWIDTH = 0.75
PRIOR_ETA_COMPUTE = 0.55
PRIOR_REQUEST_OVERHEAD_MS = 10.0
PRIOR_STEP_OVERHEAD_US = 0.0
#: Sustained clock ~ power^(1/3) for a power-limited chip (dynamic power ~ C V^2 f, voltage ~ frequency).
POWER_CLOCK_EXPONENT = 1.0 / 3.0


def watts_per_peak_tflop(chip: ChipSpec) -> float | None:
    """TDP over the dense 16-bit peak (BF16, else FP16, else the widest precision published)."""
    for p in ("bf16", "fp16", "fp8", "int8", "fp4", "int4"):
        v = chip.peak_tflops.get(p)
        if v:
            return chip.tdp_w / v
    return None


def power_key(family: str, chip: ChipSpec) -> str | None:
    """Chips of one family with the same published dense peak are the same silicon at the same clock spec, sold at
    different power limits (MI300X 750 W and MI325X 1000 W, both 1307 TF BF16): `family@peak`."""
    w = watts_per_peak_tflop(chip)
    return None if w is None else f"{family}@{chip.tdp_w / w:g}"


def power_reference(chips: Mapping[str, ChipSpec], families: Mapping[str, str]) -> dict[str, float]:
    """{family@peak: the largest TDP per peak TFLOP among those chips}: the part taken to hold its full clock under
    dense matmul. Only parts sharing a published peak are compared (a different peak is a different clock spec or
    silicon, whose power is already in its spec); a lone part is its own reference."""
    out: dict[str, float] = {}
    for cid, chip in chips.items():
        fam = families.get(cid)
        key = None if fam is None else power_key(fam, chip)
        w = watts_per_peak_tflop(chip)
        if key is not None and w is not None:
            out[key] = max(out.get(key, 0.0), w)
    return out


@dataclass(frozen=True)
class Efficiency:
    """Shares of peak reached: memory bandwidth and compute."""

    eta_bandwidth: float
    eta_compute: float


@dataclass(frozen=True)
class Calibration:
    """Efficiency factors by (family, precision) plus the two overhead terms."""

    factors: Mapping[str, Efficiency]
    families: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FAMILIES))
    request_overhead_ms: float = PRIOR_REQUEST_OVERHEAD_MS
    step_overhead_us: float = PRIOR_STEP_OVERHEAD_US
    layer_latency_us: Mapping[str, float] = field(default_factory=dict)
    source: str = "priors"
    #: family@peak -> W per peak TFLOP at which those chips hold full clock (`power_reference`); empty = no limit
    full_clock_w_per_tflop: Mapping[str, float] = field(default_factory=dict)
    report: Mapping[str, Any] | None = None

    def family(self, chip: ChipSpec) -> str:
        """Family of a chip: from the table, else a slug of its vendor."""
        if chip.chip_id in self.families:
            return self.families[chip.chip_id]
        return re.sub(r"[^a-z0-9]+", "_", chip.vendor.lower()).strip("_") or "unknown"

    def efficiency(self, chip: ChipSpec, compute_precision: str) -> Efficiency:
        """Factors for a chip computing in `compute_precision` (fall-back order in the module docstring)."""
        fam = self.family(chip)
        for key in (f"{fam}|{compute_precision}", f"{fam}|*", f"*|{compute_precision}", "*|*"):
            if key in self.factors:
                return self.factors[key]
        return Efficiency(PRIOR_ETA_BANDWIDTH, PRIOR_ETA_COMPUTE)

    def sustained_clock_fraction(self, chip: ChipSpec) -> float:
        """Share of its peak a chip computes at under dense matmul when its power limit binds:
        min(1, (W per peak TFLOP / the full-clock W per peak TFLOP of its family@peak)^(1/3)). MI300X (750 W) and MI325X
        (1000 W) publish the same peak; at 750 W MI300X sustains (0.574 / 0.765)^(1/3) = 0.91 of it."""
        key = power_key(self.family(chip), chip)
        ref = self.full_clock_w_per_tflop.get(key) if key else None
        w = watts_per_peak_tflop(chip)
        if not ref or w is None:
            return 1.0
        return min(1.0, (w / ref) ** POWER_CLOCK_EXPONENT)

    def layer_latency_s(self, chip: ChipSpec) -> float:
        """Fixed latency per model layer per forward pass on this chip's family, seconds (0 when none is set)."""
        return float(self.layer_latency_us.get(self.family(chip), 0.0)) * 1e-6

    def digest(self) -> str:
        """Stable hash of everything that changes predictions (for caches)."""
        payload = {
            "f": {k: [v.eta_bandwidth, v.eta_compute] for k, v in sorted(self.factors.items())},
            "fam": dict(sorted(self.families.items())),
            "r": self.request_overhead_ms,
            "s": self.step_overhead_us,
        }
        if self.full_clock_w_per_tflop:
            payload["w"] = {k: round(v, 6) for k, v in sorted(self.full_clock_w_per_tflop.items())}
        if any(self.layer_latency_us.values()):  # absent when zero, so older caches of such calibrations stay valid
            payload["l"] = {k: v for k, v in sorted(self.layer_latency_us.items()) if v}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        """The JSON document `planner.perf.calibration_io.load_calibration` reads."""
        return {
            "schema": SCHEMA,
            "source": self.source,
            "request_overhead_ms": self.request_overhead_ms,
            "step_overhead_us": self.step_overhead_us,
            "layer_latency_us": {k: round(v, 3) for k, v in sorted(self.layer_latency_us.items())},
            "full_clock_w_per_tflop": {k: round(v, 6) for k, v in sorted(self.full_clock_w_per_tflop.items())},
            "families": dict(sorted(self.families.items())),
            "factors": [
                {"key": k, "eta_bandwidth": round(v.eta_bandwidth, 4), "eta_compute": round(v.eta_compute, 4)}
                for k, v in sorted(self.factors.items())
            ],
            "fit_report": self.report or {},
        }


def prior_calibration() -> Calibration:
    """Priors only: what the model predicts before any fit."""
    return Calibration(factors={"*|*": Efficiency(PRIOR_ETA_BANDWIDTH, PRIOR_ETA_COMPUTE)})


def _number(value: Any) -> float:
    """A JSON number as a float; ValueError for a boolean (`true` is not 1), a string (`"1"`), NaN/Infinity or an
    integer no float holds: `float()` accepts the first three and raises OverflowError on the last."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {type(value).__name__} {value!r:.40}")
    try:
        x = float(value)
    except OverflowError:
        raise ValueError(f"an integer of {len(str(abs(value)))} digits is beyond any sane figure") from None
    if not math.isfinite(x):
        raise ValueError(f"expected a finite number, got {value}")
    return x


def _bounded(doc: Mapping[str, Any], key: str, default: float, source: str, unit: str, high: float) -> float:
    """A top-level figure: a finite number from 0 to `high` (in `unit`), or ValueError naming it."""
    try:
        x = _number(doc.get(key, default))
    except ValueError as exc:
        raise ValueError(f"{source}: {key}: {exc} ({unit})") from None
    if not 0.0 <= x <= high:
        raise ValueError(f"{source}: {key} must be from 0 to {high:g} {unit}, got {x:g}")
    return x


def _family_key(key: Any, table: str, source: str) -> None:
    """A family key with spaces around it (`" h100"`) would never match a chip: refused, not silently unused."""
    if not isinstance(key, str) or key != key.strip() or not key:
        raise ValueError(f"{source}: {table}[{key!r}]: a family key is a name without surrounding spaces")


def calibration_from_json(doc: Mapping[str, Any], source: str) -> Calibration:
    """Parse the JSON document written by `Calibration.to_json`; raise ValueError with the reason if malformed."""
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"{source}: expected schema {SCHEMA!r}, got {doc.get('schema')!r}")
    factors: dict[str, Efficiency] = {}
    for i, f in enumerate(doc.get("factors", [])):
        try:
            key, bw, cp = str(f["key"]), _number(f["eta_bandwidth"]), _number(f["eta_compute"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{source}: factors[{i}] needs key, eta_bandwidth, eta_compute ({exc})") from exc
        if "|" not in key or not (0 < bw <= 1.0) or not (0 < cp <= 1.0):
            raise ValueError(f"{source}: factors[{i}]: key 'family|precision' and 0 < eta <= 1 required, got {f}")
        factors[key] = Efficiency(bw, cp)
    if "*|*" not in factors:
        factors["*|*"] = Efficiency(PRIOR_ETA_BANDWIDTH, PRIOR_ETA_COMPUTE)
    layer_lat: dict[str, float] = {}
    raw = doc.get("layer_latency_us") or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{source}: layer_latency_us must map a chip family to microseconds per layer, got {raw!r}")
    for fam, v in raw.items():
        _family_key(fam, "layer_latency_us", source)
        try:
            us = _number(v)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: layer_latency_us[{fam!r}] must be a number of microseconds ({exc})") from exc
        if not (0.0 <= us < 1e6):
            raise ValueError(f"{source}: layer_latency_us[{fam!r}] must be >= 0 microseconds, got {us}")
        layer_lat[str(fam)] = us
    power: dict[str, float] = {}
    for fam, v in (doc.get("full_clock_w_per_tflop") or {}).items():
        _family_key(fam, "full_clock_w_per_tflop", source)
        try:
            w = _number(v)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: full_clock_w_per_tflop[{fam!r}] must be a number of W per TFLOP ({exc})") from exc
        if not (0.0 < w < 1e6):
            raise ValueError(f"{source}: full_clock_w_per_tflop[{fam!r}] must be > 0 W per TFLOP, got {w}")
        power[str(fam)] = w
    families = doc.get("families") or {}
    if not isinstance(families, Mapping):
        raise ValueError(f"{source}: families must map a chip id to its family name, got {str(families)[:60]}")
    for chip_id, fam in families.items():
        _family_key(chip_id, "families", source)
        if not isinstance(fam, str) or fam != fam.strip() or not fam:
            # a number here failed later, comparing family names (an internal error, exit 1)
            raise ValueError(f"{source}: families[{chip_id!r}] must be a family name (text without surrounding "
                             f"spaces, e.g. \"nvidia_hopper\"), got {json.dumps(fam)[:60]}")
    return Calibration(
        full_clock_w_per_tflop=power,
        factors=factors,
        families={**DEFAULT_FAMILIES, **dict(families)},
        request_overhead_ms=_bounded(doc, "request_overhead_ms", PRIOR_REQUEST_OVERHEAD_MS, source, "ms", 1e5),
        step_overhead_us=_bounded(doc, "step_overhead_us", PRIOR_STEP_OVERHEAD_US, source, "us", 1e6),
        layer_latency_us=layer_lat,
        source=str(doc.get("source") or source),
        report=doc.get("fit_report"),
    )

