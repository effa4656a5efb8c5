"""Small HTML building blocks: an escaped table renderer, figure cards, the page shell with its CSS.

Every piece of text is passed through `html.escape`; only the markup written here is trusted.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from planner.report import labels
from planner.results.units import format_value, is_number

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:#1d2733;margin:0;background:#f5f7fa}
main{max-width:1180px;margin:0 auto;padding:24px 32px 48px;background:#fff}
h1{color:#1f4e78;margin:0 0 4px;font-size:26px} h2{color:#1f4e78;border-bottom:2px solid #1f4e78;padding-bottom:4px;margin-top:36px;font-size:19px}
h3{font-size:15px;margin:20px 0 6px}
.sub{color:#5a6570;margin:0 0 16px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;font-size:13px;vertical-align:middle;margin-left:8px}
.ok{background:#dff0d8;color:#2b5e2b}.warn{background:#fcf3cf;color:#7a5b00}.bad{background:#f8d7da;color:#8a1f2a}
.callout{padding:10px 14px;border-left:4px solid #c9a100;background:#fffbe6;margin:12px 0}
.callout.bad{border-color:#c0504d;background:#fdecea}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px;margin:12px 0}
.card{border:1px solid #d6dde5;border-radius:6px;padding:10px 12px}
.card .label{font-size:12px;color:#5a6570;text-transform:uppercase;letter-spacing:.03em}
.card .value{font-size:20px;font-weight:600;margin-top:2px;font-variant-numeric:tabular-nums}
.card .note{font-size:11px;color:#7a8590;margin-top:2px}
.card.total{border-color:#1f4e78;background:#f0f5fa}
table{border-collapse:collapse;margin:8px 0 4px;font-size:13px;font-variant-numeric:tabular-nums}
th{background:#1f4e78;color:#fff;text-align:left;padding:5px 8px;font-weight:600;position:sticky;top:0}
td{padding:4px 8px;border-bottom:1px solid #e3e8ee} td.num{text-align:right;white-space:nowrap}
tr.total td{font-weight:700;border-top:1px solid #1d2733;border-bottom:3px double #1d2733}
.scroll{max-height:480px;overflow:auto;border:1px solid #e3e8ee;display:inline-block;max-width:100%}
figure{margin:12px 0 20px} figure img{max-width:100%;height:auto;border:1px solid #e3e8ee}
figcaption{font-size:12px;color:#5a6570}
details{margin:10px 0} summary{cursor:pointer;font-weight:600;color:#1f4e78}
.note{color:#5a6570;font-size:12px} code{font-size:12px}
ul.findings li{margin:3px 0}
@media print{body{background:#fff}main{padding:0}.scroll{max-height:none;overflow:visible}details{display:block}}
"""


def esc(value: Any) -> str:
    """Escaped text of any value."""
    return html.escape(str(value), quote=True)


def cell(value: Any, kind: str) -> str:
    """One `<td>`: numbers formatted and right-aligned, everything else escaped text."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return '<td class="num">—</td>' if kind != "text" else "<td></td>"
    if is_number(value) and kind != "text":
        return f'<td class="num">{esc(format_value(value, kind))}</td>'
    return f"<td>{esc(value)}</td>"


def table(frame: pd.DataFrame, max_rows: int | None = None, total: dict[str, Any] | None = None,
          kinds: dict[str, str] | None = None) -> str:
    """An HTML table of `frame` with headings and formats from `labels`; optional total row."""
    kinds = dict(kinds or {})
    cols = list(frame.columns)
    for c in cols:
        kinds.setdefault(c, labels.kind(c, pd.api.types.is_numeric_dtype(frame[c])))
    head = "".join(f"<th>{esc(labels.heading(c))}</th>" for c in cols)
    shown = frame if max_rows is None else frame.head(max_rows)
    body = []
    for rec in shown.to_dict("records"):
        body.append("<tr>" + "".join(cell(_plain(rec.get(c)), kinds[c]) for c in cols) + "</tr>")
    if total is not None:
        body.append('<tr class="total">' + "".join(cell(total[c], kinds[c]) if c in total else "<td></td>"
                                                   for c in cols) + "</tr>")
    more = ""
    if max_rows is not None and len(frame) > max_rows:
        more = f'<p class="note">First {max_rows:,} of {len(frame):,} rows; all rows are in the workbook and CSV.</p>'
    if frame.empty:
        body.append(f'<tr><td colspan="{max(len(cols), 1)}" class="note">No rows.</td></tr>')
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>{more}'


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def rows_table(headings: Sequence[str], rows: Iterable[Sequence[tuple[Any, str]]]) -> str:
    """A table from already-computed (value, kind) cells."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(cell(v, k) for v, k in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def card(label: str, value: Any, kind: str, note: str = "", total: bool = False) -> str:
    """One key-figure card."""
    shown = format_value(value, kind) if kind != "text" else ("—" if value is None else str(value))
    return (f'<div class="card{" total" if total else ""}"><div class="label">{esc(label)}</div>'
            f'<div class="value">{esc(shown)}</div><div class="note">{esc(note)}</div></div>')


def image(png: bytes | None, alt: str, caption: str) -> str:
    """An embedded PNG figure (base64 data URI), or a note when there is nothing to draw."""
    if png is None:
        return f'<p class="note">{esc(caption)}: nothing to draw in this plan.</p>'
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def page(title: str, body: str) -> str:
    """A complete, self-contained HTML document (no external resources)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")
