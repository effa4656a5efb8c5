"""Failure modes (issue #24, classes 3 and 4): bad input or environment exits 2 with a located message, and one
report holds every problem of every kind.

Each test breaks a real file (a copy of the bundled example, a plan the planner wrote) the way a user would and
runs the real CLI in-process. The exit-code table of the README is read and checked against what each subcommand
really returns on a bad input.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

PERF = ["perf", "--model", "llama-3.1-70b", "--chip", "h100_sxm", "--chips", "8", "--precision", "fp8",
        "--prompt-tokens", "1000", "--output-tokens", "200"]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1))


def _workloads(scenario: Path) -> Path:
    return scenario.parent / "example" / "workloads.csv"


def _sites(scenario: Path) -> Path:
    return scenario.parent / "example" / "sites.yaml"


def _set_cell(scenario: Path, row: int, column: str, value: str) -> None:
    """Set one cell of the forecast; `row` is the spreadsheet row (the header is row 1)."""
    path = _workloads(scenario)
    rows = list(csv.reader(io.StringIO(path.read_text(), newline="")))
    rows[row - 1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue())


def _lines_with(err: str, *fragments: str) -> list[str]:
    return [line for line in err.splitlines() if all(f in line for f in fragments)]


# ---------------------------------------------------------------- class 3: exit 2, not 1


def test_calibration_json_list_exits_2(tmp_path: Path, example_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cal = tmp_path / "cal.json"
    cal.write_text("[]")
    code, _, err = run_cli([*PERF, "--calibration", str(cal)], capsys)
    assert code == 2 and "got a JSON list" in err and "internal error" not in err, err
    _edit(example_copy, "  sites: example/sites.yaml\n", f"  sites: example/sites.yaml\n  calibration: {cal}\n")
    code, _, err = run_cli(["validate", str(example_copy)], capsys)
    assert code == 2 and _lines_with(err, "(example.yaml, inputs.calibration)", "got a JSON list"), err


def test_calibration_of_one_row_is_fitted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from planner.perf.calibration_io import load_calibration

    bundled = (REPO / "planner" / "perf" / "data" / "calibration.csv").read_text().splitlines(keepends=True)
    one = tmp_path / "one.csv"
    one.write_text("".join(bundled[:2]))
    cal = load_calibration(one)
    rows = cal.report["rows"]
    assert len(rows) == 1 and rows[0]["loo_predicted"] is None  # nothing is left to predict the row from
    code, out, err = run_cli([*PERF, "--calibration", str(one)], capsys)
    assert code == 0 and "internal error" not in err, err
    header = tmp_path / "header.csv"
    header.write_text(bundled[0])
    code, _, err = run_cli([*PERF, "--calibration", str(header)], capsys)
    assert code == 2 and "no data rows" in err, err


def _plan_with_bad_racks(run: Path, tmp_path: Path) -> tuple[Path, list[int]]:
    plan = json.loads((run / "plan.json").read_text())
    last = plan["horizon"]["quarters"][-1]
    bad = [i for i, r in enumerate(plan["racks"]) if r["quarter"] == last][:2]
    plan["racks"][bad[0]]["rack"] = plan["racks"][bad[0]]["rack"].rsplit("/", 1)[0] + "/x7"
    plan["racks"][bad[1]]["rack"] = "elsewhere/0001"
    path = tmp_path / "edited_plan.json"
    path.write_text(json.dumps(plan))
    return path, bad


def test_topology_plan_with_malformed_rack_ids_exits_2(example_run: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path, bad = _plan_with_bad_racks(example_run, tmp_path)
    code, _, err = run_cli(["topology", str(REPO / "inputs/scenarios/example.yaml"), "--out", str(tmp_path / "t"),
                            "--plan", str(path)], capsys)
    assert code == 2, err
    for i in bad:
        assert _lines_with(err, f"(edited_plan.json, racks[{i}].rack)", "is not"), err
    assert "2 problems" in err and not (tmp_path / "t").exists()


def test_topology_reads_the_plans_own_purchases_csv(example_run: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    scenario = str(REPO / "inputs/scenarios/example.yaml")
    code, out, _ = run_cli(["topology", scenario, "--out", str(tmp_path / "fleet")], capsys)
    fleet = int(re.search(r"([\d,]+) servers", out).group(1).replace(",", ""))
    purchases = example_run / "csv" / "purchases.csv"
    bought = sum(int(r["servers"]) for r in csv.DictReader(purchases.open(newline="")))
    assert bought > 0
    code, out, err = run_cli(["topology", scenario, "--out", str(tmp_path / "t"), "--purchases", str(purchases)], capsys)
    assert code == 0, err
    assert f"{fleet + bought:,} servers" in out


def test_topology_purchases_saved_by_excel(example_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = tmp_path / "purchases.csv"
    csv_path.write_bytes(b"\xef\xbb\xbfsite_id,rack_type_id,chip_id,servers,quarter\r\n"
                         b"quincy,air40,h100_sxm,2,2027Q3\r\n\r\n")
    code, out, err = run_cli(["topology", str(example_copy), "--out", str(tmp_path / "t"), "--purchases", str(csv_path)], capsys)
    assert code == 0, err
    csv_path.write_bytes(b"site_id,rack_type_id,chip_id,servers\nquincy,air40,h100_sxm,2\nsit\xe9,air40,h100_sxm,1\n")
    code, out, err = run_cli(["topology", str(example_copy), "--out", str(tmp_path / "t2"), "--purchases", str(csv_path)], capsys)
    assert code == 2 and "internal error" not in err, err
    assert _lines_with(err, "(purchases.csv, line 3, column 4)", "not valid UTF-8", "Latin-1"), err


def test_output_paths_that_are_files_exit_2(example_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    code, _, err = run_cli(["topology", str(example_copy), "--out", str(a_file)], capsys)
    assert code == 2 and _lines_with(err, "(command line, --out)", "is a regular file, not a folder"), err
    code, _, err = run_cli(["topology", str(example_copy), "--out", str(a_file / "sub")], capsys)
    assert code == 2 and _lines_with(err, "(command line, --out)", "is a file, not a folder"), err
    code, _, err = run_cli(["compare", str(example_copy), "--out", str(tmp_path / "cmp"), "--cache-dir", str(a_file)], capsys)
    assert code == 2 and _lines_with(err, "(command line, --cache-dir)", "not a folder"), err
    assert a_file.read_text() == "not a folder"


def test_an_os_error_reaching_the_cli_is_the_environments(example_copy: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # `sweep --out` inside a file: the folder cannot be created (NotADirectoryError), before any point is planned
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    code, _, err = run_cli(["sweep", str(example_copy), "--param", "policy.headroom_fraction=0:0.2:0.1",
                            "--out", str(a_file / "sweep")], capsys)
    assert code == 2 and "internal error" not in err, err
    assert str(a_file) in err and "cannot read or write" in err, err


def test_perf_measurements_that_are_not_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "points.csv"
    os.mkfifo(fifo)  # reading it would block forever: refused by its kind, before any read
    code, _, err = run_cli([*PERF, "--measurements", str(fifo)], capsys)
    assert code == 2 and "named pipe (FIFO)" in err, err
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"id,model_key\nr1,caf\xe9\n")
    code, _, err = run_cli([*PERF, "--measurements", str(latin)], capsys)
    assert code == 2 and "not UTF-8" in err and "internal error" not in err, err


# ---------------------------------------------------------------- class 4: one pass


def test_extends_a_fifo_says_what_it_is(example_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "base.yaml"
    os.mkfifo(fifo)
    _edit(example_copy, "name: example", f"extends: {fifo}\nname: example")
    code, _, err = run_cli(["validate", str(example_copy)], capsys)
    assert code == 2 and _lines_with(err, "(example.yaml, extends)", "named pipe (FIFO)"), err


def test_compare_reports_every_broken_scenario(example_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = example_copy.with_name("one.yaml")
    two = example_copy.with_name("two.yaml")
    shutil.copy(example_copy, one)
    shutil.copy(example_copy, two)
    _edit(one, "  quarters: 8", "  quarters: 0")
    _edit(two, "allowed_chips: [h100_sxm", "allowed_chips: [h100_sxn")
    code, _, err = run_cli(["compare", str(one), str(two), "--out", str(tmp_path / "cmp")], capsys)
    assert code == 2, err
    assert _lines_with(err, "(one.yaml, horizon.quarters)") and _lines_with(err, "(two.yaml, policy.allowed_chips)", "h100_sxn"), err
    assert not (tmp_path / "cmp").exists()


#: Independent defects, each of a different kind and file: (name, break it, (file, locator, message) fragments).
DEFECTS: list[tuple[str, Callable[[Path], None], tuple[str, str, str]]] = [
    ("row_bad_number", lambda sc: _set_cell(sc, 3, "peak_output_tokens_per_s", "12,5x"),
     ("workloads.csv", "row 3, peak_output_tokens_per_s", "number")),
    ("row_unknown_model_same_row", lambda sc: _set_cell(sc, 3, "model_id", "llama-9-70b"),
     ("workloads.csv", "row 3, model_id", "unknown model 'llama-9-70b'")),
    ("row_quarter_outside", lambda sc: (_set_cell(sc, 9, "quarter", "2031Q1"), _set_cell(sc, 9, "tpot_ms", "-1")),
     ("workloads.csv", "row 9, quarter", "outside the horizon")),
    ("horizon_bad", lambda sc: _edit(sc, "  quarters: 8", "  quarters: 0"),
     ("example.yaml", "horizon.quarters", "at least 1 quarters")),
    ("allowed_chip_unknown", lambda sc: _edit(sc, "allowed_chips: [h100_sxm", "allowed_chips: [h100_sxn"),
     ("example.yaml", "policy.allowed_chips", "unknown chip 'h100_sxn'")),
    ("fleet_chip_unknown", lambda sc: _edit(_sites(sc), "chip_id: a100_80gb_sxm", "chip_id: a100_sxm"),
     ("sites.yaml", "fleet[1].chip_id", "unknown chip 'a100_sxm'")),
    ("site_power_negative", lambda sc: _edit(_sites(sc), "power_kw: 40\n", "power_kw: -5\n"),
     ("sites.yaml", "sites[0].rack_types[0].power_kw", "greater than 0")),
]


def _combos() -> list[tuple[str, ...]]:
    """The pairs the issue names, then seeded random mixes of 2-3 defects."""
    named = [("row_bad_number", "row_unknown_model_same_row"), ("horizon_bad", "allowed_chip_unknown"),
             ("horizon_bad", "allowed_chip_unknown", "row_unknown_model_same_row")]
    rng = random.Random(24)
    names = [d[0] for d in DEFECTS]
    mixes = [tuple(sorted(rng.sample(names, rng.choice((2, 3))))) for _ in range(8)]
    return list(dict.fromkeys([*named, *mixes]))


@pytest.mark.parametrize("combo", _combos(), ids="+".join)
def test_every_defect_of_a_mix_is_reported(combo: tuple[str, ...], example_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    by_name = {d[0]: d for d in DEFECTS}
    for name in combo:
        by_name[name][1](example_copy)
    code, _, err = run_cli(["validate", str(example_copy)], capsys)
    assert code == 2 and "Traceback" not in err and "internal error" not in err, err
    for name in combo:
        file, locator, message = by_name[name][2]
        if name == "row_quarter_outside" and "horizon_bad" in combo:
            continue  # the horizon check waits for a valid horizon
        assert _lines_with(err, f"({file}, {locator})", message), f"{name} not reported:\n{err}"


def test_available_from_after_the_horizon_names_the_field_and_quarter() -> None:
    from solvers.sets import build_sets
    from tests.milp_cases import make_chip, make_inputs, make_options

    quarters = ["2027Q1", "2027Q2"]
    inputs = make_inputs([make_chip("a", price_usd_per_server=100_000)], dict.fromkeys(quarters, 4_000.0),
                         chip_terms={"a": {"available_from_quarter": "2028Q1"}})
    sets = build_sets(inputs, make_options([{"chip_id": "a", "tokens_per_s_per_replica": 1_000.0}], quarters))
    reasons = [why for _w, _t, why in sets.no_option]
    assert len(reasons) == 2
    assert all("chip_terms.a.available_from_quarter is 2028Q1, after the horizon ends (2027Q2)" in r for r in reasons), reasons


# ---------------------------------------------------------------- the README's exit-code table


def _readme_exit_codes() -> dict[str, set[int]]:
    """{subcommand: codes it may return} from the README's per-subcommand table (a `-` cell: never)."""
    text = (REPO / "README.md").read_text()
    table = text[text.index("| subcommand | 0 | 2 | 3 | 4 |"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("| `"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = {code for code, cell in zip((0, 2, 3, 4), cells[1:], strict=True) if cell != "-"}
    return rows


def _bad_inputs(tmp: Path, scenario: Path) -> dict[str, list[str]]:
    """One representative bad input per subcommand."""
    missing = str(tmp / "missing.yaml")
    a_file = tmp / "a_file"
    a_file.write_text("x")
    _edit(scenario, "allowed_chips: [h100_sxm", "allowed_chips: [h100_sxn")
    return {
        "validate": ["validate", str(scenario)],
        "plan": ["plan", str(scenario), "--out", str(tmp / "run")],
        "replan": ["replan", str(scenario), "--from", str(tmp / "no_plan.json"), "--commit-through", "2027Q2",
                   "--out", str(tmp / "re")],
        "report": ["report", str(tmp)],
        "topology": ["topology", str(scenario), "--out", str(a_file)],
        "compare": ["compare", str(scenario), missing, "--out", str(tmp / "cmp")],
        "sweep": ["sweep", str(scenario), "--param", "policy.headroom_fraction=0:0.2:0.1", "--out", str(tmp / "sw")],
        "breakeven": ["breakeven", missing, "--chip", "b200"],
        "perf": [*PERF[:2], "llama-9-70b", *PERF[3:]],
        "catalog": ["catalog", "show", "h100_sxn"],
    }


def test_readme_exit_code_table_matches_each_subcommand(example_copy: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from planner.cli import build_parser

    documented = _readme_exit_codes()
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert set(documented) == subcommands, "every subcommand has a row in the README's exit-code table"
    for name, argv in _bad_inputs(tmp_path, example_copy).items():
        code, _, err = run_cli(argv, capsys)
        assert code == 2 and 2 in documented[name], f"{name}: exit {code}\n{err}"
        assert "Traceback" not in err and "internal error" not in err, f"{name}: {err}"
