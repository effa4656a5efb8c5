"""`planner replan --set`: what-ifs applied to the new scenario exactly as `planner plan` applies them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.whatif_cases import write_twins


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "planner.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cycle")
    scenario = write_twins(folder / "sc", quarters=3)  # constant demand: twin_a ($100k) bought in 2027Q1
    r = _cli("plan", str(scenario), "--out", str(folder / "p0"), "--quiet")
    assert r.returncode == 0, r.stderr
    return scenario, folder / "p0" / "plan.json"


def _replan(scenario: Path, plan: Path, out: Path, *sets: str) -> subprocess.CompletedProcess[str]:
    args = ["replan", str(scenario), "--from", str(plan), "--commit-through", "2027Q1", "--out", str(out), "--quiet"]
    for s in sets:
        args += ["--set", s]
    return _cli(*args)


def test_set_is_applied_as_editing_the_scenario(cycle: tuple[Path, Path], tmp_path: Path) -> None:
    scenario, plan = cycle
    r = _replan(scenario, plan, tmp_path / "a", "policy.capex_budget_usd_total=5000000")
    assert r.returncode == 0, r.stderr
    got = json.loads((tmp_path / "a" / "plan.json").read_text())
    spent = got["replan"]["committed_capex_usd"]
    assert spent > 0
    assert got["limits"]["budget_usd_total"] == pytest.approx(5_000_000 - spent)  # the budget the --set gave, less spent
    assert got["overrides"] == [{"path": "policy.capex_budget_usd_total", "value": 5_000_000}]
    # The same value written into the scenario file gives the same re-plan.
    raw = yaml.safe_load(scenario.read_text())
    raw["policy"]["capex_budget_usd_total"] = 5_000_000
    edited = scenario.with_name("edited.yaml")
    edited.write_text(yaml.safe_dump(raw))
    r2 = _replan(edited, plan, tmp_path / "b")
    assert r2.returncode == 0, r2.stderr
    other = json.loads((tmp_path / "b" / "plan.json").read_text())
    assert other["limits"] == got["limits"] and other["purchases"] == got["purchases"]


def test_without_set_the_budget_is_the_scenarios(cycle: tuple[Path, Path], tmp_path: Path) -> None:
    scenario, plan = cycle  # the twins scenario has no total budget
    r = _replan(scenario, plan, tmp_path / "a")
    assert r.returncode == 0, r.stderr
    got = json.loads((tmp_path / "a" / "plan.json").read_text())
    assert got["limits"]["budget_usd_total"] is None and "overrides" not in got


@pytest.mark.parametrize("sets", [["policy.nope=1"], ["solver.mip_gap=2"], ["policy.headroom_fraction=-1", "policy.capex_budgte=3"],
                                  ["novalue"]])
def test_bad_set_exits_2_with_the_locators_of_plan(cycle: tuple[Path, Path], tmp_path: Path, sets: list[str]) -> None:
    scenario, plan = cycle
    r = _replan(scenario, plan, tmp_path / "r", *sets)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "(twins.yaml --set" in r.stderr and "Traceback" not in r.stderr
    p_args = ["plan", str(scenario), "--out", str(tmp_path / "p"), "--quiet"]
    for s in sets:
        p_args += ["--set", s]
    p = _cli(*p_args)
    assert p.returncode == 2
    assert r.stderr == p.stderr  # the same problems, located the same way
    assert not (tmp_path / "r").exists()
