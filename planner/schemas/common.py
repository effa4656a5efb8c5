"""Shared pieces of the input schemas: a strict base model and the quarter type."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

Precision = Literal["bf16", "fp16", "fp8", "int8", "int4", "fp4"]
PRECISIONS: tuple[str, ...] = ("bf16", "fp16", "fp8", "int8", "int4", "fp4")
#: bytes per stored weight element for each precision
BYTES_PER_ELEMENT: dict[str, float] = {
    "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5, "fp4": 0.5,
}

_QUARTER_RE = re.compile(r"^([0-9]{4})Q([1-4])$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class StrictModel(BaseModel):
    """Base for every input block: unknown keys are errors, NaN/inf are errors, strings are stripped."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        str_strip_whitespace=True,
        validate_default=True,
    )


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


Quarter = Annotated[str, AfterValidator(_check_quarter)]
Identifier = Annotated[str, AfterValidator(_check_id)]


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
