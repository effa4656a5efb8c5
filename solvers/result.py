"""What a solve returns, shared by the backends, the decomposition, the polish step and the dispatcher (a module of
its own so none of them imports another just for the type)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

ProgressFn = Callable[[str], None]

#: statuses of a solve that returned a plan: `optimal` (proven within the requested gap on the real problem),
#: `optimal_in_reduced_set` (proven on a capped option set only, `solvers.full_bound`), `feasible` (not proven)
SOLUTION_STATUSES = ("optimal", "optimal_in_reduced_set", "feasible")


@dataclass(frozen=True)
class UnreducedBound:
    """The LP relaxation of the model on every undominated option, when the MILP ran on a capped option set
    (`solvers.full_bound`): a valid lower bound on the real problem, in model units; None when the LP did not solve
    to optimality within its time limit (then `status` says how it ended)."""

    status: str  # "optimal" when `bound` holds; else "time_limit", "infeasible", "error: ..." and so on
    bound: float | None
    seconds: float  # build of the uncapped model + its LP solve
    lp_seconds: float
    time_limit_s: float
    replica_variables: int


@dataclass
class SolveResult:
    """What a solve achieved, in model units (objective scaled like the model).

    On a capped option set `solvers.full_bound.certify` replaces `best_bound` and `mip_gap` by those against the
    unreduced LP bound (`unreduced`) and keeps the MIP's own, proven on the reduced set only, in `reduced_set_*`."""

    status: str  # optimal | optimal_in_reduced_set | feasible | infeasible | no_plan | unbounded
    raw_status: str
    objective: float | None
    best_bound: float | None
    mip_gap: float | None
    solve_seconds: float
    solver_name: str
    solver_version: str
    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reduced_set_status: str | None = None  # the MIP's status on the capped option set
    reduced_set_bound: float | None = None  # the MIP's bound on the capped option set (not a bound on the problem)
    reduced_set_gap: float | None = None
    unreduced: UnreducedBound | None = None

    @property
    def has_solution(self) -> bool:
        return self.status in SOLUTION_STATUSES

    def status_note(self) -> str:
        """` (solver status: ...)` for a message, without stray separators; empty when the solver said nothing."""
        raw = " ".join(str(self.raw_status or "").split()).strip(" ;,:")
        return f" (solver status: {raw})" if raw else ""
