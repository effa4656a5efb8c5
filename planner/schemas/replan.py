"""`policy.replan`: how much a re-plan may change the future orders of the previous plan."""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from planner.errors import Problem, format_loc
from planner.schemas.common import _QUARTER_RE, StrictModel, quarter_index


class ReplanPolicy(StrictModel):
    """Change penalties and limits that apply only to `planner replan` (a fresh `planner plan` ignores them)."""

    change_penalty_usd_per_server: float | None = Field(
        default=None, ge=0, le=1e9,
        description="Penalty per server added to or removed from a future order or not-yet-signed lease contract of the "
        "previous plan, USD (absent = `change_penalty_fraction_of_price` x the server's price, or x one server's whole "
        "contract for a lease).",
    )
    change_penalty_fraction_of_price: float = Field(
        default=0.02, ge=0, le=1,
        description="Penalty per server changed as a share of its price (0.02 = 2 %; of one server's whole contract for a "
        "lease), used when no USD penalty is set.",
    )
    max_change_fraction: float | None = Field(
        default=None, ge=0, le=1,
        description="Servers changed (added plus removed, orders and lease contracts) at most this share of the previous "
        "plan's future servers (ordered and leased).",
    )


# ------------------------------------------------------------------ the `--from` plan.json of `planner replan`
#
# plan.json's own schema (planner/results/plan_schema.py) checks types so reports can read any plan; a re-plan
# also turns the previous plan's orders into fleet and budget, so it checks the orders strictly: what a plan
# written by `planner plan` / `planner replan` can hold, and nothing a hand edit could slip in.

#: at most this many servers in one order line (the sites file's fleet entries allow the same)
MAX_ORDER_SERVERS = 1_000_000
#: at most this price per server, USD
MAX_UNIT_PRICE_USD = 1e9
#: at most this cost of one order line, USD
MAX_ORDER_USD = MAX_ORDER_SERVERS * MAX_UNIT_PRICE_USD


def _shown(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bounded(value: Any, hi: float, whole: bool, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {_shown(value)}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer of hundreds of digits: no float holds it
        finite = False
    if not finite:
        raise ValueError(f"must be a finite number, got {_shown(value)}")
    if whole and not float(value).is_integer():
        raise ValueError(f"must be a whole number, got {_shown(value)}")
    if value < 0:
        raise ValueError(f"must be 0 or more, got {_shown(value)}: {what} cannot be negative; restore the value the planner wrote")
    if value > hi:
        raise ValueError(f"must be at most {hi:,.0f}, got {_shown(value)}; restore the value the planner wrote")
    return int(value) if whole else float(value)


def _quarter(value: Any) -> str:
    if not isinstance(value, str) or not _QUARTER_RE.match(value):
        raise ValueError(f"must be a quarter written like 2027Q1, got {_shown(value)}")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty name, got {_shown(value)}")
    return value


PlanQuarter = Annotated[str, BeforeValidator(_quarter)]
PlanName = Annotated[str, BeforeValidator(_name)]
OrderServers = Annotated[int, BeforeValidator(lambda v: _bounded(v, MAX_ORDER_SERVERS, True, "a server count"))]
UnitPrice = Annotated[float, BeforeValidator(lambda v: _bounded(v, MAX_UNIT_PRICE_USD, False, "a price"))]
OrderUsd = Annotated[float, BeforeValidator(lambda v: _bounded(v, MAX_ORDER_USD, False, "money spent"))]


class PreviousOrder(BaseModel):
    """One order line of the previous plan (`purchases[i]` or `replan.committed_purchases[i]`)."""

    model_config = ConfigDict(extra="allow")

    order_quarter: PlanQuarter
    delivery_quarter: PlanQuarter
    site: PlanName
    rack_type: PlanName
    chip: PlanName
    servers: OrderServers
    unit_price_usd: UnitPrice
    cost_usd: OrderUsd

    @model_validator(mode="after")
    def _consistent(self) -> PreviousOrder:
        if quarter_index(self.delivery_quarter) < quarter_index(self.order_quarter):
            raise PydanticCustomError("order_dates", "delivery_quarter {d} is before order_quarter {o}; an order is delivered "
                                      "in or after the quarter it is placed. Restore the line the planner wrote.",
                                      {"d": self.delivery_quarter, "o": self.order_quarter})
        expected = self.servers * self.unit_price_usd
        if abs(self.cost_usd - expected) > max(1.0, 1e-6 * expected):
            raise PydanticCustomError("order_cost", "cost_usd {c} is not servers x unit_price_usd ({n} x {u} = {e}): the "
                                      "line was edited. Restore the line the planner wrote.",
                                      {"c": f"{self.cost_usd:,.2f}", "n": self.servers, "u": f"{self.unit_price_usd:,.2f}",
                                       "e": f"{expected:,.2f}"})
        return self


class PreviousHorizon(BaseModel):
    model_config = ConfigDict(extra="allow")

    quarters: list[PlanQuarter] = Field(min_length=1)

    @field_validator("quarters")
    @classmethod
    def _consecutive(cls, qs: list[str]) -> list[str]:
        for a, b in itertools.pairwise(qs):
            if quarter_index(b) != quarter_index(a) + 1:
                raise ValueError(f"quarters must be consecutive, got {a} then {b}; restore the plan's horizon")
        return qs


class PreviousReplan(BaseModel):
    model_config = ConfigDict(extra="allow")

    commit_through: PlanQuarter


def previous_plan_problems(data: Any, label: str) -> list[Problem]:
    """Every problem of the pieces of a previous plan.json a re-plan builds on, each located; [] when it fits.

    Each order line is checked on its own, so one bad line does not hide the others.
    """
    from planner.io.validate import error_message

    def run(model: type[BaseModel], value: Any, loc: tuple[str | int, ...]) -> list[Problem]:
        try:
            model.model_validate(value)
        except ValidationError as exc:
            out = []
            for e in exc.errors():
                where = [*loc, *e.get("loc", ())]
                if e.get("type") in ("order_dates", "order_cost"):
                    where.append("delivery_quarter" if e["type"] == "order_dates" else "cost_usd")
                out.append(Problem(label, format_loc(where), error_message(e)))
            return out
        return []

    if not isinstance(data, dict):
        return [Problem(label, "", f"must be a JSON object {{...}} at the top level, got {type(data).__name__}.")]
    problems = run(PreviousHorizon, data.get("horizon"), ("horizon",))
    lines: list[tuple[str, Any]] = [("purchases", data.get("purchases"))]
    rp = data.get("replan")
    if rp is not None:
        if not isinstance(rp, dict):
            problems.append(Problem(label, "replan", f"must be an object {{...}}, got {_shown(rp)}"))
        else:
            problems += run(PreviousReplan, rp, ("replan",))
            lines.append(("replan.committed_purchases", rp.get("committed_purchases")))
    for where, rows in lines:
        if rows is None and where != "purchases":
            problems.append(Problem(label, where, "required key is missing: a re-plan's plan.json lists the orders it kept"))
            continue
        if not isinstance(rows, list):
            problems.append(Problem(label, where, f"must be a list [...], got {_shown(rows)}"))
            continue
        for i, row in enumerate(rows):
            problems += run(PreviousOrder, row, (f"{where}[{i}]",))
    return problems
