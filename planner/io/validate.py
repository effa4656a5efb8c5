"""Turn pydantic validation errors into located `Problem`s."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from planner.errors import Problem, format_loc
from planner.schemas.common import number_shown, unit_of

M = TypeVar("M", bound=BaseModel)


_BOUNDS = {"less_than_equal": ("le", "at most"), "less_than": ("lt", "less than"),
           "greater_than_equal": ("ge", "at least"), "greater_than": ("gt", "greater than")}


def _bound_message(err: dict[str, Any]) -> str | None:
    """`must be at most 1e+09 USD, got 1e+308`: a bound with the unit the field's name gives."""
    kind = err.get("type", "")
    if kind not in _BOUNDS:
        return None
    key, words = _BOUNDS[kind]
    limit = (err.get("ctx") or {}).get(key)
    if limit is None:
        return None
    # the innermost name with a unit: `capex_budget_usd_by_quarter.2027Q1` is in USD
    unit = next((u for u in map(unit_of, reversed([p for p in err.get("loc", ()) if isinstance(p, str)])) if u), "")
    got = err.get("input")
    try:
        shown = f"{got:g}" if isinstance(got, int | float) and not isinstance(got, bool) else str(got)
    except (OverflowError, ValueError):
        shown = "a number too large to show"
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"must be {words} {limit:g}{' ' + unit if unit else ''}, got {shown}"


def error_message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    bound = _bound_message(err)
    if bound:
        return bound
    msg = str(err.get("msg", "invalid value"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind == "extra_forbidden":
        return "unknown field; remove it or check its spelling against the README's input formats"
    if kind == "missing":
        return "required field is missing"
    got = err.get("input")
    already_shown = kind == "value_error" and "got " in msg  # our validators name the value themselves
    if already_shown and len(msg) > 200:
        head, _, shown = msg.rpartition("got ")
        msg = f"{head}got {shown[:57]}..."
    if kind not in ("model_type", "dict_type", "list_type") and got is not None and not isinstance(got, dict | list) and not already_shown:
        try:
            shown = repr(got)
        except ValueError:  # an int too long to print (Python's 4,300-digit limit)
            shown = number_shown(got) if isinstance(got, int) else "a value too long to show"
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg = f"{msg}, got {shown}"
    return msg


def problems_from_validation(exc: ValidationError, file: str, prefix: str = "") -> list[Problem]:
    """One Problem per pydantic error, located as `prefix.field[3].sub`."""
    out = []
    for err in exc.errors():
        loc = format_loc(err.get("loc", ()))
        if prefix:
            loc = f"{prefix}.{loc}" if loc and not loc.startswith("[") else f"{prefix}{loc}"
        out.append(Problem(file, loc, error_message(err)))
    return out


def validate_model(model: type[M], data: Any, file: str, prefix: str = "") -> tuple[M | None, list[Problem]]:
    """Validate `data` against `model`; (instance, []) or (None, problems)."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems_from_validation(exc, file, prefix)
    except RecursionError:
        return None, [Problem(file, prefix, "structure nested too deeply")]
