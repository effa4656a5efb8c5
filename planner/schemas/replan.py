"""`policy.replan`: how much a re-plan may change the future orders of the previous plan."""

from __future__ import annotations

from pydantic import Field

from planner.schemas.common import StrictModel


class ReplanPolicy(StrictModel):
    """Change penalties and limits that apply only to `planner replan` (a fresh `planner plan` ignores them)."""

    change_penalty_usd_per_server: float | None = Field(
        default=None, ge=0, le=1e9,
        description="Penalty per server added to or removed from a future order of the previous plan, USD "
        "(absent = `change_penalty_fraction_of_price` x the server's price).",
    )
    change_penalty_fraction_of_price: float = Field(
        default=0.02, ge=0, le=1,
        description="Penalty per server changed as a share of its price (0.02 = 2 %), used when no USD penalty is set.",
    )
    max_change_fraction: float | None = Field(
        default=None, ge=0, le=1,
        description="Servers changed (added plus removed) at most this share of the previous plan's future servers.",
    )
