"""Infeasibility that isn't (#24): the diagnosis tells demand unmet from a headroom buffer left short.

Tiny cases derived by hand. Chip `a`: $100,000 per server of 8 chips, one chip per replica at 1,000 tokens/s, so a
server serves 8,000 tokens/s. Forecast peak 16,000 tokens/s in one quarter, policy.headroom_fraction 0.25: the
plan must hold D = 16,000 x 1.25 = 20,000 tokens/s, i.e. 3 servers ($300,000; 2.5 rounded up).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from planner.errors import InputError
from planner.pipeline import (
    DIAGNOSIS_MAX_NODES,
    DIAGNOSIS_TIME_LIMIT_S,
    NOT_PROVEN,
    diagnosis_settings,
    run_diagnosis,
    stopped_by,
)
from planner.results.summary import diagnosis_sentences, headroom_only, plan_status_text, status_label
from planner.schemas.scenario import SolverSettings
from solvers.backends import SolveResult
from solvers.build import build_model
from solvers.sets import build_sets
from solvers.solve import solve
from tests.milp_cases import make_chip, make_inputs, make_options

EXACT = SolverSettings(name="highs", time_limit_s=30, mip_gap=0.0, threads=1, seed=0)


def _sets(budget_usd: float, headroom: float = 0.25):  # type: ignore[no-untyped-def]
    a = make_chip("a", price_usd_per_server=100_000)
    inputs = make_inputs([a], {"2027Q1": 16_000},
                         policy={"capex_budget_usd_total": budget_usd, "headroom_fraction": headroom})
    return build_sets(inputs, make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1000}], ["2027Q1"]))


def _diagnose(S: Any, settings: SolverSettings = EXACT) -> tuple[list[dict[str, Any]], list[str], dict[str, float]]:
    said: list[str] = []
    timings: dict[str, float] = {}

    def stage(name: str, fn: Any) -> Any:
        timings[name] = 0.0
        return fn()

    assert solve(build_model(S)[0], settings).status == "infeasible"
    _m, _c, _r, rows, _run = run_diagnosis(S, settings, stage, said.append)
    return rows, said, timings


def test_forecast_served_headroom_short() -> None:
    # Budget $200,000 buys 2 servers = 16,000 tokens/s: the forecast is served, the 4,000 tokens/s buffer is not.
    # Exceeding the budget by one server ($100,000) would serve it.
    rows, _, _ = _diagnose(_sets(200_000))
    assert len(rows) == 1
    row = rows[0]
    assert (row["workload"], row["quarter"], row["kind"]) == ("w", "2027Q1", "headroom")
    assert row["short_tokens_per_s"] == 0.0
    assert row["headroom_short_tokens_per_s"] == pytest.approx(4_000)
    assert row["message"] == "the forecast is served; the headroom buffer of 25 % is short by 4,000 tokens/s"
    assert row["cause"] == "budget total at capex short by $100,000"
    plan = {"status": "infeasible", "diagnosis": rows}
    assert headroom_only(plan)
    assert status_label("infeasible", plan) == "infeasible (headroom short, forecast served)"
    assert "headroom short, forecast served" in plan_status_text(plan)
    assert diagnosis_sentences(plan) == [
        "w in 2027Q1: the forecast is served; the headroom buffer of 25 % is short by 4,000 tokens/s: "
        "budget total at capex short by $100,000"]


def test_forecast_short() -> None:
    # Budget $150,000 buys 1 server = 8,000 tokens/s: the forecast is short by 16,000 - 8,000 = 8,000 tokens/s and the
    # whole buffer (4,000) with it. Serving everything takes 3 servers: the budget is exceeded by $150,000.
    rows, _, _ = _diagnose(_sets(150_000))
    assert len(rows) == 1
    row = rows[0]
    assert row["kind"] == "demand"
    assert row["short_tokens_per_s"] == pytest.approx(8_000)
    assert row["headroom_short_tokens_per_s"] == pytest.approx(4_000)
    assert row["message"] == ("demand short by 8,000 tokens/s of the forecast peak "
                              "(and the whole 25 % headroom buffer, 4,000 tokens/s)")
    assert row["cause"] == "budget total at capex short by $150,000"
    plan = {"status": "infeasible", "diagnosis": rows}
    assert not headroom_only(plan)
    assert status_label("infeasible", plan) == "infeasible"
    assert diagnosis_sentences(plan) == ["w is short 8,000 tokens/s in 2027Q1: budget total at capex short by $150,000"]


def test_buffer_partly_served() -> None:
    # headroom 0.75: D = 28,000 tokens/s; $300,000 buys 3 servers = 24,000: forecast served, buffer (12,000) short by
    # 4,000 -- the run serves the forecast and as much of the buffer as fits, not only the forecast.
    rows, _, _ = _diagnose(_sets(300_000, headroom=0.75))
    assert [(r["kind"], r["short_tokens_per_s"], r["headroom_short_tokens_per_s"]) for r in rows] == [
        ("headroom", 0.0, pytest.approx(4_000))]
    assert rows[0]["message"] == "the forecast is served; the headroom buffer of 75 % is short by 4,000 tokens/s"


def test_forecast_first_across_quarters() -> None:
    # The run serves forecasts before buffers, also across rows. One server in all ($100,000 budget), lasting one
    # quarter (life 1, lead 0); headroom 100 %. 2027Q1: forecast 8,000 (D 16,000), a server holds 8 x 2,000 = 16,000;
    # 2027Q2: forecast 12,000 (D 24,000), a server holds 8 x 1,500 = 12,000.
    #   buy for Q1: unmet 0 + 24,000 = 24,000 tokens/s-quarters, of which forecast 12,000 (Q2's);
    #   buy for Q2: unmet 16,000 + 12,000 = 28,000, of which forecast 8,000 (Q1's).
    # Counting tokens alone would buy for Q1 and leave 12,000 of forecast short; forecast first buys for Q2: Q1 short
    # 8,000 of its forecast (and its whole 8,000 buffer), Q2's forecast served and its 12,000 buffer short. Serving
    # everything takes 1 + 2 servers: the budget is exceeded by $200,000.
    a = make_chip("a", price_usd_per_server=100_000, life=1)
    inputs = make_inputs([a], {"2027Q1": 8_000, "2027Q2": 12_000},
                         policy={"capex_budget_usd_total": 100_000, "headroom_fraction": 1.0})
    opts = pd.concat([make_options([{"chip_id": "a", "tokens_per_s_per_replica": 2000}], ["2027Q1"]),
                      make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1500}], ["2027Q2"])], ignore_index=True)
    rows, _, _ = _diagnose(build_sets(inputs, opts))
    assert [(r["quarter"], r["kind"], r["short_tokens_per_s"], r["headroom_short_tokens_per_s"]) for r in rows] == [
        ("2027Q1", "demand", pytest.approx(8_000), pytest.approx(8_000)),
        ("2027Q2", "headroom", 0.0, pytest.approx(12_000))]
    assert rows[1]["message"] == "the forecast is served; the headroom buffer of 100 % is short by 12,000 tokens/s"
    assert all(r["cause"] == "budget total at capex short by $200,000" for r in rows), rows
    assert not headroom_only({"status": "infeasible", "diagnosis": rows})  # a forecast is short: demand unmet


def test_diagnosis_is_deterministic_and_says_its_phases() -> None:
    first, said, timings = _diagnose(_sets(200_000))
    second, _, _ = _diagnose(_sets(200_000))
    assert first == second
    assert set(timings) == {"diagnose_build", "diagnose_solve", "diagnose_limits"}
    assert any(s.startswith("diagnosis 1/2:") for s in said) and any(s.startswith("diagnosis 2/2:") for s in said)


def _run_block(S: Any) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    said: list[str] = []
    _m, _c, _r, rows, run = run_diagnosis(S, EXACT, lambda _name, fn: fn(), said.append)
    return rows, run, said


def test_a_diagnosis_ended_by_the_gap_or_node_limit_is_deterministic() -> None:
    rows, run, said = _run_block(_sets(150_000))
    assert run["deterministic"] and run["caution"] is None and run["node_limit"] == DIAGNOSIS_MAX_NODES
    assert [(p["phase"], p["stopped_by"]) for p in run["phases"]] == [("unmet demand", "proven"),
                                                                      ("limits exceeded", "proven")]
    assert "seconds" not in json.dumps(run)  # nothing machine-dependent in the block
    assert [r["exact"] for r in rows] == [True] and NOT_PROVEN not in rows[0]["message"]
    assert not any("time limit stopped it" in s for s in said)


def _stopped(status: str, raw: str) -> SolveResult:
    return SolveResult(status, raw, 1.0, 0.5, 0.5, 1.0, "highs", "", {}, [])


def test_what_stopped_a_phase() -> None:
    assert stopped_by(_stopped("optimal", "Optimal"), 200) == "proven"
    assert stopped_by(_stopped("infeasible", "Infeasible"), 200) == "proven"
    assert stopped_by(_stopped("feasible", "Time limit reached"), 200) == "time limit"
    assert stopped_by(_stopped("no_plan", "Time limit reached"), 200) == "time limit"
    assert stopped_by(_stopped("feasible", "Solution limit reached"), 200) == "node limit"
    assert stopped_by(_stopped("feasible", "Not Solved"), None) == "time limit"  # CBC: no node limit to stop it
    assert stopped_by(_stopped("feasible", "Interrupted by user"), 200) == "solver"


@pytest.mark.parametrize(("raw", "deterministic"), [("Time limit reached", False), ("Solution limit reached", True)])
def test_a_diagnosis_stopped_by_the_time_limit_says_its_figures_are_not_proven(
        monkeypatch: pytest.MonkeyPatch, raw: str, deterministic: bool) -> None:
    """The solver is stood in for only in what stopped it: each diagnosis phase is solved for real, then reported as
    stopped by `raw` (the wall clock, or HiGHS's node limit) with the plan it had."""
    import dataclasses

    import planner.pipeline as pipeline

    real = pipeline.solve

    def stopped_solve(m, settings, *a, **k):  # type: ignore[no-untyped-def]
        return dataclasses.replace(real(m, settings, *a, **k), status="feasible", raw_status=raw)

    monkeypatch.setattr(pipeline, "solve", stopped_solve)
    rows, run, said = _run_block(_sets(150_000))
    assert run["deterministic"] is deterministic
    assert [p["stopped_by"] for p in run["phases"]] == ["time limit" if not deterministic else "node limit"] * 2
    assert [r["exact"] for r in rows] == [deterministic]
    assert rows[0]["short_tokens_per_s"] == pytest.approx(8_000)  # the figure of the plan it had, kept
    plan = {"status": "infeasible", "diagnosis": rows, "diagnosis_run": run}
    sentences = diagnosis_sentences(plan)
    if deterministic:
        assert run["caution"] is None and NOT_PROVEN not in rows[0]["message"] and len(sentences) == 1
    else:
        assert run["caution"].startswith("the 'unmet demand' and 'limits exceeded' phases of the diagnosis stopped at the 30 s") and "not proven minimal" in run["caution"]
        assert rows[0]["message"].endswith(NOT_PROVEN)
        assert sentences[0] == f"Caution: {run['caution']}" and len(sentences) == 2
        assert any("the 30 s time limit stopped it" in s for s in said), said


def test_diagnosis_settings_cap_the_time_and_keep_seed_and_threads() -> None:
    long = SolverSettings(name="highs", time_limit_s=600, mip_gap=0.01, threads=2, seed=7)
    d = diagnosis_settings(long)
    assert d.time_limit_s == DIAGNOSIS_TIME_LIMIT_S == 60.0
    assert (d.threads, d.seed, d.name, d.strategy) == (2, 7, "highs", "monolithic")
    assert d.mip_gap <= 1e-6
    assert diagnosis_settings(long.model_copy(update={"time_limit_s": 5})).time_limit_s == 5


def test_pipeline_headroom_only_exits_3_and_says_forecast_served(monkeypatch: pytest.MonkeyPatch) -> None:
    # The first case through the whole pipeline: exit 3 (the policy's buffer is not met), the plan's capacity row
    # serves 16,000 of the required 20,000 tokens/s (unmet 4,000 = the buffer), and every text says forecast served.
    import planner.pipeline as pipeline
    from planner.errors import EXIT_INFEASIBLE
    from planner.results.summary import key_figures, summary_line

    S_inputs = make_inputs([make_chip("a", price_usd_per_server=100_000)], {"2027Q1": 16_000},
                           policy={"capex_budget_usd_total": 200_000, "headroom_fraction": 0.25})
    opts = make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1000}], ["2027Q1"])
    monkeypatch.setattr(pipeline, "load_inputs", lambda _path, _sets=None: S_inputs)
    monkeypatch.setattr(pipeline, "deployment_table", lambda _inputs: opts)
    said: list[str] = []
    out = pipeline.plan_scenario("tiny.yaml", progress=said.append)
    plan = out.plan
    assert out.exit_code == EXIT_INFEASIBLE and plan["status"] == "infeasible"
    assert [(c["demand_tokens_per_s"], c["required_tokens_per_s"], c["served_tokens_per_s"], c["unmet_tokens_per_s"])
            for c in plan["capacity"]] == [(16_000, 20_000, 16_000, 4_000)]
    assert [(d["kind"], d["short_tokens_per_s"], d["headroom_short_tokens_per_s"]) for d in plan["diagnosis"]] == [
        ("headroom", 0.0, 4_000.0)]
    assert summary_line(plan).startswith("status infeasible (headroom short, forecast served)")
    assert "headroom short, forecast served" in key_figures(plan)[0].note
    assert any(s.startswith("diagnosis 1/2: optimal") for s in said), said
    assert plan["diagnosis_run"]["deterministic"] and plan["diagnosis"][0]["exact"] is True
    from planner.results.plan_io import validate_plan

    validate_plan(json.loads(json.dumps(plan)))  # plan.json's schema reads the diagnosis block
    with pytest.raises(InputError):
        validate_plan(json.loads(json.dumps(plan | {"diagnosis_run": {"phases": "x", "deterministic": True}})))
