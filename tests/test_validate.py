"""`planner validate`: the bundled example is valid; each kind of bad input exits 2 with a located message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli


def test_example_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import INPUTS

    code, out, err = run_cli(["validate", str(INPUTS / "scenarios" / "example.yaml")], capsys)
    assert code == 0, err
    assert "2027Q1 .. 2028Q4 (8 quarters)" in out
    assert "ashburn" in out and "quincy" in out


@pytest.mark.parametrize("name", ["vendor_all_nvidia.yaml", "vendor_mixed.yaml"])
def test_vendor_scenarios_are_valid(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import INPUTS

    code, out, err = run_cli(["validate", str(INPUTS / "scenarios" / name)], capsys)
    assert code == 0, err
    assert name.removesuffix(".yaml") in out


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture drifted: {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def _workloads(sc: Path) -> Path:
    return sc.parent / "example" / "workloads.csv"


def _sites(sc: Path) -> Path:
    return sc.parent / "example" / "sites.yaml"


def _set_csv_cell(sc: Path, row: int, column: str, value: str) -> None:
    """Set a cell; `row` is the spreadsheet row (header = 1)."""
    lines = _workloads(sc).read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[row - 1].split(",")
    cells[header.index(column)] = value
    lines[row - 1] = ",".join(cells)
    _workloads(sc).write_text("\n".join(lines) + "\n")


# (id, mutation, expected file, expected locator fragment, expected message fragment)
CASES: list[tuple[str, Callable[[Path], None], str, str, str]] = [
    ("missing_workload_file", lambda sc: _workloads(sc).unlink(), "workloads.csv", "", "file not found"),
    ("bad_yaml", lambda sc: _edit(sc, "name: example", "name: [example"), "example.yaml", "line", "not valid YAML"),
    ("unknown_key", lambda sc: _edit(sc, "  headroom_fraction: 0.15", "  headroom_fraction: 0.15\n  headroom_pct: 15"), "example.yaml", "policy.headroom_pct", "unknown field"),
    ("wrong_type", lambda sc: _edit(sc, "  quarters: 8", "  quarters: eight"), "example.yaml", "horizon.quarters", "must be a number, got the string"),
    ("negative_power", lambda sc: _edit(_sites(sc), "power_kw: 40\n", "power_kw: -5\n"), "sites.yaml", "sites[0].rack_types[0].power_kw", "greater than 0"),
    ("nan_demand", lambda sc: _set_csv_cell(sc, 3, "peak_output_tokens_per_s", "nan"), "workloads.csv", "row 3, peak_output_tokens_per_s", "finite"),
    ("negative_demand", lambda sc: _set_csv_cell(sc, 7, "peak_output_tokens_per_s", "-5"), "workloads.csv", "row 7, peak_output_tokens_per_s", "greater than 0 tokens/s, got -5"),
    ("unknown_chip", lambda sc: _edit(_sites(sc), "chip_id: a100_80gb_sxm", "chip_id: a100_sxm"), "sites.yaml", "fleet[1].chip_id", "unknown chip 'a100_sxm'"),
    ("unknown_model", lambda sc: _set_csv_cell(sc, 2, "model_id", "llama-9-70b"), "workloads.csv", "row 2, model_id", "unknown model 'llama-9-70b'"),
    ("quarter_outside_horizon", lambda sc: _set_csv_cell(sc, 9, "quarter", "2029Q1"), "workloads.csv", "row 9, quarter", "outside the horizon"),
    ("bad_quarter_format", lambda sc: _set_csv_cell(sc, 4, "quarter", "2027-Q3"), "workloads.csv", "row 4, quarter", "like 2027Q1"),
    ("duplicate_site", lambda sc: _edit(_sites(sc), "site_id: quincy\n", "site_id: ashburn\n"), "sites.yaml", "sites[1].site_id", "duplicate site id"),
    ("duplicate_workload_row", lambda sc: _set_csv_cell(sc, 3, "quarter", "2027Q1"), "workloads.csv", "row 3, workload_id", "duplicate row"),
    ("empty_forecast", lambda sc: _workloads(sc).write_text(_workloads(sc).read_text().splitlines()[0] + "\n"), "workloads.csv", "", "no workload rows"),
    ("empty_file", lambda sc: _sites(sc).write_text(""), "sites.yaml", "", "file is empty"),
    ("missing_column", lambda sc: _workloads(sc).write_text(_workloads(sc).read_text().replace(",tpot_ms", "", 1)), "workloads.csv", "row 1", "missing column(s): tpot_ms"),
    ("circular_extends", lambda sc: _edit(sc, "name: example", "extends: vendor_mixed.yaml\nname: example"), "example.yaml", "extends", "circular"),
    ("unknown_vendor", lambda sc: _edit(sc, "solver:", "vendors:\n  Nvidia:\n    discount_fraction: 0.1\nsolver:"), "example.yaml", "vendors.Nvidia", "Did you mean 'NVIDIA'"),
    ("pue_below_one", lambda sc: _edit(_sites(sc), "pue: 1.35", "pue: 0.9"), "sites.yaml", "sites[0].pue", "must be at least 1"),
    ("unknown_precision", lambda sc: _set_csv_cell(sc, 5, "allowed_precisions", "fp8;fp2"), "workloads.csv", "row 5, allowed_precisions", "fp2"),
    ("quarter_gap", lambda sc: _workloads(sc).write_text("\n".join(line for i, line in enumerate(_workloads(sc).read_text().splitlines()) if i != 4) + "\n"), "workloads.csv", "workload chat-70b", "no row for 2027Q4"),
    ("unknown_rack_type", lambda sc: _edit(_sites(sc), "rack_type_id: air40\n    chip_id: h100_sxm\n    servers: 200", "rack_type_id: air50\n    chip_id: h100_sxm\n    servers: 200"), "sites.yaml", "fleet[2].rack_type_id", "no rack type 'air50'"),
    ("not_utf8", lambda sc: _workloads(sc).write_bytes(b"workload_id,model_id\n\xff\xfe bad\n"), "workloads.csv", "line 2, column 1", "byte 0xFF is not valid UTF-8"),
    ("scenario_not_mapping", lambda sc: sc.write_text("- just\n- a list\n"), "example.yaml", "", "must be a YAML mapping"),
    ("billion_laughs", lambda sc: sc.write_text("a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(20))), "example.yaml", "", "aliases"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_locator(case: tuple, example_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, mutate, file, locator, message = case
    mutate(example_copy)
    code, out, err = run_cli(["validate", str(example_copy)], capsys)
    assert code == 2, f"exit {code}\n{out}\n{err}"
    assert "Traceback" not in err
    matching = [line for line in err.splitlines() if f"({file}" in line and locator in line and message in line]
    assert matching, f"no line with file={file!r} locator={locator!r} message={message!r} in:\n{err}"


def test_all_problems_reported_together(example_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _set_csv_cell(example_copy, 2, "model_id", "nope-1")
    _set_csv_cell(example_copy, 6, "tpot_ms", "0")
    _edit(_sites(example_copy), "chip_id: a100_80gb_sxm", "chip_id: zzz")
    code, _, err = run_cli(["validate", str(example_copy)], capsys)
    assert code == 2
    assert "row 6, tpot_ms" in err and "row 2, model_id" in err and "fleet[1].chip_id" in err
    assert err.splitlines()[0].startswith("3 problems")
