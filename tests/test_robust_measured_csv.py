"""A measured-points CSV reads every numeric cell strictly: a boolean, NaN-free infinity, an integer beyond a float,
a fractional or oversized TP/PP/EP, or a figure beyond 1e9 is a located problem, never read as 1 or crashed on."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.perf.measured import read_plain_csv

HEADER = ("model_id,chip_id,precision,tp,engine,prompt_tokens,output_tokens,concurrency,output_tokens_per_s,"
          "ttft_ms,tpot_ms,pp,ep")
GOOD = {"model_id": "m", "chip_id": "c", "precision": "fp8", "tp": "4", "engine": "vllm", "prompt_tokens": "1000",
        "output_tokens": "1000", "concurrency": "8", "output_tokens_per_s": "800", "ttft_ms": "100", "tpot_ms": "20",
        "pp": "1", "ep": "1"}
NUMERIC = ["tp", "prompt_tokens", "output_tokens", "concurrency", "output_tokens_per_s", "ttft_ms", "tpot_ms", "pp", "ep"]
BAD = ["true", "False", "inf", "-inf", "1e308", "9" * 400, "1e10"]


def _write(tmp_path: Path, row: dict[str, str]) -> Path:
    f = tmp_path / "m.csv"
    f.write_text(HEADER + "\n" + ",".join(row[c] for c in HEADER.split(",")) + "\n")
    return f


def test_the_good_row_reads(tmp_path: Path) -> None:
    (p,) = read_plain_csv(_write(tmp_path, GOOD))
    assert p.tp == 4


@pytest.mark.parametrize("col", NUMERIC)
@pytest.mark.parametrize("value", BAD, ids=lambda v: v[:10])
def test_a_bad_numeric_cell_is_a_located_problem(tmp_path: Path, col: str, value: str) -> None:
    with pytest.raises(ValueError) as info:
        read_plain_csv(_write(tmp_path, {**GOOD, col: value}))
    assert f"{col}[row 2]" in str(info.value) or "row 2" in str(info.value)


@pytest.mark.parametrize("col", ["tp", "pp", "ep"])
@pytest.mark.parametrize("value", ["2.5", "5000", "0.5"])
def test_a_layout_is_a_whole_number_of_chips(tmp_path: Path, col: str, value: str) -> None:
    with pytest.raises(ValueError):
        read_plain_csv(_write(tmp_path, {**GOOD, col: value}))


# A row naming a model, chip or precision that does not exist was read and then never used (`perf --measurements`:
# silently; a precision such as `fp7`: an internal error); a target percentile of 100 or more was accepted. Each is
# now located at its cell, every kind of id, through `perf --measurements` (which knows the catalogs).
_HEAD = "model_id,chip_id,precision,tp,engine,prompt_tokens,output_tokens,concurrency,output_tokens_per_s,ttft_ms,tpot_ms"
_ROW = {"model_id": "llama-3.1-70b", "chip_id": "h100_sxm", "precision": "fp8", "tp": "8", "engine": "vllm",
        "prompt_tokens": "1000", "output_tokens": "200", "concurrency": "16", "output_tokens_per_s": "3000",
        "ttft_ms": "200", "tpot_ms": "30"}


@pytest.mark.parametrize(("column", "value", "words"), [
    ("model_id", "llama-9", "unknown model 'llama-9'"),
    ("chip_id", "H100_SXM", "unknown chip 'H100_SXM'; did you mean h100_sxm?"),
    ("precision", "fp7", "unknown precision 'fp7'"),
    ("precision", "fp8 ", None),  # cells are stripped as every cell of this CSV: fine
])
def test_perf_measurements_row_with_an_unknown_id_is_located(tmp_path, capsys, column: str, value: str, words) -> None:  # type: ignore[no-untyped-def]
    from planner.cli import main

    m = tmp_path / "m.csv"
    m.write_text(_HEAD + "\n" + ",".join((_ROW | {column: value})[c] for c in _HEAD.split(",")) + "\n")
    code = main(["perf", "--model", "llama-3.1-70b", "--chip", "h100_sxm", "--precision", "fp8", "--prompt-tokens",
                 "1000", "--output-tokens", "200", "--chips", "8", "--tp", "8", "--measurements", str(m)])
    err = capsys.readouterr().err
    if words is None:
        assert code == 0, err
        return
    assert code == 2, err
    assert f"({m}, {column}[row 2]) | {words}" in err


@pytest.mark.parametrize("pct", ["100", "150", "1e9"])
def test_a_target_percentile_of_100_or_more_is_refused(tmp_path, pct: str) -> None:
    from planner.perf.measured import read_plain_csv

    m = tmp_path / "m.csv"
    m.write_text(_HEAD + ",tpot_target_ms,target_percentile\n" + ",".join(_ROW[c] for c in _HEAD.split(","))
                 + f",40,{pct}\n")
    with pytest.raises(ValueError, match=r"target_percentile\[row 2\]\) \| must be below 100"):
        read_plain_csv(m)
