"""Value kinds and how to show them: one place for money, power, percentages and counts.

A kind names a unit and a precision. The workbook turns a kind into an Excel number format, the HTML
report and sentences turn it into text with `format_value`.
"""

from __future__ import annotations

import math
from typing import Any

#: Excel number format of each kind ("text" cells get no number format).
EXCEL_FORMATS: dict[str, str] = {
    "usd": "$#,##0",
    "usd_cents": "$#,##0.00",
    "usd_small": "$#,##0.0000",
    "kw": "#,##0.0",
    "mwh": "#,##0.0",
    "int": "#,##0",
    "number": "#,##0.##",
    "tokens": "#,##0",
    "pct": "0.00%",
    "joules": "#,##0.000",
    "seconds": "#,##0.00",
    "ms": "#,##0.0",
    "text": "General",
}


def is_number(value: Any) -> bool:
    """True for finite real numbers (not booleans, not NaN)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fmt_usd(value: Any, decimals: int = 0) -> str:
    """`$1,234` / `-$1,234`; an em dash for a missing value."""
    if not is_number(value):
        return "—"
    shown = f"{abs(value):,.{decimals}f}"
    sign = "-" if value < 0 and shown.strip("0.,") else ""  # -0.004 is "$0", not "-$0"
    return f"{sign}${shown}"


def format_value(value: Any, kind: str) -> str:
    """Human text for `value` of `kind` (see `EXCEL_FORMATS`); missing values become an em dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if not is_number(value):
        return str(value)
    if kind == "usd":
        return fmt_usd(value)
    if kind == "usd_cents":
        return fmt_usd(value, 2)
    if kind == "usd_small":
        return fmt_usd(value, 4)
    if kind in ("kw", "mwh", "ms"):
        return f"{value:,.1f}"
    if kind in ("int", "tokens"):
        return f"{value:,.0f}"
    if kind == "pct":
        return f"{value * 100:.2f}%"
    if kind == "joules":
        return f"{value:,.3f}"
    if kind == "seconds":
        return f"{value:,.2f}"
    return f"{value:,.6g}" if isinstance(value, float) else f"{value:,}"
