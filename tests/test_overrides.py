"""`--set` what-ifs and `key+:` list appends: applied before validation, located like the files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from planner.errors import InputError
from planner.io.loader import load_inputs
from planner.io.overrides import _model_of, check_path, merge_appending, parse_set
from planner.schemas.scenario import Scenario
from tests.whatif_cases import write_twins


@pytest.fixture()
def twins(tmp_path: Path) -> Path:
    return write_twins(tmp_path / "sc")


def test_set_replaces_scalars_yaml_typed(twins: Path) -> None:
    inputs = load_inputs(twins, ["policy.headroom_fraction=0.25", "policy.residual_value=true",
                                 "chip_terms.twin_b.price_usd_per_server=90000"])
    assert inputs.scenario.policy.headroom_fraction == 0.25
    assert inputs.scenario.policy.residual_value is True
    assert inputs.scenario.chip_terms["twin_b"].price_usd_per_server == 90000


def test_bad_value_is_located_at_the_command_line(twins: Path) -> None:
    with pytest.raises(InputError) as exc:
        load_inputs(twins, ["policy.headroom_fraction=-1"])
    (p,) = exc.value.problems
    assert (p.file, p.locator) == ("twins.yaml --set", "policy.headroom_fraction")
    assert "greater than or equal to 0" in p.message


def test_bad_paths_all_reported_with_did_you_mean(twins: Path) -> None:
    with pytest.raises(InputError) as exc:
        load_inputs(twins, ["policy.headroom_fracton=0.2", "chip_terms.twin_b.prise_usd_per_server=1", "nokey"])
    msgs = {p.locator: p.message for p in exc.value.problems}
    assert "did you mean policy.headroom_fraction?" in msgs["policy.headroom_fracton"]
    assert "did you mean chip_terms.twin_b.price_usd_per_server?" in msgs["chip_terms.twin_b.prise_usd_per_server"]
    assert any("KEY.PATH=VALUE" in p.message for p in exc.value.problems)


def test_every_scalar_field_is_a_settable_path() -> None:
    """Walk the schema: each leaf field (under a placeholder name for mappings by name) passes the path check."""
    leaves = []

    def walk(model, prefix: str) -> None:  # type: ignore[no-untyped-def]
        for name, f in model.model_fields.items():
            inner, free = _model_of(f.annotation)
            path = f"{prefix}{name}"
            if inner is None:
                leaves.append(path if not free else f"{path}.2027Q1")
            else:
                walk(inner, f"{path}.x." if free else f"{path}.")

    walk(Scenario, "")
    assert len(leaves) > 25
    assert [p for p in leaves if check_path(p)] == []
    assert check_path("policy.headroom_fraction.deeper") is not None


def test_append_with_set_and_with_extends(tmp_path: Path) -> None:
    base = write_twins(tmp_path / "sc")
    raw = yaml.safe_load(base.read_text())
    raw["policy"]["allowed_chips"] = ["twin_a"]
    base.write_text(yaml.safe_dump(raw))
    child = base.parent / "child.yaml"
    child.write_text("extends: twins.yaml\nname: child\npolicy:\n  allowed_chips+: [twin_b]\n")
    assert load_inputs(child).scenario.policy.allowed_chips == ["twin_a", "twin_b"]
    assert load_inputs(base, ["policy.allowed_chips+=twin_b"]).scenario.policy.allowed_chips == ["twin_a", "twin_b"]
    assert load_inputs(base, {"policy.allowed_chips": ["twin_b"]}).scenario.policy.allowed_chips == ["twin_b"]


def test_merge_appending_semantics() -> None:
    assert merge_appending({"a": [1], "b": {"c": [2]}}, {"a+": [3], "b": {"c+": 4}}) == {"a": [1, 3], "b": {"c": [2, 4]}}
    assert merge_appending({}, {"x": {"l+": [1]}}) == {"x": {"l": [1]}}
    assert parse_set("a.b= [1, 2]") == ("a.b", [1, 2])
    with pytest.raises(ValueError):
        parse_set("a.b")


def test_cli_plan_bad_set_exits_2_with_locator(twins: Path, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "planner.cli", "plan", str(twins), "--out", str(tmp_path / "o"), "--quiet",
                        "--set", "solver.mip_gap=2"], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "(twins.yaml --set, solver.mip_gap)" in r.stderr + r.stdout
