"""Measurement files a user supplies (`perf --measurements`, a scenario's `inputs.measurements`) are read strictly
(issue #24, fourth attack): every fault is a ValueError naming the file and the column and row, never a pandas
message without a file, an internal error, or a point silently read twice or from the wrong column.

Built from the reader's mechanism: a plain CSV is parsed by the `csv` module (not pandas, which renamed a repeated
column `x.1` and read the first, and crashed on a row with extra cells), its shape checked first, then every cell:
required cells filled, numeric cells numbers within range (a latency under 1 ms is in seconds), and no run twice.
A benchmark JSON may carry a UTF-8 BOM; a key written twice is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from planner.errors import InputError
from planner.io.loader import load_inputs
from planner.io.vllm_json import FIELDS, LATENCY_MS
from planner.perf.measured import (
    _PLAIN_FLOORS,
    _PLAIN_NUMERIC,
    _PLAIN_REQUIRED,
    PLAIN_CSV_COLUMNS,
    BenchmarkJsonError,
    read_plain_csv,
    read_vllm_json,
)
from tests.test_vllm_json import GOOD as GOOD_JSON
from tests.whatif_cases import write_twins

HEADER = list(PLAIN_CSV_COLUMNS)
ROW = {"model_id": "llama-3.1-70b", "chip_id": "h100_sxm", "precision": "fp8", "tp": "8", "engine": "vllm",
       "prompt_tokens": "1000", "output_tokens": "200", "concurrency": "16", "output_tokens_per_s": "3000",
       "ttft_ms": "200", "tpot_ms": "30"}
TEXT = ",".join(HEADER) + "\n" + ",".join(ROW[c] for c in HEADER) + "\n"


def _csv(tmp_path: Path, text: str | bytes) -> Path:
    f = tmp_path / "mine.csv"
    f.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return f


def _fails(f: Path, *fragments: str) -> str:
    with pytest.raises(ValueError) as info:
        read_plain_csv(f)
    message = str(info.value)
    assert str(f) in message and all(x in message for x in fragments), message
    return message


def test_the_good_file_reads_also_with_a_bom_and_crlf(tmp_path: Path) -> None:
    (p,) = read_plain_csv(_csv(tmp_path, TEXT))
    assert p.tokens_per_s_per_chip == 375.0 and p.ttft_ms == 200.0
    (q,) = read_plain_csv(_csv(tmp_path, b"\xef\xbb\xbf" + TEXT.replace("\n", "\r\n").encode()))
    assert (q.tokens_per_s_per_chip, q.ttft_ms, q.model_id) == (375.0, 200.0, "llama-3.1-70b")


SHAPES = {
    "empty": ("", "file is empty"),
    "blank lines": ("\n\n", "file is empty"),
    "header only": (TEXT.splitlines()[0] + "\n", "no measurement rows"),
    "a row with extra cells": (TEXT.rstrip("\n") + ",x,y\n", "row 2) | has 13 cells but the header has 11"),
    "a row with fewer cells": (TEXT.splitlines()[0] + "\nllama-3.1-70b,h100_sxm\n", "row 2) | has 2 cells"),
    "an unclosed quote": (TEXT.splitlines()[0] + '\n"llama-3.1-70b,h100_sxm\n', "row 2) | has 1 cells"),
    "a missing column": (TEXT.replace(",tpot_ms", "", 1), "missing column(s) tpot_ms"),
}


@pytest.mark.parametrize(("text", "fragment"), SHAPES.values(), ids=SHAPES.keys())
def test_a_malformed_file_is_a_located_error(tmp_path: Path, text: str | bytes, fragment: str) -> None:
    _fails(_csv(tmp_path, text), fragment)


def test_a_file_not_in_utf8_raises_the_decode_error_its_callers_word(tmp_path: Path) -> None:
    # `perf` says "--measurements m.csv: not UTF-8 text (byte N)", a scenario locates it at inputs.measurements[i]
    with pytest.raises(UnicodeDecodeError):
        read_plain_csv(_csv(tmp_path, TEXT.replace("vllm", "vll\xe9").encode("latin-1")))


@pytest.mark.parametrize("column", HEADER)
def test_a_repeated_column_is_refused_not_read_from_one_of_them(tmp_path: Path, column: str) -> None:
    header, cells = HEADER + [column], [ROW[c] for c in HEADER] + ["99999"]
    _fails(_csv(tmp_path, ",".join(header) + "\n" + ",".join(cells) + "\n"), "row 1) | repeated column(s) " + column)


def _with(column: str, value: str) -> str:
    return ",".join(HEADER) + "\n" + ",".join(value if c == column else ROW[c] for c in HEADER) + "\n"


@pytest.mark.parametrize("column", _PLAIN_REQUIRED)
def test_a_blank_required_cell_is_refused(tmp_path: Path, column: str) -> None:
    _fails(_csv(tmp_path, _with(column, "")), f"{column}[row 2]) | is blank")


NUMERIC_IN_HEADER = [c for c in _PLAIN_NUMERIC if c in HEADER]


@pytest.mark.parametrize("value", ["true", "False", "inf", "-inf", "nan", "abc", "1e400", "1e12"])
@pytest.mark.parametrize("column", NUMERIC_IN_HEADER)
def test_a_numeric_cell_that_is_not_a_number_in_range_is_refused(tmp_path: Path, column: str, value: str) -> None:
    _fails(_csv(tmp_path, _with(column, value)), f"{column}[row 2]) | ")


FLOORS = [(c, floor, v) for c, floor, _ in _PLAIN_FLOORS if c in HEADER for v in (floor / 2, 0.0, -1.0)]


@pytest.mark.parametrize(("column", "floor", "value"), FLOORS)
def test_a_cell_below_its_floor_is_refused_and_a_latency_in_seconds_said(tmp_path: Path, column: str, floor: float,
                                                                        value: float) -> None:
    message = _fails(_csv(tmp_path, _with(column, f"{value:g}")), f"{column}[row 2]) | must be at least {floor:g}")
    if column.endswith("_ms") and value > 0:
        assert "seconds" in message


def test_a_run_written_twice_is_refused(tmp_path: Path) -> None:
    again = ",".join(ROW[c] if c != "output_tokens_per_s" else "9000" for c in HEADER)
    _fails(_csv(tmp_path, TEXT + again + "\n"), "row 3) | repeats the run of row 2")


@pytest.mark.parametrize("key", [k for k, *_ in FIELDS] + list(LATENCY_MS))
def test_a_benchmark_json_key_written_twice_is_refused(tmp_path: Path, key: str) -> None:
    f = tmp_path / "run.json"
    f.write_text(json.dumps(GOOD_JSON)[:-1] + f', "{key}": 1}}')
    with pytest.raises(BenchmarkJsonError) as info:
        read_vllm_json(f, "llama-3.1-70b", "h100_sxm", "fp8", 8)
    assert info.value.problems == [(key, "is written more than once: one value would be silently ignored; keep one")]


def test_a_benchmark_json_with_a_bom_reads(tmp_path: Path) -> None:
    f = tmp_path / "run.json"
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD_JSON).encode())
    assert read_vllm_json(f, "llama-3.1-70b", "h100_sxm", "fp8", 8).tokens_per_s_per_chip == 2500.0 / 8


@pytest.mark.parametrize("spelling", ["./m.csv", "sub/../m.csv", "link.csv"])
def test_a_scenario_naming_one_csv_twice_is_refused(tmp_path: Path, spelling: str) -> None:
    scenario = write_twins(tmp_path)
    text = TEXT.replace("llama-3.1-70b", "m").replace("h100_sxm", "a")
    (scenario.parent / "m.csv").write_text(text)
    (scenario.parent / "sub").mkdir()
    (scenario.parent / "link.csv").symlink_to(scenario.parent / "m.csv")
    doc = yaml.safe_load(scenario.read_text())
    doc["inputs"]["measurements"] = [{"file": "m.csv"}, {"file": spelling}]
    scenario.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError) as info:
        load_inputs(scenario)
    assert any(p.locator == "inputs.measurements[1]" and "same file as inputs.measurements[0]" in p.message
               for p in info.value.problems), [str(p) for p in info.value.problems]


# Fitting the predictor costs about 1 ms per measured point: 100,000 rows took a minute (a hang on the attack's
# scale), and a scenario could list many such files. At most MAX_USER_POINTS per file and in all.
def _rows(n: int, start: int = 1) -> str:
    return "".join(",".join(ROW[c] if c != "concurrency" else str(k) for c in HEADER) + "\n" for k in range(start, start + n))


def test_a_file_with_more_rows_than_the_limit_is_refused_without_fitting(tmp_path: Path) -> None:
    from planner.perf.measured import MAX_USER_POINTS

    _fails(_csv(tmp_path, ",".join(HEADER) + "\n" + _rows(MAX_USER_POINTS + 1)), f"more than {MAX_USER_POINTS:,} measurement rows")
    assert len(read_plain_csv(_csv(tmp_path, ",".join(HEADER) + "\n" + _rows(MAX_USER_POINTS)))) == MAX_USER_POINTS


def test_files_that_together_pass_the_limit_are_refused(tmp_path: Path) -> None:
    from planner.perf.measured import MAX_USER_POINTS

    scenario = write_twins(tmp_path)
    half = MAX_USER_POINTS // 2 + 1
    body = TEXT.splitlines()[0] + "\n"
    (scenario.parent / "a.csv").write_text(body + _rows(half).replace("llama-3.1-70b", "m").replace("h100_sxm", "a"))
    (scenario.parent / "b.csv").write_text(body + _rows(half, half + 1).replace("llama-3.1-70b", "m").replace("h100_sxm", "a"))
    doc = yaml.safe_load(scenario.read_text())
    doc["inputs"]["measurements"] = [{"file": "a.csv"}, {"file": "b.csv"}]
    scenario.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError) as info:
        load_inputs(scenario)
    assert any(p.locator == "inputs.measurements" and f"at most {MAX_USER_POINTS:,}" in p.message
               for p in info.value.problems), [str(p) for p in info.value.problems]
