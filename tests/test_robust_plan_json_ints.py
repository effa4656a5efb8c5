"""A plan.json holding an integer no float can hold is a located input error for every reader (report, topology
--plan, replan --from), not an OverflowError wherever the figure is first used as a float."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli import main
from planner.errors import InputError
from planner.results.plan_io import read_plan

FIXTURE = Path("tests/fixtures/plan_small.json")


def _with_huge(tmp_path: Path, table: str, key: str, digits: int) -> Path:
    doc = json.loads(FIXTURE.read_text())
    rows = doc.get(table) or [{}]
    rows[0][key] = 12345
    doc[table] = rows
    out = tmp_path / "run"
    out.mkdir()
    (out / "plan.json").write_text(json.dumps(doc).replace("12345", "9" * digits, 1))
    return out


CASES = [("purchases", "servers"), ("purchases", "cost_usd"), ("purchases", "unit_price_usd"), ("capacity", "required"),
         ("power", "it_kw")]


@pytest.mark.parametrize(("table", "key"), CASES)
@pytest.mark.parametrize("digits", [310, 400, 4000])
def test_read_plan_refuses_an_integer_beyond_a_float(tmp_path: Path, table: str, key: str, digits: int) -> None:
    folder = _with_huge(tmp_path, table, key, digits)
    with pytest.raises(InputError) as info:
        read_plan(folder / "plan.json")
    assert "digits" in str(info.value)


@pytest.mark.parametrize(("table", "key"), CASES[:2])
def test_report_exits_2_on_a_huge_integer(tmp_path: Path, table: str, key: str, capsys) -> None:
    folder = _with_huge(tmp_path, table, key, 400)
    rc = main(["report", str(folder)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "internal error" not in err




@pytest.mark.parametrize("key", ["servers", "cost_usd", "unit_price_usd"])
def test_replan_from_exits_2_on_a_huge_integer(tmp_path: Path, key: str, capsys) -> None:
    folder = _with_huge(tmp_path, "purchases", key, 400)
    rc = main(["replan", "inputs/scenarios/example.yaml", "--from", str(folder / "plan.json"), "--commit-through",
               "2027Q1", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "internal error" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("version", [True, 1.0, "1", [1], {"v": 1}])
def test_schema_version_is_the_whole_number_not_an_equal_value(tmp_path: Path, version: object) -> None:
    doc = json.loads(FIXTURE.read_text())
    doc["schema_version"] = version
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        read_plan(tmp_path / "plan.json")
    assert any(p.locator == "schema_version" for p in info.value.problems)


@pytest.mark.parametrize("variant", [" servers", "servers ", "\tservers", "servers\n"])
def test_a_key_beside_its_whitespace_variant_is_refused(tmp_path: Path, variant: str) -> None:
    doc = json.loads(FIXTURE.read_text())
    rows = doc.get("purchases") or [{"servers": 1}]
    rows[0][variant] = 5
    doc["purchases"] = rows
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        read_plan(tmp_path / "plan.json")
    assert "appears twice" in str(info.value)
