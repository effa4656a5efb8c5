"""Measured beats modeled: public and user-supplied benchmark points, and interpolation along concurrency.

A measured point is "model M on chip C at precision P, layout TP x PP (EP), engine E, request shape ISL/OSL, at
client concurrency a (None = offline, engine free to batch) gave X output tokens/s per chip, with TTFT/TPOT".
Three kinds (`MeasuredPoint.kind`): `offline` (no concurrency), `concurrency` (closed-loop clients a), and
`tpot_target` ("at TPOT target X ms, at percentile p, optionally under a TTFT target, the engine delivered Y tok/s per
chip", with the concurrency a it ran at where the source gives it): the throughput a latency-bounded run reached,
read only by questions with latency targets (`planner.perf.coverage.under_targets`).
Sources:
  * the bundled table `data/measured.csv` (every row cites `source_url`; columns of `shared/data/measured.csv`);
  * a user's own results, read by `read_measurements`:
      - the JSON that vLLM's `benchmarks/benchmark_serving.py --save-result` writes (keys `max_concurrency`,
        `output_throughput`, `mean_ttft_ms`, `mean_tpot_ms`, `total_input_tokens`, `total_output_tokens`,
        `completed`; the identity of the run - model, chip, precision, tp, engine - is not in that file, so it
        is given by the `key` the caller passes);
      - a plain CSV with the columns of PLAIN_CSV_COLUMNS (one row per concurrency point), optionally also those of
        PLAIN_CSV_OPTIONAL (`pp`, `ep` default 1; a `tpot_target_ms` makes the row a `tpot_target` point).
Interpolation (`interpolate`): for points of one key (model, chip, precision, tp, pp, ep, engine, ISL, OSL) sorted by
concurrency, tokens/s per chip at concurrency a is linear in log(a) between the two neighbours (exact at a
measured point); outside the measured range it is the nearest end point and flagged `extrapolated`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.perf.common import DATA_DIR
from planner.perf.engines import DEFAULT_ENGINE, ENGINES, TUNED, normalise_engine  # noqa: F401 (re-exported)

BUNDLED_MEASURED = DATA_DIR / "measured.csv"
PLAIN_CSV_COLUMNS = ("model_id", "chip_id", "precision", "tp", "engine", "prompt_tokens", "output_tokens",
                     "concurrency", "output_tokens_per_s", "ttft_ms", "tpot_ms")
#: Optional plain-CSV columns: layout beyond TP (default 1 each) and the latency targets of a `tpot_target` point.
PLAIN_CSV_OPTIONAL = ("pp", "ep", "tpot_target_ms", "ttft_target_ms", "target_percentile")
#: `kind` values of the bundled table (`data/measured.csv`) and what they load as.
TABLE_KINDS = {"offline_fixed": "offline", "concurrency": "concurrency", "tpot_target": "tpot_target"}


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
    tpot_target_ms: float | None = None     # set = a `tpot_target` point: the TPOT limit the run was held to
    ttft_target_ms: float | None = None     # its TTFT limit, if it had one
    target_percentile: float | None = None  # percentile of those limits (e.g. 99; None = not stated)
    dp: int = 1                     # attention data-parallel degree (SGLang --enable-dp-attention, TensorRT-LLM DEP)
    max_batch: float | None = None  # the run's limit on running sequences per replica (max_num_seqs ...), if known
    publisher: str = ""             # who published it (`publisher_of`; default: the source): the unit that counts once
                                    # in the speed factor and that leave-one-source-out leaves out

    def __post_init__(self) -> None:
        if not self.publisher:
            object.__setattr__(self, "publisher", self.source)

    @property
    def chips(self) -> int:
        return self.tp * self.pp

    @property
    def layout(self) -> tuple[int, int, int]:
        """(TP, PP, EP) of one replica."""
        return (self.tp, self.pp, self.ep)

    @property
    def key(self) -> tuple[object, ...]:
        """What a measurement covers (interpolation happens only along concurrency inside one key)."""
        return (self.model_id, self.chip_id, self.precision, self.tp, self.pp, self.ep, self.engine,
                round(self.prompt_tokens), round(self.output_tokens))

    @property
    def kind(self) -> str:
        """`tpot_target` (a latency-bounded throughput), `offline` or `concurrency`."""
        if self.tpot_target_ms is not None:
            return "tpot_target"
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
    """Rows of a table in the columns of `data/measured.csv` as points (per-chip output tokens/s).

    `kind` (TABLE_KINDS): `concurrency` rows carry their client concurrency; `tpot_target` rows their TPOT target
    (`tpot_target_ms`, required), `ttft_target_ms`, `target_percentile` and the concurrency they ran at if given;
    `offline_fixed` (or blank) rows neither. `ep` (blank = 1) is part of the point's layout (TP, PP, EP)."""
    df = pd.read_csv(path)
    out = []
    for i, r in df.iterrows():
        value = _f(r["value"])
        chips = _i(r["chip_count"])
        if value is None or value <= 0:
            continue
        per_chip = value if "per_gpu" in str(r["metric"]) else value / chips
        raw_kind = r.get("kind")
        kind = raw_kind.strip() if isinstance(raw_kind, str) and raw_kind.strip() else "offline_fixed"
        if kind not in TABLE_KINDS:
            raise ValueError(f"{path}: row {int(i) + 2} ({r['id']}): unknown kind {kind!r}; "
                             f"expected one of {', '.join(TABLE_KINDS)}")
        tpot_target = _f(r.get("tpot_target_ms")) if kind == "tpot_target" else None
        if kind == "tpot_target" and (tpot_target is None or tpot_target <= 0):
            raise ValueError(f"{path}: row {int(i) + 2} ({r['id']}): kind tpot_target needs tpot_target_ms > 0")
        conc = _f(r.get("concurrency")) if kind in ("concurrency", "tpot_target") else None
        source = str(r.get("source_url") or r.get("source") or path.name)
        out.append(MeasuredPoint(
            row_id=str(r["id"]), model_id=str(r["model_key"]), chip_id=str(r["chip_id"]),
            precision=str(r["precision"]).lower().replace("fp16", "bf16") if str(r["precision"]).upper() == "FP16"
            else str(r["precision"]).lower(),
            tp=_i(r["tp"]), pp=_i(r["pp"]), ep=_i(r.get("ep")), dp=_i(r.get("dp")), engine=normalise_engine(r.get("engine")),
            prompt_tokens=float(r["isl"]), output_tokens=float(r["osl"]), concurrency=conc,
            tokens_per_s_per_chip=per_chip, ttft_ms=_f(r.get("ttft_mean_ms")), tpot_ms=_f(r.get("tpot_mean_ms")),
            source=source, publisher=publisher_of(source),
            max_batch=_f(r.get("max_batch")),
            ttft_p99_ms=_f(r.get("ttft_p99_ms")), tpot_p99_ms=_f(r.get("tpot_p99_ms")),
            tpot_target_ms=tpot_target,
            ttft_target_ms=_f(r.get("ttft_target_ms")) if kind == "tpot_target" else None,
            target_percentile=_f(r.get("target_percentile")) if kind == "tpot_target" else None,
        ))
    return out


class BenchmarkJsonError(ValueError):
    """Every problem of one benchmark JSON: `problems` is [(field, message)]; str() has one line per problem."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__("\n".join(f"({self.path}{', ' + k if k else ''}) | {m}" for k, m in problems))


def read_vllm_json(path: Path, model_id: str, chip_id: str, precision: str, tp: int, engine: str = "vllm",
                   pp: int = 1, ep: int = 1) -> MeasuredPoint:
    """One result JSON of vLLM's `benchmark_serving.py --save-result`; raises `BenchmarkJsonError` (a ValueError)
    listing every bad field (`planner.io.vllm_json`): missing, not a finite number in range, a count that is not
    whole, a latency in seconds under a `*_ms` key, or a layout (tp, pp, ep) that is not 1..4096."""
    from planner.io.vllm_json import layout_problems, vllm_json_problems

    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:  # a key written twice: one value would be ignored
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                repeated.append(key)
            seen[key] = value
        return seen

    try:  # a UTF-8 BOM (a file saved by a Windows editor) is fine, as for every input
        doc = json.loads(Path(path).read_text(encoding="utf-8-sig"), object_pairs_hook=pairs)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BenchmarkJsonError(path, [("", f"not readable JSON ({exc})")]) from None
    if repeated:
        raise BenchmarkJsonError(path, [(k, "is written more than once: one value would be silently ignored; keep one")
                                        for k in dict.fromkeys(repeated)])
    problems = layout_problems(tp, pp, ep) + vllm_json_problems(doc)
    if problems:
        raise BenchmarkJsonError(path, problems)
    n = float(doc["completed"])
    conc = _f(doc.get("max_concurrency"))
    return MeasuredPoint(
        row_id=Path(path).stem, model_id=model_id, chip_id=chip_id, precision=precision, tp=tp, pp=pp, ep=ep,
        engine=normalise_engine(engine), prompt_tokens=float(doc["total_input_tokens"]) / n,
        output_tokens=float(doc["total_output_tokens"]) / n, concurrency=conc,
        tokens_per_s_per_chip=float(doc["output_throughput"]) / (tp * pp),
        ttft_ms=_f(doc.get("mean_ttft_ms")), tpot_ms=_f(doc.get("mean_tpot_ms")), source=str(path),
        ttft_p99_ms=_f(doc.get("p99_ttft_ms")), tpot_p99_ms=_f(doc.get("p99_tpot_ms")), user=True,
    )


_PLAIN_NUMERIC = ("tp", "pp", "ep", "prompt_tokens", "output_tokens", "concurrency", "output_tokens_per_s", "ttft_ms",
                  "tpot_ms", "tpot_target_ms", "ttft_target_ms", "target_percentile")
#: the largest figure any numeric cell of a measured CSV may hold (tokens, tokens/s, ms); layouts at most 4096 chips
_PLAIN_MAX = 1e9
_PLAIN_MAX_PARALLEL = 4096


def _cell_problem(v: object, whole: bool) -> str | None:
    """Why a numeric cell is unusable (blank is fine: the column's default), or None."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, bool) or (isinstance(v, str) and v.strip().lower() in ("true", "false")):
        return f"expected a number, got the boolean {v}"
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return f"expected a number, got {str(v)[:40]!r}"
    if not math.isfinite(x):
        return f"expected a finite number, got {str(v)[:40]}"
    if whole and (x != int(x) or not 1 <= x <= _PLAIN_MAX_PARALLEL):
        return f"expected a whole number of chips from 1 to {_PLAIN_MAX_PARALLEL}, got {str(v)[:40]}"
    if abs(x) > _PLAIN_MAX:
        return f"at most {_PLAIN_MAX:g} (tokens, tokens/s or ms), got {str(v)[:40]}"
    return None


#: plain-CSV numeric cells with a floor: (column, smallest allowed value, unit words); a ttft/tpot below 1 / 0.5 ms is
#: almost surely written in seconds (the same floors as `planner.io.vllm_json.LATENCY_MS`)
_PLAIN_FLOORS = (("prompt_tokens", 1.0, "tokens"), ("output_tokens", 1.0, "tokens"), ("concurrency", 1.0, "clients"),
                 ("ttft_ms", 1.0, "ms"), ("tpot_ms", 0.5, "ms"), ("ttft_target_ms", 1.0, "ms"),
                 ("target_percentile", 1.0, "(a percentile)"))
#: cells a plain-CSV row must fill
_PLAIN_REQUIRED = ("model_id", "chip_id", "precision", "tp", "engine", "prompt_tokens", "output_tokens", "output_tokens_per_s")
#: what makes two rows the same run (a repeated run would count twice in every fit)
_PLAIN_RUN = ("model_id", "chip_id", "precision", "tp", "pp", "ep", "engine", "prompt_tokens", "output_tokens",
              "concurrency", "tpot_target_ms", "ttft_target_ms", "target_percentile")
#: at most this many of your measured points in one run (files together): fitting the predictor costs about 1 ms
#: per point (20,000 points: about 15 s; 100,000 took a minute on two cores)
MAX_USER_POINTS = 20_000
_PLAIN_MAX_ROWS = MAX_USER_POINTS


def _plain_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a plain measurement CSV as (spreadsheet row, {column: stripped cell}); raises ValueError
    naming the file and every problem of its shape: not a regular file, empty, not CSV, a column missing or
    repeated, a row with more or fewer cells than the header (UnicodeDecodeError when not UTF-8; a BOM and CRLF
    are fine)."""
    import csv
    import io

    from planner.io.safe_read import read_user_bytes

    raw, bad = read_user_bytes(Path(path), str(path))
    if raw is None:
        raise ValueError("\n".join(f"({path}) | {p.message}" for p in bad))
    text = raw.decode("utf-8-sig")  # a UnicodeDecodeError is the callers' to word ("not UTF-8 text (byte N)")
    expected = f"expected columns {', '.join(PLAIN_CSV_COLUMNS)} (optional: {', '.join(PLAIN_CSV_OPTIONAL)})"
    if not text.strip():
        raise ValueError(f"({path}) | file is empty; {expected}")
    problems: list[str] = []
    rows: list[tuple[int, dict[str, str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
        missing = [c for c in PLAIN_CSV_COLUMNS if c not in header]
        repeated = sorted({c for c in header if c and header.count(c) > 1})
        if missing:
            problems.append(f"({path}, row 1) | missing column(s) {', '.join(missing)}; {expected}")
        if repeated:
            problems.append(f"({path}, row 1) | repeated column(s) {', '.join(repeated)}: each value would be read "
                            "from one of them only; keep one")
        for line_no, values in enumerate(reader, start=2):
            if line_no - 1 > _PLAIN_MAX_ROWS:
                problems.append(f"({path}, row {line_no}) | more than {_PLAIN_MAX_ROWS:,} measurement rows (fitting costs about "
                                "1 ms per point); keep the runs that matter, e.g. one per concurrency and request shape")
                break
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                problems.append(f"({path}, row {line_no}) | has {len(values)} cells but the header has {len(header)} columns")
                continue
            rows.append((line_no, {k: v.strip() for k, v in zip(header, values, strict=True)}))
    except csv.Error as exc:
        problems.append(f"({path}, row {reader.line_num}) | not valid CSV: {exc}")
    if problems:
        raise ValueError("\n".join(problems))
    if not rows:
        raise ValueError(f"({path}) | no measurement rows under the header; add at least one row")
    return rows


def _id_problem(kind: str, value: str, known: Iterable[str] | None) -> str | None:
    """An id a measured row names that the catalog (or the list of precisions) lacks, with a did-you-mean."""
    import difflib

    if known is None:
        return None
    names = sorted(known)
    if value in names:
        return None
    close = difflib.get_close_matches(value, names, n=3) or [n for n in names if n.lower() == value.lower()]
    hint = f"; did you mean {', '.join(close)}?" if close else f"; one of {', '.join(names[:12])}" + (
        ", ..." if len(names) > 12 else "")
    return f"unknown {kind} {value[:60]!r}{hint} (a row naming no known {kind} would never be used)"


def read_plain_csv(path: Path, models: Iterable[str] | None = None, chips: Iterable[str] | None = None) -> list[MeasuredPoint]:
    """A CSV with PLAIN_CSV_COLUMNS and any of PLAIN_CSV_OPTIONAL (output_tokens_per_s is the whole replica's, so
    per chip it divides by TP x PP); all problems in one ValueError, each located `(file, column[row N])`: the
    shape (`_plain_rows`), a required cell blank, a number that is not one (a boolean, text, inf) or is out of range
    (below its floor: a latency in seconds under a `*_ms` column; a percentile of 100 or more), a precision that is
    not one (`fp7`), a model or chip the catalogs lack (when `models` / `chips` are given: such a row was silently
    never used), and a row repeating another's run."""
    from planner.schemas.common import PRECISIONS

    rows = _plain_rows(path)
    problems: list[str] = []
    bad_rows: set[int] = set()
    catalogs = (("model_id", "model", models), ("chip_id", "chip", chips), ("precision", "precision", PRECISIONS))
    for line_no, r in rows:  # every numeric cell strictly, before `float()` reads `True` as 1 and `inf` as a rate
        for col in _PLAIN_REQUIRED:
            if not r.get(col):
                problems.append(f"({path}, {col}[row {line_no}]) | is blank; fill it in")
                bad_rows.add(line_no)
        for col, kind, known in catalogs:
            value = r.get(col) or ""
            bad = _id_problem(kind, value.lower() if col == "precision" else value, known) if value else None
            if bad:
                problems.append(f"({path}, {col}[row {line_no}]) | {bad}")
                bad_rows.add(line_no)
        pct = _f(r.get("target_percentile")) if _cell_problem(r.get("target_percentile"), False) is None else None
        if pct is not None and pct >= 100:
            problems.append(f"({path}, target_percentile[row {line_no}]) | must be below 100 (a percentile, e.g. 99), "
                            f"got {pct:g}")
            bad_rows.add(line_no)
        for col in _PLAIN_NUMERIC:
            problem = _cell_problem(r.get(col), col in ("tp", "pp", "ep"))
            if problem:
                problems.append(f"({path}, {col}[row {line_no}]) | {problem}")
                bad_rows.add(line_no)
        for col, floor, unit in _PLAIN_FLOORS:
            x = _f(r.get(col)) if line_no not in bad_rows else None
            if x is not None and x < floor:
                seconds = " (is it in seconds? write milliseconds)" if col.endswith("_ms") and x > 0 else ""
                problems.append(f"({path}, {col}[row {line_no}]) | must be at least {floor:g} {unit}, got {x:g}{seconds}")
                bad_rows.add(line_no)
    seen: dict[tuple[str, ...], int] = {}
    for line_no, r in rows:
        run = tuple(r.get(c, "").lower() for c in _PLAIN_RUN)
        if run in seen and line_no not in bad_rows:
            problems.append(f"({path}, row {line_no}) | repeats the run of row {seen[run]} (same model, chip, precision, "
                            "layout, engine, tokens, concurrency and targets): it would count twice in every fit; keep one")
            bad_rows.add(line_no)
        seen.setdefault(run, line_no)
    out: list[MeasuredPoint] = []
    for line_no, r in rows:
        if line_no in bad_rows:
            continue
        x, tp = _f(r["output_tokens_per_s"]), _i(r["tp"], 0)
        pp, ep = _i(r.get("pp"), 1), _i(r.get("ep"), 1)
        if x is None or x <= 0 or tp < 1:
            problems.append(f"({path}, row {line_no}) | output_tokens_per_s must be > 0 and tp >= 1")
            continue
        if pp < 1 or ep < 1 or tp % ep:
            problems.append(f"({path}, row {line_no}) | pp and ep must be >= 1 and ep must divide tp "
                            f"(got tp {tp}, pp {pp}, ep {ep}); leave them blank for 1")
            continue
        tpot_target = _f(r.get("tpot_target_ms"))
        if tpot_target is not None and tpot_target <= 0:
            problems.append(f"({path}, tpot_target_ms[row {line_no}]) | must be > 0 (blank = not a target run)")
            continue
        try:
            eng = normalise_engine(r["engine"])
        except ValueError as exc:
            problems.append(f"({path}, engine[row {line_no}]) | {exc}")
            continue
        out.append(MeasuredPoint(
            row_id=f"{Path(path).stem}:{line_no}", model_id=str(r["model_id"]), chip_id=str(r["chip_id"]),
            precision=str(r["precision"]).lower(), tp=tp, pp=pp, ep=ep, engine=eng,
            prompt_tokens=float(r["prompt_tokens"]), output_tokens=float(r["output_tokens"]),
            concurrency=_f(r["concurrency"]), tokens_per_s_per_chip=x / (tp * pp), ttft_ms=_f(r["ttft_ms"]),
            tpot_ms=_f(r["tpot_ms"]), source=str(path), user=True, tpot_target_ms=tpot_target,
            ttft_target_ms=_f(r.get("ttft_target_ms")) if tpot_target is not None else None,
            target_percentile=_f(r.get("target_percentile")) if tpot_target is not None else None,
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
    pts = sorted((p for p in points if p.concurrency and p.kind == "concurrency"), key=lambda p: p.concurrency or 0.0)
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


def stock_points(points: Iterable[MeasuredPoint]) -> list[MeasuredPoint]:
    """The points that fit the stock engines' costs: all but tuned submissions (`engine: tuned` is the calibrated
    model with no engine costs; its points set only the tuned regime's speed factor, `planner.perf.correction`)."""
    return [p for p in points if p.engine != TUNED]


def with_source(p: MeasuredPoint, source: str) -> MeasuredPoint:
    return replace(p, source=source, publisher=source)


#: Sites and GitHub owners that are one publisher (SemiAnalysis publishes InferenceX on its site and on GitHub).
PUBLISHER_ALIASES = {"github.com/semianalysisai": "inferencex.semianalysis.com"}


#: An MLPerf Inference results file: .../mlcommons/inference_results_v<round>/<blob|tree>/<ref>/<closed|open>/<Org>/...
MLPERF_RESULTS = re.compile(
    r"https?://(?:www\.)?github\.com/mlcommons/inference_results_v[^/]+/(?:blob|tree)/[^/]+/(?:closed|open)/([^/#?]+)",
    re.IGNORECASE)


def publisher_of(source: str) -> str:
    """The publisher a cited source belongs to: `github.com/<owner>` for a GitHub URL (every repository, file and
    commit of one organisation is one publisher: a results repository citing one JSON per run is one lab, not
    sixteen, and AMD's ROCm blog and ROCm vLLM README print the same runs), else the site's host name, both through
    PUBLISHER_ALIASES; an MLPerf results file is its submitter (`mlcommons/<org>`: MLCommons publishes every
    organisation's own runs); anything that is not a URL is its own publisher."""
    mlperf = MLPERF_RESULTS.match(source.strip())
    if mlperf:  # each MLPerf submitter ran its own systems: one publisher per submitting organisation
        return f"mlcommons/{mlperf.group(1).lower()}"
    m = re.match(r"https?://(?:www\.)?([^/]+)(?:/([^/#?]+))?", source.strip())
    if not m:
        return source
    host = m.group(1).lower()
    key = f"github.com/{m.group(2).lower()}" if host == "github.com" and m.group(2) else host
    return PUBLISHER_ALIASES.get(key, key)
