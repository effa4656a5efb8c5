"""vLLM benchmark JSON import (issue #24): a generated set of malformed result files, each fault reported in its file
by field, all faults of all files in one report, duplicated runs noticed, latencies in seconds caught."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest
import yaml

from planner.errors import InputError
from planner.io.loader import load_inputs
from planner.io.vllm_json import FIELDS, LATENCY_MS, vllm_json_problems
from planner.perf.measured import BenchmarkJsonError, read_vllm_json
from tests.whatif_cases import write_twins

GOOD = {"backend": "vllm", "max_concurrency": 16, "completed": 200, "total_input_tokens": 100_000,
        "total_output_tokens": 40_000, "output_throughput": 2500.0, "duration": 16.0, "request_throughput": 12.5,
        "mean_ttft_ms": 120.0, "median_ttft_ms": 110.0, "p99_ttft_ms": 400.0, "mean_tpot_ms": 22.0,
        "median_tpot_ms": 21.0, "p99_tpot_ms": 35.0, "mean_itl_ms": 22.0, "median_itl_ms": 20.0, "p99_itl_ms": 60.0}
INTEGER = {k for k, _, integer, *_ in FIELDS if integer}
NUMERIC = [k for k, *_ in FIELDS] + list(LATENCY_MS)


def _faults() -> list[tuple[str, object, str]]:
    """(field, bad value, words the message must hold) for every numeric field."""
    out = []
    for key in NUMERIC:
        out += [(key, -1, ""), (key, 0, ""), (key, float("inf"), "finite"), (key, float("nan"), "finite"),
                (key, True, "number"), (key, "100", "number"), (key, [5], "number"), (key, 1e20, "at most")]
        if key in INTEGER:
            out.append((key, 2.5, "whole number"))
        if key in LATENCY_MS:
            out += [(key, 0.2, "looks like seconds"), (key, 0.012, "multiply by 1000")]
    required = [k for k, req, *_ in FIELDS if req]
    out += [(key, None, "missing") for key in required]
    return out


FAULTS = _faults()


def _write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))  # json writes inf/nan as Infinity/NaN, which json.loads reads back
    return path


def test_the_good_file_reads() -> None:
    assert vllm_json_problems(GOOD) == []
    assert len(FAULTS) > 150


@pytest.mark.parametrize(("key", "value", "words"), FAULTS, ids=[f"{k}={v!r}" for k, v, _ in FAULTS])
def test_each_fault_is_reported_once_by_field(tmp_path: Path, key: str, value: object, words: str) -> None:
    doc = dict(GOOD)
    if value is None:
        del doc[key]
    else:
        doc[key] = value
    with pytest.raises(BenchmarkJsonError) as exc:
        read_vllm_json(_write(tmp_path / "run.json", doc), "llama-3.1-8b", "twin_a", "fp8", 2)
    fields = [k for k, _ in exc.value.problems]
    assert fields.count(key) == 1, exc.value.problems
    message = dict(exc.value.problems)[key]
    assert words in message


@pytest.mark.parametrize("seed", range(12))
def test_every_fault_of_a_file_is_in_one_report(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    chosen = {}
    for key, value, _ in rng.sample(FAULTS, 6):
        chosen.setdefault(key, value)
    doc = {k: v for k, v in GOOD.items() if chosen.get(k, 0) is not None}
    doc.update({k: v for k, v in chosen.items() if v is not None})
    with pytest.raises(BenchmarkJsonError) as exc:
        read_vllm_json(_write(tmp_path / "run.json", doc), "llama-3.1-8b", "twin_a", "fp8", 2)
    assert {k for k, _ in exc.value.problems} >= set(chosen)


@pytest.mark.parametrize(("tp", "pp", "ep"), [(0, 1, 1), (-2, 1, 1), (True, 1, 1), (2.5, 1, 1), (5000, 1, 1),
                                              (2, 0, 1), (2, 1, 0), (2, "2", 1)])
def test_a_bad_layout_is_refused(tmp_path: Path, tp: object, pp: object, ep: object) -> None:
    with pytest.raises(BenchmarkJsonError) as exc:
        read_vllm_json(_write(tmp_path / "run.json", GOOD), "m", "c", "fp8", tp, pp=pp, ep=ep)  # type: ignore[arg-type]
    assert {k for k, _ in exc.value.problems} <= {"tp", "pp", "ep"} and exc.value.problems


@pytest.mark.parametrize("doc", [[], "text", 5, None, {"nested": GOOD}])
def test_not_a_result_object(tmp_path: Path, doc: object) -> None:
    with pytest.raises(BenchmarkJsonError):
        read_vllm_json(_write(tmp_path / "run.json", doc), "m", "c", "fp8", 1)


def _scenario(tmp_path: Path, entries: list[dict]) -> Path:
    sc = write_twins(tmp_path / "sc")
    raw = yaml.safe_load(sc.read_text())
    raw["inputs"]["measurements"] = entries
    sc.write_text(yaml.safe_dump(raw))
    return sc


def _entry(name: str, **over: object) -> dict:
    return {"file": name, "model_id": "llama-3.1-8b", "chip_id": "twin_a", "precision": "fp8", "tp": 2, **over}


def test_all_files_faults_in_one_scenario_report(tmp_path: Path) -> None:
    """Three broken files, each with different faults, and a good one: one InputError lists every fault by file."""
    folder = tmp_path / "sc"
    folder.mkdir()
    expected = set()
    entries = []
    for i, (key, value, _) in enumerate(itertools.islice((f for f in FAULTS if f[1] is not None), 0, None, 17)):
        doc = {**GOOD, key: value}
        _write(folder / f"bad{i}.json", doc)
        entries.append(_entry(f"bad{i}.json", tp=1 + i % 4))
        expected.add((f"bad{i}.json", key))
    _write(folder / "good.json", GOOD)
    entries.append(_entry("good.json"))
    with pytest.raises(InputError) as exc:
        load_inputs(_scenario(tmp_path, entries))
    got = {(p.file, p.locator) for p in exc.value.problems}
    assert got == expected, exc.value.report()
    assert all("in twins.yaml" in p.message for p in exc.value.problems)


def test_the_same_run_twice_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "sc"
    folder.mkdir()
    _write(folder / "a.json", GOOD)
    _write(folder / "copy.json", GOOD)
    _write(folder / "other_conc.json", {**GOOD, "max_concurrency": 32})
    entries = [_entry("a.json"), _entry("a.json"), _entry("copy.json"), _entry("other_conc.json"),
               _entry("a.json", chip_id="twin_b")]
    with pytest.raises(InputError) as exc:
        load_inputs(_scenario(tmp_path, entries))
    dups = [(p.locator, p.message) for p in exc.value.problems]
    assert [loc for loc, _ in dups] == ["inputs.measurements[1]", "inputs.measurements[2]"], dups
    assert all("the same run as inputs.measurements[0]" in m for _, m in dups)
    load_inputs(_scenario(tmp_path, [entries[0], *entries[3:]]))  # different concurrency or chip: not the same run


@pytest.mark.parametrize("key", [k for k, *_ in FIELDS if not dict((f[0], f[2]) for f in FIELDS)[k]])
@pytest.mark.parametrize("tiny", [1e-320, 5e-324, 1e-300, 1e-9])
def test_a_vanishing_rate_or_duration_is_refused(key: str, tiny: float) -> None:
    """Every non-count field has a positive floor: a subnormal value is > 0 but its reciprocal overflows."""
    assert [k for k, _ in vllm_json_problems({**GOOD, key: tiny})] == [key]


@pytest.mark.parametrize("key", [k for k, *_ in FIELDS] + list(LATENCY_MS))
@pytest.mark.parametrize("variant", [" {}", "{} ", "\\t{}", "{}\\n", "{}".upper()])
def test_a_key_that_differs_only_by_spaces_or_case_is_refused(key: str, variant: str) -> None:
    odd = variant.replace("\\t", "\t").replace("\\n", "\n").format(key)
    if variant == "{}".upper():
        odd = key.upper()
    problems = vllm_json_problems({**GOOD, odd: GOOD.get(key, 1)})
    assert [k for k, _ in problems] == [odd], problems


@pytest.mark.parametrize("key", NUMERIC)
@pytest.mark.parametrize("digits", [310, 400, 4000])
def test_an_integer_beyond_a_float_is_reported_not_raised(key: str, digits: int) -> None:
    problems = vllm_json_problems({**GOOD, key: int("9" * digits)})
    assert [k for k, _ in problems] == [key], problems
    assert all(len(m) < 300 for _, m in problems)


def test_a_file_with_a_huge_integer_is_a_located_input_error(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    doc = {k: v for k, v in GOOD.items() if k != "completed"}
    path.write_text(json.dumps(doc)[:-1] + ', "completed": ' + "9" * 400 + "}")
    with pytest.raises(BenchmarkJsonError):
        read_vllm_json(path, "llama-3.1-8b", "twin_a", "fp8", 2)
