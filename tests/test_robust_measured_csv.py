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
