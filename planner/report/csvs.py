"""`write_csvs(plan, dir)`: one tidy CSV per table in `DIR/csv/`, safe to open in a spreadsheet.

Text cells that a spreadsheet would run as a formula (starting with = + - @, tab or carriage return) get
a leading single quote. Numbers are never touched, so negative numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import pandas as pd

from planner.results.atomic import atomic_write
from planner.results.summary import key_figures
from planner.results.tables import plan_tables

_RISKY_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: Any) -> Any:
    """Prefix risky text with `'`; leave every other value as it is."""
    if isinstance(value, str) and value.startswith(_RISKY_START):
        return "'" + value
    return value


def defused(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of `frame` with every text cell passed through `defuse`."""
    out = frame.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]) or out[column].dtype == bool:
            out[column] = out[column].astype(object).map(defuse)
    out.columns = [defuse(str(c)) for c in out.columns]
    return out


def summary_frame(plan: dict[str, Any]) -> pd.DataFrame:
    """Key figures as a (metric, value, unit kind) table."""
    return pd.DataFrame([{"metric": f.key, "label": f.label, "value": f.value, "kind": f.kind}
                         for f in key_figures(plan)], columns=["metric", "label", "value", "kind"])


def _text(value: Any) -> str:
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return str(value)  # shortest round-tripping repr for floats


def write_frame_csv(frame: pd.DataFrame, path: Path) -> Path:
    """One CSV (RFC 4180: CRLF line ends, UTF-8), defused text, written atomically.

    With CRLF as the terminator the csv module quotes any field holding a CR or LF, so a stray carriage
    return in a name cannot split a row (pandas' `to_csv` with `\\n` leaves a bare CR unquoted).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    safe = defused(frame)
    writer.writerow(list(safe.columns))
    for row in safe.itertuples(index=False, name=None):
        writer.writerow([_text(v) for v in row])
    text = buffer.getvalue()
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    return path


def write_csvs(plan: dict[str, Any], folder: str | Path) -> list[Path]:
    """Write `summary.csv` and one CSV per plan table into `folder/csv/`; returns the paths written."""
    out = Path(folder) / "csv"
    out.mkdir(parents=True, exist_ok=True)
    written = [write_frame_csv(summary_frame(plan), out / "summary.csv")]
    for name, frame in plan_tables(plan).items():
        written.append(write_frame_csv(frame, out / f"{name}.csv"))
    return written
