"""plan.json tables have row limits: a hand-edited plan with a million rack rows is refused in seconds, located at the
table with its row count, the limit and the fix, by every command that reads a plan (`report`, `replan --from`,
`topology --plan`) and by `validate_plan` (the Python API). The limits sit far above what the planner writes."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.results import plan_io
from planner.results.plan_io import MAX_OTHER_TABLE_ROWS, MAX_TABLE_ROWS, validate_plan
from tests.conftest import REPO
from tests.test_robust_corpus import assemble

SMALL_PLAN = REPO / "tests" / "fixtures" / "plan_small.json"
#: every list table of plan.json, top-level or under `finance`
TABLES = ["purchases", "racks", "deployments", "capacity", "power", "leases", "warnings", "binding", "diagnosis",
          "options", "inputs", "finance.schedule", "finance.assets", "finance.assumptions.chips"]


def _plan() -> dict:
    return json.loads(SMALL_PLAN.read_text())


def _grow(doc: dict, table: str, rows: int) -> dict:
    """`doc` with `table` holding `rows` rows (copies of its first row, or of a stand-in when it has none)."""
    *parents, key = table.split(".")
    node = doc
    for name in parents:
        if node.get(name) is None:
            node[name] = {}
        node = node[name]
    first = (node.get(key) or [{"x": 1}])[0]
    node[key] = [first] * rows  # one object many times: cheap, and the limit is checked before any row is read
    return doc


def _limit(table: str) -> int:
    return MAX_TABLE_ROWS.get(table, MAX_OTHER_TABLE_ROWS)


@pytest.mark.parametrize("table", TABLES)
def test_a_table_past_its_limit_is_refused_at_the_table(table: str) -> None:
    doc = _grow(_plan(), table, _limit(table) + 1)
    with pytest.raises(InputError) as exc:
        validate_plan(doc, "plan.json")
    (problem,) = exc.value.problems
    assert (problem.file, problem.locator) == ("plan.json", table)
    assert f"{_limit(table) + 1:,} rows" in problem.message and f"at most {_limit(table):,}" in problem.message
    assert "planner plan" in problem.message


def test_every_oversized_table_is_reported_at_once() -> None:
    doc = _grow(_grow(_plan(), "racks", MAX_TABLE_ROWS["racks"] + 1), "options", MAX_OTHER_TABLE_ROWS + 1)
    with pytest.raises(InputError) as exc:
        validate_plan(doc, "plan.json")
    assert sorted(p.locator for p in exc.value.problems) == ["options", "racks"]


@pytest.mark.parametrize("table", ["racks", "deployments", "options"])
def test_a_table_at_its_limit_is_not_refused_for_its_size(table: str) -> None:
    validate_plan(_plan(), "plan.json")  # the fixture's own rows validate
    assert not plan_io._oversized_tables(_grow(_plan(), table, _limit(table)), "plan.json")


def test_limits_hold_the_largest_generated_plan() -> None:
    """The xl benchmark shape (benchmarks/generate.py) has one rack row per occupied rack position and quarter."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import generate
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    biggest = max(generate.SIZES.values(), key=lambda s: s.racks * s.quarters)
    assert MAX_TABLE_ROWS["racks"] >= 2 * biggest.racks * biggest.quarters


def _main(args: list[str]) -> tuple[int, str]:
    from planner.cli import main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(args)
    return code, err.getvalue()


@pytest.mark.parametrize("command", ["report", "replan", "topology"])
def test_every_command_that_reads_a_plan_refuses_an_oversized_one(command: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MAX_TABLE_ROWS, "racks", 40)  # the real limit needs a 100 MB file; the check is the same
    run = tmp_path / "run"
    run.mkdir()
    doc = _grow(_plan(), "racks", 41)
    (run / "plan.json").write_text(json.dumps(doc))
    scenario = assemble(None, tmp_path / "sc")
    args = {"report": ["report", str(run)],
            "replan": ["replan", str(scenario), "--from", str(run / "plan.json"), "--commit-through", "2027Q1",
                       "--out", str(tmp_path / "re")],
            "topology": ["topology", str(scenario), "--plan", str(run / "plan.json"), "--out", str(tmp_path / "topo")]}
    code, err = _main(args[command])
    assert code == 2, err
    assert "plan.json, racks) | table racks has 41 rows; a plan holds at most 40 rows" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in run.iterdir()) == ["plan.json"]  # nothing written beside it


# Every count and amount field of every plan.json table has an upper bound naming its unit: a hand-edited 1e15
# servers in one rack was accepted by report, replan --from and topology --plan. Generated from the schema.
def _bounded_fields() -> list[tuple[str, str, str]]:
    import typing

    from planner.results import plan_schema

    out = []
    for table, field in plan_schema.Plan.model_fields.items():
        if typing.get_origin(field.annotation) is not list:
            continue
        (row,) = typing.get_args(field.annotation)
        if not hasattr(row, "model_fields"):
            continue
        for key, f in row.model_fields.items():
            funcs = {getattr(m, "func", None) for m in f.metadata}
            kind = "count" if plan_schema._count in funcs else "amount" if plan_schema._amount in funcs else None
            if kind:
                out.append((table, key, kind))
    return out


BOUNDED = _bounded_fields()


def test_bounded_fields_are_found() -> None:
    assert {("racks", "servers", "count"), ("purchases", "cost_usd", "amount"), ("deployments", "replicas", "count")} <= set(BOUNDED)


@pytest.mark.parametrize(("table", "key", "kind"), BOUNDED, ids=[f"{t}.{k}" for t, k, _ in BOUNDED])
def test_a_count_or_amount_past_its_bound_is_refused(table: str, key: str, kind: str) -> None:
    from planner.results.plan_schema import MAX_PLAN_AMOUNT, MAX_PLAN_COUNT

    doc = _plan()
    if table == "leases" and not doc.get("leases"):  # the fixture plan leases nothing: one stand-in contract quarter
        q0 = doc["horizon"]["quarters"][0]
        doc["leases"] = [{"quarter": q0, "chip": "c", "vendor": "v", "chips": 8, "servers": 1, "usd_per_chip_hour": 2.0,
                          "lease_usd": 35_040.0, "contract_start_quarter": q0, "term_quarters": 4}]
    rows = doc.get(table) or []
    if not rows or key not in rows[0]:
        pytest.skip(f"the fixture plan has no {table}[0].{key}")
    limit = MAX_PLAN_COUNT if kind == "count" else MAX_PLAN_AMOUNT
    rows[0][key] = limit if kind == "amount" else int(limit)
    try:
        validate_plan(doc, "plan.json")
    except InputError as exc:  # at its bound: refused for another reason only (e.g. a money identity elsewhere)
        assert not any(p.locator == f"{table}[0].{key}" for p in exc.problems)
    rows[0][key] = int(limit) * 10 if kind == "count" else limit * 10
    with pytest.raises(InputError) as info:
        validate_plan(doc, "plan.json")
    (problem,) = [p for p in info.value.problems if p.locator == f"{table}[0].{key}"]
    assert "must be at most" in problem.message and ("a count" in problem.message or "USD" in problem.message)
