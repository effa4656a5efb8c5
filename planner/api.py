"""The planner as a Python library: `plan(scenario, overrides=...)` returns a `Plan` whose tables are DataFrames.

    from planner.api import plan
    p = plan("inputs/scenarios/example.yaml", overrides={"policy.headroom_fraction": 0.2})
    p.status, p.objective_usd, p.best_bound_usd, p.mip_gap
    p.purchases.groupby("chip_id")["servers"].sum()
    p.write("outputs/what_if")            # plan.json, plan.xlsx, report.html, csv/

`planner plan` is this function plus `Plan.write`. Input problems raise `planner.errors.InputError` (every
problem with its locator), solver failures `planner.errors.PlannerError` (with `exit_code`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from planner.pipeline import PlanOutcome, plan_scenario

TABLES = ("purchases", "racks", "deployments", "capacity", "power", "binding", "diagnosis", "options", "candidates")


@dataclass
class Plan:
    """One solved scenario. `document` is plan.json; the table properties are views of it as DataFrames."""

    outcome: PlanOutcome
    overrides: dict[str, Any]

    @property
    def document(self) -> dict[str, Any]:
        return self.outcome.plan

    @property
    def exit_code(self) -> int:
        """What `planner plan` exits with: 0 plan found, 3 demand left unserved (see README Failure modes)."""
        return self.outcome.exit_code

    @property
    def status(self) -> str:
        return str(self.document["status"])

    @property
    def objective_usd(self) -> float | None:
        """Objective of the plan found in USD (net horizon cost + epsilon terms); None when the objective is not money."""
        return self.document.get("objective_usd")

    @property
    def best_bound_usd(self) -> float | None:
        """Proven lower bound on the objective, USD: the solver's, or on a capped option set the LP bound on every
        undominated option (None when unknown; see `document["option_set"]`)."""
        return self.document.get("best_bound_usd")

    @property
    def mip_gap(self) -> float | None:
        """Relative gap between objective and bound (0.01 = 1 %)."""
        return self.document.get("mip_gap")

    @property
    def kpis(self) -> dict[str, Any]:
        return dict(self.document.get("kpis") or {})

    def table(self, name: str) -> pd.DataFrame:
        """Any list-of-rows table of plan.json as a DataFrame (empty DataFrame when absent)."""
        return pd.DataFrame(self.document.get(name) or [])

    purchases = property(lambda self: self.table("purchases"), doc="Orders: chip, quarter ordered/delivered, servers, capex.")
    racks = property(lambda self: self.table("racks"), doc="Racks used per site, rack type, chip and quarter.")
    deployments = property(lambda self: self.table("deployments"), doc="Replicas per workload, chip, layout and quarter.")
    capacity = property(lambda self: self.table("capacity"), doc="Served vs required tokens/s per workload and quarter.")
    power = property(lambda self: self.table("power"), doc="IT power per site and quarter vs its cap, kW.")
    binding = property(lambda self: self.table("binding"), doc="Binding limits with LP shadow prices.")
    diagnosis = property(lambda self: self.table("diagnosis"), doc="What is short and why (infeasible plans).")
    options = property(lambda self: self.table("options"), doc="Performance model's deployment options.")
    candidates = property(lambda self: self.table("candidates"), doc="Every candidate chip per workload and quarter, and why it lost.")

    def write(self, out_dir: str | Path, force: bool = False) -> Path:
        """Write the run folder (plan.json, plan.xlsx, report.html, csv/) atomically; returns its path."""
        from planner.run_output import write_run_folder

        out = Path(out_dir)
        write_run_folder(self.outcome, out, force)
        return out


def plan(
    scenario_path: str | Path, overrides: Iterable[str] | Mapping[str, Any] | None = None,
    solver: Mapping[str, Any] | None = None, progress: Callable[[str], None] | None = None,
) -> Plan:
    """Load, validate, model and solve one scenario.

    overrides: what-ifs on the scenario, `{"chip_terms.b200.price_usd_per_server": 300000}` or
    `["policy.allowed_chips+=b200"]` (same syntax and checks as `--set`).
    solver: solver settings (`name`, `time_limit_s`, `mip_gap`, `threads`, `seed`, `strategy`); None values keep
    the scenario's.
    """
    from planner.io.overrides import normalise_sets

    sets = normalise_sets(overrides, Path(scenario_path).name)
    outcome = plan_scenario(scenario_path, dict(solver or {}), progress=progress, sets=sets or None)
    if sets:
        outcome.plan["overrides"] = [{"path": k, "value": v} for k, v in sets.items()]
    if outcome.plan.get("deployments"):
        outcome.plan["candidates"] = _candidates(scenario_path, sets, outcome.plan)
    return Plan(outcome, sets)


def _candidates(scenario_path: str | Path, sets: dict[str, Any], plan_doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every candidate chip per workload and quarter and why it lost (solvers.candidates_explain)."""
    from planner.io.loader import load_inputs
    from planner.pipeline import deployment_table
    from solvers.candidates_explain import explain_candidates
    from solvers.sets import build_sets

    inputs = load_inputs(scenario_path, sets or None)
    S = build_sets(inputs, deployment_table(inputs))
    return explain_candidates(S, plan_doc)
