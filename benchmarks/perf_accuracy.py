"""Accuracy and speed of the performance model (prints figures; never gates CI).

1. Every calibration row the model can predict: measured, predicted, error, leave-one-out error; then the median
   and 90th-percentile absolute percentage error overall (throughput rows, TTFT rows) and per chip; rows it cannot
   model, with the reason. Factors are refitted here from `planner/perf/data/calibration.csv`.
2. Sensitivity of the fit to the assumed mean OpenOrca prompt length (not stated in the source notes).
3. Stock-engine measurements (`planner/perf/data/measured.csv`): raw, in-sample and leave-one-source-out (engine
   costs, FP4 ratio and factors refitted without the row's publisher), by publisher, kind, engine and family; then
   the chip ranking per model on those same LOSO predictions (`planner.perf.ranking`).
4. TPOT at the measured concurrency (the shape of the error, not only its level), bundled rows with a TPOT.
5. The held-out published set (`benchmarks/perf_holdout.py`, never bundled), through `planner perf` as a user asks.
6. Chip rankings the options table must keep: H200 vs H100 per chip on the example's 405B workload, MI325X vs
   MI300X per chip on every example workload both can serve.
7. Time to build the deployment-options table: the bundled example scenario, then ~100 synthetic workload shapes
   x every catalog chip.

Run: python benchmarks/perf_accuracy.py [--only SECTION ...]   (sections: calibration, measured, tpot, holdout,
     rankings, sensitivity, speed; e.g. `--only measured` for the LOSO figures and their chip ranking)
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.catalog import load_chip_catalog, load_model_catalog  # noqa: E402
from planner.io.workloads_csv import read_workloads  # noqa: E402
from planner.perf import calib_rows  # noqa: E402
from planner.perf.calibration import BUNDLED_MEASUREMENTS  # noqa: E402
from planner.perf.fit import fit_calibration_file  # noqa: E402
from planner.perf.options import _MEMO, _STAGE_MEMO, options_table  # noqa: E402
from planner.schemas.workloads import WorkloadRow  # noqa: E402


def _fit_label(r: dict) -> str:
    if not r["in_fit"]:
        return "no: " + r["note"].split(";")[-1].strip()
    return "latency only (claim)" if r["kind"] == "per_user" else "yes"


def accuracy() -> None:
    cal = fit_calibration_file(BUNDLED_MEASUREMENTS)
    rep = cal.report or {}
    print(f"Calibration: {cal.source}")
    print("  factors (family|precision: eta_bandwidth, eta_compute): "
          + "; ".join(f"{k}: {v.eta_bandwidth:.2f}, {v.eta_compute:.2f}" for k, v in sorted(cal.factors.items())))
    lat = ", ".join(f"{k} {v:.1f} us" for k, v in sorted(cal.layer_latency_us.items())) or "none"
    print(f"  request overhead {cal.request_overhead_ms:.0f} ms; per-layer latency (SRAM, fitted on per-user claims): {lat}")
    print(f"  parameters {rep['parameters']}")
    print()
    head = f"{'id':<5} {'kind':<8} {'model':<14} {'chip':<14} {'n':>4} {'layout':<13} {'prec':<5} {'measured':>10} " \
           f"{'predicted':>10} {'err%':>7} {'LOO%':>7}  fit"
    print(head)
    print("-" * len(head))
    for r in rep["rows"]:
        loo = "" if r["loo_error_pct"] is None else f"{r['loo_error_pct']:7.1f}"
        print(f"{r['id']:<5} {r['kind']:<8} {r['model'][:14]:<14} {str(r['chip'])[:14]:<14} {str(r['chips'] or '-'):>4} "
              f"{r['layout']:<13} {r['precision']:<5} {r['measured']:>10.1f} {r['predicted']:>10.1f} "
              f"{r['error_pct']:7.1f} {loo:>7}  {_fit_label(r)}")
    print()
    print("Rows not modelled:")
    for u in rep["unmodelled"]:
        print(f"  {u['id']}: {u['reason']}")
    s = rep["summary"]
    print()
    print("Absolute percentage error (fit rows)        median    p90    n")
    for key in ("throughput_in_sample", "throughput_leave_one_out", "ttft_in_sample", "ttft_leave_one_out",
                "sram_per_user_in_sample", "sram_per_user_leave_one_out", "reported_only"):
        v = s[key]
        if v.get("n"):
            print(f"  {key:<40} {v['median_ape_pct']:6.1f} {v['p90_ape_pct']:6.1f} {v['n']:4d}")
    print("  per chip (throughput, in-sample):")
    for chip, v in s["per_chip_in_sample"].items():
        print(f"    {chip:<16} median {v['median_ape_pct']:6.1f}  p90 {v['p90_ape_pct']:6.1f}  n {v['n']}")


def measured_accuracy() -> None:
    """Stock-engine public measurements (planner/perf/data/measured.csv) through the one predictor: raw model (what
    plans used before measured-first), corrected in-sample, and leave-one-source-out (LOSO) measured-first - what
    plans use now for a publisher never seen - and LOSO with the corrected model alone."""
    from planner.perf.calibration_io import load_calibration
    from planner.perf.engines import TUNED
    from planner.perf.measured import load_table
    from planner.perf.measured_eval import evaluate_points, summarise

    points = load_table()
    evaluated = evaluate_points(points, load_model_catalog(), load_chip_catalog(), load_calibration())
    rows = evaluated
    tuned = [r for r in rows if r.get("engine") == TUNED]
    rows = [r for r in rows if r.get("engine") != TUNED]
    ok = [r for r in rows if r["modelled"]]
    print()
    print(f"Stock-engine measurements: {len(rows)} rows, {len(ok)} modelled "
          f"(not: {', '.join(str(r['id']) for r in rows if not r['modelled'])}); median |err|, p90 |err|, median signed (%)")
    cols = (("raw_err", "raw model"), ("in_err", "corrected in-sample"), ("loso_err", "LOSO measured-first"),
            ("loso_model_err", "LOSO corrected model"))
    print(f"  {'group':<40}" + "".join(f"{name:>24}" for _, name in cols) + "    n")

    def line(label: str, sel: list) -> None:
        cells = []
        for k, _ in cols:
            m, p90, sg, n = summarise([r[k] for r in sel])
            cells.append(f"{m:6.1f} {p90:6.1f} {sg:+7.1f}")
        print(f"  {label[:40]:<40}" + "".join(f"{c:>24}" for c in cells) + f" {len(sel):4d}")

    line("overall", ok)
    if tuned:
        line("(tuned submissions, not in overall)", [r for r in tuned if r["modelled"]])
    for key in ("publisher", "kind", "engine", "family", "loso_source"):
        for v in sorted({str(r[key]) for r in ok}):
            label = v.split("/blob/")[0].replace("https://", "") + (" @" + v.split("/blob/")[1][:8] if "/blob/" in v else "")
            line(f"{key}={label}", [r for r in ok if str(r[key]) == v])
    # the shape left in the residuals: bands of the question's features (engine x concurrency, prompt tokens)
    for name, band in (("concurrency", lambda p: _band(p.concurrency, CONCURRENCY_BANDS, "offline")),
                       ("prompt tokens", lambda p: _band(p.prompt_tokens, PROMPT_BANDS, "?"))):
        for e in sorted({str(r["engine"]) for r in ok}):
            sel = [r for r in ok if str(r["engine"]) == e]
            for v in dict.fromkeys(sorted((band(points[int(r["k"])]) for r in sel), key=_band_order)):
                line(f"{e}, {name} {v}", [r for r in sel if band(points[int(r["k"])]) == v])
    loso_ranking(evaluated, points)


#: Upper bounds of the feature bands the LOSO residuals are printed by (inclusive).
CONCURRENCY_BANDS = (4.0, 16.0, 64.0, 256.0)
PROMPT_BANDS = (200.0, 1100.0, 2100.0, 8500.0)


def _band(x: float | None, bounds: tuple[float, ...], none: str) -> str:
    """'a-b' band of x among `bounds` ('<= b0', 'a-b', '> bN'); `none` when x is None."""
    if x is None:
        return none
    lo = None
    for b in bounds:
        if x <= b:
            return f"<= {b:g}" if lo is None else f"{lo:g}-{b:g}"
        lo = b
    return f"> {bounds[-1]:g}"


def _band_order(label: str) -> float:
    """Sort key of a band label: offline / unknown first, then by the band's lower bound."""
    nums = [float(t) for t in label.replace("<=", " ").replace(">", " ").replace("-", " ").split() if t[0].isdigit()]
    if not nums:
        return -1.0
    return nums[0] + (0.5 if label.startswith(">") else 0.0) if not label.startswith("<=") else 0.0


def loso_ranking(evaluated: list, points: list) -> None:
    """Chip ranking per model (planner.perf.ranking) on the same leave-one-publisher-out predictions as the table
    above: stock engines and tuned submissions apart, LOSO measured-first (and LOSO corrected model where its
    predictions differ)."""
    from planner.perf.engines import TUNED
    from planner.perf.ranking import NOISE_BAND, report, rows_from_loso

    print()
    print(f"Chip ranking per model on the LOSO predictions above (pairs: one publisher, model, engine, precision, kind "
          f"and question on two chips, measured > {100 * NOISE_BAND:.0f} % apart; weight per pair m^-"
          f"PUBLISHER_WEIGHT_POWER within its publisher's m pairs; gap error = predicted / measured ratio - 1):")
    first = rows_from_loso(evaluated, points, "loso_err")
    model = {r.id: r for r in rows_from_loso(evaluated, points, "loso_model_err")}
    for name, tuned, limit in (("stock engines", False, 8), ("tuned submissions", True, 3)):
        rows = [r for r in first if (r.engine == TUNED) == tuned]
        print(f" LOSO measured-first (what plans use), {name}:")
        print("\n".join(report(rows, limit=limit)))
        alt = [model[r.id] for r in rows if r.id in model]
        if len(alt) == len(rows) and all(math.isclose(r.predicted, m.predicted, rel_tol=1e-9)
                                         for r, m in zip(rows, alt, strict=True)):
            print(f" LOSO corrected model, {name}: the same predictions on every row (none is answered from a "
                  "measurement when its publisher is left out), so the same ranking")
        else:
            print(f" LOSO corrected model, {name}:")
            print("\n".join(report(alt, limit=limit)))


def sensitivity() -> None:
    print()
    print("Sensitivity to the assumed mean OpenOrca prompt (tokens -> throughput median / p90 APE, in-sample):")
    keep = calib_rows.OPENORCA_MEAN_INPUT_TOKENS
    for mean_in in (200.0, 300.0, 400.0, 600.0):
        calib_rows.OPENORCA_MEAN_INPUT_TOKENS = mean_in
        s = (fit_calibration_file(BUNDLED_MEASUREMENTS).report or {})["summary"]["throughput_in_sample"]
        print(f"  {mean_in:5.0f}: {s['median_ape_pct']:5.1f} / {s['p90_ape_pct']:5.1f}")
    calib_rows.OPENORCA_MEAN_INPUT_TOKENS = keep


def synthetic_workloads(models: list[str], n: int = 100) -> list[WorkloadRow]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        out.append(WorkloadRow.model_validate(dict(
            workload_id=f"w{i:03d}", model_id=rng.choice(models), quarter="2027Q1", peak_output_tokens_per_s=1e4,
            prompt_tokens_mean=rng.choice([200, 500, 1000, 2000, 4000, 8000]) + i,
            output_tokens_mean=rng.choice([100, 250, 500, 1000]), ttft_ms=rng.choice([500, 1000, 2000, 5000]),
            tpot_ms=rng.choice([20, 40, 60, 100]), latency_percentile=rng.choice([90, 95, 99]),
            allowed_precisions=rng.choice(["bf16", "fp8;bf16", "fp8;int8;bf16", "int4;fp8;bf16", "fp4;fp8"]))))
    return out


def speed() -> None:
    chips, models = load_chip_catalog(), load_model_catalog()
    print()
    example = ROOT / "inputs" / "scenarios" / "example" / "workloads.csv"
    if example.exists():
        rows, problems, _ = read_workloads(example)
        _MEMO.clear()
        _STAGE_MEMO.clear()
        t = time.perf_counter()
        df = options_table(rows, models, chips)
        print(f"Options table, bundled example: {len(rows)} workload rows x {len(chips)} chips -> {len(df)} options "
              f"in {time.perf_counter() - t:.2f} s")
    ws = synthetic_workloads(sorted(models))
    _MEMO.clear()
    _STAGE_MEMO.clear()
    t = time.perf_counter()
    df = options_table(ws, models, chips)
    dt = time.perf_counter() - t
    print(f"Options table, synthetic: {len(ws)} distinct workload shapes x {len(chips)} chips -> {len(df)} options "
          f"in {dt:.2f} s ({df.groupby('workload_id').size().median():.0f} options per workload, median)")
    t = time.perf_counter()
    options_table(ws, models, chips)
    print(f"  again (in-process memo): {time.perf_counter() - t:.3f} s")


def tpot_shape() -> None:
    """Predicted vs measured TPOT at each bundled concurrency point that reports a TPOT (corrected model, P50)."""
    from dataclasses import replace

    import numpy as np

    from planner.perf.measured import load_table
    from planner.perf.predictor import build_predictor, predict_point

    pr = replace(build_predictor(), use_measured=False)
    models, chips = load_model_catalog(), load_chip_catalog()
    errs = []
    for p in load_table():
        if p.concurrency is None or p.tpot_ms is None:
            continue
        y = predict_point(pr, p, models, chips)
        if y is not None and y.feasible:
            errs.append((y.tpot_ms - p.tpot_ms) / p.tpot_ms)
    e = np.array(errs)
    print()
    print(f"TPOT at the measured concurrency, {len(e)} bundled rows (in-sample; negative = model TPOT too short, "
          f"optimistic): median |error| {100 * np.median(abs(e)):.1f} %, p90 {100 * np.percentile(abs(e), 90):.1f} %, "
          f"median signed {100 * np.median(e):+.1f} %")


def holdout() -> None:
    """The held-out published set scored through `planner perf` (benchmarks/perf_holdout.py)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import perf_holdout

    print()
    print("Held-out published set (benchmarks/perf_holdout.py):")
    perf_holdout.main([])


def rankings() -> None:
    """Per-chip rankings on the bundled example's options table."""
    from planner.io.loader import load_inputs
    from planner.pipeline import deployment_table

    opts = deployment_table(load_inputs(ROOT / "inputs" / "scenarios" / "example.yaml"))
    opts = opts.assign(per_chip=opts["tokens_per_s_per_replica"] / opts["chips_per_replica"])
    print()
    print("Chip rankings on the example's options table (best output tokens/s per chip, layout):")
    for w, g in opts.groupby("workload_id"):
        best = {c: g[g.chip_id == c].sort_values("per_chip").tail(1) for c in ("h100_sxm", "h200_sxm", "mi300x", "mi325x")}
        cells = []
        for c, b in best.items():
            if len(b):
                r = b.iloc[0]
                cells.append(f"{c} {r.per_chip:8.1f} (TP{r.tp} PP{r.pp})")
        print(f"  {w:<28} " + "  ".join(cells))


SECTIONS = {"calibration": accuracy, "measured": measured_accuracy, "tpot": tpot_shape, "holdout": holdout,
            "rankings": rankings, "sensitivity": sensitivity, "speed": speed}


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=list(SECTIONS), metavar="SECTION",
                    help=f"run only this section (repeatable; one of {', '.join(SECTIONS)}); default all, in this order")
    for name in ap.parse_args().only or list(SECTIONS):
        SECTIONS[name]()
