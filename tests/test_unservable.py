"""A demand row no option can serve is never met by omission (issue 15 item 1, issue 17 item 3).

Each mechanism that leaves a (workload, quarter) without a deployable option is built on the same tiny case: one
chip `a` ($100k per 8-chip server, 1,000 tok/s per 1-chip replica), demand 4,000 tok/s in 2027Q1 and 2027Q2.
Unbroken, the plan buys one server (4 replicas) in 2027Q1. Broken, the run must be infeasible (exit 3), name
the workload, the quarter and the reason, count no unserved tokens as served, and never say "all demand is met".
"""

from __future__ import annotations

from typing import Any

import pytest

import planner.pipeline as pipeline
from planner.errors import EXIT_INFEASIBLE, EXIT_OK
from planner.results.summary import diagnosis_sentences
from planner.schemas.scenario import SolverSettings
from solvers.build import build_model
from solvers.sets import build_sets
from solvers.solve import solve
from tests.milp_cases import make_chip, make_inputs, make_options, make_site

Q = ["2027Q1", "2027Q2"]
DEMAND = dict.fromkeys(Q, 4_000.0)
ROW = {"chip_id": "a", "tokens_per_s_per_replica": 1_000.0}


def _case(mechanism: str) -> tuple[Any, Any, set[str], str]:
    """(inputs, options table, quarters left unservable, a word the reason must contain)."""
    chip: dict[str, Any] = {"price_usd_per_server": 100_000}
    kw: dict[str, Any] = {}
    options = make_options([ROW], Q)
    short, word = set(Q), ""
    if mechanism == "latency":  # the performance model found no layout meeting the targets in 2027Q2
        options = make_options([ROW], Q[:1])
        short, word = {"2027Q2"}, "latency"
    elif mechanism == "lead_time":  # 2 quarters from order to use, horizon of 2 quarters: nothing arrives in time
        chip["lead"] = 2
        word = "earliest delivery is after the horizon"
    elif mechanism == "lead_time_partial":  # 1 quarter: 2027Q2 is served, 2027Q1 not
        chip["lead"] = 1
        short, word = {"2027Q1"}, "earliest delivery is 2027Q2"
    elif mechanism == "available_from":
        kw["chip_terms"] = {"a": {"available_from_quarter": "2028Q1"}}
        word = "after the horizon"
    elif mechanism == "allowed_chips_empty":
        kw["policy"] = {"allowed_chips": []}
        word = "allowed_chips is empty"
    elif mechanism == "rack_too_weak":  # an 8 x 500 W = 4 kW server in 3 kW racks
        kw["sites"] = [make_site(rack_kw=3.0)]
        word = "rack type"
    elif mechanism == "rack_too_small":  # a 4U server in 2U racks
        kw["sites"] = [make_site(rack_units=2)]
        word = "rack type"
    elif mechanism == "absurd_chip":  # a 10 MW chip: no rack holds its server
        chip["tdp_w"] = 1e7
        word = "rack type"
    return make_inputs([make_chip("a", **chip)], DEMAND, **kw), options, short, word


MECHANISMS = ["latency", "lead_time", "lead_time_partial", "available_from", "allowed_chips_empty", "rack_too_weak",
              "rack_too_small", "absurd_chip"]


def _run(monkeypatch: pytest.MonkeyPatch, inputs: Any, options: Any) -> Any:
    monkeypatch.setattr(pipeline, "load_inputs", lambda _path, _sets=None: inputs)
    monkeypatch.setattr(pipeline, "deployment_table", lambda _inputs: options)
    return pipeline.plan_scenario("tiny.yaml")


def test_the_unbroken_case_is_served(monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, options, _, _ = _case("none")
    out = _run(monkeypatch, inputs, options)
    assert out.exit_code == EXIT_OK and out.plan["status"] == "optimal"
    # 1 server; $1 tie-break per occupied rack-quarter (2) and per replica-quarter (4 + 4)
    assert out.plan["objective_usd"] == pytest.approx(100_000 + 2 + 8, abs=0.5)
    assert diagnosis_sentences(out.plan) == []


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_unservable_row_makes_the_model_infeasible(mechanism: str) -> None:
    # Whoever builds the model (pipeline, what-if, sweeps) gets an infeasible MILP, not an optimum without the row.
    inputs, options, short, word = _case(mechanism)
    S = build_sets(inputs, options)
    assert {S.quarters[t] for _w, t, _why in S.no_option} == short
    assert all(word in why for _w, _t, why in S.no_option), S.no_option
    m, _ = build_model(S)
    assert {S.quarters[t] for (_w, t) in m.vars["none"]} == short
    r = solve(m, SolverSettings(name="highs", time_limit_s=10, mip_gap=0.0, strategy="monolithic"))
    assert r.status == "infeasible"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_unservable_row_exits_3_with_a_located_diagnosis(mechanism: str, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, options, short, word = _case(mechanism)
    out = _run(monkeypatch, inputs, options)
    plan = out.plan
    assert out.exit_code == EXIT_INFEASIBLE and plan["status"] == "infeasible"
    named = {(d["workload"], d["quarter"]) for d in plan["diagnosis"] if word in d["cause"]}
    assert named == {("w", q) for q in short}
    sentences = diagnosis_sentences(plan)
    assert sentences and all("is short" in x for x in sentences)
    # only served tokens count: 4,000 tok/s in each quarter that is served, at most
    served_quarters = len(Q) - len(short)
    seconds = 8760 / 4 * 3600
    assert plan["kpis"]["served_tokens"] is None or plan["kpis"]["served_tokens"] <= served_quarters * 4_000 * seconds + 1


def test_a_plan_with_unmet_capacity_never_reads_as_met() -> None:
    plan = {"status": "optimal", "diagnosis": [],
            "capacity": [{"workload": "w", "quarter": "2027Q1", "required_tokens_per_s": 10.0, "unmet_tokens_per_s": 4.0}]}
    assert diagnosis_sentences(plan) == ["w is short 4 tokens/s in 2027Q1"]
    assert diagnosis_sentences({"status": "infeasible", "diagnosis": [], "capacity": []})
