"""What a stock serving engine adds to the roofline: fitted costs per step, per layer, per running sequence and per
token, and GEMM efficiency that falls at moderate tokens per step (performance model v3, `planner.perf.step`).

The analytic roofline is calibrated on tuned benchmark submissions (`planner.perf.calibration`, MLPerf). A stock
engine (vLLM, SGLang, TensorRT-LLM at default settings) spends time the roofline does not see, and how much depends
on the batch, the model and the chip, so a single speed factor cannot express it. Seven parameters per
(engine, chip family), fitted on the bundled measured table by `planner.perf.engine_fit`:
  layer_us            fixed time per model layer per forward pass of a stage (kernel launches, synchronisation)
  seq_us              time per running sequence per pass (scheduling, sampling, paged-attention metadata, copies)
  elementwise_passes  activation vectors (d_model x 2 bytes) read or written per layer per token by the
                      non-matmul kernels (norms, rotary, activations, residual adds): a memory-bound per-token cost
  gemm_half_tokens    tokens per pass at which dense GEMMs reach half their large-batch efficiency:
                      efficiency(n) = n / (n + gemm_half_tokens)
  moe_half_tokens     tokens per expert at which grouped expert GEMMs reach half efficiency (MoE models):
                      efficiency(t) = t / (t + moe_half_tokens),  t = tokens x active / routed experts / the share of
                      experts any token reaches (the experts the pass runs)
  moe_token_us        time per token per MoE layer of the routing kernels (router top-k, permute, un-permute)
  kv_read_efficiency  share of the achievable bandwidth decode attention reaches reading the KV cache (paged
                      attention gathers small blocks; weights stream in large contiguous reads)
plus one global `fp4_compute_ratio`: the share of the FP4 peak stock FP4 kernels reach relative to the FP8 path
(vendor FP4 peaks are 2x FP8; measured FP4 gains over FP8 on the same model are smaller).
Lookup falls back (engine, family) -> engine -> pooled over engines; the `tuned` regime has no costs (it is the
calibrated roofline itself). The fitted values live in `data/engine_costs.json` with their fit report.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from planner.perf.common import DATA_DIR

BUNDLED_ENGINE_COSTS = DATA_DIR / "engine_costs.json"
SCHEMA = "planner.perf.engine_costs/1"
TUNED_ENGINE = "tuned"


@dataclass(frozen=True)
class EngineCosts:
    """The seven fitted costs of one (engine, family) (units in the names; module docstring)."""

    layer_us: float = 0.0
    seq_us: float = 0.0
    elementwise_passes: float = 0.0
    gemm_half_tokens: float = 0.0
    moe_half_tokens: float = 0.0
    moe_token_us: float = 0.0
    kv_read_efficiency: float = 1.0


NO_COSTS = EngineCosts()
#: Level a cost set came from, most to least specific.
LEVELS = ("engine x family", "engine", "pooled", "none")


@dataclass(frozen=True)
class EngineCostTable:
    """Fitted costs per (engine, family), per engine and pooled, and the FP4 compute ratio."""

    by_group: Mapping[tuple[str, str], EngineCosts] = field(default_factory=dict)
    by_engine: Mapping[str, EngineCosts] = field(default_factory=dict)
    pooled: EngineCosts = NO_COSTS
    fp4_compute_ratio: float = 1.0
    source: str = "none"
    report: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def lookup(self, engine: str, family: str) -> tuple[EngineCosts, str]:
        """(costs, level): engine x family -> engine -> pooled; `tuned` has none."""
        if engine == TUNED_ENGINE:
            return NO_COSTS, LEVELS[3]
        if (engine, family) in self.by_group:
            return self.by_group[(engine, family)], LEVELS[0]
        if engine in self.by_engine:
            return self.by_engine[engine], LEVELS[1]
        return self.pooled, LEVELS[2]

    def fp4_ratio(self, engine: str) -> float:
        """FP4 compute ratio of an engine (1 for the tuned regime)."""
        return 1.0 if engine == TUNED_ENGINE else self.fp4_compute_ratio

    def digest(self) -> str:
        payload = [sorted((f"{e}|{f}", asdict(c)) for (e, f), c in self.by_group.items()),
                   sorted((e, asdict(c)) for e, c in self.by_engine.items()), asdict(self.pooled),
                   self.fp4_compute_ratio]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "source": self.source, "fp4_compute_ratio": self.fp4_compute_ratio,
            "pooled": asdict(self.pooled),
            "engine": {e: asdict(c) for e, c in sorted(self.by_engine.items())},
            "engine_x_family": {f"{e}|{f}": asdict(c) for (e, f), c in sorted(self.by_group.items())},
            "fit_report": dict(self.report),
        }


def _costs(doc: Any, where: str) -> EngineCosts:
    if not isinstance(doc, Mapping):
        raise ValueError(f"{where}: expected a mapping of cost names to numbers, got {doc!r}")
    unknown = set(doc) - set(EngineCosts.__dataclass_fields__)
    if unknown:
        raise ValueError(f"{where}: unknown cost names {sorted(unknown)}; expected {sorted(EngineCosts.__dataclass_fields__)}")
    vals = {}
    for k, v in doc.items():
        try:
            x = float(v)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}.{k}: must be a number ({exc})") from exc
        if not (0.0 <= x < 1e6) or (k == "kv_read_efficiency" and not 0.0 < x <= 1.0):
            raise ValueError(f"{where}.{k}: must be >= 0 (kv_read_efficiency in (0, 1]), got {x}")
        vals[k] = x
    return EngineCosts(**vals)


def table_from_json(doc: Mapping[str, Any], source: str) -> EngineCostTable:
    """Parse the document `EngineCostTable.to_json` writes; ValueError naming the field when malformed."""
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"{source}: expected schema {SCHEMA!r}, got {doc.get('schema')!r}")
    groups = {}
    for key, c in (doc.get("engine_x_family") or {}).items():
        if "|" not in key:
            raise ValueError(f"{source}: engine_x_family key {key!r} must be 'engine|family'")
        e, f = key.split("|", 1)
        groups[(e, f)] = _costs(c, f"{source}: engine_x_family[{key!r}]")
    engines = {e: _costs(c, f"{source}: engine[{e!r}]") for e, c in (doc.get("engine") or {}).items()}
    ratio = float(doc.get("fp4_compute_ratio", 1.0))
    if not (0.0 < ratio <= 1.0):
        raise ValueError(f"{source}: fp4_compute_ratio must be in (0, 1], got {ratio}")
    return EngineCostTable(groups, engines, _costs(doc.get("pooled") or {}, f"{source}: pooled"), ratio,
                           str(doc.get("source") or source), doc.get("fit_report") or {})


_CACHE: dict[str, EngineCostTable] = {}


def load_engine_costs(path: Path | None = None) -> EngineCostTable:
    """The bundled fitted costs (none when the file is missing), or a user's JSON in the same format."""
    target = BUNDLED_ENGINE_COSTS if path is None else Path(path)
    if not target.exists():
        if path is None:
            return EngineCostTable()
        raise ValueError(f"{target}: engine costs file not found")
    key = f"{target.resolve()}:{target.stat().st_mtime_ns}"
    if key not in _CACHE:
        try:
            doc = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{target}: not readable JSON ({exc})") from exc
        _CACHE[key] = table_from_json(doc, target.name)
    return _CACHE[key]
