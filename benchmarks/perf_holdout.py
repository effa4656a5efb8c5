"""Score `planner perf` on the held-out published measurements in `benchmarks/data/holdout_measured.csv`.

Every row is predicted the way a user would ask for it: `planner perf --model M --chip C --chips N --precision P
--prompt-tokens I --output-tokens O --tp T --pp P --ep E --length-cv V --json`, plus, as the row states,
`--concurrency C` (kind `concurrency`), `--tpot-ms X` (kind `tpot_target`; with `--ttft-ms` / `--percentile` when the
row gives them) or nothing (kind `offline`: `planner perf`'s default burst of 1000 requests at the largest batch
memory and the engine allow; the row's own request count is not passed, as a user would not), and `--engine E`
(`--engine tuned` for rows marked `tuned`: MLPerf-style tuned submissions, the regime `planner perf` has for them).

`--engine` and `--concurrency` are new (issue 20). This script reads `planner perf --help` and uses them only when
they are listed; otherwise it falls back to what exists and says so in its output:
  * no `--engine`: the row's engine is not passed (the model has one regime);
  * no `--concurrency`: a `concurrency` row is run with `--batch C` (running batch = client concurrency); when C
    exceeds the batch memory holds, the row is re-run without `--batch` (largest batch that fits) and flagged.

Prediction per chip: the JSON's `tokens_per_s_per_chip` when present, else `throughput_tokens_per_s / chips`.
Error per row: signed = (predicted - measured) / measured (positive = the model is optimistic); |error| its
absolute value. Summary per group: n, median |error|, p90 |error| (linear interpolation between order statistics,
as numpy's default), median signed error, all in percent. Groups: overall, source, engine, chip family, kind,
tuned vs stock, model; and the chip ranking per model (`planner.perf.ranking`, as in benchmarks/perf_accuracy.py):
of the pairs of rows that ask one question of two chips, how many the prediction orders as measured. Rows `planner
perf` refuses (exit 2 or 3) are listed with its message and left out of the figures. This prints figures; it never
asserts them.

Run: python benchmarks/perf_holdout.py [--csv FILE] [--rows] [--out RESULTS.csv] [--subprocess] [--no-engine]
                                        [--no-concurrency] [--only-source S ...] [--skip-source S ...]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = ROOT / "benchmarks" / "data" / "holdout_measured.csv"
BUNDLED_MEASURED = ROOT / "planner" / "perf" / "data" / "measured.csv"

KINDS = ("offline", "concurrency", "tpot_target")
ENGINES = ("trtllm", "vllm", "sglang")
#: Used only when planner.perf.calibration.DEFAULT_FAMILIES cannot be imported.
FALLBACK_FAMILIES = {
    "a100_80gb_sxm": "nvidia_ampere", "h100_sxm": "nvidia_hopper", "h100_pcie": "nvidia_hopper",
    "h100_nvl": "nvidia_hopper", "h200_sxm": "nvidia_hopper", "b200": "nvidia_blackwell", "gb200": "nvidia_blackwell",
    "l40s": "nvidia_ada", "l4": "nvidia_ada", "mi300x": "amd_cdna3", "mi325x": "amd_cdna3",
}


# ---------------------------------------------------------------------------------------------------------------
# rows


@dataclass(frozen=True)
class Row:
    """One held-out measurement (columns documented in benchmarks/data/README.md)."""

    id: str
    source: str
    engine: str
    model_id: str
    chip_id: str
    chips: int
    tp: int
    pp: int
    ep: int
    precision: str
    kind: str
    prompt_tokens: float
    output_tokens: float
    measured: float
    length_cv: float | None = None
    concurrency: float | None = None
    tpot_target_ms: float | None = None
    ttft_target_ms: float | None = None
    target_percentile: float | None = None
    tuned: bool = False
    estimate: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)


def _num(s: str | None) -> float | None:
    s = (s or "").strip()
    return float(s) if s else None


def _bool(s: str | None) -> bool:
    return (s or "").strip().lower() in ("true", "1", "yes")


def read_rows(path: Path | str) -> list[Row]:
    """Parse the hold-out CSV (no validation beyond types; tests/test_perf_holdout.py checks the schema)."""
    with open(path, newline="", encoding="utf-8") as f:
        out = []
        for r in csv.DictReader(f):
            out.append(Row(
                id=r["id"], source=r["source"], engine=r["engine"].strip().lower(), model_id=r["model_id"],
                chip_id=r["chip_id"], chips=int(r["chips"]), tp=int(r["tp"] or 1), pp=int(r["pp"] or 1),
                ep=int(r["ep"] or 1), precision=r["precision"].strip().lower(), kind=r["kind"].strip(),
                prompt_tokens=float(r["prompt_tokens"]), output_tokens=float(r["output_tokens"]),
                measured=float(r["output_tokens_per_s_per_chip"]), length_cv=_num(r.get("length_cv")),
                concurrency=_num(r.get("concurrency")), tpot_target_ms=_num(r.get("tpot_target_ms")),
                ttft_target_ms=_num(r.get("ttft_target_ms")), target_percentile=_num(r.get("target_percentile")),
                tuned=_bool(r.get("tuned")), estimate=_bool(r.get("estimate")), extra=r,
            ))
        return out


def site_key(url: str) -> str:
    """Who published a URL: `owner/repo` for GitHub, else the host (used to tell sources whose publisher is in the
    bundled measured.csv from new ones)."""
    from urllib.parse import urlparse

    u = urlparse(url.strip())
    host = u.netloc.lower().removeprefix("www.")
    if host in ("github.com", "raw.githubusercontent.com"):
        parts = [p for p in u.path.split("/") if p]
        return "/".join(parts[:2]).lower() if len(parts) >= 2 else host
    return host


def bundled_sites(path: Path | str = BUNDLED_MEASURED) -> set[str]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return {site_key(r.get("source_url") or "") for r in csv.DictReader(f) if (r.get("source_url") or "").strip()}
    except OSError:
        return set()


def chip_family(chip_id: str) -> str:
    try:
        from planner.perf.calibration import DEFAULT_FAMILIES
    except ImportError:  # pragma: no cover - the planner is installed in this repo
        DEFAULT_FAMILIES = FALLBACK_FAMILIES  # noqa: N806
    return DEFAULT_FAMILIES.get(chip_id, FALLBACK_FAMILIES.get(chip_id, chip_id))


# ---------------------------------------------------------------------------------------------------------------
# error arithmetic (tested by hand in tests/test_perf_holdout.py)


def signed_error_pct(predicted: float, measured: float) -> float:
    """(predicted - measured) / measured in percent; positive = optimistic."""
    return 100.0 * (predicted - measured) / measured


def percentile(values: Sequence[float], q: float) -> float:
    """q-th percentile (0-100), linear interpolation between order statistics (numpy's default)."""
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass(frozen=True)
class Summary:
    n: int
    median_abs: float
    p90_abs: float
    median_signed: float


def summarise(signed_errors: Iterable[float]) -> Summary:
    e = [x for x in signed_errors if math.isfinite(x)]
    a = [abs(x) for x in e]
    return Summary(len(e), percentile(a, 50), percentile(a, 90), percentile(e, 50))


def group_summaries(results: Sequence[Mapping[str, object]], key: Callable[[Mapping[str, object]], str]
                    ) -> dict[str, Summary]:
    groups: dict[str, list[float]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(float(r["signed_err"]))  # type: ignore[arg-type]
    return {k: summarise(v) for k, v in sorted(groups.items())}


# ---------------------------------------------------------------------------------------------------------------
# running planner perf


@dataclass(frozen=True)
class Capabilities:
    engine: bool
    concurrency: bool
    length_cv: bool
    ep: bool


def _help_text(use_subprocess: bool) -> str:
    if use_subprocess:
        p = subprocess.run(["planner", "perf", "--help"], capture_output=True, text=True, check=False)
        return p.stdout
    from planner.cli import build_parser

    parser = build_parser()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        parser.parse_args(["perf", "--help"])
    return buf.getvalue()


def detect_capabilities(help_text: str) -> Capabilities:
    return Capabilities(engine="--engine" in help_text, concurrency="--concurrency" in help_text,
                        length_cv="--length-cv" in help_text, ep="--ep" in help_text)


def perf_argv(row: Row, caps: Capabilities, use_engine: bool = True, use_concurrency: bool = True,
              batch_fallback: bool = True) -> tuple[list[str], list[str]]:
    """`planner perf` arguments for a row, and notes on any fallback taken."""
    notes: list[str] = []
    argv = ["perf", "--model", row.model_id, "--chip", row.chip_id, "--chips", str(row.chips),
            "--precision", row.precision, "--prompt-tokens", f"{row.prompt_tokens:g}",
            "--output-tokens", f"{row.output_tokens:g}", "--tp", str(row.tp), "--pp", str(row.pp), "--json"]
    if row.ep > 1:
        if caps.ep:
            argv += ["--ep", str(row.ep)]
        else:
            notes.append("no --ep: expert parallelism not passed")
    if row.length_cv is not None and caps.length_cv:
        argv += ["--length-cv", f"{row.length_cv:g}"]
    if use_engine and caps.engine:
        argv += ["--engine", "tuned" if row.tuned else row.engine]  # a tuned submission is asked in its regime
    elif use_engine:
        notes.append("no --engine: engine not passed")
    if row.kind == "concurrency" and row.concurrency is not None:
        if use_concurrency and caps.concurrency:
            argv += ["--concurrency", f"{row.concurrency:g}"]
        elif batch_fallback:
            argv += ["--batch", str(int(row.concurrency))]
            notes.append(f"no --concurrency: --batch {int(row.concurrency)}")
        else:
            notes.append("no --concurrency: largest batch that fits")
    elif row.kind == "tpot_target":
        if row.tpot_target_ms is not None:
            argv += ["--tpot-ms", f"{row.tpot_target_ms:g}"]
        if row.ttft_target_ms is not None:
            argv += ["--ttft-ms", f"{row.ttft_target_ms:g}"]
        if row.target_percentile is not None:
            argv += ["--percentile", f"{row.target_percentile:g}"]
    return argv, notes


def run_planner(argv: Sequence[str], use_subprocess: bool) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `planner <argv>`."""
    if use_subprocess:
        p = subprocess.run(["planner", *argv], capture_output=True, text=True, check=False)
        return p.returncode, p.stdout, p.stderr
    from planner.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(argv))
        except SystemExit as exc:  # argparse errors
            rc = int(exc.code or 0) if not isinstance(exc.code, str) else 2
    return rc, out.getvalue(), err.getvalue()


def per_chip_tokens(payload: Mapping[str, object], chips: int) -> float:
    """Predicted output tokens/s per chip from `planner perf --json`."""
    v = payload.get("tokens_per_s_per_chip")
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    total = payload.get("throughput_tokens_per_s")
    if isinstance(total, (int, float)) and math.isfinite(total):
        return float(total) / chips
    return math.nan


def predict_row(row: Row, caps: Capabilities, use_subprocess: bool = False, use_engine: bool = True,
                use_concurrency: bool = True) -> dict[str, object]:
    argv, notes = perf_argv(row, caps, use_engine, use_concurrency)
    rc, out, err = run_planner(argv, use_subprocess)
    if rc != 0 and "--batch" in argv:
        # the client concurrency exceeds what memory holds: the running batch is capped by memory
        argv2, notes2 = perf_argv(row, caps, use_engine, use_concurrency, batch_fallback=False)
        rc2, out2, err2 = run_planner(argv2, use_subprocess)
        if rc2 == 0:
            argv, rc, out, err = argv2, rc2, out2, err2
            notes = notes2 + ["--batch exceeded memory: re-run with the largest batch that fits"]
    res: dict[str, object] = {"id": row.id, "argv": " ".join(argv), "rc": rc, "fallback": "; ".join(notes)}
    if rc != 0:
        res["error"] = " ".join(err.split())[:300]
        return res
    try:
        payload = json.loads(out)
    except json.JSONDecodeError:
        res["rc"], res["error"] = -1, "no JSON on stdout"
        return res
    pred = per_chip_tokens(payload, row.chips)
    res.update(predicted=pred, batch=payload.get("batch"), tpot_ms_pred=payload.get("tpot_ms"),
               ttft_ms_pred=payload.get("ttft_ms"), perf_source=payload.get("perf_source") or "")
    return res


def score(rows: Sequence[Row], caps: Capabilities, use_subprocess: bool = False, use_engine: bool = True,
          use_concurrency: bool = True) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(scored results, refused rows)."""
    scored, refused = [], []
    known = bundled_sites()
    for row in rows:
        res = predict_row(row, caps, use_subprocess, use_engine, use_concurrency)
        base = {"source": row.source, "engine": row.engine, "family": chip_family(row.chip_id), "kind": row.kind,
                "tuned": "tuned" if row.tuned else "stock", "model": row.model_id, "chip": row.chip_id,
                "measured": row.measured, "estimate": row.estimate,
                "publisher_in_bundled": "publisher also in measured.csv" if site_key(row.extra.get("source_url", ""))
                in known else "publisher new to measured.csv"}
        res.update(base)
        pred = res.get("predicted")
        if isinstance(pred, float) and math.isfinite(pred) and pred > 0:
            res["signed_err"] = signed_error_pct(pred, row.measured)
            scored.append(res)
        else:
            res.setdefault("error", "no finite prediction")
            refused.append(res)
    return scored, refused


def ranking_rows(scored: Sequence[Mapping[str, object]], rows: Sequence[Row]) -> list:
    """The scored rows as `planner.perf.ranking.RankRow`s: publisher from `source_url` (`publisher_of`; the `source`
    label when there is none), tuned submissions under engine `tuned` (the regime they are asked in), the question
    from lengths, concurrency, targets and length CV, the layout (TP, PP, EP, DP 1)."""
    from planner.perf.measured import publisher_of
    from planner.perf.ranking import RankRow, question_key

    by_id = {r.id: r for r in rows}
    out = []
    for res in scored:
        r = by_id.get(str(res["id"]))
        if r is None:
            continue
        url = (r.extra.get("source_url") or "").strip()
        out.append(RankRow(
            id=r.id, publisher=publisher_of(url) if url else r.source, model=r.model_id,
            engine="tuned" if r.tuned else r.engine, precision=r.precision, kind=r.kind, chip=r.chip_id,
            measured=r.measured, predicted=float(res["predicted"]),  # type: ignore[arg-type]
            question=question_key(r.prompt_tokens, r.output_tokens, r.concurrency, r.tpot_target_ms, r.ttft_target_ms,
                                  r.target_percentile, r.length_cv),
            layout=(r.tp, r.pp, r.ep, 1)))
    return out


def print_rankings(scored: Sequence[Mapping[str, object]], rows: Sequence[Row], out=sys.stdout) -> None:
    """Chip ranking per model (`planner.perf.ranking`, definitions in its docstring) on the scored rows."""
    from planner.perf.ranking import NOISE_BAND, report

    print(f"chip ranking (pairs: one publisher, model, engine, precision, kind and question on two chips, measured "
          f"> {100 * NOISE_BAND:.0f} % apart; publisher-weighted; gap error = predicted / measured ratio - 1):",
          file=out)
    print("\n".join(report(ranking_rows(scored, rows))), file=out)


# ---------------------------------------------------------------------------------------------------------------
# printing


def _fmt(s: Summary) -> str:
    return f"{s.n:>4}  {s.median_abs:>8.1f}  {s.p90_abs:>8.1f}  {s.median_signed:>+9.1f}"


def print_tables(scored: Sequence[Mapping[str, object]], out=sys.stdout) -> None:
    head = f"  {'group':<34}{'n':>4}  {'med|e|%':>8}  {'p90|e|%':>8}  {'med sgn%':>9}"
    print(head, file=out)
    print(f"  {'overall':<34}{_fmt(summarise(float(r['signed_err']) for r in scored))}", file=out)  # type: ignore[arg-type]
    groups = [("source", "source"), ("engine", "engine"), ("chip family", "family"), ("kind", "kind"),
              ("tuned vs stock", "tuned"), ("model", "model"),
              ("publisher (same site as a bundled measured.csv source, or new)", "publisher_in_bundled")]
    if any(r.get("perf_source") for r in scored):
        groups.append(("perf_source (what planner perf says its figure rests on)", "perf_source"))
    for title, key in groups:
        print(f"  by {title}:", file=out)
        for k, s in group_summaries(scored, lambda r, key=key: str(r[key])).items():
            print(f"    {k:<32}{_fmt(s)}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="hold-out table (default: the bundled one)")
    ap.add_argument("--rows", action="store_true", help="print every row's prediction and error")
    ap.add_argument("--out", type=Path, help="write per-row results to this CSV")
    ap.add_argument("--subprocess", action="store_true", help="run the `planner` executable per row (slower)")
    ap.add_argument("--no-engine", action="store_true", help="do not pass --engine even when available")
    ap.add_argument("--no-concurrency", action="store_true",
                    help="do not pass --concurrency even when available (use the --batch fallback)")
    ap.add_argument("--exclude-estimates", action="store_true", help="leave out rows read off charts")
    ap.add_argument("--only-source", action="append", default=[], metavar="SOURCE",
                    help="score only rows of this `source` label (repeatable)")
    ap.add_argument("--skip-source", action="append", default=[], metavar="SOURCE",
                    help="leave out rows of this `source` label (repeatable)")
    a = ap.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    rows = read_rows(a.csv)
    if a.exclude_estimates:
        rows = [r for r in rows if not r.estimate]
    if a.only_source:
        rows = [r for r in rows if r.source in a.only_source]
    if a.skip_source:
        rows = [r for r in rows if r.source not in a.skip_source]
    caps = detect_capabilities(_help_text(a.subprocess))
    print(f"hold-out set: {a.csv} ({len(rows)} rows)")
    print(f"planner perf flags: --engine {'yes' if caps.engine else 'NO'}, --concurrency "
          f"{'yes' if caps.concurrency else 'NO'}, --length-cv {'yes' if caps.length_cv else 'NO'}")
    if not caps.engine and not a.no_engine:
        print("  FALLBACK: `planner perf` has no --engine; rows are predicted without an engine (one regime).")
    if not caps.concurrency and not a.no_concurrency:
        print("  FALLBACK: `planner perf` has no --concurrency; concurrency rows use --batch C (running batch = "
              "client concurrency), or the largest batch that fits when C does not fit.")
    scored, refused = score(rows, caps, a.subprocess, not a.no_engine, not a.no_concurrency)
    print(f"scored {len(scored)} rows; planner perf refused {len(refused)}")
    print("error = (predicted - measured) / measured per chip, output tokens/s; positive = optimistic")
    print_tables(scored)
    print_rankings(scored, rows)
    if refused:
        print("refused rows (left out of the figures):")
        for r in refused:
            print(f"  {r['id']}: rc {r['rc']}: {r.get('error', '')}")
    if a.rows:
        print("rows:")
        print(f"  {'id':<6}{'source':<30}{'model':<18}{'chip':<10}{'kind':<12}{'measured':>10}{'predicted':>11}"
              f"{'err%':>8}  fallback")
        for r in scored:
            print(f"  {r['id']:<6}{str(r['source'])[:29]:<30}{str(r['model'])[:17]:<18}{r['chip']:<10}{r['kind']:<12}"
                  f"{float(r['measured']):>10.1f}{float(r['predicted']):>11.1f}{float(r['signed_err']):>+8.1f}  "
                  f"{r['fallback']}")
    if a.out:
        keys = ["id", "source", "engine", "family", "kind", "tuned", "model", "chip", "measured", "predicted",
                "signed_err", "batch", "tpot_ms_pred", "ttft_ms_pred", "perf_source", "estimate", "rc", "fallback",
                "error", "argv"]
        with open(a.out, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, keys, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for r in [*scored, *refused]:
                w.writerow(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
