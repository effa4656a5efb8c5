"""Read the workload forecast CSV into validated rows, locating problems by spreadsheet row and column."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from planner.errors import Problem
from planner.io.safe_yaml import read_text
from planner.io.validate import error_message
from planner.schemas.workloads import (
    OPTIONAL_WORKLOAD_COLUMNS,
    REQUIRED_WORKLOAD_COLUMNS,
    WORKLOAD_COLUMNS,
    WorkloadRow,
)

MAX_ROWS = 200_000


@dataclass(frozen=True)
class RejectedRow:
    """A row that failed validation: its row number and the values of the fields that were not at fault, so
    the cross-file checks can still name an unknown model or a quarter outside the horizon in the same report."""

    line_no: int
    good: dict[str, str]


def read_workloads(path: Path, label: str | None = None,
                   rejected: list[RejectedRow] | None = None) -> tuple[list[WorkloadRow], list[Problem], list[int]]:
    """Parse the CSV -> (rows, problems, spreadsheet row number of each row).

    Row numbers are spreadsheet rows: the header is row 1, the first data row is row 2. `rejected`, when given,
    receives every row that failed validation with its fields that were not at fault.
    """
    label = label or path.name
    text, problems = read_text(path, label)
    if text is None:
        return [], problems, []
    if not text.strip():
        return [], [Problem(label, "", "file is empty; it needs a header row and at least one workload row.")], []
    try:
        csv.field_size_limit(1_000_000)
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
    except csv.Error as exc:
        return [], [Problem(label, "row 1", f"not valid CSV: {exc}")], []
    if not header:
        return [], [Problem(label, "row 1", "missing header row.")], []
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED_WORKLOAD_COLUMNS if c not in header]
    unknown = [c for c in header if c not in WORKLOAD_COLUMNS]
    dups = sorted({c for c in header if header.count(c) > 1})
    if missing:
        problems.append(Problem(label, "row 1", f"missing column(s): {', '.join(missing)}. Expected: {', '.join(WORKLOAD_COLUMNS)}."))
    if unknown:
        problems.append(Problem(label, "row 1", f"unknown column(s): {', '.join(repr(c) for c in unknown)}. Expected: {', '.join(WORKLOAD_COLUMNS)}."))
    if dups:
        problems.append(Problem(label, "row 1", f"repeated column(s): {', '.join(dups)}."))
    if problems:
        return [], problems, []

    rows: list[WorkloadRow] = []
    line_numbers: list[int] = []
    try:
        for line_no, values in enumerate(reader, start=2):
            if line_no - 1 > MAX_ROWS:
                # first, so a report trimmed to the first problems of each file still says it
                problems.insert(0, Problem(label, f"row {line_no}", f"more than {MAX_ROWS} rows; split the forecast."))
                break
            if not any(v.strip() for v in values):
                continue  # blank line
            if len(values) != len(header):
                problems.append(Problem(label, f"row {line_no}", f"has {len(values)} values but the header has {len(header)} columns."))
                continue
            record = {k: v.strip() for k, v in zip(header, values, strict=True)}
            for optional in OPTIONAL_WORKLOAD_COLUMNS:
                if record.get(optional) == "":
                    record.pop(optional)
            for k, v in list(record.items()):
                if v == "" and k in REQUIRED_WORKLOAD_COLUMNS:
                    record.pop(k)  # reported as missing
            try:
                rows.append(WorkloadRow.model_validate(record))
                line_numbers.append(line_no)
            except ValidationError as exc:
                at_fault = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
                if rejected is not None and not any(not e.get("loc") for e in exc.errors()):
                    rejected.append(RejectedRow(line_no, {k: v for k, v in record.items() if k not in at_fault}))
                for err in exc.errors():
                    loc = err.get("loc", ())
                    field = str(loc[0]) if loc else ""
                    msg = "value is empty; fill it in" if err.get("type") == "missing" else error_message(err)
                    problems.append(Problem(label, f"row {line_no}, {field}" if field else f"row {line_no}", msg))
    except csv.Error as exc:
        problems.append(Problem(label, f"row {reader.line_num}", f"not valid CSV: {exc}"))
    if not rows and not problems:
        problems.append(Problem(label, "", "the forecast has no workload rows; add at least one row under the header."))
    return rows, problems, line_numbers
