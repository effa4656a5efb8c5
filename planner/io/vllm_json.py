"""Checks on a vLLM `benchmark_serving.py --save-result` JSON before it becomes a measured point.

Every numeric field the planner reads (and the latencies it reports) must be a finite JSON number within a sane
range, counts must be whole numbers, and a latency written in seconds under a `*_ms` key is refused with the fix
(vLLM writes milliseconds). All problems of one file are returned together as (field, message).
"""

from __future__ import annotations

import math
from typing import Any

#: (key, required, integer, lowest allowed (exclusive when `strict`), strict, highest allowed, what it is). Rates and
#: durations have a positive floor, not just "> 0": a subnormal 1e-320 tokens/s is > 0 but its reciprocal overflows.
FIELDS: tuple[tuple[str, bool, bool, float, bool, float, str], ...] = (
    ("output_throughput", True, False, 1e-3, False, 1e8, "output tokens/s of the whole server"),
    ("completed", True, True, 1.0, False, 1e9, "requests completed"),
    ("total_input_tokens", True, True, 1.0, False, 1e13, "prompt tokens over all requests"),
    ("total_output_tokens", True, True, 1.0, False, 1e13, "output tokens over all requests"),
    ("max_concurrency", False, True, 1.0, False, 1e6, "clients in flight (--max-concurrency)"),
    ("duration", False, False, 1e-3, False, 1e7, "benchmark duration, s"),
    ("request_throughput", False, False, 1e-6, False, 1e7, "requests/s"),
)
#: latency keys (milliseconds) and the smallest plausible value: below it the number is almost surely in seconds
LATENCY_MS = {"mean_ttft_ms": 1.0, "median_ttft_ms": 1.0, "p99_ttft_ms": 1.0,
              "mean_tpot_ms": 0.5, "median_tpot_ms": 0.5, "p99_tpot_ms": 0.5,
              "mean_itl_ms": 0.5, "median_itl_ms": 0.5, "p99_itl_ms": 0.5}
MAX_LATENCY_MS = 1e7  # about 2.8 hours
MAX_PARALLEL = 4096


def _number(value: Any) -> float | None:
    """The value as a float when it is a JSON number (not a boolean, not a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # a JSON integer of hundreds of digits: beyond every bound, reported as not finite
        return math.inf


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def vllm_json_problems(doc: Any) -> list[tuple[str, str]]:
    """(field, what is wrong and how to fix it) for every bad field of a benchmark_serving result; [] when usable."""
    if not isinstance(doc, dict):
        return [("", f"expected a JSON object (benchmark_serving.py --save-result output), got {type(doc).__name__}")]
    out: list[tuple[str, str]] = []
    read = [k for k, *_ in FIELDS] + list(LATENCY_MS)
    for key in doc:  # `" output_throughput"` beside `output_throughput`: two values, one of them silently ignored
        if isinstance(key, str) and key not in read and key.strip().lower() in read:
            out.append((key, f"key {key!r} differs from {key.strip().lower()!r} only by spaces or case; "
                             "write the key exactly as vLLM does"))
    for key, required, integer, low, strict, high, what in FIELDS:
        if key not in doc or doc[key] is None:
            if required:
                out.append((key, f"missing ({what}); expected vLLM benchmark_serving --save-result output"))
            continue
        x = _number(doc[key])
        if x is None:
            out.append((key, f"must be a number ({what}), got {type(doc[key]).__name__} {_shown(doc[key])}"))
        elif not math.isfinite(x):
            out.append((key, f"must be a finite number ({what}), got {_shown(doc[key])}"))
        elif (x <= low) if strict else (x < low):
            out.append((key, f"must be {'>' if strict else '>='} {low:g} ({what}), got {x:g}"))
        elif x > high:
            out.append((key, f"must be at most {high:g} ({what}), got {x:g}; is the file from another tool?"))
        elif integer and x != int(x):
            out.append((key, f"must be a whole number ({what}), got {x:g}"))
    for key, smallest in LATENCY_MS.items():
        if key not in doc or doc[key] is None:
            continue
        x = _number(doc[key])
        if x is None:
            out.append((key, f"must be a number of milliseconds, got {type(doc[key]).__name__} {_shown(doc[key])}"))
        elif not math.isfinite(x) or x <= 0:
            out.append((key, f"must be a finite number of milliseconds > 0, got {_shown(doc[key])}"))
        elif x < smallest:
            out.append((key, f"{x:g} ms is implausibly small: it looks like seconds ({x:g} s = {x * 1000:g} ms). vLLM "
                             f"writes milliseconds in *_ms keys; multiply by 1000 if the file was converted"))
        elif x > MAX_LATENCY_MS:
            out.append((key, f"must be at most {MAX_LATENCY_MS:g} ms, got {x:g}"))
    done = {k for k, *_ in out}
    counts = ("completed", "total_output_tokens")
    if (not done & set(counts) and all(_number(doc.get(k)) for k in counts)
            and float(doc["total_output_tokens"]) < float(doc["completed"])):
        out.append(("total_output_tokens", f"{doc['total_output_tokens']} output tokens for {doc['completed']} "
                                               "completed requests: every request returns at least one token"))
    return out


def layout_problems(tp: Any, pp: Any, ep: Any) -> list[tuple[str, str]]:
    """The run's layout as given by its entry (or `planner perf --tp/--pp/--ep`): whole numbers 1..4096."""
    out = []
    for key, value in (("tp", tp), ("pp", pp), ("ep", ep)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARALLEL:
            out.append((key, f"must be a whole number from 1 to {MAX_PARALLEL}, got {_shown(value)}"))
    return out
