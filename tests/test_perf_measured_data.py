"""The bundled stock-engine measurement table (planner/perf/data/measured.csv): schema and provenance only.

Every row cites a source URL, has positive numbers, names catalog ids and a known engine, says what kind of
measurement it is, repeats no case, and takes nothing from the held-out scoring set
(benchmarks/data/holdout_measured.csv). No test here asserts an accuracy figure of the model.
"""

from __future__ import annotations

import csv
from pathlib import Path

from planner.perf.measured import ENGINES, load_table, normalise_engine
from tests.table_rows import catalog_ids, number, read_rows

ROOT = Path(__file__).resolve().parent.parent
MEASURED = ROOT / "planner" / "perf" / "data" / "measured.csv"
HOLDOUT = ROOT / "benchmarks" / "data" / "holdout_measured.csv"
KINDS = {"offline_fixed", "concurrency", "tpot_target"}
PRECISIONS = {"FP16", "BF16", "FP8", "FP4", "INT8", "INT4"}
#: Chips named by rows before the catalog had them (shared/data/README.md: "`mi355x` rows name a chip that the
#: bundled catalog may not have yet"); the loader keeps them and the fit skips them as not modelled.
CHIPS_NOT_YET_IN_CATALOG = {"mi355x"}


def _rows(path: Path = MEASURED) -> list[dict[str, str]]:
    return read_rows(path)




def test_header_unique_ids_and_row_width():
    with open(MEASURED, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        widths = {len(r) for r in reader}
    assert len(header) == len(set(header))
    for col in ("id", "model_key", "chip_id", "chip_count", "tp", "pp", "ep", "precision", "isl", "osl", "metric",
                "value", "value_per_chip", "kind", "concurrency", "engine", "source_url", "confidence", "notes"):
        assert col in header, col
    assert widths == {len(header)}
    ids = [r["id"] for r in _rows()]
    assert len(ids) == len(set(ids))


def test_every_row_cites_a_source_and_says_what_it_is():
    for r in _rows():
        assert r["source_url"].startswith("https://"), r["id"]
        assert r["source"].strip(), r["id"]
        assert r["confidence"].strip(), r["id"]
        assert r["date"].strip(), r["id"]
        assert r["category"].strip(), r["id"]
        if "chart" in r["notes"].lower() or "estimate" in r["notes"].lower():
            assert "low" in r["confidence"].lower(), r["id"]


def test_numbers_positive_and_kind_consistent():
    for r in _rows():
        assert r["kind"] in KINDS, r["id"]
        assert r["precision"].upper() in PRECISIONS, r["id"]
        chips, tp, pp = (int(float(r[k])) for k in ("chip_count", "tp", "pp"))
        ep = int(float(r["ep"] or 1))
        assert min(chips, tp, pp, ep) >= 1, r["id"]
        assert tp % ep == 0 or ep % tp == 0, r["id"]
        for k in ("isl", "osl", "value", "value_per_chip"):
            assert float(r[k]) > 0, (r["id"], k)
        for k in ("ttft_mean_ms", "ttft_p99_ms", "tpot_mean_ms", "tpot_p99_ms", "concurrency", "tpot_target_ms",
                  "ttft_target_ms"):
            v = number(r[k])
            assert v is None or v > 0, (r["id"], k)
        cv = number(r["length_cv"])
        assert cv is None or cv >= 0, r["id"]
        per_gpu = "per_gpu" in r["metric"]
        assert per_gpu or r["metric"] == "output_tok_s_system", r["id"]
        assert ("per GPU" in r["unit"]) == per_gpu and "output tokens/s" in r["unit"], r["id"]
        # the per-chip column agrees with the value and the chip count (system figures divide by chip_count)
        expect = float(r["value"]) if per_gpu else float(r["value"]) / chips
        assert abs(float(r["value_per_chip"]) - expect) <= 0.01 * expect + 0.05, r["id"]
        if r["kind"] == "concurrency":
            assert number(r["concurrency"]), r["id"]
            assert not number(r["tpot_target_ms"]), r["id"]
        elif r["kind"] == "tpot_target":
            # the TPOT target it was held to, and the concurrency it ran at (the fit scores the row as a closed-loop
            # run at that concurrency, planner.perf.predictor.point_question)
            assert number(r["tpot_target_ms"]) and number(r["concurrency"]), r["id"]
            pct = number(r["target_percentile"])
            assert pct is None or 0 < pct <= 100, r["id"]
        else:
            assert not number(r["concurrency"]), r["id"]
            # offline_fixed: fixed lengths, but for MLPerf Offline runs (engine tuned) of a data set's varied lengths
            assert r["length_cv"].strip() in ("0", "0.0") or r["engine"] == "tuned", r["id"]


def test_ids_exist_in_catalogs_and_engines_are_known():
    models = catalog_ids(ROOT / "inputs" / "catalog" / "models.yaml", "model_id", "models")
    chips = catalog_ids(ROOT / "inputs" / "catalog" / "chips.yaml", "chip_id", "chips")
    for r in _rows():
        assert r["model_key"] in models, r["id"]
        assert r["chip_id"] in chips or r["chip_id"] in CHIPS_NOT_YET_IN_CATALOG, r["id"]
        assert r["engine"] in ENGINES, r["id"]  # written normalised, not as an alias
        assert normalise_engine(r["engine"]) == r["engine"], r["id"]


def test_no_duplicate_case():
    seen: dict[tuple[object, ...], str] = {}
    for r in _rows():
        c = number(r["concurrency"])
        key = (r["model_key"], r["chip_id"], r["precision"].upper(), int(float(r["tp"])), int(float(r["pp"])),
               int(float(r["ep"] or 1)), int(float(r["dp"] or 1)), r["engine"], round(float(r["isl"])),
               round(float(r["osl"])), None if c is None else round(c))
        assert key not in seen, (r["id"], seen.get(key), key)
        seen[key] = r["id"]


def test_no_held_out_source_or_case_is_bundled():
    held = _rows(HOLDOUT)
    urls = {h["source_url"].strip() for h in held}
    # the held-out publishers' documents by name, whatever commit or page a future row would cite
    banned = ("585c756579dc4d01f21fc13c2f604cdb461ac4f0", "developer-guide/perf-overview.md",  # TRT-LLM perf page ~1.1
              "gpustack",  # GPUStack performance lab
              "dstackai/benchmarks", "h200-mi300x-deepskeek-benchmark",  # dstack DeepSeek-R1 MI300X/H200
              "inference_results_v5.1")  # MLPerf v5.1 (the held-out MI325X rows and their mirror)

    def key(model, chip, engine, isl, osl, conc):
        c = number(conc)
        return (model, chip, engine or "vllm", round(float(isl)), round(float(osl)), None if c is None else round(c))

    held_keys = {key(h["model_id"], h["chip_id"], h["engine"], h["prompt_tokens"], h["output_tokens"],
                     h["concurrency"]) for h in held}
    for r in _rows():
        url = r["source_url"].strip()
        assert url not in urls, r["id"]
        assert not any(b in url or b in r["source"] for b in banned), r["id"]
        assert key(r["model_key"], r["chip_id"], r["engine"], r["isl"], r["osl"], r["concurrency"]) not in held_keys, \
            r["id"]


def test_loader_reads_every_row():
    rows = _rows()
    points = load_table(MEASURED)
    assert len(points) == len(rows)
    by_id = {p.row_id: p for p in points}
    for r in rows:
        p = by_id[r["id"]]
        assert p.tokens_per_s_per_chip > 0
        assert (p.concurrency is None) == (r["kind"] == "offline_fixed"), r["id"]
        assert p.kind == {"offline_fixed": "offline"}.get(r["kind"], r["kind"]), r["id"]
        assert p.ep == int(float(r["ep"] or 1)) and p.layout == (p.tp, p.pp, p.ep), r["id"]
        assert p.engine == r["engine"], r["id"]
