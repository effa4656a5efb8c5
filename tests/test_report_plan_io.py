"""plan.json reading (every kind of broken file gives a located InputError) and atomic writing."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.results.atomic import atomic_write, dumps_json, write_json_atomic
from planner.results.plan_io import read_plan, validate_plan
from planner.results.reconcile import reconcile

FIXTURE = Path(__file__).parent / "fixtures" / "plan_small.json"


@pytest.fixture
def plan() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        read_plan(path)
    return [str(p) for p in info.value.problems]


def _write(tmp_path: Path, data: bytes | str) -> Path:
    path = tmp_path / "plan.json"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_fixture_reads_and_is_consistent() -> None:
    plan = read_plan(FIXTURE)
    assert plan["status"] == "optimal"
    assert len(plan["horizon"]["quarters"]) == 4
    assert {p["vendor"] for p in plan["purchases"]} == {"NVIDIA", "AMD"}
    assert {r["site"] for r in plan["power"]} == {"site_a", "site_b"}
    assert len({c["workload"] for c in plan["capacity"]}) == 3
    assert reconcile(plan) == []
    capex = sum(p["cost_usd"] for p in plan["purchases"])
    assert capex == pytest.approx(plan["kpis"]["capex_usd"])
    assert all(p["cost_usd"] == p["servers"] * p["unit_price_usd"] for p in plan["purchases"])
    k = plan["kpis"]
    assert k["tco_usd"] == pytest.approx(k["capex_usd"] + k["energy_usd"] + k["facility_usd"] - k["residual_value_usd"])


def test_wrong_type_is_located(tmp_path: Path, plan: dict) -> None:
    plan["purchases"][3]["cost_usd"] = "abc"
    problems = _problems(_write(tmp_path, json.dumps(plan)))
    assert problems == ["(plan.json, purchases[3].cost_usd) | must be a number, got 'abc'"]


def test_several_problems_reported_together(tmp_path: Path, plan: dict) -> None:
    plan["purchases"][0]["servers"] = 4.5
    plan["power"][1]["it_power_kw"] = True
    plan["status"] = "great"
    del plan["capacity"][2]["workload"]
    problems = "\n".join(_problems(_write(tmp_path, json.dumps(plan))))
    assert "(plan.json, purchases[0].servers) | must be a whole number, got 4.5" in problems
    assert "(plan.json, power[1].it_power_kw) | must be a number, got true" in problems
    assert "(plan.json, status) | must be" in problems and "'great'" in problems
    assert "(plan.json, capacity[2].workload) | required key is missing" in problems


def test_missing_top_level_key(tmp_path: Path, plan: dict) -> None:
    del plan["kpis"]
    assert _problems(_write(tmp_path, json.dumps(plan))) == ["(plan.json, kpis) | required key is missing"]


def test_bad_quarter_and_nan(tmp_path: Path, plan: dict) -> None:
    plan["racks"][0]["quarter"] = "2027-Q1"
    text = json.dumps(plan).replace('"unit_price_usd": 210000.0', '"unit_price_usd": NaN', 1)
    problems = "\n".join(_problems(_write(tmp_path, text)))
    assert "racks[0].quarter) | must be a quarter written like 2027Q1, got '2027-Q1'" in problems
    assert "unit_price_usd) | must be a finite number, got nan" in problems


def test_truncated_file(tmp_path: Path) -> None:
    raw = FIXTURE.read_bytes()
    problems = _problems(_write(tmp_path, raw[: len(raw) // 2]))
    assert len(problems) == 1
    assert problems[0].startswith("(plan.json, line ")
    assert "truncated" in problems[0]


def test_not_json(tmp_path: Path) -> None:
    (problem,) = _problems(_write(tmp_path, "scenario: yaml-not-json\nstatus: optimal\n"))
    assert "line 1, column 1" in problem and "not valid JSON" in problem


def test_binary_and_non_utf8(tmp_path: Path) -> None:
    (binary,) = _problems(_write(tmp_path, b"PK\x03\x04\x00\x00binary"))
    assert "binary" in binary
    (latin,) = _problems(_write(tmp_path, '{"scenario": "caf\u00e9"}'.encode("latin-1")))
    assert "(plan.json, byte 17) | file is not valid UTF-8" in latin


def test_empty_missing_folder_and_top_level_list(tmp_path: Path) -> None:
    assert "file is empty" in _problems(_write(tmp_path, "  \n"))[0]
    assert "file not found" in _problems(tmp_path / "nope" / "plan.json")[0]
    assert "is a folder" in _problems(tmp_path)[0]
    assert "JSON object" in _problems(_write(tmp_path, "[1, 2]"))[0]


def test_duplicate_key_and_newer_schema(tmp_path: Path, plan: dict) -> None:
    assert "appears twice" in _problems(_write(tmp_path, '{"status": "optimal", "status": "feasible"}'))[0]
    plan["schema_version"] = 2
    (newer,) = _problems(_write(tmp_path, json.dumps(plan)))
    assert "newer planner" in newer and "schema_version" in newer


def test_unknown_keys_are_kept(plan: dict) -> None:
    plan["carbon_kg"] = 12.5
    plan["purchases"][0]["discount_usd"] = 1000.0
    out = validate_plan(plan)
    assert out["carbon_kg"] == 12.5
    assert out["purchases"][0]["discount_usd"] == 1000.0


def test_whole_floats_become_ints(plan: dict) -> None:
    plan["purchases"][0]["servers"] = 8.0
    assert validate_plan(copy.deepcopy(plan))["purchases"][0]["servers"] == 8
    assert isinstance(validate_plan(plan)["purchases"][0]["servers"], int)


def test_many_problems_are_capped(plan: dict) -> None:
    for row in plan["options"]:
        row["tp"] = "x"
        row["pp"] = "y"
    with pytest.raises(InputError) as info:
        validate_plan(plan)
    assert len(info.value.problems) == 51
    assert "more problems not shown" in info.value.problems[-1].message


def test_atomic_write_leaves_nothing_when_body_raises(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("partial")
        raise RuntimeError("boom")
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_atomic_write_keeps_old_file_when_body_raises(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(ValueError), atomic_write(target, "wb") as fh:
        fh.write(b"new")
        raise ValueError("boom")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]
    with atomic_write(target, "wb") as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_write_json_atomic_is_deterministic_and_nan_free(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    obj = {"b": float("nan"), "a": [1, np.int64(2), np.float64(2.5), float("inf")], "t": (1, 2), "s": {"y", "x"}}
    path = write_json_atomic(tmp_path / "x.json", obj)
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == {"b": None, "a": [1, 2, 2.5, None], "t": [1, 2], "s": ["x", "y"]}
    assert list(json.loads(text)) == ["b", "a", "t", "s"]  # insertion order kept
    assert "NaN" not in text and "Infinity" not in text
    assert text == dumps_json(obj)
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists()


def test_fixture_round_trips_byte_for_byte(tmp_path: Path) -> None:
    plan = json.loads(FIXTURE.read_text(encoding="utf-8"))
    out = write_json_atomic(tmp_path / "plan.json", plan)
    assert out.read_bytes() == FIXTURE.read_bytes()


def _non_negative_fields() -> list[tuple[str, str]]:
    """(plan.json table, field) of every field typed `Count` or `Amount` in a table's row model, from the schema."""
    import typing

    from planner.results import plan_schema as ps

    tables = {"purchases": ps.Purchase, "leases": ps.Lease, "racks": ps.Rack, "deployments": ps.Deployment,
              "capacity": ps.CapacityRow}
    out = []
    for table, model in tables.items():
        hints = typing.get_type_hints(model, include_extras=True)
        out += [(table, name) for name, hint in hints.items() if hint in (ps.Count, ps.Amount)]
    return out


NON_NEGATIVE = _non_negative_fields()
LEASE_ROW = {"quarter": "2027Q1", "chip": "c", "vendor": "v", "chips": 8, "servers": 1, "usd_per_chip_hour": 2.0,
             "lease_usd": 35_040.0, "contract_start_quarter": "2027Q1", "term_quarters": 4}


def test_the_non_negative_fields_cover_counts_and_money_of_every_table() -> None:
    assert {("purchases", "servers"), ("purchases", "cost_usd"), ("leases", "lease_usd"), ("racks", "servers"),
            ("deployments", "replicas"), ("capacity", "served_tokens_per_s")} <= set(NON_NEGATIVE)


@pytest.mark.parametrize("value", [-1, -0.5, -1e308])
@pytest.mark.parametrize(("table", "field"), NON_NEGATIVE, ids=[f"{t}.{f}" for t, f in NON_NEGATIVE])
def test_a_negative_count_or_amount_in_a_hand_edited_plan_is_refused(plan: dict, table: str, field: str,
                                                                     value: float) -> None:
    # `planner report` on a plan.json whose servers, costs or rates were edited below zero used to rebuild a report
    # of them (exit 0); a plan the planner writes never holds one.
    plan = copy.deepcopy(plan)
    plan["leases"] = [dict(LEASE_ROW)]
    plan[table][0][field] = value
    with pytest.raises(InputError) as info:
        validate_plan(plan)
    assert any(p.locator == f"{table}[0].{field}" for p in info.value.problems), [str(p) for p in info.value.problems]


def test_the_fixture_with_a_lease_row_still_reads(plan: dict) -> None:
    validate_plan({**copy.deepcopy(plan), "leases": [dict(LEASE_ROW)]})
