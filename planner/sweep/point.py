"""One sweep point: plan the scenario with its `--set` values and keep the figures a sweep compares."""

from __future__ import annotations

import hashlib
import json
from typing import Any

METRICS = ("objective_usd", "best_bound_usd", "mip_gap", "capex_usd", "tco_usd", "energy_usd", "facility_usd",
           "usd_per_million_tokens")


def point_key(scenario: str, sets: dict[str, Any], solver: dict[str, Any]) -> str:
    """Hash of the input files' bytes, the resolved scenario (with the point's values), solver settings and the
    planner's own code and bundled data (`planner.source_digest`)."""
    from planner.io.loader import load_inputs
    from planner.source_digest import planner_digest

    inputs = load_inputs(scenario, sets)
    blob = json.dumps({"files": inputs.file_hashes, "resolved": inputs.scenario.model_dump(mode="json"),
                       "solver": solver, "planner": planner_digest()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def at_param(problems: list[Any], scenario: str, swept: tuple[str, ...] | list[str]) -> list[Any]:
    """Problems of a swept path's value (or inside it) located at `--param`, `(example.yaml --param, PATH)`, not at
    `--set`: the value came from the sweep's `--param`, and a fixed `--set` value keeps its own label."""
    from pathlib import Path

    from planner.errors import Problem
    from planner.io.overrides import APPEND, set_label

    name = Path(scenario).name or str(scenario)
    at_set, at_swept = set_label(name), f"{name} --param"
    paths = [s.rstrip(APPEND) for s in swept]

    def swept_value(locator: str) -> bool:
        return any(locator == s or locator.startswith((f"{s}.", f"{s}[", f"{s} ")) for s in paths)

    return [Problem(at_swept, p.locator, p.message) if p.file == at_set and swept_value(p.locator) else p
            for p in problems]


def run_point(scenario: str, sets: dict[str, Any], solver: dict[str, Any],
              swept: tuple[str, ...] = ()) -> dict[str, Any]:
    """Plan one point; never raises for a bad or unsolvable point (the row says what happened). `swept`: the paths
    whose values came from `--param` (a problem in one is located there, see `at_param`)."""
    from planner.api import plan
    from planner.errors import InputError, PlannerError

    row: dict[str, Any] = dict(sets)
    try:
        p = plan(scenario, sets, solver)
    except InputError as exc:
        problems = at_param(exc.problems, scenario, swept)
        return row | {"status": "bad_input", "message": "; ".join(str(x) for x in problems)[:500]}
    except PlannerError as exc:
        return row | {"status": "no_plan", "message": str(exc)[:500]}
    row["status"] = p.status
    row["demand_served"] = p.exit_code == 0  # every demand row of the horizon served (what `planner plan` exits 0 on)
    kpis = p.kpis
    for m in METRICS:
        row[m] = getattr(p, m) if m in ("objective_usd", "best_bound_usd", "mip_gap") else kpis.get(m)
    for r in p.document.get("purchases", []):
        key = f"servers_{r['chip']}"
        row[key] = row.get(key, 0) + int(r["servers"])
    row["solve_seconds"] = (p.document.get("solver") or {}).get("solve_seconds")
    return row
