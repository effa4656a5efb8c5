"""Charts for the HTML reports, drawn with matplotlib's Agg backend and returned as PNG bytes.

Each function takes tidy tables and returns PNG bytes, or None when there is nothing to draw. Figures
are created without pyplot (no global state) and saved without metadata, so output is reproducible.
Labels from inputs are escaped: `$` would start mathtext and a leading `_` hides a legend entry.
"""

from __future__ import annotations

import io
import math
import warnings

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

PALETTE = ("#1f4e78", "#e07b39", "#5b9e4d", "#8064a2", "#c0504d", "#4bacc6", "#9c8b3c", "#7f7f7f",
           "#2f8f8f", "#b2598c")
DPI = 110


def safe_label(text: object) -> str:
    """Text shown literally by matplotlib (no mathtext, never hidden from the legend)."""
    out = str(text).replace("\\", "\\\\").replace("$", r"\$")
    return " " + out if out.startswith("_") else out


def _money(value: float, _pos: object = None) -> str:
    sign = "-" if value < 0 else ""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{sign}${abs(value) / scale:,.1f}{suffix}"
    return f"{sign}${abs(value):,.0f}"


def _count(value: float, _pos: object = None) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:,.1f}{suffix}"
    return f"{value:,.0f}"


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # control characters in user labels (tabs, CR) have no glyph: drawn as boxes
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _stacked(ax: Axes, pivot: pd.DataFrame) -> None:
    """Stacked bars of a (category x series) pivot on `ax`."""
    bottom = [0.0] * len(pivot.index)
    x = range(len(pivot.index))
    for i, column in enumerate(pivot.columns):
        values = [float(v) for v in pivot[column]]
        ax.bar(x, values, bottom=bottom, label=safe_label(column), color=PALETTE[i % len(PALETTE)], width=0.6)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(list(x), [safe_label(q) for q in pivot.index])
    # Zero-height bars stacked on top are "sticky" and would pin the axis to the tallest bar: set headroom.
    ax.set_ylim(0, max(bottom, default=0.0) * 1.08 or 1.0)


def capex_chart(purchases: pd.DataFrame, quarters: list[str]) -> bytes | None:
    """Capex by order quarter, stacked by vendor."""
    if purchases.empty:
        return None
    pivot = purchases.pivot_table(index="order_quarter", columns="vendor", values="cost_usd", aggfunc="sum",
                                  fill_value=0.0)
    pivot = pivot.reindex(sorted(set(quarters) | set(pivot.index)), fill_value=0.0)
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    _stacked(ax, pivot)
    ax.set_title("Capex by order quarter and vendor")
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title="Vendor", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def _grid(n: int, width: float = 4.2, height: float = 3.0) -> tuple[Figure, list[Axes]]:
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows + 0.4), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


def capacity_chart(capacity: pd.DataFrame) -> bytes | None:
    """One panel per workload: demand (dashed), required and served tokens/s by quarter; shortfall shaded."""
    if capacity.empty:
        return None
    workloads = sorted({str(w) for w in capacity["workload"]})
    fig, axes = _grid(len(workloads))
    for ax, workload in zip(axes, workloads, strict=True):
        rows = capacity[capacity["workload"].astype(str) == workload].sort_values("quarter")
        x = list(range(len(rows)))
        req, served = rows["required_tokens_per_s"].astype(float), rows["served_tokens_per_s"].astype(float)
        ax.plot(x, rows["demand_tokens_per_s"].astype(float), "--", color="#7f7f7f", label="Demand")
        ax.plot(x, req, "-", color=PALETTE[1], label="Required")
        ax.plot(x, served, "o-", color=PALETTE[0], label="Served")
        ax.fill_between(x, served, req, where=(req > served + 1e-9).tolist(), color="#c0504d", alpha=0.25,
                        label="Unmet")
        ax.set_title(safe_label(workload), fontsize=10)
        ax.set_xticks(x, [safe_label(q) for q in rows["quarter"]], fontsize=8)
        ax.yaxis.set_major_formatter(FuncFormatter(_count))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, frameon=False)
    fig.suptitle("Capacity vs demand (tokens/s)")
    return _png(fig)


def power_chart(power: pd.DataFrame) -> bytes | None:
    """One panel per site: IT and facility power by quarter against the IT power cap."""
    if power.empty:
        return None
    sites = sorted({str(s) for s in power["site"]})
    fig, axes = _grid(len(sites))
    for ax, site in zip(axes, sites, strict=True):
        rows = power[power["site"].astype(str) == site].sort_values("quarter")
        x = list(range(len(rows)))
        ax.bar(x, rows["it_power_kw"].astype(float), color=PALETTE[0], width=0.6, label="IT power")
        ax.plot(x, rows["facility_power_kw"].astype(float), "o-", color=PALETTE[2], label="Facility power")
        caps = pd.to_numeric(rows["cap_kw"], errors="coerce")
        if caps.notna().any():
            ax.step(x, caps, where="mid", color="#c0504d", linestyle="--", label="IT power cap")
        ax.set_title(safe_label(site), fontsize=10)
        ax.set_xticks(x, [safe_label(q) for q in rows["quarter"]], fontsize=8)
        ax.set_ylabel("kW")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, frameon=False)
    fig.suptitle("Power per site vs cap")
    return _png(fig)


def chip_mix_chart(deployments: pd.DataFrame, quarters: list[str]) -> bytes | None:
    """Chips in service by chip type and quarter (stacked), from the deployments."""
    if deployments.empty:
        return None
    pivot = deployments.pivot_table(index="quarter", columns="chip", values="chips", aggfunc="sum", fill_value=0)
    pivot = pivot.reindex(sorted(set(quarters) | set(pivot.index)), fill_value=0)
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    _stacked(ax, pivot)
    ax.set_title("Chip mix in service by quarter")
    ax.set_ylabel("chips")
    ax.yaxis.set_major_formatter(FuncFormatter(_count))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title="Chip", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def cost_split_chart(names: list[str], parts: dict[str, list[float]], tco: list[float | None]) -> bytes | None:
    """Per scenario: capex, energy and facility stacked up, residual value below zero, TCO marked."""
    if not names:
        return None
    fig = Figure(figsize=(max(6.0, 1.6 * len(names) + 3), 4), layout="constrained")
    ax = fig.add_subplot()
    x = list(range(len(names)))
    bottom = [0.0] * len(names)
    for i, (label, values) in enumerate(parts.items()):
        if label == "Residual value":
            ax.bar(x, [-v for v in values], color="#a5a5a5", width=0.6, label="Residual value (deducted)")
            continue
        ax.bar(x, values, bottom=bottom, color=PALETTE[i % len(PALETTE)], width=0.6, label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    points = [(i, t) for i, t in enumerate(tco) if t is not None]
    if points:
        ax.plot([p[0] for p in points], [p[1] for p in points], "D", color="black", label="TCO")
    ax.use_sticky_edges = False  # leave headroom above and below the stacked bars
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, [safe_label(n) for n in names])
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Cost of ownership by scenario")
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _png(fig)
