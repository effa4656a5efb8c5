"""The held-out measurement table (benchmarks/data/holdout_measured.csv) and the scorer's arithmetic.

Schema only: every row cites a source, numbers are positive, ids exist in the bundled catalogs, no row repeats a
bundled measured.csv row. No test here asserts an accuracy figure of the model.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from tests.table_rows import catalog_ids, number, read_rows

ROOT = Path(__file__).resolve().parent.parent
HOLDOUT = ROOT / "benchmarks" / "data" / "holdout_measured.csv"
MEASURED = ROOT / "planner" / "perf" / "data" / "measured.csv"
REQUIRED = ["id", "source", "source_ref", "source_url", "date", "publisher", "engine", "model_id", "chip_id", "chips",
            "tp", "pp", "ep", "precision", "kind", "prompt_tokens", "output_tokens", "length_cv", "concurrency",
            "tpot_target_ms", "ttft_target_ms", "target_percentile", "num_requests", "output_tokens_per_s_per_chip", "tpot_ms",
            "ttft_ms", "estimate", "tuned", "notes"]


def _load_scorer():
    spec = importlib.util.spec_from_file_location("perf_holdout", ROOT / "benchmarks" / "perf_holdout.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


ph = _load_scorer()


def _rows() -> list[dict[str, str]]:
    return read_rows(HOLDOUT)




def test_columns_and_ids_unique():
    with open(HOLDOUT, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert not [c for c in REQUIRED if c not in header]
    assert len(header) == len(set(header))
    rows = _rows()
    assert len(rows) >= 40
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))


def test_every_row_cites_its_source_and_says_what_it_did():
    for r in _rows():
        assert r["source"].strip() and r["source_ref"].strip() and r["date"].strip(), r["id"]
        assert r["source_url"].startswith("https://"), r["id"]
        assert r["notes"].strip(), r["id"]
        assert r["estimate"] in ("true", "false") and r["tuned"] in ("true", "false"), r["id"]
        if r["estimate"] == "true":
            assert "chart" in r["notes"].lower() or "estimate" in r["notes"].lower(), r["id"]


def test_numbers_positive_and_kind_consistent():
    precisions = {"bf16", "fp16", "fp8", "int8", "int4", "fp4"}
    for r in _rows():
        assert r["engine"] in ph.ENGINES, r["id"]
        assert r["kind"] in ph.KINDS, r["id"]
        assert r["precision"] in precisions, r["id"]
        chips, tp, pp, ep = (int(r[k]) for k in ("chips", "tp", "pp", "ep"))
        assert min(chips, tp, pp, ep) >= 1, r["id"]
        assert chips % (tp * pp) == 0, r["id"]
        assert tp % ep == 0 or ep % tp == 0, r["id"]
        for k in ("prompt_tokens", "output_tokens", "output_tokens_per_s_per_chip"):
            assert float(r[k]) > 0, (r["id"], k)
        for k in ("concurrency", "tpot_target_ms", "ttft_target_ms", "num_requests", "tpot_ms", "ttft_ms"):
            v = number(r[k])
            assert v is None or v > 0, (r["id"], k)
        cv = number(r["length_cv"])
        assert cv is None or cv >= 0, r["id"]
        if r["kind"] == "concurrency":
            assert number(r["concurrency"]), r["id"]
        if r["kind"] == "tpot_target":
            assert number(r["tpot_target_ms"]), r["id"]
        if r["kind"] == "offline":
            assert not number(r["concurrency"]) and not number(r["tpot_target_ms"]), r["id"]


def test_ids_exist_in_catalogs():
    models = catalog_ids(ROOT / "inputs" / "catalog" / "models.yaml", "model_id", "models")
    chips = catalog_ids(ROOT / "inputs" / "catalog" / "chips.yaml", "chip_id", "chips")
    for r in _rows():
        assert r["model_id"] in models, r["id"]
        assert r["chip_id"] in chips, r["id"]


def test_no_row_duplicates_bundled_measurements():
    with open(MEASURED, newline="", encoding="utf-8") as f:
        bundled = list(csv.DictReader(f))
    urls = {b["source_url"].strip() for b in bundled if b["source_url"].strip()}

    def key(model, chip, engine, isl, osl, conc):
        c = number(conc)
        return (model, chip, engine or "vllm", round(float(isl)), round(float(osl)), None if c is None else round(c))

    seen = {key(b["model_key"], b["chip_id"], b["engine"], b["isl"], b["osl"], b["concurrency"]) for b in bundled}
    for r in _rows():
        assert r["source_url"].strip() not in urls, r["id"]
        k = key(r["model_id"], r["chip_id"], r["engine"], r["prompt_tokens"], r["output_tokens"], r["concurrency"])
        assert k not in seen, (r["id"], k)


def test_csv_parses_with_scorer():
    rows = ph.read_rows(HOLDOUT)
    assert len(rows) == len(_rows())
    assert all(r.measured > 0 for r in rows)


# --- error arithmetic on hand-derived numbers --------------------------------------------------------------------


def test_signed_error_and_summary_by_hand():
    # predicted 120 vs measured 100 -> +20 %; 50 vs 100 -> -50 %; 110 vs 100 -> +10 %; 90 vs 100 -> -10 %
    errs = [ph.signed_error_pct(p, 100.0) for p in (120.0, 50.0, 110.0, 90.0)]
    assert errs == pytest.approx([20.0, -50.0, 10.0, -10.0])
    s = ph.summarise(errs)
    # |e| sorted: 10, 10, 20, 50 -> median (10 + 20) / 2 = 15; p90 at position 0.9 x 3 = 2.7: 20 + 0.7 x 30 = 41
    # signed sorted: -50, -10, 10, 20 -> median 0
    assert s.n == 4
    assert s.median_abs == pytest.approx(15.0)
    assert s.p90_abs == pytest.approx(41.0)
    assert s.median_signed == pytest.approx(0.0)
    assert math.isnan(ph.summarise([]).median_abs)


def test_group_summaries_by_hand():
    res = [{"engine": "vllm", "signed_err": 30.0}, {"engine": "vllm", "signed_err": -10.0},
           {"engine": "trtllm", "signed_err": 5.0}]
    g = ph.group_summaries(res, lambda r: r["engine"])
    assert list(g) == ["trtllm", "vllm"]
    assert g["vllm"].n == 2 and g["vllm"].median_abs == pytest.approx(20.0)
    assert g["vllm"].median_signed == pytest.approx(10.0)
    assert g["trtllm"].p90_abs == pytest.approx(5.0)


def _row(**kw):
    base = dict(id="X1", source="s", engine="vllm", model_id="llama-3.1-70b", chip_id="h100_sxm", chips=4, tp=2, pp=1,
                ep=1, precision="fp8", kind="concurrency", prompt_tokens=1000.0, output_tokens=500.0, measured=200.0,
                length_cv=0.0, concurrency=64.0)
    base.update(kw)
    return ph.Row(**base)


def test_argv_uses_new_flags_when_listed_and_falls_back_otherwise():
    new = ph.detect_capabilities("--engine ENGINE --concurrency C --length-cv X --ep EP")
    old = ph.detect_capabilities("--batch BATCH --length-cv X --ep EP")
    argv, notes = ph.perf_argv(_row(), new)
    assert argv[argv.index("--engine") + 1] == "vllm" and argv[argv.index("--concurrency") + 1] == "64"
    assert "--batch" not in argv and not notes
    argv, _ = ph.perf_argv(_row(tuned=True), new)  # a tuned submission is asked in the tuned regime
    assert argv[argv.index("--engine") + 1] == "tuned"
    argv, notes = ph.perf_argv(_row(), old)
    assert "--engine" not in argv and "--concurrency" not in argv
    assert argv[argv.index("--batch") + 1] == "64" and len(notes) == 2
    argv, _ = ph.perf_argv(_row(kind="tpot_target", concurrency=None, tpot_target_ms=50.0, target_percentile=50.0),
                           new)
    assert argv[argv.index("--tpot-ms") + 1] == "50" and argv[argv.index("--percentile") + 1] == "50"
    argv, _ = ph.perf_argv(_row(kind="offline", concurrency=None), new)
    assert "--concurrency" not in argv and "--tpot-ms" not in argv and "--batch" not in argv


def test_prediction_per_chip_from_json_by_hand(monkeypatch):
    # system throughput 1000 tokens/s on 4 chips -> 250 per chip; measured 200 -> +25 %
    payload = {"throughput_tokens_per_s": 1000.0, "batch": 64, "tpot_ms": 30.0, "ttft_ms": 200.0}
    monkeypatch.setattr(ph, "run_planner", lambda argv, sub: (0, json.dumps(payload), ""))
    monkeypatch.setattr(ph, "chip_family", lambda chip_id: "family")  # keeps the planner's imports out of this test
    monkeypatch.setattr(ph, "bundled_sites", lambda: set())
    caps = ph.detect_capabilities("--engine --concurrency --length-cv --ep")
    scored, refused = ph.score([_row()], caps)
    assert not refused
    assert scored[0]["predicted"] == pytest.approx(250.0)
    assert scored[0]["signed_err"] == pytest.approx(25.0)
    # an explicit per-chip field wins over the division
    assert ph.per_chip_tokens({"tokens_per_s_per_chip": 300.0, "throughput_tokens_per_s": 1000.0}, 4) == 300.0
    # a refusal is reported, not scored
    monkeypatch.setattr(ph, "run_planner", lambda argv, sub: (3, "{}", "no batch meets the targets"))
    scored, refused = ph.score([_row(kind="offline", concurrency=None)], caps)
    assert not scored and refused[0]["error"] == "no batch meets the targets"


def test_site_key_by_hand():
    assert ph.site_key("https://github.com/NVIDIA/TensorRT-LLM/blob/abc/docs/x.md") == "nvidia/tensorrt-llm"
    assert ph.site_key("https://www.amd.com/en/developer/x.html") == "amd.com"
    assert ph.site_key("https://inferencex.semianalysis.com/blog/x") == "inferencex.semianalysis.com"
