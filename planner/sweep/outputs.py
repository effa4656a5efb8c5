"""Sweep outputs: sweep.csv, sweep.xlsx and charts (metric vs each parameter; tornado of sensitivities)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

METRIC = "objective_usd"


def tornado_table(df: pd.DataFrame, params: list[str], metric: str = METRIC) -> pd.DataFrame:
    """Per parameter: the metric's mean at the parameter's lowest and highest value (others averaged), and the swing."""
    rows = []
    ok = df[df[metric].notna()] if metric in df else df.iloc[0:0]
    for p in params:
        if p not in ok or ok[p].nunique() < 2:
            continue
        means = ok.groupby(p)[metric].mean().sort_index()
        rows.append({"parameter": p, "value_low": means.index[0], "value_high": means.index[-1],
                     f"{metric}_at_low": means.iloc[0], f"{metric}_at_high": means.iloc[-1],
                     "swing_usd": float(means.max() - means.min())})
    return pd.DataFrame(rows).sort_values("swing_usd", ascending=False) if rows else pd.DataFrame(rows)


def write_outputs(rows: list[dict[str, Any]], params: list[str], out_dir: Path) -> list[Path]:
    """Write the sweep table and charts; returns the files written."""
    from planner.results.atomic import atomic_write

    df = pd.DataFrame(rows)
    servers = [c for c in df.columns if str(c).startswith("servers_")]
    df[servers] = df[servers].fillna(0).astype(int)
    written = []
    csv = out_dir / "sweep.csv"
    with atomic_write(csv) as fh:
        df.to_csv(fh, index=False)
    written.append(csv)
    tornado = tornado_table(df, params)
    xlsx = out_dir / "sweep.xlsx"
    with pd.ExcelWriter(xlsx, engine="openpyxl") as xw:
        df.to_excel(xw, sheet_name="Points", index=False)
        tornado.to_excel(xw, sheet_name="Tornado", index=False)
    written.append(xlsx)
    written += _charts(df, params, tornado, out_dir)
    return written


def _charts(df: pd.DataFrame, params: list[str], tornado: pd.DataFrame, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    ok = df[df[METRIC].notna()] if METRIC in df else df.iloc[0:0]
    for p in params:
        if p not in ok or ok.empty:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        try:
            x = pd.to_numeric(ok[p])
            ax.scatter(x, ok[METRIC] / 1e6, s=14)
            means = ok.assign(_x=x).groupby("_x")[METRIC].mean() / 1e6
            ax.plot(means.index, means.values, color="C1", label="mean over other parameters")
            ax.legend(fontsize=8)
        except (ValueError, TypeError):
            ok.groupby(p)[METRIC].mean().div(1e6).plot.bar(ax=ax)
        ax.set_xlabel(p)
        ax.set_ylabel("objective: net horizon cost, $M")
        ax.set_title(f"objective vs {p}")
        fig.tight_layout()
        f = out_dir / f"chart_{p.replace('.', '_').replace('+', '')}.png"
        fig.savefig(f, dpi=100)
        plt.close(fig)
        out.append(f)
    if not tornado.empty:
        fig, ax = plt.subplots(figsize=(7, 0.6 * len(tornado) + 1.5))
        lo = tornado[f"{METRIC}_at_low"] / 1e6
        hi = tornado[f"{METRIC}_at_high"] / 1e6
        base = ok[METRIC].median() / 1e6
        labels = list(tornado["parameter"])
        ax.barh(labels, lo - base, left=base, color="C0", label="at lowest value")
        ax.barh(labels, hi - base, left=base, color="C3", alpha=0.7, label="at highest value")
        ax.axvline(base, color="k", lw=0.8)
        ax.invert_yaxis()
        ax.set_xlabel("objective: net horizon cost, $M (line: median of the sweep)")
        ax.set_title("tornado: objective swing per parameter")
        ax.legend(fontsize=8)
        fig.tight_layout()
        f = out_dir / "tornado.png"
        fig.savefig(f, dpi=100)
        plt.close(fig)
        out.append(f)
    return out
