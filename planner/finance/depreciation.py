"""Depreciation and net book value of hardware, per horizon quarter. One definition, used by the MILP's objective
coefficients and by the finance schedule, so the two cannot disagree.

Convention (quarters are integer indices; 0 = the horizon's first quarter, negative = before it):
  * a unit enters service in quarter `d` (its delivery quarter) and is depreciated from `d` inclusive;
  * straight line: charge(q) = cost x (1 - salvage) / life for q in [d, d + life), else 0;
  * net book value at the end of quarter q: NBV(q) = cost - sum_{k <= q} charge(k) (never below cost x salvage);
  * hardware not yet in service (ordered, in transit) is not depreciated; it is not on the books either
    (`held_book_value`): it is capitalised at cost when it arrives, so the book value at a horizon's start is that
    of the hardware in service then, for the finance schedule and the KPIs alike.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Depreciation:
    """Straight-line depreciation of `cost` over `life_quarters` from service quarter `in_service`."""

    cost_usd: float
    life_quarters: int
    in_service: int
    salvage_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.life_quarters < 1:
            raise ValueError(f"life must be at least one quarter, got {self.life_quarters}")
        if not 0.0 <= self.salvage_fraction < 1.0:
            raise ValueError(f"salvage fraction must be in [0, 1), got {self.salvage_fraction}")

    @property
    def per_quarter_usd(self) -> float:
        return self.cost_usd * (1.0 - self.salvage_fraction) / self.life_quarters

    def charge(self, q: int) -> float:
        """Depreciation charged in quarter q, USD."""
        return self.per_quarter_usd if self.in_service <= q < self.in_service + self.life_quarters else 0.0

    def quarters_charged_through(self, q: int) -> int:
        """Quarters of depreciation charged up to and including quarter q."""
        return max(0, min(q - self.in_service + 1, self.life_quarters))

    def book_value(self, q: int) -> float:
        """Net book value at the end of quarter q, USD (cost before service)."""
        return self.cost_usd - self.per_quarter_usd * self.quarters_charged_through(q)

    def held_book_value(self, q: int) -> float:
        """Book value at the end of quarter q of hardware on the books then, USD: in service (delivered by q and not
        yet retired) at `book_value(q)`; 0 before delivery (in transit, capitalised when it arrives) and after its
        life (disposed of). The opening book value of a horizon is `held_book_value(-1)`."""
        return self.book_value(q) if self.in_service <= q < self.in_service + self.life_quarters else 0.0

    def charged_between(self, first: int, last: int) -> float:
        """Depreciation charged in quarters first..last inclusive, USD."""
        if last < first:
            return 0.0
        return self.per_quarter_usd * (self.quarters_charged_through(last) - self.quarters_charged_through(first - 1))


def horizon_depreciation(cost_usd: float, life_quarters: int, in_service: int, horizon_quarters: int,
                         salvage_fraction: float = 0.0) -> tuple[float, float]:
    """(depreciation charged inside quarters 0..T-1, net book value at the end of quarter T-1), USD."""
    d = Depreciation(cost_usd, life_quarters, in_service, salvage_fraction)
    return d.charged_between(0, horizon_quarters - 1), d.book_value(horizon_quarters - 1)
