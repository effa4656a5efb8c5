"""Solve a plan model: dispatch to the backend named in the settings (or the fix-and-optimize decomposition), then
release racks held beyond need (`solvers.polish`)."""

from __future__ import annotations

from planner.errors import EXIT_NO_PLAN, PlannerError
from planner.schemas.scenario import SolverSettings
from solvers.backends import solve_highs, solve_pulp
from solvers.decompose import solve_fix_and_optimize
from solvers.model import PlanModel
from solvers.polish import release_idle_racks
from solvers.result import ProgressFn, SolveResult


def solve(model: PlanModel, settings: SolverSettings, progress: ProgressFn | None = None,
          max_nodes: int | None = None) -> SolveResult:
    """Dispatch to the backend named in the settings, then release racks held beyond need (`solvers.polish`); a crash
    inside a solver becomes a one-paragraph error (exit 4). `max_nodes` (HiGHS, monolithic only): a deterministic
    branch-and-bound node limit (`backends.solve_highs`)."""
    try:
        if settings.name == "highs" and max_nodes is not None:
            return release_idle_racks(model, solve_highs(model, settings, progress, max_nodes=max_nodes))
        if settings.name == "highs" and settings.strategy == "fix_and_optimize":
            return release_idle_racks(model, solve_fix_and_optimize(model, settings, progress))
        if settings.name == "highs":
            return release_idle_racks(model, solve_highs(model, settings, progress))
        return release_idle_racks(model, solve_pulp(model, settings, settings.name))
    except (PlannerError, KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - solver libraries raise many kinds; the user needs what to try
        raise PlannerError(
            f"the {settings.name} solver crashed ({type(exc).__name__}: {exc}). No plan was written. "
            "Try again with --solver cbc (or highs), a different --seed, or a smaller scenario; report it if it repeats.",
            EXIT_NO_PLAN,
        ) from exc
