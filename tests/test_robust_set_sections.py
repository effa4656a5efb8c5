"""`--set` never loses what the scenario says silently (issue #24, leftovers 1 and 2).

A mapping value replaces a whole section, so one that omits fields the scenario sets (`policy={}`) is refused, naming
each field it would drop; whitespace around a whole `KEY=VALUE` argument or before its `=` is refused like a key with
spaces in a file. The cases are generated from the bundled example: every section (mapping) it sets, every field
under it, every leaf path it sets, and every kind of whitespace, for `--set`, the API's overrides and `sweep --param`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.errors import InputError
from planner.io.overrides import apply_sets, check_path, normalise_sets
from planner.io.scenario_file import read_scenario_raw
from planner.sweep.params import parse_params
from tests.conftest import EXAMPLE, run_cli

RAW, _ = read_scenario_raw(EXAMPLE)
assert RAW is not None
LABEL = "example.yaml --set"


def _walk(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        yield path, value
        if isinstance(value, Mapping):
            yield from _walk(value, path)


#: every section the example sets that `--set` may address (a mapping by name needs its name: `chip_terms.<chip>`)
SECTIONS = [(p, v) for p, v in _walk(RAW) if isinstance(v, Mapping) and v and check_path(p) is None]
#: every scalar or list value the example sets, as `path=value` text
LEAVES = [(p, v) for p, v in _walk(RAW) if not isinstance(v, Mapping) and check_path(p) is None]
SPACES = [" ", "\t", "\n", "\u00a0", "  "]


def test_the_generated_cases_cover_the_example() -> None:
    assert {p for p, _ in SECTIONS} >= {"policy", "policy.depreciation", "horizon", "inputs", "solver"}
    assert len(LEAVES) >= 15


@pytest.mark.parametrize(("path", "section"), SECTIONS, ids=[p for p, _ in SECTIONS])
def test_an_empty_mapping_for_a_section_the_scenario_sets_is_refused_naming_every_field(path: str, section: Mapping) -> None:
    _, problems = apply_sets(RAW, [f"{path}={{}}"], "example.yaml")
    assert [(p.file, p.locator) for p in problems] == [(LABEL, path)], [str(p) for p in problems]
    message = problems[0].message
    assert f"would drop {len(section)} field" in message
    for key in list(section)[:6]:  # the message lists the first six
        assert f"{path}.{key}" in message, message


@pytest.mark.parametrize(("path", "section"), SECTIONS, ids=[p for p, _ in SECTIONS])
def test_a_mapping_missing_one_field_names_that_field_and_the_whole_section_is_accepted(path: str, section: Mapping) -> None:
    for key in section:
        partial = {k: v for k, v in section.items() if k != key}
        _, problems = apply_sets(RAW, {path: copy.deepcopy(partial)}, "example.yaml")
        assert len(problems) == 1 and problems[0].locator == path, [str(p) for p in problems]
        assert f"would drop 1 field the scenario (or an earlier override) sets ({path}.{key})" in problems[0].message
    out, problems = apply_sets(RAW, {path: copy.deepcopy(dict(section))}, "example.yaml")
    assert problems == []
    node = out
    for part in path.split("."):
        node = node[part]
    assert node == section


def test_a_nested_field_dropped_by_a_mapping_two_levels_up_is_named() -> None:
    policy = copy.deepcopy(RAW["policy"])
    dropped = next(iter(policy["depreciation"]))
    del policy["depreciation"][dropped]
    _, problems = apply_sets(RAW, {"policy": policy}, "example.yaml")
    assert [p.locator for p in problems] == ["policy"]
    assert f"policy.depreciation.{dropped}" in problems[0].message


def test_a_mapping_for_a_section_the_scenario_does_not_set_is_applied() -> None:
    assert "replan" not in RAW["policy"]
    out, problems = apply_sets(RAW, ["policy.replan={change_penalty_usd_per_server: 5}"], "example.yaml")
    assert problems == [] and out["policy"]["replan"] == {"change_penalty_usd_per_server": 5}


def test_an_earlier_override_counts_as_set() -> None:
    _, problems = apply_sets(RAW, ["policy.replan={change_penalty_usd_per_server: 5}",
                                   "policy.replan={max_change_fraction: 0.1}"], "example.yaml")
    assert [p.locator for p in problems] == ["policy.replan"]
    assert "policy.replan.change_penalty_usd_per_server" in problems[0].message


def test_the_cli_refuses_a_section_reset_with_exit_2_before_planning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["plan", str(EXAMPLE), "--out", str(tmp_path / "o"), "--set", "policy={}"], capsys)
    assert code == 2 and "(example.yaml --set, policy) | a mapping value replaces the whole of policy" in err, err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def _text(path: str, value: Any) -> str:
    return f"{path}={yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix('...').strip()}"


def _spaced(text: str) -> Iterator[tuple[str, str]]:
    key, _, value = text.partition("=")
    for ws in SPACES:
        yield "before", ws + text
        yield "after", text + ws
        yield "before =", f"{key}{ws}={value}"


CASES = [(path, where, bad) for path, value in LEAVES for where, bad in _spaced(_text(path, value))]


@pytest.mark.parametrize(("path", "where", "text"), CASES, ids=[f"{p}-{w}-{i}" for i, (p, w, _) in enumerate(CASES)])
def test_whitespace_around_an_override_or_its_key_is_refused_at_the_command_line(path: str, where: str, text: str) -> None:
    _, problems = apply_sets(RAW, [text], "example.yaml")
    assert [(p.file, p.locator) for p in problems] == [(LABEL, path)], (text, [str(p) for p in problems])
    assert "whitespace" in problems[0].message
    with pytest.raises(InputError) as info:
        normalise_sets([text], "example.yaml")  # the API's and sweep's base --set
    assert [p.locator for p in info.value.problems] == [path]
    with pytest.raises(InputError) as info:
        parse_params([text])
    assert [p.locator for p in info.value.problems] == [f"--param {path}"] and "whitespace" in str(info.value)


@pytest.mark.parametrize(("path", "value"), LEAVES, ids=[p for p, _ in LEAVES])
def test_the_same_overrides_without_whitespace_apply_and_a_space_after_the_equals_is_yaml(path: str, value: Any) -> None:
    text = _text(path, value)
    key, _, raw = text.partition("=")
    for good in (text, f"{key}= {raw}"):
        out, problems = apply_sets(RAW, [good], "example.yaml")
        assert problems == [], (good, [str(p) for p in problems])
