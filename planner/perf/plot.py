"""Roofline plot of one chip with a layout's operating points (matplotlib, Agg backend).

Axes: arithmetic intensity (FLOPs per byte moved, per chip) against achieved TFLOP/s per chip. Lines: the peak
and achievable compute roofs and bandwidth slopes; points: prefill of one prompt, decode at batch 1, decode at
the chosen batch (with the prefill mixed in).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from planner.perf.calibration import Calibration  # noqa: E402
from planner.perf.layout import Layout  # noqa: E402
from planner.perf.serving import RequestShape  # noqa: E402
from planner.perf.stage import stage_params  # noqa: E402
from planner.perf.step import StepTime, micro_batch, stage_step  # noqa: E402
from planner.schemas.chips import ChipSpec  # noqa: E402
from planner.schemas.models import ModelSpec  # noqa: E402


def _point(st: StepTime) -> tuple[float, float]:
    return float(st.flops / st.bytes), float(st.flops / st.total / 1e12)


def plot_roofline(model: ModelSpec, chip: ChipSpec, precision: str, kv_precision: str, layout: Layout,
                  shape: RequestShape, batch: int, calibration: Calibration, path: Path) -> Path:
    """Write the roofline PNG to `path` and return it."""
    p = stage_params(model, chip, precision, kv_precision, layout, calibration)
    ai = np.geomspace(0.1, 1e5, 400)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for bw, c, label, style in ((p.peak_bandwidth, p.peak_compute, "peak", "--"),
                                (p.bandwidth, p.compute, "achievable (calibrated)", "-")):
        ax.plot(ai, np.minimum(ai * bw, c) / 1e12, style, color="0.3" if style == "--" else "C0", label=label)
    pre = stage_step(p, 0.0, shape.prompt_tokens, 0.0, shape.prompt_tokens)
    d1 = stage_step(p, 1.0, 0.0, shape.occupancy_context, 0.0)
    b = float(micro_batch(p, float(batch)))
    q = b * shape.prompt_tokens / shape.output_tokens
    db = stage_step(p, b, q, shape.occupancy_context, shape.prompt_tokens)
    for st, label, marker in ((pre, f"prefill {shape.prompt_tokens:.0f} tokens", "s"), (d1, "decode, batch 1", "o"),
                              (db, f"decode, batch {batch} (+prefill)", "^")):
        x, y = _point(st)
        ax.scatter([x], [y], marker=marker, s=60, zorder=3, label=f"{label}: {y:.0f} TFLOP/s")
    ridge = p.compute / p.bandwidth
    ax.axvline(ridge, color="0.8", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte, per chip)")
    ax.set_ylabel("TFLOP/s per chip")
    ax.set_title(f"{model.model_id} on {chip.chip_id}, {precision} weights, {layout} (ridge {ridge:.0f} FLOP/B)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, which="both", alpha=0.2)
    fig.tight_layout()
    from planner.results.atomic import atomic_write

    with atomic_write(path, "wb") as fh:  # complete PNG or none; never beside a folder named `path`
        fig.savefig(fh, dpi=110, format="png")
    plt.close(fig)
    return Path(path)
