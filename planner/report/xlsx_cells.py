"""Writing cells and tables with openpyxl: literal text, number formats, styled headers, widths.

Text that came from inputs (site, workload, vendor names...) is always stored as a string cell, never
as a formula: `=HYPERLINK(...)`, `+1`, `-2` or `@SUM(A1)` stay visible text (and keep Excel's quote
prefix so that editing the cell does not turn it into a formula).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from planner.report import labels
from planner.results.units import EXCEL_FORMATS, format_value, is_number

MAX_ROWS = 1_048_000  # Excel holds 1,048,576 rows per sheet
MAX_TEXT = 32_767  # Excel's limit on characters in one cell
_RISKY_START = ("=", "+", "-", "@", "\t", "\r", "\n")

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
SECTION_FONT = Font(bold=True, size=12, color="1F4E78")
TITLE_FONT = Font(bold=True, size=16, color="1F4E78")
TOTAL_FONT = Font(bold=True)
TOTAL_BORDER = Border(top=Side(style="thin"), bottom=Side(style="double"))
NOTE_FONT = Font(italic=True, color="595959")
WARN_FONT = Font(bold=True, color="C00000")


def put_text(cell: Cell, text: Any) -> Cell:
    """Store `text` as a literal string cell (never a formula); illegal control characters become '?'."""
    value = ILLEGAL_CHARACTERS_RE.sub("?", str(text))[:MAX_TEXT]
    cell.value = value
    cell.data_type = "s"
    if value.startswith(_RISKY_START):
        cell.quotePrefix = True
    return cell


def put(cell: Cell, value: Any, kind: str = "text") -> Cell:
    """Store a plain value: strings as literal text, numbers with the number format of `kind`."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()  # numpy scalar -> Python
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        cell.value = None
    elif isinstance(value, bool):
        put_text(cell, "yes" if value else "no")
    elif is_number(value):
        cell.value = value
        cell.number_format = EXCEL_FORMATS.get(kind if kind != "text" else "number", "General")
    else:
        put_text(cell, value)
    return cell


def put_formula(cell: Cell, formula: str, kind: str) -> Cell:
    """Store a formula we built ourselves (never from input text) with the number format of `kind`."""
    if not formula.startswith("="):
        raise ValueError(f"formula must start with '=': {formula!r}")
    cell.value = formula
    cell.number_format = EXCEL_FORMATS.get(kind, "General")
    return cell


def style_header(cells: Sequence[Cell]) -> None:
    """Bold white on dark blue, wrapped, for a table header row."""
    for cell in cells:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")


def write_header(ws: Worksheet, row: int, col: int, headings: Sequence[str]) -> None:
    """Styled header cells starting at (row, col)."""
    style_header([put_text(ws.cell(row=row, column=col + i), h) for i, h in enumerate(headings)])


def section(ws: Worksheet, row: int, title: str, col: int = 1) -> None:
    """A section title in the sheet body."""
    put_text(ws.cell(row=row, column=col), title).font = SECTION_FONT


@dataclass
class TableRange:
    """Where a table landed: header row, first/last data row (last < first when empty), column numbers."""

    header_row: int
    first_row: int
    last_row: int
    columns: dict[str, int]
    truncated: int = 0

    def col(self, name: str) -> int:
        return self.columns[name]

    def letter(self, name: str) -> str:
        return get_column_letter(self.columns[name])

    def rng(self, name: str) -> str:
        """Absolute range of a column's data cells, e.g. `$I$2:$I$13`."""
        c = self.letter(name)
        return f"${c}${self.first_row}:${c}${max(self.last_row, self.first_row)}"

    @property
    def empty(self) -> bool:
        return self.last_row < self.first_row


FormulaFn = Callable[[int, "TableRange"], str]


def write_table(ws: Worksheet, frame: pd.DataFrame, start_row: int = 1, *,
                formulas: dict[str, tuple[str, FormulaFn]] | None = None, freeze: bool = True,
                autofilter: bool = True) -> TableRange:
    """Write `frame` with a styled header at `start_row`; returns where it went.

    `formulas` maps a column name to (kind, fn(row, table) -> "=..."): that column's cells become live
    formulas instead of values (existing columns are replaced in place, new ones appended).
    """
    formulas = formulas or {}
    names = list(frame.columns) + [c for c in formulas if c not in frame.columns]
    columns = {name: i + 1 for i, name in enumerate(names)}
    kinds = {n: (formulas[n][0] if n in formulas else
                 labels.kind(n, pd.api.types.is_numeric_dtype(frame[n]) if n in frame else True)) for n in names}
    write_header(ws, start_row, 1, [labels.heading(n) for n in names])
    rows = frame.head(MAX_ROWS)
    first = start_row + 1
    table = TableRange(start_row, first, first + len(rows) - 1, columns, truncated=len(frame) - len(rows))
    records = rows.to_dict("records")
    for offset, record in enumerate(records):
        r = first + offset
        for name, c in columns.items():
            cell = ws.cell(row=r, column=c)
            if name in formulas:
                put_formula(cell, formulas[name][1](r, table), kinds[name])
            else:
                value = record.get(name)
                put(cell, None if _missing(value) else value, kinds[name])
    if table.truncated:
        note = ws.cell(row=start_row, column=len(names) + 2)
        put_text(note, f"{table.truncated:,} more rows do not fit in Excel; see the CSV file.").font = WARN_FONT
    last_col = get_column_letter(len(names))
    if freeze:
        ws.freeze_panes = ws.cell(row=first, column=1)
    if autofilter and names:
        ws.auto_filter.ref = f"A{start_row}:{last_col}{max(table.last_row, start_row)}"
    return table


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


_KIND_OF_FORMAT = {fmt: kind for kind, fmt in EXCEL_FORMATS.items()}
_OVERFLOW_FONTS = (SECTION_FONT, NOTE_FONT, TITLE_FONT, WARN_FONT)  # text meant to run over empty cells


def _width(cell: Cell) -> float:
    if cell.data_type == "f":
        return 14
    if is_number(cell.value):
        return len(format_value(cell.value, _KIND_OF_FORMAT.get(cell.number_format, "number"))) + 2
    return len(str(cell.value)) + 2


def fit_columns(ws: Worksheet, minimum: float = 8, maximum: float = 50, scan_rows: int = 3000) -> None:
    """Column widths from the cells' shown text; header cells may wrap onto up to three lines.

    Section titles and notes are ignored: they are meant to run over the empty cells to their right.
    """
    widths: dict[int, float] = defaultdict(lambda: minimum)
    headers: list[Cell] = []
    for row in ws.iter_rows(max_row=min(ws.max_row, scan_rows)):
        for c in row:
            if c.value is None or any(c.font == f for f in _OVERFLOW_FONTS):
                continue
            if c.fill == HEADER_FILL:
                headers.append(c)
                longest_word = max((len(w) for w in str(c.value).split()), default=0)
                need = max(longest_word + 2, len(str(c.value)) / 2 + 2)
            else:
                need = _width(c)
            widths[c.column] = max(widths[c.column], min(maximum, need))
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = width
    lines: dict[int, int] = defaultdict(lambda: 1)
    for c in headers:
        room = max(1.0, widths[c.column] - 1.5)
        lines[c.row] = max(lines[c.row], min(3, math.ceil(len(str(c.value)) / room)))
    for r, n in lines.items():
        ws.row_dimensions[r].height = 15 * n + 2 if n > 1 else None
