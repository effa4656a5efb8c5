"""Fill `max_batch` and `max_batch_basis` of the bundled `trtllm-bench` offline rows.

The TensorRT-LLM perf-overview pages (NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md @258c7540, v0.17,
and @00f37686, v1.0) and Azure's AI-benchmarking-guide (LLMBenchmark.py, trtllm-bench 0.15) ran
`trtllm-bench throughput` on data sets of fixed-length requests sent at once, without setting max_batch_size, so
each engine took the batch limit of trtllm-bench's heuristic (`planner.perf.engines.trtllm_bench_max_batch`), which
depends on the chip's memory. The run's requests:
  * NVIDIA: the page's `$num_requests` table per ISL/OSL (30000 for 128/128, 3000 for 128/2048, ...); the engine is
    built (0.17) or run (1.0, PyTorch backend) with the data set of the row's own ISL/OSL;
  * Azure: 1000 requests per case ("Performance results with FP8 quantization, 1000 requests."); one engine per model
    built from the data set with the largest ISL + OSL of the model's cases (2048/2048).
The row's running-sequence limit is min(max_batch_size, requests): an engine cannot hold more sequences than it was
sent. The model predicts the row at that limit (and the KV cache may hold fewer; `planner.perf.serving`), in steady
state: the drain of the last requests of a finite run is not modelled.

Run: python benchmarks/data/trtllm_bench_batch.py [--check]   (--check: exit 1 when the table differs)
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from planner.catalog import load_chip_catalog, load_model_catalog  # noqa: E402
from planner.perf.engines import TRTLLM_BENCH_HEURISTIC, trtllm_bench_max_batch  # noqa: E402
from planner.perf.memory import memory_bytes  # noqa: E402

MEASURED = ROOT / "planner" / "perf" / "data" / "measured.csv"
NVIDIA_PAGES = ("NVIDIA/TensorRT-LLM/blob/258c7540c03517def55d9a5aadfa9288af474e1b/docs/source/performance/perf-overview.md",
                "NVIDIA/TensorRT-LLM/blob/00f37686aa854010d68bcbd0f4ab000221541ca6/docs/source/performance/perf-overview.md")
AZURE = "Azure/AI-benchmarking-guide/blob/3de0c294"
#: `$num_requests` per (ISL, OSL) of both NVIDIA pages ("Preparing a Dataset").
NVIDIA_REQUESTS = {(128, 128): 30000, (128, 2048): 3000, (128, 4096): 1500, (1000, 2000): 1500, (2048, 128): 3000,
                   (2048, 2048): 1500, (5000, 500): 1500, (1000, 1000): 3000, (500, 2000): 3000, (20000, 2000): 1000}
AZURE_REQUESTS = 1000
AZURE_BUILD = (2048, 2048)
WEIGHT_BYTES = {"FP8": 1.0, "FP4": 0.5}


def row_settings(r: dict[str, str], models: dict, chips: dict) -> tuple[int, str] | None:
    """(max_batch, basis) of a trtllm-bench row, None for any other row."""
    url = r["source_url"]
    if r["engine"] != "trtllm" or r["kind"] != "offline_fixed":
        return None
    isl, osl = round(float(r["isl"])), round(float(r["osl"]))
    if any(page in url for page in NVIDIA_PAGES):
        n, build, who = NVIDIA_REQUESTS[(isl, osl)], (isl, osl), "the page's $num_requests for this ISL/OSL"
    elif AZURE in url:
        n, build, who = AZURE_REQUESTS, AZURE_BUILD, "LLMBenchmark.py: 1000 requests per case"
    else:
        return None
    m, c = models[r["model_key"]], chips[r["chip_id"]]
    prec = r["precision"].upper()
    wb = WEIGHT_BYTES.get(prec, 2.0)
    kvb = 1.0 if prec in WEIGHT_BYTES else 2.0  # FP8 / NVFP4 quantization sets an FP8 KV cache
    tp, pp = int(float(r["tp"])), int(float(r["pp"]))
    mem = memory_bytes(c) / 2.0**30
    mbs, req = trtllm_bench_max_batch(m.params_total_b, m.n_layers, m.n_kv_heads, m.head_dim, wb, kvb, tp, pp, mem,
                                      build[0], build[1])
    basis = (f"trtllm-bench heuristic ({TRTLLM_BENCH_HEURISTIC}): built for ISL/OSL {build[0]}/{build[1]}, "
             f"{tp * pp} x {mem:.0f} GiB, {m.params_total_b:g}B params x {wb:g} B, KV {kvb:g} B, kv fraction 0.95 "
             f"-> {req:.0f} requests -> max_batch_size {mbs}; {n} requests sent at once ({who})"
             + (f" -> at most {n} running" if n < mbs else ""))
    return min(mbs, n), basis


def rewrite(text: str) -> str:
    models, chips = load_model_catalog(), load_chip_catalog()
    rows = list(csv.DictReader(io.StringIO(text)))
    fields = list(rows[0].keys())
    for r in rows:
        s = row_settings(r, models, chips)
        if s is not None:
            r["max_batch"], r["max_batch_basis"] = str(s[0]), s[1]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when measured.csv differs from what this writes")
    args = ap.parse_args(argv)
    text = MEASURED.read_text(encoding="utf-8")
    new = rewrite(text)
    if args.check:
        return 0 if new == text else 1
    MEASURED.write_text(new, encoding="utf-8")
    print(f"wrote {MEASURED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
