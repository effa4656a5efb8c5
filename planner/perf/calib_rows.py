"""Turn rows of a measured-results table (the columns of `data/calibration.csv`) into cases the model can predict.

Each row becomes a `Case` (what to predict, with which inputs) or an `Unmodelled` entry with the reason.
Assumptions, stated here once and repeated in each case's `note`:
  * MLPerf Llama-2-70B (OpenOrca, 24,576 samples): mean output 294.45 tokens (TOKENS_PER_SAMPLE in the row
    notes). The mean *input* is not stated in the notes (only the 1,024-token cap). It is bounded by the data:
    row V009 (one H200, 4,488 output tok/s = 15.24 samples/s) needs 15.24 x (I + 294) x 2 x 68.7e9 FLOP/s, which
    exceeds the H200's 1,979 TFLOPS dense FP8 peak for I > 650 and its measured FP8 MAMF (1,453) for I > 400.
    We use I = OPENORCA_MEAN_INPUT_TOKENS = 400 and report the sensitivity in the benchmark.
  * MLPerf GPT-J (CNN/DailyMail validation, 13,368 samples): mean output 69.0 tokens = LoadGen's tokens/s divided
    by samples/s in rows V021-V024 (19,739.8 / 286.084); mean input ~ 781 words per article (See et al. 2017,
    "Get To The Point", ACL, dataset statistics) x ~1.3 GPT-2 BPE tokens per word + instruction -> 1,000 tokens.
  * Output lengths vary (OpenOrca CV ~1, CNN/DM summaries capped at 128: CV 0.5); fixed-length rows have CV 0.
  * MLPerf GPT-J uses beam search of width 4; 2023 TensorRT-LLM rows read GQA KV once per query head
    (constants GPTJ_BEAM_WIDTH, OLD_TRTLLM_FRAMEWORKS below).
  * Precision not disclosed (Groq): 8-bit weights, since 576 chips x 230 MB = 132 GB cannot hold 16-bit Llama-2-70B.
  * Per-user decode-speed claims (Groq, Cerebras) are vendor claims on undisclosed systems: they are read as the
    speed one user gets alone (batch 1) and fit only the per-layer latency of SRAM-only chips, with weight
    VENDOR_CLAIM_WEIGHT (they never move the efficiency factors).
  * A row whose `other_parallelism` says the tensor-parallel collectives run "over PCIe GenN xM" (a system without
    NVLink bridges, per its MLPerf system description) is modelled with that link's bandwidth instead of the
    catalog's scale-up fabric: per direction, GT/s x lanes x 128/130 / 8 bytes (Gen5 x16: 63 GB/s).
  * A row whose notes say the chip was "configured at N W" (e.g. the 1000 W H200 CTS variant) carries that power
    limit; the prediction scales its compute with it (`planner.perf.predict`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from planner.perf.precision import DEFAULT_KV_PRECISION

OPENORCA_MEAN_INPUT_TOKENS = 400.0
OPENORCA_MEAN_OUTPUT_TOKENS = 294.45
CNNDM_MEAN_INPUT_TOKENS = 1000.0
CNNDM_MEAN_OUTPUT_TOKENS = 69.0
#: Mixtral's MLPerf set (OpenOrca + GSM8K + MBXP, 15,000 samples) has no stated mean lengths: assumed, so its
#: rows are reported but not fitted.
MIXED_MEAN_INPUT_TOKENS = 400.0
MIXED_MEAN_OUTPUT_TOKENS = 200.0
#: Context assumed for per-user decode-speed claims (prompt + half the output of a chat turn).
PER_USER_CONTEXT_TOKENS = 1024.0
#: Weight of a vendor/press claim in a fit loss (audited and measured rows weigh 1).
VENDOR_CLAIM_WEIGHT = 0.25
#: PCIe transfer rate per lane by generation, GT/s (128b/130b encoding from Gen3 on).
PCIE_GT_PER_LANE = {3: 8.0, 4: 16.0, 5: 32.0, 6: 64.0}

#: MLPerf GPT-J is run with beam search of width 4 ("only beam_size 4 is allowed for official submission",
#: MLCommons GPT-J reference gen_kwargs: num_beams=4, max_new_tokens=128).
GPTJ_BEAM_WIDTH = 4
#: The TensorRT-LLM performance pages of Oct-Dec 2023 (v0.5-v0.6) predate the GQA-shared decode kernel (XQA):
#: their masked attention read each KV head once per query head. Rows from those frameworks get a KV read factor
#: of query heads / KV heads (1 for MHA models); modern engines (and all planning) use 1.
OLD_TRTLLM_FRAMEWORKS = ("TensorRT-LLM", "TensorRT-LLM v0.5")

REQUIRED_COLUMNS = ("id", "model_key", "precision", "chip_id", "chip_count", "scenario", "metric", "value")


@dataclass(frozen=True)
class Case:
    """One predictable row."""

    row_id: str
    kind: str                 # offline | server | static | ttft | per_user | weights
    model_id: str
    chip_id: str | None
    chips: int | None         # whole system; None = as many as memory demands (SRAM claims)
    tp: int | None            # None = the model picks the best layout
    pp: int | None
    batch: int | None         # batch cap per replica (engine setting) when stated
    precision: str
    kv_precision: str
    prompt_tokens: float
    output_tokens: float
    length_cv: float
    beam_width: int
    kv_read_factor: float
    weight_only: bool
    ttft_target_ms: float
    tpot_target_ms: float
    measured: float           # tokens/s (whole system), ms (TTFT), tokens/s per user, or GB
    unit: str
    in_fit: bool
    note: str
    weight: float = 1.0       # weight in the fit loss (VENDOR_CLAIM_WEIGHT for claims)
    link_gbs_per_direction: float | None = None  # TP collectives over this link instead of the catalog fabric
    power_w: float | None = None  # board power limit the system ran at, when it differs from the catalog's


@dataclass(frozen=True)
class Unmodelled:
    """A row the model cannot predict, and why."""

    row_id: str
    reason: str


def _num(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _leading_int(v: object) -> int | None:
    if _num(v) is not None:
        return int(float(v))  # type: ignore[arg-type]
    m = re.match(r"\s*(\d+)", str(v)) if isinstance(v, str) else None
    if m:
        return int(m.group(1))
    m = re.search(r"reported\s+(\d+)", str(v))
    return int(m.group(1)) if m else None


def parse_precision(text: object) -> str | None:
    """First precision named in free text ('FP8 (E4M3) linear layers' -> fp8; '16-bit' -> bf16)."""
    s = str(text).upper()
    for token, p in (("FP4", "fp4"), ("INT4", "int4"), ("4-BIT", "int4"), ("FP8", "fp8"), ("INT8", "int8"),
                     ("FP16", "fp16"), ("BF16", "bf16"), ("16-BIT", "bf16")):
        if token in s:
            return p
    return None


def parse_kv_precision(text: object, weight_precision: str) -> str:
    """KV precision from free text; 'quantized' -> fp8; unstated -> the default for the weight precision."""
    s = str(text).upper()
    for token, p in (("FP8", "fp8"), ("BF16", "bf16"), ("FP16", "fp16"), ("INT8", "int8"), ("QUANTIZED", "fp8")):
        if token in s:
            return p
    return DEFAULT_KV_PRECISION[weight_precision]


def parse_latency_constraint(text: object) -> tuple[float, float] | None:
    """'TTFT p99<=2000 ms, TPOT p99<=200 ms' -> (2000, 200)."""
    s = str(text)
    t1 = re.search(r"TTFT\s*p99\s*<=\s*([\d.]+)\s*ms", s)
    t2 = re.search(r"TPOT\s*p99\s*<=\s*([\d.]+)\s*ms", s)
    return (float(t1.group(1)), float(t2.group(1))) if t1 and t2 else None


def parse_pcie_link(text: object) -> float | None:
    """'... TP all-reduce over PCIe Gen5 x16' -> 63.0 (GB/s per direction: GT/s x lanes x 128/130 / 8); else None."""
    m = re.search(r"over\s+PCIe\s+Gen\s*(\d)\s*x\s*(\d+)", str(text), re.IGNORECASE)
    if not m or int(m.group(1)) not in PCIE_GT_PER_LANE:
        return None
    return PCIE_GT_PER_LANE[int(m.group(1))] * int(m.group(2)) * 128.0 / 130.0 / 8.0


def parse_power_setting(text: object) -> float | None:
    """'H200 configured at 1000 W TGP (CTS variant)' -> 1000.0; else None."""
    m = re.search(r"configured at\s+([\d,]+)\s*W\b", str(text))
    return float(m.group(1).replace(",", "")) if m else None


def _kind(scenario: str, metric: str) -> str | None:
    s = scenario.lower()
    if metric == "weights_memory_gb":
        return "weights"
    if metric == "per_user_output_tokens_per_s":
        return "per_user"
    if metric == "ttft_ms" and "batch 1" in s:
        return "ttft"
    if "fixed-length" in s:
        return "static"
    if s.startswith("offline"):
        return "offline"
    if s.startswith("server"):
        return "server"
    return None


def _dataset_shape(model_id: str) -> tuple[float, float, float, bool, str]:
    """(mean input, mean output, length CV, known, note) of the MLPerf data set a model's rows use."""
    if model_id == "llama-2-70b":
        return (OPENORCA_MEAN_INPUT_TOKENS, OPENORCA_MEAN_OUTPUT_TOKENS, 1.0, True,
                f"OpenOrca: mean in {OPENORCA_MEAN_INPUT_TOKENS:.0f} (assumed, bounded by V009), out 294.45 (notes)")
    if model_id == "gpt-j-6b":
        return (CNNDM_MEAN_INPUT_TOKENS, CNNDM_MEAN_OUTPUT_TOKENS, 0.5, True,
                "CNN/DailyMail: mean in ~1000 (See et al. 2017), out 69.0 (LoadGen tokens/samples)")
    return (MIXED_MEAN_INPUT_TOKENS, MIXED_MEAN_OUTPUT_TOKENS, 1.0, False,
            f"data-set lengths not stated: assumed in {MIXED_MEAN_INPUT_TOKENS:.0f} / out {MIXED_MEAN_OUTPUT_TOKENS:.0f}")


def row_to_case(r: pd.Series, known_models: set[str], known_chips: set[str],
                known_heads: dict[str, float] | None = None) -> Case | Unmodelled:
    """One table row -> Case or Unmodelled (reasons are user-facing)."""
    rid = str(r["id"])
    model_id = str(r["model_key"])
    known_heads = known_heads or {}
    metric = str(r["metric"])
    kind = _kind(str(r["scenario"]), metric)
    if kind is None:
        return Unmodelled(rid, f"scenario {r['scenario']!r} / metric {metric!r} is not one the model predicts")
    if model_id not in known_models:
        return Unmodelled(rid, f"model {model_id!r} is not in the model catalog")
    value = _num(r["value"])
    if value is None or value <= 0:
        return Unmodelled(rid, "no numeric measured value")
    if not math.isfinite(value) or value > MAX_MEASURED_VALUE:
        return Unmodelled(rid, f"measured value {r['value']} is not a finite number of at most {MAX_MEASURED_VALUE:g}")
    precision = parse_precision(r["precision"])
    note = []
    if kind == "weights":
        if precision is None:
            return Unmodelled(rid, "precision not stated")
        return Case(rid, kind, model_id, None, None, None, None, None, precision, precision, 0, 0, 0, 1, 1.0, False,
                    math.inf, math.inf, value, "GB", False, "capacity check (not a speed row)")
    chip_id = str(r["chip_id"])
    if chip_id not in known_chips:
        return Unmodelled(rid, f"chip {chip_id!r} is not in the chip catalog")
    if precision is None:
        if chip_id.startswith("groq"):
            precision = "int8"
            note.append("precision undisclosed: 8-bit assumed (16-bit Llama-2-70B exceeds 576 x 230 MB)")
        else:
            return Unmodelled(rid, "precision not stated")
    kv = parse_kv_precision(r.get("kv_cache_precision"), precision)
    chips = _leading_int(r["chip_count"])
    if chips is not None and not 1 <= chips <= MAX_ROW_CHIPS:
        return Unmodelled(rid, f"chip count {r['chip_count']} is not from 1 to {MAX_ROW_CHIPS:,}")
    tp, pp = _leading_int(r.get("tp")), _leading_int(r.get("pp"))
    if tp is None:
        pp = None
        note.append("TP/PP not stated: best layout chosen by the model")
    batch = _leading_int(r.get("batch_or_concurrency"))
    m = re.search(r"batch\s+(\d+)", str(r.get("other_parallelism", "")))
    if batch is None and m:
        batch = int(m.group(1))
    claim = "claim" in str(r.get("category", "")).lower() or "vendor claim" in str(r.get("confidence", "")).lower()
    ttft_t = tpot_t = math.inf

    if kind in ("ttft", "static"):
        isl, osl = _num(r.get("isl")), _num(r.get("osl"))
        if isl is None or osl is None:
            return Unmodelled(rid, "fixed-length row without isl/osl")
        if not (0 < isl <= MAX_ROW_TOKENS and 0 < osl <= MAX_ROW_TOKENS):
            return Unmodelled(rid, f"isl/osl {isl:g}/{osl:g} are not from 1 to {MAX_ROW_TOKENS:,} tokens")
        i, o, cv, in_fit = isl, osl, 0.0, True
        if kind == "static" and batch is None:
            return Unmodelled(rid, "fixed-length row without a batch size")
        unit = "ms" if kind == "ttft" else "tok/s"
    elif kind == "per_user":
        i, o, cv, in_fit = PER_USER_CONTEXT_TOKENS, 1.0, 0.0, True
        who = f" (vendor claim, weight {VENDOR_CLAIM_WEIGHT:g})" if claim else ""
        note.append(f"per-user speed at batch 1{who}: fits the SRAM per-layer latency only")
        unit = "tok/s/user"
    else:
        i, o, cv, known, shape_note = _dataset_shape(model_id)
        note.append(shape_note)
        in_fit = known and not claim
        if chips is None:
            return Unmodelled(rid, "chip count not stated")
        if kind == "server":
            lim = parse_latency_constraint(r.get("latency_constraint"))
            if lim is None:
                return Unmodelled(rid, f"server latency bound {r.get('latency_constraint')!r} is not a TTFT/TPOT "
                                       "bound (e.g. an end-to-end sample latency); the model plans on TTFT/TPOT")
            ttft_t, tpot_t = lim
        if metric == "throughput_samples_per_s":
            mm = re.search(r"tokens/s inferred by LoadGen\s*=\s*([\d.,]+)", str(r.get("notes", "")))
            if mm:
                value = float(mm.group(1).replace(",", ""))
                note.append("tokens/s from LoadGen in notes")
            else:
                value = value * o
                note.append(f"samples/s x {o:.1f} tokens/sample (assumed from the other GPT-J rows)")
        unit = "tok/s"
    beams = GPTJ_BEAM_WIDTH if model_id == "gpt-j-6b" and kind in ("offline", "server") else 1
    if beams > 1:
        note.append(f"beam search width {beams} (MLPerf GPT-J rule)")
    kv_read = 1.0
    if str(r.get("framework", "")).strip() in OLD_TRTLLM_FRAMEWORKS and kind in ("static", "ttft"):
        kv_read = float(known_heads.get(model_id, 1.0))
        if kv_read > 1.0:
            note.append(f"2023 TensorRT-LLM decode attention: KV read once per query head (x{kv_read:.0f})")
    text = str(r["precision"]).lower()
    weight_only = "weights" in text and "activation" not in text and precision in ("int8", "int4", "fp8")
    if weight_only:
        note.append("weight-only quantization (activations in 16 bit)")
    link = parse_pcie_link(r.get("other_parallelism", ""))
    if link is not None:
        note.append(f"no NVLink bridge: TP collectives over PCIe ({link:.0f} GB/s per direction)")
    power = parse_power_setting(r.get("notes", ""))
    if power is not None:
        note.append(f"run at a {power:.0f} W power limit")
    return Case(rid, kind, model_id, chip_id, chips, tp, pp, batch, precision, kv, i, o, cv, beams, kv_read,
                weight_only, ttft_t, tpot_t, value, unit, in_fit, "; ".join(note),
                VENDOR_CLAIM_WEIGHT if claim else 1.0, link, power)


#: the largest measured value a calibration row may hold (tokens/s, ms or GB): beyond it, or not finite, the row is
#: not used (inf or 1e300 tokens/s entered the fit)
MAX_MEASURED_VALUE = 1e9
#: rows a measured table may hold: the fit costs several ms a row (24,000 rows ran past two minutes); the bundled
#: table has 48
MAX_CALIBRATION_ROWS = 2_000
#: a row's chip count and request lengths outside these are not used (1e12 chips or -5 prompt tokens entered the fit)
MAX_ROW_CHIPS = 1_000_000
MAX_ROW_TOKENS = 10_000_000


def _check_table_shape(path: Path) -> None:
    """The measured table's text before pandas reads it, every problem located `(file, row N)` in one ValueError:
    not a regular file, too big, empty, NUL bytes, not UTF-8, a repeated column (pandas renamed the second
    `value` to `value.1` and fitted on the first), a row with more cells than the header (pandas shifted it)."""
    import csv
    import io

    from planner.io.safe_read import read_user_bytes

    name = path.name or str(path)
    raw, bad = read_user_bytes(path, name, "", what="calibration table")
    if raw is None:
        raise ValueError("\n".join(str(p) for p in bad))
    if b"\x00" in raw:
        raise ValueError(f"({name}) | holds NUL bytes: it is binary, not a CSV table; save it as UTF-8 CSV")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"({name}) | not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
    expected = f"use the columns of data/calibration.csv ({', '.join(REQUIRED_COLUMNS)}, ...)"
    if not text.strip():
        raise ValueError(f"({name}) | file is empty; {expected}")
    problems = []
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = 0
    try:
        header = [h.strip() for h in next(reader)]
        repeated = sorted({h for h in header if h and header.count(h) > 1})
        if repeated:
            problems.append(f"({name}, row 1) | repeated column(s) {', '.join(repeated)}: only one would be read; keep one")
        for line_no, cells in enumerate(reader, start=2):
            rows += any(c.strip() for c in cells)
            if rows > MAX_CALIBRATION_ROWS:
                problems.append(f"({name}, row {line_no}) | more than {MAX_CALIBRATION_ROWS:,} rows (the fit costs "
                                "several ms a row; the bundled table has 48): keep the rows that matter")
                break
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                problems.append(f"({name}, row {line_no}) | has {len(cells)} cells but the header has {len(header)} "
                                "columns (a comma inside a cell needs quotes)")
                if len(problems) >= 20:
                    break
    except csv.Error as exc:
        problems.append(f"({name}, row {reader.line_num}) | not valid CSV: {exc}")
    if not rows and not problems:
        problems.append(f"({name}) | no data rows under the header; add at least one measured row")
    if problems:
        raise ValueError("\n".join(problems))


def read_cases(path: Path, known_models: set[str], known_chips: set[str],
               gqa_ratio: dict[str, float] | None = None) -> list[Case | Unmodelled]:
    """Read a measured-results CSV into cases; raise ValueError if required columns are missing.
    `gqa_ratio` maps model id -> query heads / KV heads (for the 2023 TensorRT-LLM rows)."""
    _check_table_shape(Path(path))
    df = pd.read_csv(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; use the columns of data/calibration.csv")
    return [row_to_case(r, known_models, known_chips, gqa_ratio) for _, r in df.iterrows()]
