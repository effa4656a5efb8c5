"""`planner replan --from plan.json`: a foreign or hand-edited previous plan is refused with every problem located
(`(plan.json, purchases[3].servers) | ...`), never used to inflate the budget or crash. Tiny cases of tests/test_replan."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.replan.run import replan_inputs
from planner.schemas.replan import MAX_ORDER_SERVERS, MAX_ORDER_USD, MAX_UNIT_PRICE_USD, PreviousOrder
from tests.milp_cases import make_chip, make_inputs, make_options, make_site
from tests.test_replan import A_ROW, BASE, EXACT, _first_plan
from tests.whatif_cases import write_twins


def _inputs(budget=400_000):  # type: ignore[no-untyped-def]
    return make_inputs([make_chip("a", price_usd_per_server=100_000)], BASE, sites=[make_site(usd_per_kwh=0.1)],
                       policy={"capex_budget_usd_total": budget})


@pytest.fixture(scope="module")
def plan0() -> dict:
    return _first_plan(_inputs(), [A_ROW])  # one server in each of 2027Q1..Q4 (tests/test_replan)


@pytest.fixture(scope="module")
def plan1(plan0: dict) -> dict:
    out = replan_inputs(_inputs(), plan0, "2027Q1", EXACT, options_for=lambda inp: make_options([A_ROW], inp.quarters))
    return json.loads(json.dumps(out.plan))


def _problems(prev: dict, through: str = "2027Q2", inputs=None) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as exc:
        replan_inputs(inputs or _inputs(), prev, through, EXACT, options_for=lambda inp: make_options([A_ROW], inp.quarters))
    return [(p.file, p.locator, p.message) for p in exc.value.problems]


NUMERIC = {"servers": MAX_ORDER_SERVERS, "unit_price_usd": MAX_UNIT_PRICE_USD, "cost_usd": MAX_ORDER_USD}
BAD = {"negative": (-1, "must be 0 or more"), "nan": (math.nan, "finite"), "inf": (-math.inf, "finite"),
       "huge": (1e30, "at most"), "bool": (True, "must be a number"), "text": ("100", "must be a number"),
       "null": (None, "must be a number")}


def test_every_numeric_field_of_an_order_line_is_checked() -> None:
    # The parametrized cases below cover every numeric field the strict schema declares, and nothing else.
    numeric = {n for n, f in PreviousOrder.model_fields.items() if f.annotation in (int, float)}
    assert numeric == set(NUMERIC)


@pytest.mark.parametrize("where", ["purchases", "replan.committed_purchases"])
@pytest.mark.parametrize("field", sorted(NUMERIC))
@pytest.mark.parametrize("bad", sorted(BAD))
def test_bad_number_in_an_order_line_is_located(plan1: dict, where: str, field: str, bad: str) -> None:
    prev = copy.deepcopy(plan1)
    rows = prev["purchases"] if where == "purchases" else prev["replan"]["committed_purchases"]
    value, says = BAD[bad]
    rows[0][field] = value
    (problem,) = _problems(prev)
    assert problem[:2] == ("plan.json", f"{where}[0].{field}")
    assert says in problem[2]


def test_negative_cost_does_not_inflate_the_budget(plan0: dict) -> None:
    # Hand-editing a committed order's cost to -$20M would leave $400k + $20M - $100k of budget; refused instead.
    prev = copy.deepcopy(plan0)
    prev["purchases"][0]["cost_usd"] = -20_000_000
    (problem,) = _problems(prev, "2027Q1")
    assert problem[1] == "purchases[0].cost_usd" and "cannot be negative" in problem[2]


def test_cost_that_is_not_servers_times_price_is_refused(plan0: dict) -> None:
    prev = copy.deepcopy(plan0)
    prev["purchases"][1]["cost_usd"] = 1.0  # servers 1 x $100,000
    (problem,) = _problems(prev)
    assert problem[1] == "purchases[1].cost_usd" and "100,000.00" in problem[2]


def test_every_problem_is_reported_at_once(plan1: dict) -> None:
    prev = copy.deepcopy(plan1)
    prev["purchases"][0]["servers"] = -2
    prev["purchases"][1]["chip"] = "zz9"
    prev["purchases"][2]["delivery_quarter"] = "2026Q4"
    prev["replan"]["committed_purchases"][0]["order_quarter"] = "2027Q5"
    prev["replan"]["committed_purchases"].append({**prev["purchases"][2], "site": "nowhere", "delivery_quarter": "2027Q4"})
    found = {loc for _, loc, _ in _problems(prev)}
    assert found == {"purchases[0].servers", "purchases[1].chip", "purchases[2].delivery_quarter",
                     "replan.committed_purchases[0].order_quarter", "replan.committed_purchases[1].site",
                     "replan.committed_purchases[1].order_quarter"}  # also placed after replan.commit_through 2027Q1


def test_missing_rack_type_and_malformed_quarters(plan0: dict) -> None:
    prev = copy.deepcopy(plan0)
    del prev["purchases"][0]["rack_type"]
    prev["purchases"][1]["order_quarter"] = "2027-Q2"
    prev["horizon"]["quarters"] = ["2027Q1", "2027Q3"]
    found = {loc: msg for _, loc, msg in _problems(prev)}
    assert set(found) == {"purchases[0].rack_type", "purchases[1].order_quarter", "horizon.quarters"}
    assert "consecutive" in found["horizon.quarters"]


def test_replan_orders_inside_its_committed_quarters_are_refused(plan1: dict) -> None:
    # A re-plan's own purchases all come after its commit quarter; one before it would be counted twice.
    prev = copy.deepcopy(plan1)
    prev["purchases"][0]["order_quarter"] = "2027Q1"
    (problem,) = _problems(prev)
    assert problem[1] == "purchases[0].order_quarter" and "commit_through 2027Q1" in problem[2]


def _scenario(quarters: list[str], demand: float = 32_000):  # type: ignore[no-untyped-def]
    return make_inputs([make_chip("a", price_usd_per_server=100_000)], dict.fromkeys(quarters, demand),
                       sites=[make_site(usd_per_kwh=0.1)])


@pytest.mark.parametrize(("quarters", "through"), [
    (["2029Q1", "2029Q2", "2029Q3", "2029Q4"], "2028Q4"),  # a year after the previous plan's 2027Q1..Q4
    (["2028Q1", "2028Q2", "2028Q3"], "2028Q1"),  # 2028Q1 planned by nobody
    (["2026Q1", "2026Q2", "2026Q3", "2026Q4"], "2026Q1"),  # the previous plan lies after the new horizon
])
def test_plan_of_a_non_overlapping_horizon_is_refused(plan0: dict, quarters: list[str], through: str) -> None:
    (problem,) = _problems(copy.deepcopy(plan0), through, _scenario(quarters))
    assert problem[1] == "horizon.quarters" and "neither overlaps nor directly precedes" in problem[2]


def test_partial_overlap_is_accepted(plan0: dict) -> None:
    # Overlap by one quarter: the previous plan's 2027Q4 order is re-decided in the new horizon (kept: 4 servers
    # serve 32k tokens/s, 3 of them committed).
    out = replan_inputs(_scenario(["2027Q4", "2028Q1"]), plan0, "2027Q3", EXACT,
                        options_for=lambda inp: make_options([A_ROW], inp.quarters))
    assert out.exit_code == 0
    assert out.plan["horizon"]["quarters"] == ["2027Q4", "2028Q1"]
    assert [(p["order_quarter"], p["servers"]) for p in out.plan["purchases"]] == [("2027Q4", 1)]


def test_next_horizon_right_after_the_previous_plan_is_accepted(plan0: dict) -> None:
    # Commit all of 2027 (4 servers, 32k tokens/s) and plan 2028Q1..Q2 at 40k tokens/s: one more server.
    out = replan_inputs(_scenario(["2028Q1", "2028Q2"], 40_000), plan0, "2027Q4", EXACT,
                        options_for=lambda inp: make_options([A_ROW], inp.quarters))
    assert out.exit_code == 0
    assert len(out.plan["replan"]["committed_purchases"]) == 4
    assert [(p["order_quarter"], p["servers"]) for p in out.plan["purchases"]] == [("2028Q1", 1)]


# ---------------------------------------------------------------- through the CLI (read_plan + the strict checks)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "planner.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def twins_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("twins")
    scenario = write_twins(folder / "sc", quarters=3)
    r = _cli("plan", str(scenario), "--out", str(folder / "p0"), "--quiet")
    assert r.returncode == 0, r.stderr
    return scenario, folder / "p0" / "plan.json"


def _edited(plan_path: Path, tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    data = json.loads(plan_path.read_text())
    edit(data)
    out = tmp_path / "plan.json"
    out.write_text(json.dumps(data))
    return out


@pytest.mark.parametrize("value", [-5, 2.5, True, "7"])
def test_cli_bad_server_count_exits_2_located(twins_plan: tuple[Path, Path], tmp_path: Path, value: object) -> None:
    scenario, plan = twins_plan

    def edit(d: dict) -> None:
        d["purchases"][0]["servers"] = value
        d["purchases"][0]["chip"] = "nope"  # reported in the same run

    r = _cli("replan", str(scenario), "--from", str(_edited(plan, tmp_path, edit)), "--commit-through", "2027Q1",
             "--out", str(tmp_path / "o"), "--quiet")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "(plan.json, purchases[0].servers) |" in r.stderr
    assert "(plan.json, purchases[0].chip) |" in r.stderr
    assert "Traceback" not in r.stderr and "pydantic" not in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("through", ["2026Q3", "2026Q1", "2020Q1", "1999Q4"])
def test_commit_through_before_the_previous_plans_horizon_is_refused(plan0: dict, through: str) -> None:
    # plan0 covers 2027Q1..Q4: committing through a quarter before 2026Q4 (a typo, 2020 for 2027) used to re-plan
    # every quarter with "0 orders placed through 2020Q1 are fixed", exit 0.
    problems = _problems(copy.deepcopy(plan0), through)
    assert [(p[0], p[1]) for p in problems] == [("command line", "--commit-through")], problems
    assert "before the previous plan's horizon (2027Q1..2027Q4)" in problems[0][2] and "2026Q4" in problems[0][2]


def test_commit_through_the_quarter_before_the_previous_plan_keeps_none_of_it(plan0: dict) -> None:
    out = replan_inputs(_inputs(), copy.deepcopy(plan0), "2026Q4", EXACT,
                        options_for=lambda inp: make_options([A_ROW], inp.quarters))
    assert out.plan["replan"]["committed_purchases"] == []
