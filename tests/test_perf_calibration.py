"""Calibration: bundled factors are data with a fit report that reproduces; user overrides; row parsing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.calib_rows import (
    Case,
    parse_latency_constraint,
    parse_pcie_link,
    parse_power_setting,
    parse_precision,
    read_cases,
)
from planner.perf.calibration import BUNDLED_MEASUREMENTS
from planner.perf.calibration_io import load_calibration
from planner.perf.layout import Layout
from planner.perf.predict import _case_stage, predict_case

MODELS = load_model_catalog()
CHIPS = load_chip_catalog()


def test_bundled_factors_are_plausible_and_report_meets_targets() -> None:
    cal = load_calibration()
    assert cal.source.startswith("fit on calibration.csv")
    for eff in cal.factors.values():
        assert 0.2 <= eff.eta_bandwidth <= 1.0 and 0.05 <= eff.eta_compute <= 1.0
    s = cal.report["summary"]  # type: ignore[index]
    assert s["throughput_in_sample"]["median_ape_pct"] <= 15.0
    assert s["ttft_in_sample"]["median_ape_pct"] <= 20.0
    # every row is either predicted or listed with a reason: none dropped silently
    n_rows = len(pd.read_csv(BUNDLED_MEASUREMENTS))
    assert len(cal.report["rows"]) + len(cal.report["unmodelled"]) == n_rows  # type: ignore[index]


def test_report_predictions_reproduce_with_the_bundled_factors() -> None:
    cal = load_calibration()
    ratio = {k: m.n_heads / m.n_kv_heads for k, m in MODELS.items()}
    cases = {c.row_id: c for c in read_cases(BUNDLED_MEASUREMENTS, set(MODELS), set(CHIPS), ratio) if isinstance(c, Case)}
    for row in cal.report["rows"][:12]:  # type: ignore[index]
        got = float(predict_case(cases[row["id"]], MODELS, CHIPS, cal))
        assert got == pytest.approx(row["predicted"], rel=0.02)


def test_family_lookup_and_fallback() -> None:
    cal = load_calibration()
    assert cal.family(CHIPS["h100_sxm"]) == cal.family(CHIPS["h200_sxm"]) == "nvidia_hopper"
    assert cal.efficiency(CHIPS["h200_sxm"], "fp8") == cal.factors["nvidia_hopper|*"]
    assert cal.efficiency(CHIPS["tt_blackhole_p150"], "fp8") == cal.factors["*|*"]


def test_user_json_override(tmp_path: Path) -> None:
    doc = {"schema": "planner.perf.efficiency/1", "factors": [{"key": "nvidia_hopper|fp8", "eta_bandwidth": 0.5,
                                                               "eta_compute": 0.25}], "request_overhead_ms": 5}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    cal = load_calibration(path)
    e = cal.efficiency(CHIPS["h100_sxm"], "fp8")
    assert (e.eta_bandwidth, e.eta_compute, cal.request_overhead_ms) == (0.5, 0.25, 5.0)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "nope"}), encoding="utf-8")
    with pytest.raises(ValueError, match="schema"):
        load_calibration(bad)


def test_user_measured_table_is_fitted(tmp_path: Path) -> None:
    df = pd.read_csv(BUNDLED_MEASUREMENTS)
    mine = df[df["id"].isin(["V009", "V012", "V065", "V066", "V067", "V068", "V004"])]
    path = tmp_path / "measured.csv"
    mine.to_csv(path, index=False)
    cal = load_calibration(path)
    assert "measured.csv" in cal.source
    assert {r["id"] for r in cal.report["unmodelled"]} == {"V004"}  # type: ignore[index]
    assert len(cal.report["rows"]) == 6  # type: ignore[index]


def test_row_parsing_helpers() -> None:
    assert parse_precision('FP8 (E4M3/"FP8-143") weights+activations') == "fp8"
    assert parse_precision("16-bit (vendor)") == "bf16"
    assert parse_precision("FP4 (Blackwell FP4 ...)") == "fp4"
    assert parse_precision("not disclosed") is None
    assert parse_latency_constraint("TTFT p99<=2000 ms, TPOT p99<=200 ms") == (2000.0, 200.0)
    assert parse_latency_constraint("p99 latency <=20 s per sample") is None


def test_sram_per_user_claims_fit_one_layer_latency_per_vendor() -> None:
    cal = load_calibration()
    rows = {r["id"]: r for r in cal.report["rows"]}  # type: ignore[index]
    assert set(cal.layer_latency_us) == {"groq_lpu", "cerebras_wse"}
    assert cal.report["parameters"]["layer_latency_rows"] == {  # type: ignore[index]
        "groq_lpu": ["V087", "V089"], "cerebras_wse": ["V092", "V093"]}
    for rid in ("V087", "V089", "V092", "V093"):
        assert rows[rid]["kind"] == "per_user" and rows[rid]["in_fit"]
        assert abs(rows[rid]["error_pct"]) <= 30.0
    # no GPU family gets a layer latency, so GPU predictions do not depend on it
    for chip in CHIPS.values():
        if chip.memory_kind != "sram":
            assert cal.layer_latency_s(chip) == 0.0


def test_documented_system_facts_of_a_row() -> None:
    assert parse_pcie_link("4 instances x TP2; TP all-reduce over PCIe Gen5 x16") == pytest.approx(32 * 16 * 128 / 130 / 8)
    assert parse_pcie_link("2 instances x TP2") is None
    assert parse_power_setting("H200 configured at 1000 W TGP (CTS variant)") == 1000.0
    ratio = {k: m.n_heads / m.n_kv_heads for k, m in MODELS.items()}
    cases = {c.row_id: c for c in read_cases(BUNDLED_MEASUREMENTS, set(MODELS), set(CHIPS), ratio) if isinstance(c, Case)}
    v17, v09 = cases["V017"], cases["V009"]
    assert (v17.tp, v17.pp, v17.batch, v17.link_gbs_per_direction) == (2, 1, 896, pytest.approx(63.0, rel=0.01))
    cal = load_calibration()
    p = _case_stage(v17, MODELS[v17.model_id], CHIPS["h100_pcie"], Layout(tp=2), cal)
    assert float(p.link_bandwidth) == pytest.approx(63.0e9, rel=0.01)  # not the catalog's 300 GB/s NVLink bridge
    # the 1000 W H200 computes (1000 / 700)^(1/3) = 1.126x faster than the catalog's 700 W part; bandwidth unchanged
    at_tdp = _case_stage(replace(v09, power_w=None), MODELS[v09.model_id], CHIPS["h200_sxm"], Layout(), cal)
    at_1000 = _case_stage(v09, MODELS[v09.model_id], CHIPS["h200_sxm"], Layout(), cal)
    assert float(at_1000.compute) == pytest.approx(float(at_tdp.compute) * (1000 / 700) ** (1 / 3), rel=1e-9)
    assert float(at_1000.bandwidth) == float(at_tdp.bandwidth)


def test_layer_latency_json_round_trip_and_validation(tmp_path: Path) -> None:
    cal = load_calibration()
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(cal.to_json()), encoding="utf-8")
    again = load_calibration(path)
    assert dict(again.layer_latency_us) == pytest.approx(dict(cal.layer_latency_us))
    assert again.layer_latency_s(CHIPS["groq_lpu_v1"]) == pytest.approx(cal.layer_latency_us["groq_lpu"] * 1e-6)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**cal.to_json(), "layer_latency_us": {"groq_lpu": -1}}), encoding="utf-8")
    with pytest.raises(ValueError, match="layer_latency_us"):
        load_calibration(bad)


# A measured calibration table (`perf --calibration t.csv`, `inputs.calibration`) is read as strictly as the
# measurement CSVs: its text shape before pandas (an empty file said "No columns to parse from file"; a repeated
# `value` column was renamed `value.1` and the first fitted; a row with extra cells was shifted; NUL bytes were
# read; 24,000 rows ran past two minutes), and a row whose value, chip count or lengths are absurd is not used.
_TABLE = BUNDLED_MEASUREMENTS.read_text(encoding="utf-8")
_LINES = _TABLE.splitlines()


@pytest.mark.parametrize(("body", "words"), [
    ("", "file is empty"),
    (_LINES[0] + "\n", "no data rows under the header"),
    (_TABLE.replace("V001", "V0\x0001", 1), "NUL bytes"),
    (_LINES[0] + ",value\n" + "\n".join(x + ",1" for x in _LINES[1:]) + "\n", "row 1) | repeated column(s) value"),
    (_LINES[0] + "\n" + _LINES[1] + ",extra,cells\n", "row 2) | has"),
    (_LINES[0] + "\n" + "\n".join(_LINES[1:] * 50) + "\n", "more than 2,000 rows"),
])
def test_a_malformed_measured_table_is_located(tmp_path: Path, body: str, words: str) -> None:
    t = tmp_path / "t.csv"
    t.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match="t.csv") as info:
        load_calibration(t)
    assert words in str(info.value)


def test_a_measured_table_that_is_not_utf8_is_located(tmp_path: Path) -> None:
    t = tmp_path / "t.csv"
    t.write_bytes(_TABLE.encode().replace(b"Llama 2", b"Llama\xe9 2", 1))
    with pytest.raises(ValueError, match=r"t.csv\) \| not UTF-8 text"):
        load_calibration(t)


@pytest.mark.parametrize(("column", "value", "words"), [
    ("value", "inf", "not a finite number"), ("value", "1e300", "not a finite number"),
    ("chip_count", "0", "chip count 0"), ("chip_count", "1e12", "chip count 1e12"),
    ("isl", "-5", "isl/osl -5/128"), ("osl", "1e12", "isl/osl 128/1e+12"),
])
def test_a_row_with_an_absurd_figure_is_not_used(column: str, value: str, words: str) -> None:
    from planner.perf.calib_rows import Unmodelled, row_to_case

    df = pd.read_csv(BUNDLED_MEASUREMENTS)
    row = df[df["id"] == "V053"].iloc[0].copy()
    models, chips = load_model_catalog(), load_chip_catalog()
    assert not isinstance(row_to_case(row, set(models), set(chips)), Unmodelled)  # the row as bundled is used
    row[column] = value
    got = row_to_case(row, set(models), set(chips))
    assert isinstance(got, Unmodelled) and words in got.reason, got


def test_the_bundled_table_reads_as_before() -> None:
    from planner.perf.calib_rows import read_cases

    models, chips = load_model_catalog(), load_chip_catalog()
    cases = read_cases(BUNDLED_MEASUREMENTS, set(models), set(chips))
    assert len(cases) == len(pd.read_csv(BUNDLED_MEASUREMENTS))


# `families` of a calibration JSON maps chip ids to family names; a number, a list, null or a padded name was taken
# as is and failed later comparing family names (TypeError, exit 1). Every kind is refused, naming the entry.
@pytest.mark.parametrize("families", [{"h100_sxm": 5}, {"h100_sxm": ["nvidia_hopper"]}, {"h100_sxm": None},
                                      {"h100_sxm": " nvidia_hopper"}, {"h100_sxm": ""}, {" h100_sxm": "nvidia_hopper"},
                                      ["h100_sxm"], "nvidia_hopper"])
def test_a_calibration_family_that_is_not_a_name_is_refused(tmp_path: Path, families: object) -> None:
    from planner.perf.common import DATA_DIR

    doc = json.loads((DATA_DIR / "efficiency.json").read_text())
    doc["families"] = families
    c = tmp_path / "c.json"
    c.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"c.json: families"):
        load_calibration(c)
