"""Shared pieces of the input schemas: a strict base model and the quarter type."""

from __future__ import annotations

import re
import types
import typing
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator

Precision = Literal["bf16", "fp16", "fp8", "int8", "int4", "fp4"]
PRECISIONS: tuple[str, ...] = ("bf16", "fp16", "fp8", "int8", "int4", "fp4")
#: bytes per stored weight element for each precision
BYTES_PER_ELEMENT: dict[str, float] = {
    "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5, "fp4": 0.5,
}

#: the longest lease term a plan can hold, quarters (catalog `lease.min_term_quarters`, scenario
#: `chip_terms.<chip>.lease_min_term_quarters` and a previous plan's `lease_contracts[].term_quarters`)
MAX_LEASE_TERM_QUARTERS = 40

_QUARTER_RE = re.compile(r"^([0-9]{4})Q([1-4])$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _kinds(annotation: Any) -> set[str]:
    """Which of `number`, `bool`, `str`, `dict` an annotation admits (through Optional, unions, Annotated)."""
    out: set[str] = set()
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            out |= _kinds(arg)
        return out
    if origin is dict:
        out.add("dict")
        value = typing.get_args(annotation)[1] if typing.get_args(annotation) else Any
        if {"number"} & _kinds(value) and not {"bool", "str"} & _kinds(value):
            out.add("dict_of_numbers")
        return out
    if annotation is bool:
        out.add("bool")
    elif annotation in (int, float):
        out.add("number")
    elif annotation is str or origin is Literal:
        out.add("str")
    return out


#: field-name endings -> the unit a bound is stated in (longest ending first)
_UNITS: tuple[tuple[str, str], ...] = (
    ("_usd_per_kwh", "USD per kWh"), ("_usd_per_chip_hour", "USD per chip-hour"), ("_usd_per_quarter", "USD per quarter"),
    ("_gbs_per_chip", "GB/s"), ("_gbs_per_server", "GB/s"), ("_servers_per_quarter", "servers per quarter"),
    ("_chips_per_quarter", "chips per quarter"), ("_tokens_per_s", "tokens/s"), ("_usd", "USD"), ("_kw", "kW"),
    ("_w", "W"), ("_gb", "GB"), ("_mb", "MB"), ("_tbs", "TB/s"), ("_us", "microseconds"), ("_ms", "ms"),
    ("_s", "seconds"), ("_quarters", "quarters"), ("_fraction", "(a fraction)"), ("_share", "(a fraction)"),
    ("_b", "billion parameters"), ("_tokens", "tokens"), ("_chips", "chips"), ("_servers", "servers"),
    ("_bf16", "bytes"), ("_year", ""), ("_units", "rack units"),
)
def unit_of(field: str) -> str:
    """The unit a field's name states (`price_usd_per_server` -> USD); '' when the name gives none."""
    for ending, unit in _UNITS:
        if field.endswith(ending) or f"{ending}_" in field:
            return unit
    if field in ("count", "servers", "quarters", "tp", "pp", "ep", "threads", "experts", "active_experts", "shared_experts"):
        return {"count": "racks", "servers": "servers", "quarters": "quarters"}.get(field, "")
    return ""


def number_shown(value: float | int) -> str:
    """A number in a message: `{:g}`, except an int beyond a float (a 400-digit value), which `{:g}` cannot format
    and `str` refuses past 4,300 digits: said by its size instead."""
    try:
        return f"{value:g}"
    except (OverflowError, ValueError):
        return f"a {len(hex(value)) - 2}-hex-digit number"


_BOUND_TESTS = (("le", "at most", lambda v, b: v > b), ("lt", "less than", lambda v, b: v >= b),
                ("ge", "at least", lambda v, b: v < b), ("gt", "greater than", lambda v, b: v <= b))


def _bounds(field: Any) -> tuple[tuple[str, Any, Any], ...]:
    """A field's bounds as (words, bound, is-past test), read from its metadata."""
    return tuple((words, bound, bad) for m in field.metadata for attr, words, bad in _BOUND_TESTS
                 if (bound := getattr(m, attr, None)) is not None)


def _limit_problem(value: Any, field: Any, name: str, bounds: tuple[tuple[str, Any, Any], ...] | None = None) -> str | None:
    """A number past the field's bounds, said with the unit its name gives (ints too large to parse included).
    `bounds`: the field's `_bounds`, when the caller has them cached."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value in (float("inf"), float("-inf")):
        return None  # NaN and inf: pydantic says "finite number"
    for words, bound, bad in _bounds(field) if bounds is None else bounds:
        if bad(value, bound):
            unit = unit_of(name)
            unit = f" {unit}" if unit else ""
            return f"must be {words} {bound:g}{unit}, got {number_shown(value)}"
    return None


#: the smallest magnitude a non-zero number may have: no figure of the planner (GB, TB/s, USD, kW, a fraction) is
#: meaningful below it, and a subnormal such as 1e-320 is > 0 yet its reciprocal overflows (memory_gb: 1e-320 passed
#: `gt=0` and crashed `planner perf` with an OverflowError)
MIN_MAGNITUDE = 1e-30


def _tiny_problem(value: Any) -> str | None:
    """A non-zero number smaller in size than MIN_MAGNITUDE (a CSV cell as text too), or None."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None  # not a number: pydantic says so
    if isinstance(value, float) and value != 0.0 and abs(value) < MIN_MAGNITUDE:
        return (f"is {value:g}: no figure is meaningful that small (below {MIN_MAGNITUDE:g} in size; a typo or an "
                "underflow): write the figure in the field's unit")
    return None


def _number_problem(value: Any, from_text: bool) -> str | None:
    """Why `value` is not a number a numeric field takes: a boolean, or (in YAML) a number written as a string."""
    if isinstance(value, bool):
        return f"must be a number, got the boolean {str(value).lower()}; write the number itself (e.g. 1 or 0)"
    if isinstance(value, str) and not from_text:
        return f"must be a number, got the string {value[:40]!r}; write the number without quotes"
    return None


def _key_problem(mapping: dict[Any, Any]) -> str | None:
    """Keys with leading or trailing whitespace would silently fold into another key once stripped."""
    bad = [k for k in mapping if isinstance(k, str) and k != k.strip()]
    if not bad:
        return None
    msgs = []
    for k in bad:
        twins = [o for o in mapping if isinstance(o, str) and o != k and o.strip() == k.strip()]
        also = f" and is the same key as {twins[0]!r}" if twins else ""
        msgs.append(f"key {k!r} has leading or trailing whitespace{also}; write {k.strip()!r} once")
    return "; ".join(msgs)


#: (model class, field name) -> (its FieldInfo, `_kinds` of its annotation, its `_bounds`)
_FIELD_KINDS: dict[tuple[type, str], tuple[Any, set[str], tuple[tuple[str, Any, Any], ...]]] = {}


class StrictModel(BaseModel):
    """Base for every input block: unknown keys are errors, NaN/inf are errors, strings are stripped.

    Numeric fields refuse booleans (`true` is not 1) and, unless the model is read from CSV text
    (`_numbers_from_text`), numbers written as strings. Mapping fields refuse keys with surrounding whitespace.
    """

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        str_strip_whitespace=True,
        validate_default=True,
    )
    #: True for models built from CSV cells, where every value arrives as text
    _numbers_from_text: ClassVar[bool] = False

    @field_validator("*", mode="before")
    @classmethod
    def _strict_numbers_and_keys(cls, value: Any, info: ValidationInfo) -> Any:
        key = (cls, info.field_name or "")
        cached = _FIELD_KINDS.get(key)
        if cached is None:  # computed once per model field: the check runs for every cell of a 200,000-row CSV
            field = cls.__pydantic_fields__.get(key[1])
            cached = _FIELD_KINDS[key] = (field, _kinds(field.annotation) if field is not None else set(),
                                          _bounds(field) if field is not None else ())
        field, kinds, bounds = cached
        if cls._numbers_from_text and type(value) is str:  # a CSV cell: pydantic converts and bounds it
            if "number" in kinds and (tiny := _tiny_problem(value)):
                raise ValueError(tiny)
            return value
        if field is None:
            return value
        if "number" in kinds and "bool" not in kinds:
            problem = _number_problem(value, cls._numbers_from_text or "str" in kinds) or _limit_problem(
                value, field, info.field_name or "", bounds) or _tiny_problem(value if not isinstance(value, str) else None)
            if problem:
                raise ValueError(problem)
        if "dict" in kinds and isinstance(value, dict):
            problems = [_key_problem(value)]
            if "dict_of_numbers" in kinds:
                problems += [f"{k}: {p}" for k, v in value.items() if (p := _number_problem(v, False))]
            problems = [p for p in problems if p]
            if problems:
                raise ValueError("; ".join(problems))
        if type(value) is float and value == 0.0:  # -0.0 (YAML `-0.0`) is 0: never shown as "$-0" or "-0 %"
            return 0.0
        return value


def _check_quarter(value: str) -> str:
    if not isinstance(value, str) or not _QUARTER_RE.match(value):
        raise ValueError(f"must be a quarter written like 2027Q1, got {value!r}")
    return value


def _check_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(
            f"must be 1-64 characters of letters, digits, '.', '_' or '-' starting with a letter or digit, got {value!r}"
        )
    return value


def _no_surrounding_space(value: Any) -> Any:
    """An id or quarter written with surrounding spaces (`' h100_sxm'`) is refused, not silently stripped."""
    if isinstance(value, str) and value != value.strip():
        raise ValueError(f"has leading or trailing whitespace: write {value.strip()!r}, got {value!r}")
    return value


def file_name_problem(value: Any) -> str | None:
    """Why a file name written in an input (`extends`, `inputs.*`, a measurement's `file`) is refused, or None: empty,
    or with whitespace around it (`' run.json'` would otherwise be stripped and read a file the user did not name)."""
    if not isinstance(value, str):
        return None  # the schema says "a valid string"
    if not value.strip():
        return "is empty; write the path of a file"
    if value != value.strip():
        return (f"has leading or trailing whitespace: write {value.strip()!r}, got {value!r} (a file name is used as "
                "written, never trimmed)")
    return None


def _check_file_name(value: Any) -> Any:
    problem = file_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Quarter = Annotated[str, BeforeValidator(_no_surrounding_space), AfterValidator(_check_quarter)]
#: a path to a file as written in an input file: not empty, no surrounding whitespace
FileName = Annotated[str, BeforeValidator(_check_file_name)]
Identifier = Annotated[str, BeforeValidator(_no_surrounding_space), AfterValidator(_check_id)]


def quarter_index(q: str) -> int:
    """Absolute index of a quarter: 2027Q1 -> 2027*4 + 0."""
    m = _QUARTER_RE.match(q)
    if not m:
        raise ValueError(f"not a quarter: {q!r}")
    return int(m.group(1)) * 4 + int(m.group(2)) - 1


def quarter_name(index: int) -> str:
    """Inverse of `quarter_index`."""
    return f"{index // 4}Q{index % 4 + 1}"


def quarter_range(first: str, count: int) -> list[str]:
    """`count` consecutive quarters starting at `first`."""
    start = quarter_index(first)
    return [quarter_name(start + i) for i in range(count)]
