"""HTML report (self-contained, escaped, same key figures) and CSV export (tidy, injection-safe)."""

from __future__ import annotations

import base64
import copy
import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from planner.report.charts import safe_label
from planner.report.csvs import defuse, write_csvs
from planner.report.html import build_html, write_html_report
from planner.results.plan_io import validate_plan
from planner.results.tables import TABLE_COLUMNS

FIXTURE = Path(__file__).parent / "fixtures" / "plan_small.json"


@pytest.fixture
def plan() -> dict:
    return validate_plan(json.loads(FIXTURE.read_text(encoding="utf-8")))


def test_html_is_self_contained_with_charts(plan: dict, tmp_path: Path) -> None:
    text = write_html_report(plan, tmp_path / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 4
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from outside
    assert "<script" not in text


def test_html_shows_the_key_figures(plan: dict) -> None:
    text = build_html(plan)
    k = plan["kpis"]
    for figure in (f"${k['tco_usd']:,.0f}", f"${k['capex_usd']:,.0f}", f"${k['energy_usd']:,.0f}",
                   f"${k['facility_usd']:,.0f}", f"${k['residual_value_usd']:,.0f}",
                   f"${k['usd_per_million_tokens']:,.4f}", f"{k['joules_per_token']:,.3f}", "0.31%"):
        assert figure in text, figure
    assert "Site power at site_a binds in 2027Q4: one more kW is worth $1,234." in text
    assert "290.4" in text and "292.0" in text  # peak power vs cap at site_a


def test_html_escapes_input_text(plan: dict) -> None:
    plan = copy.deepcopy(plan)
    plan["scenario"] = "<script>alert(1)</script>"
    plan["purchases"][0]["vendor"] = '"><img src=x onerror=alert(2)>'
    plan["capacity"][0]["workload"] = "$x^2$ & _hidden"
    text = build_html(plan)
    assert "<script>" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in text
    assert "$x^2$ &amp; _hidden" in text


def test_chart_labels_are_literal() -> None:
    assert safe_label("$x^2$") == r"\$x^2\$"
    assert safe_label("_hidden") == " _hidden"


def test_html_for_a_plan_without_rows(plan: dict) -> None:
    plan = copy.deepcopy(plan)
    plan.update(status="no_plan", objective_usd=None, best_bound_usd=None, mip_gap=None)
    for key in TABLE_COLUMNS:
        if key in plan:
            plan[key] = []
    plan["kpis"] = dict.fromkeys(plan["kpis"])
    text = build_html(plan)
    assert "No plan: the solver stopped" in text
    assert "nothing to draw" in text


def test_csvs_one_per_table_with_fixed_columns(plan: dict, tmp_path: Path) -> None:
    written = write_csvs(plan, tmp_path)
    folder = tmp_path / "csv"
    assert {p.name for p in written} == {f"{n}.csv" for n in TABLE_COLUMNS} | {"summary.csv"}
    for name, columns in TABLE_COLUMNS.items():
        frame = pd.read_csv(folder / f"{name}.csv")
        assert tuple(frame.columns[: len(columns)]) == columns
    purchases = pd.read_csv(folder / "purchases.csv")
    assert purchases["cost_usd"].sum() == pytest.approx(plan["kpis"]["capex_usd"])
    assert len(pd.read_csv(folder / "options.csv")) == len(plan["options"])
    summary = pd.read_csv(folder / "summary.csv").set_index("metric")["value"]
    assert float(summary["tco_usd"]) == pytest.approx(plan["kpis"]["tco_usd"])


def test_csv_defuses_formula_text_but_not_numbers(plan: dict, tmp_path: Path) -> None:
    plan = copy.deepcopy(plan)
    plan["purchases"][0]["vendor"] = '=HYPERLINK("http://x")'
    plan["purchases"][1]["site"] = "+1"
    plan["purchases"][2]["chip"] = "-2"
    plan["purchases"][3]["vendor"] = "@SUM(A1)"
    plan["purchases"][4]["site"] = "\tx"
    plan["diagnosis"][0]["cause"] = "\rcr"
    plan["binding"][0]["shadow_price_usd"] = -12.5
    write_csvs(plan, tmp_path)
    with open(tmp_path / "csv" / "purchases.csv", encoding="utf-8", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    for value in ('=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx"):
        assert "'" + value in cells
        assert value not in cells
    with open(tmp_path / "csv" / "binding.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert "-12.5" in [r["shadow_price_usd"] for r in rows]  # a negative number stays a number
    with open(tmp_path / "csv" / "diagnosis.csv", encoding="utf-8", newline="") as fh:
        assert any(r["cause"] == "'\rcr" for r in csv.DictReader(fh))
    assert defuse(-3) == -3 and defuse("ok") == "ok" and defuse("-x") == "'-x"


def test_csv_rewrite_is_identical(plan: dict, tmp_path: Path) -> None:
    write_csvs(plan, tmp_path / "a")
    write_csvs(plan, tmp_path / "b")
    for path in sorted((tmp_path / "a" / "csv").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / "csv" / path.name).read_bytes()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed")
def test_html_renders_in_headless_chromium(plan: dict, tmp_path: Path) -> None:
    page = write_html_report(plan, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'ud'}",
                    "--window-size=1280,2000", f"--screenshot={shot}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


IN_TRANSIT_LABEL = "In transit at the start, cash paid before the horizon (USD)"


@pytest.mark.parametrize(("value", "shown"), [(123_456.0, "$123,456"), (0.0, None), (None, None)])
def test_html_card_for_hardware_in_transit_at_the_start(plan: dict, value: float | None, shown: str | None) -> None:
    # A re-plan's kept orders paid before the horizon and not yet in service (plan.json's and the workbook's
    # fleet_in_transit_start_usd) get their own cash card in the key figures, only when there are any.
    plan = copy.deepcopy(plan)
    plan["kpis"]["fleet_in_transit_start_usd"] = value
    figures = build_html(plan).split("<h2>Key figures</h2>", 1)[1].split("<h2>", 1)[0]
    cards = dict(re.findall(r'<div class="label">([^<]*)</div><div class="value">([^<]*)</div>', figures))
    if shown is None:
        assert IN_TRANSIT_LABEL not in cards
    else:
        assert cards[IN_TRANSIT_LABEL] == shown
