"""Measured beats modeled: public and user-supplied benchmark points, and interpolation along concurrency.

A measured point is "model M on chip C at precision P, layout TP x PP (EP), engine E, request shape ISL/OSL, at
client concurrency a (None = offline, engine free to batch) gave X output tokens/s per chip, with TTFT/TPOT".
Sources:
  * the bundled table `data/measured.csv` (every row cites `source_url`; columns of `shared/data/measured.csv`);
  * a user's own results, read by `read_measurements`:
      - the JSON that vLLM's `benchmarks/benchmark_serving.py --save-result` writes (keys `max_concurrency`,
        `output_throughput`, `mean_ttft_ms`, `mean_tpot_ms`, `total_input_tokens`, `total_output_tokens`,
        `completed`; the identity of the run - model, chip, precision, tp, engine - is not in that file, so it
        is given by the `key` the caller passes);
      - a plain CSV with the columns of PLAIN_CSV_COLUMNS (one row per concurrency point).
Interpolation (`interpolate`): for points of one key (model, chip, precision, tp, pp, engine, ISL, OSL) sorted by
concurrency, tokens/s per chip at concurrency a is linear in log(a) between the two neighbours (exact at a
measured point); outside the measured range it is the nearest end point and flagged `extrapolated`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from planner.perf.calibration import DATA_DIR
from planner.perf.engines import DEFAULT_ENGINE, ENGINES, normalise_engine  # noqa: F401 (re-exported)

BUNDLED_MEASURED = DATA_DIR / "measured.csv"
PLAIN_CSV_COLUMNS = ("model_id", "chip_id", "precision", "tp", "engine", "prompt_tokens", "output_tokens",
                     "concurrency", "output_tokens_per_s", "ttft_ms", "tpot_ms")


@dataclass(frozen=True)
class MeasuredPoint:
    """One measurement; tokens/s are output tokens per second per chip."""

    row_id: str
    model_id: str
    chip_id: str
    precision: str
    tp: int
    pp: int
    ep: int
    engine: str
    prompt_tokens: float
    output_tokens: float
    concurrency: float | None       # None = offline (engine free to batch)
    tokens_per_s_per_chip: float
    ttft_ms: float | None
    tpot_ms: float | None
    source: str
    ttft_p99_ms: float | None = None  # 99th-percentile latencies where the source gives them
    tpot_p99_ms: float | None = None
    user: bool = False              # from the user's own files (scenario `inputs.measurements`), not the bundled table

    @property
    def chips(self) -> int:
        return self.tp * self.pp

    @property
    def key(self) -> tuple[object, ...]:
        """What a measurement covers (interpolation happens only along concurrency inside one key)."""
        return (self.model_id, self.chip_id, self.precision, self.tp, self.pp, self.engine,
                round(self.prompt_tokens), round(self.output_tokens))

    @property
    def kind(self) -> str:
        return "offline" if self.concurrency is None else "concurrency"


def _f(v: object) -> float | None:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _i(v: object, default: int = 1) -> int:
    x = _f(v)
    return default if x is None else int(x)


def load_table(path: Path = BUNDLED_MEASURED) -> list[MeasuredPoint]:
    """Rows of a table in the columns of `data/measured.csv` as points (per-chip output tokens/s)."""
    df = pd.read_csv(path)
    out = []
    for _, r in df.iterrows():
        value = _f(r["value"])
        chips = _i(r["chip_count"])
        if value is None or value <= 0:
            continue
        per_chip = value if "per_gpu" in str(r["metric"]) else value / chips
        conc = _f(r.get("concurrency")) if str(r.get("kind")) == "concurrency" else None
        out.append(MeasuredPoint(
            row_id=str(r["id"]), model_id=str(r["model_key"]), chip_id=str(r["chip_id"]),
            precision=str(r["precision"]).lower().replace("fp16", "bf16") if str(r["precision"]).upper() == "FP16"
            else str(r["precision"]).lower(),
            tp=_i(r["tp"]), pp=_i(r["pp"]), ep=_i(r.get("ep")), engine=normalise_engine(r.get("engine")),
            prompt_tokens=float(r["isl"]), output_tokens=float(r["osl"]), concurrency=conc,
            tokens_per_s_per_chip=per_chip, ttft_ms=_f(r.get("ttft_mean_ms")), tpot_ms=_f(r.get("tpot_mean_ms")),
            source=str(r.get("source_url") or r.get("source") or path.name),
            ttft_p99_ms=_f(r.get("ttft_p99_ms")), tpot_p99_ms=_f(r.get("tpot_p99_ms")),
        ))
    return out


def read_vllm_json(path: Path, model_id: str, chip_id: str, precision: str, tp: int, engine: str = "vllm",
                   pp: int = 1, ep: int = 1) -> MeasuredPoint:
    """One result JSON of vLLM's `benchmark_serving.py --save-result`; raises ValueError naming a missing key."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc})") from exc
    need = ("output_throughput", "completed", "total_input_tokens", "total_output_tokens")
    missing = [k for k in need if _f(doc.get(k)) is None]
    if missing:
        raise ValueError(f"{path}: missing numeric key(s) {', '.join(missing)} (expected vLLM benchmark_serving "
                         "--save-result output)")
    n = float(doc["completed"])
    if n <= 0:
        raise ValueError(f"{path}: completed must be > 0")
    conc = _f(doc.get("max_concurrency"))
    if conc is not None and conc <= 0:
        raise ValueError(f"{path}: max_concurrency must be > 0 (or absent/null for an unlimited run)")
    return MeasuredPoint(
        row_id=Path(path).stem, model_id=model_id, chip_id=chip_id, precision=precision, tp=tp, pp=pp, ep=ep,
        engine=normalise_engine(engine), prompt_tokens=float(doc["total_input_tokens"]) / n,
        output_tokens=float(doc["total_output_tokens"]) / n, concurrency=conc,
        tokens_per_s_per_chip=float(doc["output_throughput"]) / (tp * pp),
        ttft_ms=_f(doc.get("mean_ttft_ms")), tpot_ms=_f(doc.get("mean_tpot_ms")), source=str(path),
        ttft_p99_ms=_f(doc.get("p99_ttft_ms")), tpot_p99_ms=_f(doc.get("p99_tpot_ms")), user=True,
    )


def read_plain_csv(path: Path) -> list[MeasuredPoint]:
    """A CSV with PLAIN_CSV_COLUMNS (output_tokens_per_s is the whole replica's); all problems in one ValueError."""
    df = pd.read_csv(path)
    missing = [c for c in PLAIN_CSV_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(PLAIN_CSV_COLUMNS)}")
    out, problems = [], []
    for i, r in df.iterrows():
        x, tp = _f(r["output_tokens_per_s"]), _i(r["tp"], 0)
        if x is None or x <= 0 or tp < 1:
            problems.append(f"({path}, row {int(i) + 2}) | output_tokens_per_s must be > 0 and tp >= 1")
            continue
        try:
            eng = normalise_engine(r["engine"])
        except ValueError as exc:
            problems.append(f"({path}, engine[row {int(i) + 2}]) | {exc}")
            continue
        out.append(MeasuredPoint(
            row_id=f"{Path(path).stem}:{int(i) + 2}", model_id=str(r["model_id"]), chip_id=str(r["chip_id"]),
            precision=str(r["precision"]).lower(), tp=tp, pp=1, ep=1, engine=eng,
            prompt_tokens=float(r["prompt_tokens"]), output_tokens=float(r["output_tokens"]),
            concurrency=_f(r["concurrency"]), tokens_per_s_per_chip=x / tp, ttft_ms=_f(r["ttft_ms"]),
            tpot_ms=_f(r["tpot_ms"]), source=str(path), user=True,
        ))
    if problems:
        raise ValueError("\n".join(problems))
    return out


@dataclass(frozen=True)
class Interpolated:
    """Tokens/s per chip read off measurements, and how."""

    tokens_per_s_per_chip: float
    source: str          # "measured" (a point at that concurrency) | "interpolated" | "extrapolated"
    points: int


def interpolate(points: Sequence[MeasuredPoint], concurrency: float) -> Interpolated:
    """Tokens/s per chip at `concurrency` from points of one key (module docstring); ValueError if none."""
    pts = sorted((p for p in points if p.concurrency), key=lambda p: p.concurrency or 0.0)
    if not pts:
        raise ValueError("no concurrency points to interpolate")
    keys = {p.key for p in pts}
    if len(keys) > 1:
        raise ValueError(f"points of different keys cannot be interpolated together: {sorted(map(str, keys))}")
    a = np.log([p.concurrency for p in pts])
    y = np.array([p.tokens_per_s_per_chip for p in pts])
    la = math.log(max(concurrency, 1e-9))
    for p in pts:
        if abs(math.log(p.concurrency or 1.0) - la) < 1e-12:
            return Interpolated(p.tokens_per_s_per_chip, "measured", len(pts))
    if la < a[0] or la > a[-1]:
        return Interpolated(float(np.interp(la, a, y)), "extrapolated", len(pts))
    return Interpolated(float(np.interp(la, a, y)), "interpolated", len(pts))


def group_by_key(points: Iterable[MeasuredPoint]) -> dict[tuple[object, ...], list[MeasuredPoint]]:
    """Points grouped by what they cover."""
    out: dict[tuple[object, ...], list[MeasuredPoint]] = {}
    for p in points:
        out.setdefault(p.key, []).append(p)
    return out


def with_source(p: MeasuredPoint, source: str) -> MeasuredPoint:
    return replace(p, source=source)
