"""`compare` and `sweep` exit with the worst outcome of their scenarios or points (README "Failure modes"): 0 only
when every one serves every demand row, 3 when one is infeasible or leaves demand short, 4 when one gave no plan,
while the comparison or table of all of them is still written and the failing ones are named.

Tiny twins scenarios (tests/whatif_cases.py): one server of $100k serves the demand, so a capex budget of $50k
leaves no plan that meets it (infeasible, derived by hand) and $200k does.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from planner.errors import EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_NO_PLAN, EXIT_OK, worst_outcome
from planner.pipeline import plan_exit_code
from planner.sweep.engine import point_exit_code
from tests.whatif_cases import write_twins

BUDGET = "policy.capex_budget_usd_total"


def _main(args: list[str]) -> tuple[int, str, str]:
    from planner.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def _variant(folder: Path, name: str, **policy: Any) -> Path:
    """The twins scenario under another name, with `policy` fields changed."""
    path = write_twins(folder)
    doc = yaml.safe_load(path.read_text())
    doc["name"] = name
    doc["policy"].update(policy)
    out = folder / f"{name}.yaml"
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def _statuses(xlsx: Path) -> list[Any]:
    table = pd.read_excel(xlsx, sheet_name="Comparison", header=3)
    return list(table[table["Figure"] == "Status"].iloc[0, 1:3])


def test_worst_outcome_order() -> None:
    assert worst_outcome([]) == EXIT_OK
    assert worst_outcome([EXIT_OK, EXIT_INFEASIBLE, EXIT_OK]) == EXIT_INFEASIBLE
    assert worst_outcome([EXIT_INFEASIBLE, EXIT_NO_PLAN, EXIT_OK]) == EXIT_NO_PLAN
    assert worst_outcome([EXIT_NO_PLAN, EXIT_BAD_INPUT, EXIT_INFEASIBLE]) == EXIT_BAD_INPUT


def test_plan_exit_code_reads_the_document() -> None:
    served = {"status": "optimal", "capacity": [{"unmet_tokens_per_s": 0.0, "required_tokens_per_s": 100.0}]}
    short = {"status": "optimal", "capacity": [{"unmet_tokens_per_s": 5.0, "required_tokens_per_s": 100.0}]}
    tail = {"status": "optimal", "capacity": [{"unmet_tokens_per_s": 5.0, "required_tokens_per_s": 100.0, "tail": True}]}
    assert [plan_exit_code(p) for p in (served, short, tail, {"status": "infeasible"})] == [0, 3, 0, 3]
    rows = [{"status": "optimal", "demand_served": True}, {"status": "optimal", "demand_served": False},
            {"status": "infeasible"}, {"status": "no_plan"}, {"status": "crashed"}, {"status": "bad_input"}]
    assert [point_exit_code(r) for r in rows] == [0, 3, 3, 4, 4, 2]


def test_compare_with_an_infeasible_scenario_exits_3_and_still_compares(tmp_path: Path) -> None:
    ok = _variant(tmp_path / "a", "rich", capex_budget_usd_total=200_000)
    broke = _variant(tmp_path / "b", "broke", capex_budget_usd_total=50_000)
    out = tmp_path / "cmp"
    code, stdout, err = _main(["compare", str(ok), str(broke), "--cache-dir", str(tmp_path / "cache"), "--quiet",
                               "--out", str(out)])
    assert code == EXIT_INFEASIBLE, err
    assert (out / "comparison.xlsx").is_file() and (out / "comparison.html").is_file()
    assert _statuses(out / "comparison.xlsx") == ["optimal", "infeasible"]
    assert "1 of 2 scenarios did not serve every demand row" in err
    [line] = [x for x in err.splitlines() if "broke" in x and "exit 3" in x]
    assert str(broke) in line and "infeasible" in line
    assert "rich" not in err.split("did not serve")[1]
    # cached: the second run reads both plans from the cache (no solve) and gives the same code from plan.json
    cached = sorted((tmp_path / "cache").glob("*.json"))
    assert len(cached) == 2
    stamps = [f.stat().st_mtime_ns for f in cached]
    code2, _, err2 = _main(["compare", str(ok), str(broke), "--cache-dir", str(tmp_path / "cache"), "--quiet",
                            "--force", "--out", str(out)])
    assert code2 == EXIT_INFEASIBLE and [x for x in err2.splitlines() if str(broke) in x and "exit 3" in x], err2
    assert [f.stat().st_mtime_ns for f in cached] == stamps


def test_compare_of_served_scenarios_exits_0(tmp_path: Path) -> None:
    ok = _variant(tmp_path / "a", "rich", capex_budget_usd_total=200_000)
    ok2 = _variant(tmp_path / "b", "richer", capex_budget_usd_total=300_000)  # one file twice is refused (exit 2)
    code, _, err = _main(["compare", str(ok), str(ok2), "--cache-dir", str(tmp_path / "cache"), "--quiet",
                          "--out", str(tmp_path / "cmp")])
    assert code == EXIT_OK and "did not serve" not in err, err


def test_compare_with_a_scenario_without_plan_exits_4_and_compares_the_others(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The solver returns nothing within its time limit for one scenario (stood in for at the solver call: the
    scenario whose time limit is 29 s gets `no_plan`); the other is planned for real."""
    import planner.pipeline as pipeline
    from solvers.result import SolveResult

    real = pipeline.solve

    def solver(m, settings, *a, **k):  # type: ignore[no-untyped-def]
        if settings.time_limit_s == 29:
            return SolveResult("no_plan", "Time limit reached", None, None, None, 29.0, "highs", "", {}, [])
        return real(m, settings, *a, **k)

    monkeypatch.setattr(pipeline, "solve", solver)
    ok = _variant(tmp_path / "a", "rich", capex_budget_usd_total=200_000)
    slow = _variant(tmp_path / "b", "slow")
    doc = yaml.safe_load(slow.read_text())
    doc["solver"]["time_limit_s"] = 29
    slow.write_text(yaml.safe_dump(doc))
    broke = _variant(tmp_path / "c", "broke", capex_budget_usd_total=50_000)
    out = tmp_path / "cmp"
    code, stdout, err = _main(["compare", str(ok), str(slow), str(broke), "--cache-dir", str(tmp_path / "cache"),
                               "--quiet", "--out", str(out)])
    assert code == EXIT_NO_PLAN, err  # worse than the infeasible one
    table = pd.read_excel(out / "comparison.xlsx", sheet_name="Comparison", header=3)
    assert list(table[table["Figure"] == "Status"].iloc[0, 1:4]) == ["optimal", "no_plan", "infeasible"]
    assert "slow: no plan" in stdout
    assert [x for x in err.splitlines() if str(slow) in x and "exit 4" in x and "time limit" in x]
    assert [x for x in err.splitlines() if str(broke) in x and "exit 3" in x]
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2  # the final outcomes only, not the missing plan


def test_sweep_with_an_infeasible_point_exits_3_and_writes_every_row(tmp_path: Path) -> None:
    sc = write_twins(tmp_path / "sc")
    out = tmp_path / "sw"
    code, _, err = _main(["sweep", str(sc), "--param", f"{BUDGET}=50000,200000", "--workers", "1", "--quiet",
                          "--out", str(out)])
    assert code == EXIT_INFEASIBLE, err
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["status"]) == ["infeasible", "optimal"]
    assert list(table["demand_served"]) == [False, True]
    assert "1 of 2 points did not serve every demand row" in err
    [line] = [x for x in err.splitlines() if x.strip().startswith("point ")]
    assert line.strip().startswith(f"point 0 ({BUDGET}=50000)") and "exit 3" in line
    # resumed from the cache: the same code
    code2, _, _ = _main(["sweep", str(sc), "--param", f"{BUDGET}=50000,200000", "--workers", "1", "--quiet",
                         "--out", str(out)])
    assert code2 == EXIT_INFEASIBLE


def test_sweep_of_served_points_exits_0(tmp_path: Path) -> None:
    sc = write_twins(tmp_path / "sc")
    code, _, err = _main(["sweep", str(sc), "--param", f"{BUDGET}=100000,200000", "--workers", "1", "--quiet",
                          "--out", str(tmp_path / "sw")])
    assert code == EXIT_OK and "did not serve" not in err, err


def test_sweep_with_a_bad_point_exits_2_before_an_infeasible_one(tmp_path: Path) -> None:
    # A 2 x 2 grid: headroom -0.5 is refused by the scenario schema (bad input, two points), budget $50k with
    # headroom 0 is infeasible, $200k serves everything. The worst, bad input, decides; all four rows are written.
    sc = write_twins(tmp_path / "sc")
    out = tmp_path / "sw"
    code, _, err = _main(["sweep", str(sc), "--param", "policy.headroom_fraction=-0.5,0", "--param",
                          f"{BUDGET}=50000,200000", "--workers", "1", "--quiet", "--out", str(out)])
    assert code == EXIT_BAD_INPUT, err
    table = pd.read_csv(out / "sweep.csv")
    assert sorted(table["status"]) == ["bad_input", "bad_input", "infeasible", "optimal"]
    assert "3 of 4 points did not serve every demand row" in err
    assert len([x for x in err.splitlines() if "exit 2" in x and "headroom_fraction" in x]) == 2


# The "no plan within the time limit" message quotes the solver's status without stray separators: the
# fix-and-optimize status was "LP Optimal; " + the phases, and with no phase run it read "(solver status: ...; )".
@pytest.mark.parametrize(("raw", "note"), [
    ("fix-and-optimize: LP Optimal; ", " (solver status: fix-and-optimize: LP Optimal)"),
    ("Time limit reached", " (solver status: Time limit reached)"),
    ("a;  b ;", " (solver status: a; b)"),
    ("status=Not Solved sol_status=No Solution Found", " (solver status: status=Not Solved sol_status=No Solution Found)"),
    ("", ""), ("  ; ", ""),
])
def test_status_note_has_no_stray_separators(raw: str, note: str) -> None:
    from solvers.result import SolveResult

    assert SolveResult("no_plan", raw, None, None, None, 0.0, "highs", "x").status_note() == note


def test_no_plan_within_the_time_limit_message_shape(tmp_path: Path) -> None:
    import re

    from planner.cli import main
    from tests.test_robust_corpus import assemble

    sc = assemble(None, tmp_path / "sc")
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["plan", str(sc), "--out", str(tmp_path / "out"), "--time-limit", "0.01", "--quiet"])
    text = err.getvalue()
    assert code == EXIT_NO_PLAN, text
    assert re.search(r"no plan found within the time limit of 0\.01 s \(solver status: [^()]*[^;:,\s]\)\. Raise "
                     r"--time-limit", text), text
    assert not (tmp_path / "out").exists()
