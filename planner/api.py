"""The planner as a Python library: `plan(scenario, overrides=...)` returns a `Plan` whose tables are DataFrames.

    from planner.api import plan
    p = plan("inputs/scenarios/example.yaml", overrides={"policy.headroom_fraction": 0.2})
    p.status, p.objective_usd, p.best_bound_usd, p.mip_gap
    p.purchases.groupby("chip")["servers"].sum()
    p.write("outputs/what_if")            # plan.json, plan.xlsx, report.html, csv/

`planner plan` is this function plus `Plan.write`. Input problems raise `planner.errors.InputError` (every
problem with its locator), solver failures `planner.errors.PlannerError` (with `exit_code`).
"""

from __future__ import annotations

import difflib
import os
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
        """Any list-of-rows table of plan.json as a DataFrame (empty DataFrame when one of `TABLES` is absent).

        Raises `InputError` for a name that is not a table of plan.json (with a did-you-mean)."""
        from planner.errors import InputError, Problem

        value = self.document.get(name) if isinstance(name, str) else None
        rows = isinstance(value, list) and all(isinstance(r, Mapping) for r in value)
        if rows or (isinstance(name, str) and name in TABLES and value is None):
            return pd.DataFrame(value or [])
        known = sorted({*TABLES, *(k for k, v in self.document.items() if isinstance(v, list) and v
                                  and all(isinstance(r, Mapping) for r in v))})
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"tables: {', '.join(known)}"
        what = "is not a table (rows) of plan.json" if isinstance(name, str) and name in self.document else "is not a table of plan.json"
        raise InputError([Problem("Plan.table() arguments", "name", f"{name!r:.60} {what}; {hint}")])

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
        from planner.errors import InputError, Problem
        from planner.run_output import write_run_folder

        problems = []
        if isinstance(out_dir, bytes) or not isinstance(out_dir, (str, os.PathLike)) or not str(out_dir).strip():
            problems.append(Problem("Plan.write() arguments", "out_dir", f"expected the path of a folder (str or Path), got "
                                    f"{type(out_dir).__name__} {out_dir!r:.60}"))
        if not isinstance(force, bool):
            problems.append(Problem("Plan.write() arguments", "force", f"expected True or False, got {type(force).__name__} {force!r:.60}"))
        if problems:
            raise InputError(problems)
        out = Path(out_dir)
        write_run_folder(self.outcome, out, force)
        return out


#: How problems name the arguments of `plan()` (there is no file: the caller wrote them).
API_LABEL = "plan() arguments"


def check_arguments(scenario_path: Any, overrides: Any, solver: Any, progress: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(`--set` mapping, solver settings) from `plan()`'s arguments; raises `InputError` listing every bad one.

    `overrides`: None, one string `"a.b=v"`, a list (or other iterable) of such strings, or a mapping path -> value.
    `solver`: None or a mapping of `SolverSettings` fields (None values keep the scenario's)."""
    from pydantic import ValidationError

    from planner.errors import InputError, Problem
    from planner.io.overrides import normalise_sets
    from planner.io.validate import error_message
    from planner.schemas.common import file_name_problem
    from planner.schemas.scenario import SolverSettings

    problems: list[Problem] = []
    if isinstance(scenario_path, bytes) or not isinstance(scenario_path, (str, os.PathLike)) or not str(scenario_path).strip():
        problems.append(Problem(API_LABEL, "scenario_path", f"expected the path of a scenario YAML file (str or Path), got "
                                f"{type(scenario_path).__name__} {scenario_path!r:.60}"))
    elif file_name_problem(str(scenario_path)):
        problems.append(Problem(API_LABEL, "scenario_path", f"{file_name_problem(str(scenario_path))}"))
    label = Path(scenario_path).name if not problems else "scenario"
    items: Any = overrides
    if isinstance(overrides, (set, frozenset)):
        problems.append(Problem(API_LABEL, "overrides", "a set has no order, and overrides apply in order (a path given "
                                "twice keeps its last value); pass a list of strings or a mapping"))
        overrides = items = None
    if overrides is not None and not isinstance(overrides, (str, Mapping)):
        if isinstance(overrides, (bytes, bytearray)) or not isinstance(overrides, Iterable):
            problems.append(Problem(API_LABEL, "overrides", "expected a mapping {'policy.headroom_fraction': 0.2}, a string "
                                    f"'policy.headroom_fraction=0.2' or a list of such strings, got {type(overrides).__name__}"))
            items = None
        else:
            items = list(overrides)
            bad = [i for i, x in enumerate(items) if not isinstance(x, str)]
            problems += [Problem(API_LABEL, f"overrides[{i}]", f"expected a string KEY.PATH=VALUE, got "
                                 f"{type(items[i]).__name__} {items[i]!r:.60}") for i in bad]
            items = [x for x in items if isinstance(x, str)]
    sets: dict[str, Any] = {}
    try:
        sets = normalise_sets(items, label)
    except InputError as exc:
        problems += exc.problems
    settings: dict[str, Any] = {}
    if solver is not None and not isinstance(solver, Mapping):
        problems.append(Problem(API_LABEL, "solver", f"expected a mapping of solver settings ({', '.join(SolverSettings.model_fields)}), "
                                f"got {type(solver).__name__}"))
    elif solver is not None:
        for key, value in solver.items():
            if not isinstance(key, str) or key not in SolverSettings.model_fields:
                close = difflib.get_close_matches(str(key), list(SolverSettings.model_fields), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(SolverSettings.model_fields)}"
                problems.append(Problem(API_LABEL, f"solver.{key}", f"unknown solver setting; {hint}"))
                continue
            if value is None:
                continue
            if isinstance(value, bool) and key != "name":
                problems.append(Problem(API_LABEL, f"solver.{key}", f"expected a number, got the boolean {value}"))
                continue
            try:
                SolverSettings.model_validate({key: value})
            except ValidationError as exc:
                problems += [Problem(API_LABEL, f"solver.{key}", error_message(e)) for e in exc.errors()]
                continue
            settings[key] = value
    if progress is not None and not callable(progress):
        problems.append(Problem(API_LABEL, "progress", f"expected a function taking one message string, got {type(progress).__name__}"))
    if problems:
        raise InputError(problems)
    return sets, settings


def plan(
    scenario_path: str | Path, overrides: Iterable[str] | Mapping[str, Any] | str | None = None,
    solver: Mapping[str, Any] | None = None, progress: Callable[[str], None] | None = None,
) -> Plan:
    """Load, validate, model and solve one scenario.

    overrides: what-ifs on the scenario, `{"chip_terms.b200.price_usd_per_server": 300000}`,
    `["policy.allowed_chips+=b200"]` or one string `"policy.headroom_fraction=0.2"` (same syntax and checks as
    `--set`).
    solver: solver settings (`name`, `time_limit_s`, `mip_gap`, `threads`, `seed`, `strategy`); None values keep
    the scenario's. Bad arguments raise `InputError` naming each (`(plan() arguments, solver.mip_gap) | ...`).
    """
    sets, settings = check_arguments(scenario_path, overrides, solver, progress)
    outcome = plan_scenario(scenario_path, settings, progress=progress, sets=sets or None)
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
