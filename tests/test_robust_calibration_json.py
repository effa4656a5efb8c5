"""A calibration JSON (`--calibration`, `inputs.calibration`) reads every figure strictly: a boolean, a quoted
number, NaN/Infinity, an integer no float holds, or a family key with spaces is refused (exit 2), where `float()`
used to read `true` as 1, `"1"` as 1, and crash (exit 1) on a 400-digit integer."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from planner.cli import main
from planner.perf.calibration import calibration_from_json

BUNDLED = json.loads(Path("planner/perf/data/efficiency.json").read_text())
BAD = [True, False, "1", "0.5", float("nan"), float("inf"), int("9" * 400), None, [1], {"a": 1}]


def _paths() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [("request_overhead_ms",), ("step_overhead_us",)]
    for table in ("layer_latency_us", "full_clock_w_per_tflop"):
        out.append((table, next(iter(BUNDLED[table]))))
    out += [("factors", "0", "eta_bandwidth"), ("factors", "0", "eta_compute")]
    return out


def _set(doc: dict, path: tuple[str, ...], value: object) -> dict:
    d = copy.deepcopy(doc)
    node = d
    for p in path[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    node[path[-1]] = value
    return d


def test_the_bundled_file_reads() -> None:
    calibration_from_json(BUNDLED, "efficiency.json")


@pytest.mark.parametrize("path", _paths(), ids=".".join)
@pytest.mark.parametrize("value", BAD, ids=lambda v: repr(v)[:12])
def test_a_figure_that_is_not_a_finite_number_is_refused(path: tuple[str, ...], value: object) -> None:
    with pytest.raises(ValueError):
        calibration_from_json(_set(BUNDLED, path, value), "cal.json")


@pytest.mark.parametrize("table", ["layer_latency_us", "full_clock_w_per_tflop"])
@pytest.mark.parametrize("spaced", [" {}", "{} ", "\t{}"])
def test_a_family_key_with_spaces_is_refused(table: str, spaced: str) -> None:
    doc = copy.deepcopy(BUNDLED)
    key = next(iter(doc[table]))
    doc[table][spaced.format(key)] = doc[table].pop(key)
    with pytest.raises(ValueError):
        calibration_from_json(doc, "cal.json")


@pytest.mark.parametrize("text", ["true", "9" * 400, "Infinity"])
def test_perf_exits_2(tmp_path: Path, text: str, capsys) -> None:
    f = tmp_path / "cal.json"
    f.write_text(json.dumps(_set(BUNDLED, ("step_overhead_us",), 12345.678)).replace("12345.678", text))
    rc = main(["perf", "--model", "llama-3.1-70b", "--chip", "h100_sxm", "--chips", "8", "--precision", "fp8",
               "--prompt-tokens", "1000", "--output-tokens", "200", "--calibration", str(f)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "internal error" not in err
