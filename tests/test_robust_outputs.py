"""Our own outputs as untrusted input: formula-looking strings stay text, and a broken plan.json is refused.

Uses the report tests' small plan (`tests/fixtures/plan_small.json`), so no solve is needed.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.test_robust_fuzz import mutated_tree

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "plan_small.json"
PLAN = json.loads(FIXTURE.read_text(encoding="utf-8"))
RISKY = ("=", "+", "-", "@", "\t", "\r")


def run_report(folder: Path) -> tuple[int, str, str]:
    from planner.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["report", str(folder)])
    return code, out.getvalue(), err.getvalue()


def _replace_strings(obj: Any, mapping: dict[str, str]) -> Any:
    if isinstance(obj, dict):
        return {k: _replace_strings(v, mapping) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace_strings(v, mapping) for v in obj]
    if isinstance(obj, str):
        return mapping.get(obj, obj)
    return obj


def _poisoned_plan() -> dict[str, Any]:
    """Every id the inputs named (sites, chips, vendors, workloads, models, rack types) and the free-text fields
    replaced, consistently, by formula-looking text carrying the marker PWN."""
    ids: set[str] = set()
    for table in ("purchases", "racks", "deployments", "capacity", "power"):
        for row in PLAN.get(table, []):
            for key in ("site", "chip", "vendor", "workload", "model", "rack_type"):
                if isinstance(row.get(key), str):
                    ids.add(row[key])
    prefixes = ["=", "+", "-", "@", "\t=", "\r=", "=HYPERLINK(\"http://evil.example\",\"x\")&"]
    mapping = {v: f"{prefixes[i % len(prefixes)]}PWN{i}()" for i, v in enumerate(sorted(ids))}
    plan = _replace_strings(copy.deepcopy(PLAN), mapping)
    plan["scenario"] = "=cmd|' /C calc'!A0 PWN"
    for row in plan.get("diagnosis", []):
        row["cause"] = "@SUM(1+1)*cmd|' /C calc'!A0 <script>alert('PWN')</script>"
    for row in plan.get("binding", []):
        row["text"] = "-2+3+cmd|' /C calc'!A0 PWN"
    for row in plan.get("inputs", []):
        row["path"] = "=HYPERLINK(\"file:///etc/passwd\") PWN"
    plan["solver"]["notes"] = ["+1+1 PWN", "=1+1 PWN"]
    return plan


def test_input_strings_never_become_formulas(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    run = tmp_path / "run"
    run.mkdir()
    (run / "plan.json").write_text(json.dumps(_poisoned_plan()), encoding="utf-8")
    code, _, err = run_report(run)
    assert code == 0, err

    wb = load_workbook(run / "plan.xlsx")  # formulas as text, nothing evaluated
    seen = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str) and "PWN" in value:
                    seen += 1
                    assert cell.data_type == "s", f"{ws.title}!{cell.coordinate} = {value!r} is a formula"
    assert seen >= 10, "the poisoned strings should reach the workbook"

    csv_seen = 0
    for path in sorted((run / "csv").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for fields in csv.reader(fh):
                for field in fields:
                    if "PWN" in field:
                        csv_seen += 1
                        assert not field.startswith(RISKY), f"{path.name}: {field!r} would run as a formula"
    assert csv_seen >= 10

    html = (run / "report.html").read_text(encoding="utf-8")
    assert "PWN" in html and "<script>alert" not in html


# ---------------------------------------------------------------- corrupted or hand-edited plan.json


def _text(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2)


def _edit(path: list[Any], value: Any, delete: bool = False) -> bytes:
    plan = copy.deepcopy(PLAN)
    node = plan
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return _text(plan).encode()


RAW = _text(PLAN).encode()
CORRUPTIONS: dict[str, tuple[bytes | None, str]] = {
    # name: (plan.json bytes, or None for "no file"; fragment of the located message)
    "missing": (None, "file not found"),
    "empty": (b"", "file is empty"),
    "truncated": (RAW[: len(RAW) // 2], "truncated"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL bytes"),
    "utf16": (RAW.decode().encode("utf-16"), "NUL bytes"),
    "latin1": (RAW.replace(b'"scenario": "', b'"scenario": "caf\xe9 ', 1), "not valid UTF-8"),
    "not_json": (b"plan: yes\n", "not valid JSON"),
    "top_level_list": (b"[1, 2, 3]", "must be a JSON object"),
    "status_number": (_edit(["status"], 42), "status"),
    "servers_text": (_edit(["purchases", 0, "servers"], "two"), "purchases[0].servers"),
    "purchases_object": (_edit(["purchases"], {}), "purchases"),
    "nan_literal": (RAW.replace(b'"objective_usd": ', b'"objective_usd": NaN, "x_old": ', 1), "objective_usd"),
    "huge_exponent": (RAW.replace(b'"objective_usd": ', b'"objective_usd": 1e400, "x_old": ', 1), "objective_usd"),
    "horizon_deleted": (_edit(["horizon"], None, delete=True), "horizon"),
    "duplicate_key": (RAW.replace(b'"scenario": ', b'"scenario": "a", "scenario": ', 1), "appears twice"),
    "newer_schema": (_edit(["schema_version"], 99), "newer planner"),
    "deep_nesting": (b'{"purchases": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    "quarter_garbage": (_edit(["purchases", 0, "order_quarter"], "soon"), "purchases[0].order_quarter"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corrupted_plan_json_is_a_clear_error(name: str, tmp_path: Path) -> None:
    data, fragment = CORRUPTIONS[name]
    run = tmp_path / "run"
    run.mkdir()
    if data is not None:
        (run / "plan.json").write_bytes(data)
    (run / "plan.xlsx").write_bytes(b"previous workbook")
    code, _, err = run_report(run)
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err
    assert fragment in err and "| " in err, err[:1000]
    assert (run / "plan.xlsx").read_bytes() == b"previous workbook", "a refused plan must not touch the outputs"
    assert not (run / "csv").exists() and not (run / "report.html").exists()


def test_report_dir_that_is_not_a_folder(tmp_path: Path) -> None:
    code, _, err = run_report(tmp_path / "nowhere")
    assert code == 2 and "file not found" in err
    (tmp_path / "afile").write_text("x")
    code, _, err = run_report(tmp_path / "afile")
    assert code in (1, 2) and "Traceback" not in err and "internal error" not in err, err
    (tmp_path / "run" / "plan.json").mkdir(parents=True)
    code, _, err = run_report(tmp_path / "run")
    assert code == 2 and "expected the file plan.json" in err


def test_plan_with_a_5000_digit_number(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "plan.json").write_bytes(RAW.replace(b'"objective_usd": ', b'"objective_usd": ' + b"9" * 5000 + b', "x_old": ', 1))
    code, _, err = run_report(run)
    assert "internal error" not in err
    assert code == 2


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(plan=mutated_tree(PLAN))
def test_fuzz_hand_edited_plan(plan: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Hand edits of plan.json (wrong types, deleted keys, NaN, huge numbers, duplicated rows, renamed ids):
    `planner report` either rebuilds the views (exit 0) or refuses with located problems (exit 2)."""
    run = tmp_path_factory.mktemp("edited")
    try:
        text = json.dumps(plan, default=repr)
    except ValueError:  # an int json cannot print: not a file a user could have
        return
    (run / "plan.json").write_text(text, encoding="utf-8")
    code, _, err = run_report(run)
    assert code in (0, 2), f"exit {code}\n{err[-2000:]}"
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    if code == 2:
        assert err.splitlines()[1].startswith("  - ("), err[:500]
    shutil.rmtree(run, ignore_errors=True)


def test_report_is_repeatable(tmp_path: Path) -> None:
    """`planner report` twice on the same plan.json writes the same CSV files."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(FIXTURE, run / "plan.json")
    assert run_report(run)[0] == 0
    first = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (run / "csv").glob("*.csv")}
    assert run_report(run)[0] == 0
    assert first == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (run / "csv").glob("*.csv")}
