"""Where the plan's tokens/s came from, and what planning at `policy.perf_quantile` costs against the median."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

SOURCE_TEXT = {"measured": "measured (bundled or your benchmark, interpolated along concurrency)",
               "corrected": "the model corrected per engine and chip family",
               "model": "the raw model (tuned-submission regime)"}


def _usd(x: Any) -> str:
    return "n/a" if x is None else f"${float(x) / 1e6:,.2f}M"


def perf_sentences(plan: dict[str, Any]) -> list[str]:
    """Plain sentences for the report and the workbook Summary sheet."""
    lines = []
    replicas: dict[str, int] = defaultdict(int)
    far = 0
    for d in plan.get("deployments") or []:
        src = d.get("perf_source") or "unknown"
        replicas[src] += int(d.get("replicas") or 0)
        far += int(d.get("replicas") or 0) if d.get("extrapolated") else 0
    total = sum(replicas.values())
    for src, n in sorted(replicas.items(), key=lambda kv: -kv[1]):
        lines.append(f"{n:,} of {total:,} replica-quarters rest on {SOURCE_TEXT.get(src, src)}.")
    if total:
        lines.append(f"{far:,} of {total:,} replica-quarters are extrapolated (no measurement of that model on that "
                     "chip family and engine at these request lengths).")
    q = plan.get("perf_quantile") or {}
    if q:
        if q.get("quantile") == 0.5:
            lines.append("Planned at the median (P50) of the corrected tokens/s per replica.")
        elif q.get("p50_objective_usd") is not None:
            lines.append(f"Planned at quantile {q['quantile']:g} of tokens/s per replica: objective "
                         f"{_usd(q.get('objective_usd'))} vs {_usd(q.get('p50_objective_usd'))} at P50 "
                         f"({_usd(q.get('extra_objective_usd'))} more); capex {_usd(q.get('capex_usd'))} vs "
                         f"{_usd(q.get('p50_capex_usd'))} ({_usd(q.get('extra_capex_usd'))} more).")
        else:
            lines.append(f"Planned at quantile {q['quantile']:g} of tokens/s per replica"
                         + (f"; the P50 re-solve ended {q['p50_status']}." if q.get("p50_status") else "."))
    return lines
