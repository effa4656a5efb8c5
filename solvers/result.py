"""What a solve returns, shared by the backends, the decomposition, the polish step and the dispatcher (a module of
its own so none of them imports another just for the type)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

ProgressFn = Callable[[str], None]


@dataclass
class SolveResult:
    """What a solve achieved, in model units (objective scaled like the model)."""

    status: str  # optimal | feasible | infeasible | no_plan | unbounded
    raw_status: str
    objective: float | None
    best_bound: float | None
    mip_gap: float | None
    solve_seconds: float
    solver_name: str
    solver_version: str
    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def has_solution(self) -> bool:
        return self.status in ("optimal", "feasible")
