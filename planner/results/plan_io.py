"""Read `plan.json` safely: every way a file can be broken becomes a located `Problem`, never a traceback.

Handles missing, empty, binary, non-UTF-8, truncated, non-JSON, wrongly typed and hand-edited files.
Writing goes through `planner.results.atomic` (re-exported here).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.errors import InputError, Problem, format_loc
from planner.io.safe_read import read_user_bytes
from planner.results.atomic import atomic_write, write_json_atomic
from planner.results.plan_schema import SCHEMA_VERSION, Plan

__all__ = ["MAX_OTHER_TABLE_ROWS", "MAX_PLAN_BYTES", "MAX_TABLE_ROWS", "atomic_write", "read_plan", "validate_plan", "write_json_atomic"]

MAX_PLAN_BYTES = 500 * 1024 * 1024
MAX_PROBLEMS = 50
#: Rows a plan.json table may hold. The largest plan the planner writes is the `benchmarks/generate.py --size xl`
#: shape: 20,000 rack positions over 12 quarters, at most 240,000 rack rows (one per occupied rack and quarter);
#: `racks` allows twice that. Every other table (deployments, options, candidates, ...) may hold 1,000,000 rows,
#: about what one sheet of plan.xlsx holds (Excel: 1,048,576 rows). Checked before the schema: validating a
#: hand-edited 1.1-million-row `racks` took 20 s and rebuilding its reports ran past two minutes.
MAX_TABLE_ROWS = {"racks": 500_000}
MAX_OTHER_TABLE_ROWS = 1_000_000


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    stripped: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        # `" servers"` beside `servers`: two values of one field, one silently ignored; the planner writes no such key
        if stripped.setdefault(key.strip(), key) != key:
            raise _DuplicateKey(f"{key}' and '{stripped[key.strip()]}")
        out[key] = value
    return out


def _bounded_int(text: str) -> int:
    """A JSON integer as Python reads it, refused when no float can hold it (hundreds of digits): every figure of a
    plan is used as a float somewhere, and `float()` of such an int raises OverflowError far from the file."""
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits, beyond any number a plan holds") from None
    return value


def _read_bytes(path: Path, label: str) -> bytes:
    if not path.exists():
        raise InputError([Problem(label, "", f"file not found: {path}. Check the folder: it should hold the "
                                             "plan.json written by `planner plan`.")])
    if path.is_dir():
        raise InputError([Problem(label, "", f"{path} is a folder, expected the file plan.json.")])
    raw, problems = read_user_bytes(path, label, "", MAX_PLAN_BYTES, "plan.json")  # never blocks on a pipe
    if raw is None:
        raise InputError(problems)
    return raw


def _parse(raw: bytes, label: str) -> Any:
    if not raw.strip():
        raise InputError([Problem(label, "", "file is empty. Re-run `planner plan` to write it again.")])
    if b"\x00" in raw:
        raise InputError([Problem(label, "", "file contains NUL bytes: it is binary, not the JSON text of a plan.")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(label, f"byte {exc.start}", "file is not valid UTF-8 text; plan.json is "
                                                              "UTF-8 JSON. Re-run `planner plan`.")]) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_int=_bounded_int)
    except _DuplicateKey as exc:
        raise InputError([Problem(label, "", f"key {str(exc)!r} appears twice in one object; keep one.")]) from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        if exc.pos >= len(text.rstrip()):
            msg = "file ends in the middle of the JSON: it looks truncated (interrupted write or copy)."
        else:
            msg = f"not valid JSON: {exc.msg}."
        raise InputError([Problem(label, where, msg + " Re-run `planner plan` or restore the file.")]) from None
    except RecursionError:
        raise InputError([Problem(label, "", "JSON nested too deeply to be a plan.")]) from None
    except ValueError as exc:  # e.g. a number with thousands of digits (Python's int-to-str limit)
        raise InputError([Problem(label, "", f"holds a value no plan has ({exc}). Re-run `planner plan` or restore the file.")]) from None


def _message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    got = err.get("input")
    if kind == "missing":
        return "required key is missing"
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    if kind in ("model_type", "dict_type"):
        return f"must be an object {{...}}, got {type(got).__name__ if got is not None else 'null'}"
    if kind == "list_type":
        return f"must be a list [...], got {type(got).__name__ if got is not None else 'null'}"
    if kind == "literal_error":
        expected = msg.removeprefix("Input should be ")
        return f"must be {expected}, got {got!r:.60}"
    return f"{msg}, got {got!r:.60}"


def _locator(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    suffix = ""
    if parts and parts[-1] == "[key]":
        parts.pop()
        suffix = " (key)"
    return format_loc(parts) + suffix


def _version_problem(data: dict[str, Any], label: str) -> Problem | None:
    version = data.get("schema_version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        # `Literal[1]` accepts `true` and `1.0` (both == 1): a version is the whole number the planner wrote
        return Problem(label, "schema_version", f"must be the whole number {SCHEMA_VERSION} written by the planner, "
                                                f"got {json.dumps(version)[:40]}; restore the value the planner wrote.")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        return Problem(label, "schema_version", f"plan written by a newer planner (schema version {version}); "
                                                 f"this planner reads version {SCHEMA_VERSION}. Upgrade the planner.")
    return None


def _oversized_tables(data: dict[str, Any], label: str, prefix: str = "") -> list[Problem]:
    """Every list in `data` (and in its objects, e.g. `finance.schedule`; not inside list rows) longer than its limit."""
    problems: list[Problem] = []
    for key, value in data.items():
        where = f"{prefix}{key}"
        if isinstance(value, dict):
            problems += _oversized_tables(value, label, f"{where}.")
        elif isinstance(value, list):
            limit = MAX_TABLE_ROWS.get(where, MAX_OTHER_TABLE_ROWS)
            if len(value) > limit:
                problems.append(Problem(label, where, (
                    f"table {where} has {len(value):,} rows; a plan holds at most {limit:,} rows in {where} (the "
                    "largest plan the planner writes has far fewer). The file was edited or generated by hand: "
                    "re-run `planner plan` to write it again, or restore the file.")))
    return problems


def validate_plan(data: Any, label: str = "plan.json") -> dict[str, Any]:
    """Check plan data against the schema; return it as plain, normalised data or raise `InputError`."""
    if not isinstance(data, dict):
        raise InputError([Problem(label, "", f"must be a JSON object {{...}} at the top level, got {type(data).__name__}.")])
    newer = _version_problem(data, label)
    if newer:
        raise InputError([newer])
    oversized = _oversized_tables(data, label)
    if oversized:
        raise InputError(oversized)
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(label, _locator(e.get("loc", ())), _message(e)) for e in exc.errors()]
        if len(problems) > MAX_PROBLEMS:
            hidden = len(problems) - MAX_PROBLEMS
            problems = [*problems[:MAX_PROBLEMS], Problem(label, "", f"... and {hidden} more problems not shown")]
        raise InputError(problems) from None
    except RecursionError:
        raise InputError([Problem(label, "", "JSON nested too deeply to be a plan.")]) from None
    return plan.model_dump(mode="python")


def read_plan(path: str | Path, label: str | None = None) -> dict[str, Any]:
    """Read and validate a `plan.json`; `label` names the file in problems (default: its file name)."""
    path = Path(path)
    name = label or path.name
    return validate_plan(_parse(_read_bytes(path, name), name), name)
