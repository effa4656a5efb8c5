"""The workbook: sheets, live totals that reconcile with plan.json, literal input text, charts, rendering."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter, range_boundaries

from planner.report.workbook import SHEETS, write_workbook
from planner.results.plan_io import validate_plan

FIXTURE = Path(__file__).parent / "fixtures" / "plan_small.json"
HOSTILE = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "=1+1", "*wild?", "nvidia"]


@pytest.fixture
def plan() -> dict:
    return validate_plan(json.loads(FIXTURE.read_text(encoding="utf-8")))


# --- a small evaluator for the formulas the workbook writes ----------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<ref>(?:'(?:[^']|'')+'!|[A-Za-z_][A-Za-z0-9_ ]*!)?\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?)
  | (?P<func>[A-Z]+)\(
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<str>"(?:[^"]|"")*")
  | (?P<op><>|[-+*/(),=<>])
)""", re.VERBOSE)


class Evaluator:
    """Evaluates SUM, SUMIF, SUMIFS, SUMPRODUCT, EXACT, IF, ABS, N, arithmetic and comparisons."""

    def __init__(self, wb: openpyxl.Workbook) -> None:
        self.wb = wb

    def cell(self, sheet: str, ref: str) -> Any:
        value = self.wb[sheet][ref.replace("$", "")].value
        if isinstance(value, str) and self.wb[sheet][ref.replace("$", "")].data_type == "f":
            return self.formula(sheet, value)
        return value

    def formula(self, sheet: str, text: str) -> Any:
        assert text.startswith("=")
        saved = getattr(self, "tokens", None), getattr(self, "pos", 0), getattr(self, "sheet", sheet)
        self.tokens = list(_TOKEN.finditer(text[1:]))
        assert "".join(m.group() for m in self.tokens) == text[1:], f"cannot tokenise {text}"
        self.pos, self.sheet = 0, sheet
        try:
            value = self.compare()
            assert self.pos == len(self.tokens), f"unparsed tail in {text}"
        finally:
            self.tokens, self.pos, self.sheet = saved  # type: ignore[assignment]
        return value

    def peek(self) -> str | None:
        return self.tokens[self.pos].group().strip() if self.pos < len(self.tokens) else None

    def take(self) -> re.Match:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def compare(self) -> Any:
        left = self.additive()
        if self.peek() in ("=", "<>", "<", ">"):
            op = self.take().group().strip()
            right = self.additive()
            return _map2(left, right, lambda a, b: {"=": _eq(a, b), "<>": not _eq(a, b),
                                                     "<": _n(a) < _n(b), ">": _n(a) > _n(b)}[op])
        return left

    def additive(self) -> Any:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take().group().strip()
            right = self.term()
            value = _map2(value, right, (lambda a, b: _n(a) + _n(b)) if op == "+" else (lambda a, b: _n(a) - _n(b)))
        return value

    def term(self) -> Any:
        value = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take().group().strip()
            right = self.unary()
            value = _map2(value, right, (lambda a, b: _n(a) * _n(b)) if op == "*" else (lambda a, b: _n(a) / _n(b)))
        return value

    def unary(self) -> Any:
        if self.peek() in ("-", "+"):
            op = self.take().group().strip()
            value = self.unary()
            return _map1(value, lambda a: -_n(a) if op == "-" else _n(a))
        return self.primary()

    def primary(self) -> Any:
        tok = self.take()
        if tok.group("num"):
            return float(tok.group("num"))
        if tok.group("str"):
            return tok.group("str")[1:-1].replace('""', '"')
        if tok.group("op") == "(":
            value = self.compare()
            assert self.take().group().strip() == ")"
            return value
        if tok.group("func"):
            args = []
            if self.peek() != ")":
                args.append(self.compare())
                while self.peek() == ",":
                    self.take()
                    args.append(self.compare())
            assert self.take().group().strip() == ")"
            return self.call(tok.group("func"), args)
        if tok.group("ref"):
            return self.ref(tok.group("ref"))
        raise AssertionError(f"unexpected token {tok.group()!r}")

    def ref(self, text: str) -> Any:
        sheet = self.sheet
        if "!" in text:
            sheet_part, text = text.rsplit("!", 1)
            sheet = sheet_part.strip("'").replace("''", "'")
        if ":" not in text:
            return self.cell(sheet, text)
        min_col, min_row, max_col, max_row = range_boundaries(text.replace("$", ""))
        return [self.cell(sheet, f"{openpyxl.utils.get_column_letter(c)}{r}")
                for r in range(min_row, max_row + 1) for c in range(min_col, max_col + 1)]

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "SUM":
            return sum(_n(v) for a in args for v in (a if isinstance(a, list) else [a]))
        if name == "SUMIF":
            rng, crit, total = args
            return sum(_n(v) for k, v in zip(rng, total, strict=True) if _sumif_match(k, crit))
        if name == "SUMIFS":
            total, pairs = args[0], list(zip(args[1::2], args[2::2], strict=True))
            return sum(_n(v) for i, v in enumerate(total) if all(_sumif_match(r[i], c) for r, c in pairs))
        if name == "SUMPRODUCT":
            first, *rest = args
            out = 0.0
            for i in range(len(first)):
                prod = _n(first[i])
                for r in rest:
                    prod *= _n(r[i])
                out += prod
            return out
        if name == "EXACT":
            return _map2(args[0], args[1], lambda a, b: str(a if a is not None else "") == str(b if b is not None else ""))
        if name == "IF":
            return args[1] if args[0] else (args[2] if len(args) > 2 else False)
        if name == "ABS":
            return abs(_n(args[0]))
        if name == "N":
            return args[0] if isinstance(args[0], int | float) else 0
        raise AssertionError(f"function {name} not expected in the workbook")


def _n(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    raise AssertionError(f"text {value!r} used as a number")


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a if a is not None else "").casefold() == str(b if b is not None else "").casefold()
    return _n(a) == _n(b)


def _sumif_match(value: Any, criterion: Any) -> bool:
    # The workbook only uses SUMIF with plain labels (no operators or wildcards): case-insensitive equality.
    assert isinstance(criterion, str) and not criterion.startswith(("=", "<", ">")) and not set("*?~") & set(criterion)
    return _eq(value, criterion)


def _map1(a: Any, fn: Any) -> Any:
    return [fn(x) for x in a] if isinstance(a, list) else fn(a)


def _map2(a: Any, b: Any, fn: Any) -> Any:
    if isinstance(a, list) and isinstance(b, list):
        return [fn(x, y) for x, y in zip(a, b, strict=True)]
    if isinstance(a, list):
        return [fn(x, b) for x in a]
    if isinstance(b, list):
        return [fn(a, y) for y in b]
    return fn(a, b)


# --- helpers --------------------------------------------------------------------------------------

def _find_row(ws: Any, label: str, column: str = "A") -> int:
    for cell in ws[column]:
        if cell.value == label:
            return cell.row
    raise AssertionError(f"{label!r} not found in column {column} of {ws.title}")


def _block(ws: Any, title: str) -> dict[str, int]:
    """Rows of a subtotal block: label -> row (stops at the blank row after 'Total')."""
    header = _find_row(ws, title) + 1
    out, r = {}, header + 1
    while ws.cell(row=r, column=1).value is not None:
        out[ws.cell(row=r, column=1).value] = r
        r += 1
    return out


def _write(plan: dict, tmp_path: Path) -> tuple[Path, openpyxl.Workbook]:
    path = write_workbook(plan, tmp_path / "plan.xlsx")
    return path, openpyxl.load_workbook(path)


# --- tests ----------------------------------------------------------------------------------------

def test_sheets_present_in_order(plan: dict, tmp_path: Path) -> None:
    _, wb = _write(plan, tmp_path)
    assert wb.sheetnames == list(SHEETS)
    assert wb.sheetnames[:2] == ["Summary", "Purchase orders"]
    for name in ("Deployments", "Capacity", "Power", "Racks", "Options", "Run info"):
        assert name in wb.sheetnames


def test_order_lines_read_back_with_pandas(plan: dict, tmp_path: Path) -> None:
    path, _ = _write(plan, tmp_path)
    lines = pd.read_excel(path, sheet_name="Purchase orders", nrows=len(plan["purchases"]))
    assert list(lines.columns[:9]) == ["Order quarter", "Delivery quarter", "Vendor", "Chip", "Site", "Servers",
                                       "Chips", "Unit price (USD per server)", "Extended cost (USD)"]
    expected = sorted((p["order_quarter"], p["vendor"], p["site"], p["servers"], p["unit_price_usd"])
                      for p in plan["purchases"])
    got = sorted(zip(lines["Order quarter"], lines["Vendor"], lines["Site"], lines["Servers"],
                     lines["Unit price (USD per server)"], strict=True))
    assert got == expected
    capacity = pd.read_excel(path, sheet_name="Capacity", nrows=len(plan["capacity"]))
    assert capacity["Demand (tokens/s)"].sum() == pytest.approx(sum(c["demand_tokens_per_s"] for c in plan["capacity"]))
    assert len(pd.read_excel(path, sheet_name="Options")) == len(plan["options"])


def test_extended_cost_is_a_live_formula(plan: dict, tmp_path: Path) -> None:
    _, wb = _write(plan, tmp_path)
    ws, ev = wb["Purchase orders"], Evaluator(wb)
    for r in range(2, 2 + len(plan["purchases"])):
        formula = ws[f"I{r}"].value
        assert formula == f"=F{r}*H{r}"
        assert ev.cell("Purchase orders", f"I{r}") == ws[f"F{r}"].value * ws[f"H{r}"].value


def test_totals_and_subtotals_equal_plan_capex(plan: dict, tmp_path: Path) -> None:
    _, wb = _write(plan, tmp_path)
    ws, ev = wb["Purchase orders"], Evaluator(wb)
    capex = plan["kpis"]["capex_usd"]
    total_row = _find_row(ws, "Total, all orders")
    assert ws[f"I{total_row}"].value.startswith("=SUM(")
    assert ev.cell("Purchase orders", f"I{total_row}") == pytest.approx(capex)
    assert ev.cell("Purchase orders", f"I{total_row + 2}") == pytest.approx(0)  # difference to plan.json

    by_q = _block(ws, "Subtotal by order quarter")
    for quarter in plan["horizon"]["quarters"]:
        assert ws[f"D{by_q[quarter]}"].value.startswith("=SUMIF(")
        expected = sum(p["cost_usd"] for p in plan["purchases"] if p["order_quarter"] == quarter)
        assert ev.cell("Purchase orders", f"D{by_q[quarter]}") == pytest.approx(expected)
        budget = plan["limits"]["budget_usd_by_quarter"][quarter]
        assert ev.cell("Purchase orders", f"F{by_q[quarter]}") == pytest.approx(budget - expected)
    assert ev.cell("Purchase orders", f"D{by_q['Total']}") == pytest.approx(capex)

    by_v = _block(ws, "Subtotal by vendor")
    for vendor in ("NVIDIA", "AMD"):
        expected = sum(p["cost_usd"] for p in plan["purchases"] if p["vendor"] == vendor)
        chips = sum(p["chips"] for p in plan["purchases"] if p["vendor"] == vendor)
        assert ev.cell("Purchase orders", f"D{by_v[vendor]}") == pytest.approx(expected)
        assert ev.cell("Purchase orders", f"C{by_v[vendor]}") == chips
    assert ev.cell("Purchase orders", f"D{by_v['Total']}") == pytest.approx(capex)

    matrix = _block(ws, "Spend by order quarter and vendor (USD)")
    header = _find_row(ws, "Spend by order quarter and vendor (USD)") + 1
    last = ws.cell(row=header, column=1).column + len({p["vendor"] for p in plan["purchases"]}) + 1
    assert ws.cell(row=header, column=last).value == "Total"
    grand = sum(ev.cell("Purchase orders", f"{openpyxl.utils.get_column_letter(last)}{r}") for r in matrix.values())
    assert grand == pytest.approx(capex)


def test_summary_totals_reconcile(plan: dict, tmp_path: Path) -> None:
    _, wb = _write(plan, tmp_path)
    ws, ev = wb["Summary"], Evaluator(wb)
    k = plan["kpis"]
    capex_row = _find_row(ws, "Capex (cash)")
    assert ws[f"B{capex_row}"].value.startswith("='Purchase orders'!")
    assert ev.cell("Summary", f"B{capex_row}") == pytest.approx(k["capex_usd"])
    tco_row = _find_row(ws, "Net horizon cost")
    assert ws[f"B{tco_row}"].data_type == "f"
    assert ev.cell("Summary", f"B{tco_row}") == pytest.approx(k["tco_usd"])
    assert ev.cell("Summary", f"B{_find_row(ws, 'Opex')}") == pytest.approx(k["opex_usd"])
    texts = [c.value for c in ws["A"] if isinstance(c.value, str)]
    assert "Site power at site_a binds in 2027Q4: one more kW is worth $1,234." in texts
    assert any(t.startswith("chat-70b is short 6,000 tokens/s in 2027Q1") for t in texts)
    peak = _find_row(ws, "site_a")
    assert ws[f"B{peak}"].value == pytest.approx(290.4) and ws[f"D{peak}"].value == pytest.approx(292.0)


def test_number_formats_and_layout(plan: dict, tmp_path: Path) -> None:
    _, wb = _write(plan, tmp_path)
    ws = wb["Purchase orders"]
    assert ws["I2"].number_format == "$#,##0" and ws["H2"].number_format == "$#,##0"
    assert ws["A1"].font.bold and ws["A1"].fill.fgColor.rgb.endswith("1F4E78")
    assert ws.freeze_panes == "A2"
    last = get_column_letter(len(plan["purchases"][0]))  # one column per purchase field (issue 22 added the price build-up)
    assert ws.auto_filter.ref == f"A1:{last}{1 + len(plan['purchases'])}"
    assert wb["Power"]["C2"].number_format == "#,##0.0"
    assert ws.column_dimensions["A"].width >= 10
    assert len(ws._charts) == 1 and type(ws._charts[0]).__name__ == "BarChart"
    assert ws._charts[0].grouping == "stacked"
    assert [type(c).__name__ for c in wb["Capacity"]._charts] == ["LineChart"] * 3
    assert len(wb["Power"]._charts) == 1


def test_input_text_stays_literal(plan: dict, tmp_path: Path) -> None:
    plan = copy.deepcopy(plan)
    plan["scenario"] = "=cmd|'/C calc'!A0"
    vendors = iter(HOSTILE)
    rename: dict[str, str] = {}
    for p in plan["purchases"]:
        rename.setdefault(p["vendor"], next(vendors))
        p["vendor"] = rename[p["vendor"]]
        p["site"] = "+1" if p["site"] == "site_a" else "-2"
    for row in plan["power"] + plan["racks"] + plan["deployments"]:
        row["site"] = "+1" if row["site"] == "site_a" else "-2"
    for row in plan["capacity"] + plan["deployments"]:
        row["workload"] = "@SUM(A1)" if row["workload"] == "chat-70b" else row["workload"]
    plan["limits"]["site_power_cap_kw"] = {"+1": 292.0, "-2": 240.0}
    plan["binding"][0]["where"] = '=HYPERLINK("http://x")'
    _, wb = _write(plan, tmp_path)
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value in {*HOSTILE, "+1", "-2", "@SUM(A1)"}:
                    assert cell.data_type == "s", (ws.title, cell.coordinate, cell.value)
                    seen.add(cell.value)
    assert {'=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)"} <= seen
    title = wb["Summary"]["A1"]
    assert title.value == "Procurement plan: =cmd|'/C calc'!A0" and title.data_type == "s"
    # Subtotals still add up with hostile vendor labels (the EXACT fallback), and still equal capex.
    ws, ev = wb["Purchase orders"], Evaluator(wb)
    by_v = _block(ws, "Subtotal by vendor")
    for old, new in rename.items():
        expected = sum(p["cost_usd"] for p in plan["purchases"] if p["vendor"] == new)
        assert ws[f"D{by_v[new]}"].value.startswith("=SUMPRODUCT(--EXACT(")
        assert ev.cell("Purchase orders", f"D{by_v[new]}") == pytest.approx(expected), old
    assert ev.cell("Purchase orders", f"D{by_v['Total']}") == pytest.approx(plan["kpis"]["capex_usd"])


def test_vendors_differing_only_in_case_are_not_merged(plan: dict, tmp_path: Path) -> None:
    plan = copy.deepcopy(plan)
    plan["purchases"][0]["vendor"] = "nvidia"
    plan["purchases"][1]["vendor"] = "NVIDIA"
    _, wb = _write(plan, tmp_path)
    ws, ev = wb["Purchase orders"], Evaluator(wb)
    by_v = _block(ws, "Subtotal by vendor")
    for vendor in ("nvidia", "NVIDIA"):
        expected = sum(p["cost_usd"] for p in plan["purchases"] if p["vendor"] == vendor)
        assert ev.cell("Purchase orders", f"D{by_v[vendor]}") == pytest.approx(expected)


def test_infeasible_plan_without_rows_still_writes(plan: dict, tmp_path: Path) -> None:
    plan = copy.deepcopy(plan)
    plan.update(status="infeasible", objective_usd=None, best_bound_usd=None, mip_gap=None)
    for key in ("purchases", "racks", "deployments", "power", "binding", "options"):
        plan[key] = []
    plan["kpis"] = dict.fromkeys(plan["kpis"])
    _, wb = _write(plan, tmp_path)
    assert wb.sheetnames == list(SHEETS)
    assert wb["Purchase orders"]["A2"].value == "No purchases in this plan."
    assert wb["Summary"]["A3"].value.startswith("Warning: Infeasible")
    assert [c.value for c in wb["Purchase orders"][1]][:3] == ["Order quarter", "Delivery quarter", "Vendor"]


def test_write_is_atomic_and_replaces(plan: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.report.workbook as workbook

    target = tmp_path / "plan.xlsx"
    target.write_bytes(b"old")

    def broken(*_args: Any) -> None:
        raise RuntimeError("sheet failed")

    monkeypatch.setattr(workbook, "write_run_sheet", broken)
    with pytest.raises(RuntimeError):
        write_workbook(plan, target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.xlsx"]
    monkeypatch.undo()
    write_workbook(plan, target)
    assert openpyxl.load_workbook(target).sheetnames == list(SHEETS)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_computes_the_same_totals_and_prints_pdf(plan: dict, tmp_path: Path) -> None:
    path, _ = _write(plan, tmp_path)
    out = tmp_path / "lo"
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"
    for fmt in ("pdf", "xlsx"):
        subprocess.run(["soffice", profile, "--headless", "--convert-to", fmt, "--outdir", str(out), str(path)],
                       check=True, capture_output=True, timeout=180)
    assert (out / "plan.pdf").read_bytes()[:4] == b"%PDF"
    values = openpyxl.load_workbook(out / "plan.xlsx", data_only=True)
    ws = values["Purchase orders"]
    total_row = _find_row(ws, "Total, all orders")
    assert ws[f"I{total_row}"].value == pytest.approx(plan["kpis"]["capex_usd"])
    summary = values["Summary"]
    assert summary[f"B{_find_row(summary, 'Net horizon cost')}"].value == pytest.approx(plan["kpis"]["tco_usd"])
    by_v = _block(ws, "Subtotal by vendor")
    assert ws[f"D{by_v['NVIDIA']}"].value == pytest.approx(
        sum(p["cost_usd"] for p in plan["purchases"] if p["vendor"] == "NVIDIA"))
