"""Scenario comparison and the `planner report` command (exit codes, no tracebacks)."""

from __future__ import annotations

import argparse
import copy
import json
import shutil
from pathlib import Path

import openpyxl
import pytest

from planner.errors import EXIT_BAD_INPUT, EXIT_OK
from planner.report.cli import add_report_parser, write_all_reports
from planner.report.compare import write_comparison
from planner.results.comparison import comparison_rows
from planner.results.plan_io import validate_plan

FIXTURE = Path(__file__).parent / "fixtures" / "plan_small.json"


@pytest.fixture
def plan() -> dict:
    return validate_plan(json.loads(FIXTURE.read_text(encoding="utf-8")))


def _variant(plan: dict) -> dict:
    other = copy.deepcopy(plan)
    other["scenario"] = "cheaper-power"
    other["kpis"]["energy_usd"] -= 50_000.0
    other["kpis"]["tco_usd"] -= 50_000.0
    other["purchases"] = [p for p in other["purchases"] if p["vendor"] == "AMD"]
    return other


def _cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="planner")
    sub = parser.add_subparsers(dest="command", required=True)
    add_report_parser(sub)
    return parser


def _run(argv: list[str]) -> int:
    args = _cli().parse_args(argv)
    return args.func(args)


def test_comparison_rows(plan: dict) -> None:
    rows = {r.key: r for r in comparison_rows([plan, _variant(plan)])}
    assert rows["tco_usd"].delta(1) == pytest.approx(-50_000.0)
    assert rows["tco_usd"].delta_pct(1) == pytest.approx(-50_000.0 / plan["kpis"]["tco_usd"])
    assert rows["chips_bought.NVIDIA"].values == [144, 0]
    assert rows["chips_bought.AMD"].values == [112, 112]
    assert rows["peak_it_power_kw.site_a"].values == [pytest.approx(290.4)] * 2
    assert rows["status"].values == ["optimal", "optimal"]


def test_comparison_files(plan: dict, tmp_path: Path) -> None:
    xlsx, html = write_comparison([plan, _variant(plan)], tmp_path / "cmp")
    ws = openpyxl.load_workbook(xlsx)["Comparison"]
    header = [c.value for c in ws[4]]
    assert header[:3] == ["Figure", "small-2site", "cheaper-power"]
    assert header[3] == "cheaper-power minus small-2site"
    tco = next(r for r in ws.iter_rows(min_row=5) if r[0].value == "Net horizon cost")
    assert tco[1].value == pytest.approx(plan["kpis"]["tco_usd"])
    assert tco[3].value == f"=C{tco[0].row}-$B{tco[0].row}"
    assert tco[3].value and tco[2].value - tco[1].value == pytest.approx(-50_000.0)
    assert tco[4].value == f"=(C{tco[0].row}-$B{tco[0].row})/ABS($B{tco[0].row})"
    text = html.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text and "cheaper-power" in text and "-$50,000" in text


def test_report_command_rebuilds_outputs(plan: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    shutil.copy(FIXTURE, tmp_path / "plan.json")
    assert _run(["report", str(tmp_path)]) == EXIT_OK
    assert (tmp_path / "plan.xlsx").exists() and (tmp_path / "report.html").exists()
    assert (tmp_path / "csv" / "purchases.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert "wrote" in capsys.readouterr().out


def test_report_command_bad_plan_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    raw = FIXTURE.read_text(encoding="utf-8")
    (tmp_path / "plan.json").write_text(raw[:1000], encoding="utf-8")
    assert _run(["report", str(tmp_path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Traceback" not in err and "truncated" in err and "plan.json, line" in err
    assert not (tmp_path / "plan.xlsx").exists()
    assert _run(["report", str(tmp_path / "missing")]) == EXIT_BAD_INPUT
    assert "file not found" in capsys.readouterr().err


def test_report_command_warns_on_inconsistent_totals(plan: dict, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    bad = copy.deepcopy(plan)
    bad["kpis"]["capex_usd"] += 1000.0
    (tmp_path / "plan.json").write_text(json.dumps(bad), encoding="utf-8")
    assert _run(["report", str(tmp_path)]) == EXIT_OK
    assert "warning: (" in capsys.readouterr().err
    ws = openpyxl.load_workbook(tmp_path / "plan.xlsx")["Summary"]
    assert any(isinstance(c.value, str) and c.value.startswith("kpis.capex_usd: is $7,891,000") for c in ws["A"])


def test_planner_cli_report_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cli = pytest.importorskip("planner.cli")
    shutil.copy(FIXTURE, tmp_path / "plan.json")
    assert cli.main(["report", str(tmp_path)]) == EXIT_OK
    assert (tmp_path / "plan.xlsx").exists()
    (tmp_path / "plan.json").write_bytes(b"\x00\x01binary")
    assert cli.main(["report", str(tmp_path)]) == EXIT_BAD_INPUT
    assert "Traceback" not in capsys.readouterr().err


def test_write_all_reports_returns_every_file(plan: dict, tmp_path: Path) -> None:
    written = write_all_reports(plan, tmp_path / "out")
    names = [p.name for p in written]
    assert names[:2] == ["plan.xlsx", "report.html"]
    assert "purchases.csv" in names and all(p.exists() for p in written)
