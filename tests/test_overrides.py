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
    assert "must be at least 0" in p.message


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
    assert [p for p in leaves if check_path(p)] == ["extends"]
    assert "cannot override 'extends'" in check_path("extends")
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


# --- issue #24: overrides that would change a plan silently are refused, and every error they cause is located
# at the command line. The paths are generated from the schema, with the example scenario's own chip and vendor ids.

EXAMPLE = Path(__file__).resolve().parents[1] / "inputs/scenarios/example.yaml"


def _leaves(free: dict[str, str]) -> list[tuple[str, object]]:
    """(path, annotation) of every scalar field of the scenario schema; `free` names the key under a mapping."""
    from planner.io.overrides import _alternatives

    out: list[tuple[str, object]] = []

    def walk(model, prefix: str) -> None:  # type: ignore[no-untyped-def]
        for name, f in model.model_fields.items():
            inner, by_name = _model_of(f.annotation)
            path = f"{prefix}{name}"
            if inner is None:
                if by_name:
                    alts = _alternatives(f.annotation)
                    value = next(__import__("typing").get_args(a)[1] for a in alts if __import__("typing").get_origin(a) is dict)
                    out.append((f"{path}.{free.get(name, '2027Q1')}", value))
                else:
                    out.append((path, f.annotation))
            else:
                walk(inner, f"{path}.{free.get(name, 'x')}." if by_name else f"{path}.")

    walk(Scenario, "")
    return out


def _numeric(annotation: object) -> bool:
    from planner.io.overrides import _alternatives

    alts = _alternatives(annotation)
    return any(a in (int, float) for a in alts) and bool not in alts


EXAMPLE_FREE = {"chip_terms": "h100_sxm", "vendors": "NVIDIA"}
NUMERIC_PATHS = [p for p, a in _leaves(EXAMPLE_FREE) if _numeric(a)]
ALL_PATHS = [p for p, _ in _leaves(EXAMPLE_FREE) if p != "extends"]


def test_the_generated_paths_cover_the_schema() -> None:
    assert len(NUMERIC_PATHS) >= 20, NUMERIC_PATHS
    assert {"policy.headroom_fraction", "chip_terms.h100_sxm.price_usd_per_server", "solver.threads",
            "policy.capex_budget_usd_by_quarter.2027Q1"} <= set(NUMERIC_PATHS)
    assert [p for p in ALL_PATHS if check_path(p)] == []


@pytest.mark.parametrize("path", NUMERIC_PATHS)
@pytest.mark.parametrize("word", ["true", "false", "True", "yes", "off"])
def test_a_boolean_is_never_read_as_a_number(path: str, word: str) -> None:
    """YAML `true` would validate as 1 (or 1.0) in a numeric field and change the plan without a word."""
    with pytest.raises(InputError) as exc:
        load_inputs(EXAMPLE, [f"{path}={word}"])
    (p,) = exc.value.problems
    assert (p.file, p.locator) == ("example.yaml --set", path)
    assert "expected a number" in p.message and "boolean" in p.message
    with pytest.raises(InputError) as exc:  # the API's mapping form and a YAML mapping one level up too
        load_inputs(EXAMPLE, {path: word in ("true", "True", "yes")})
    assert [q.file for q in exc.value.problems] == ["example.yaml --set"]
    parent, _, leaf = path.rpartition(".")
    if parent and check_path(parent) is None:
        with pytest.raises(InputError) as exc:
            load_inputs(EXAMPLE, [f"{parent}={{{leaf}: {word}}}"])
        assert [q.file for q in exc.value.problems] == ["example.yaml --set"]
        assert f"{path}: expected a number" in exc.value.problems[0].message


def _padded(path: str) -> list[str]:
    parts = path.split(".")
    out = []
    for i in range(len(parts)):
        for pad in (" {}", "{} ", "\t{}", " {} "):
            if i == 0 and pad.startswith((" ", "\t")) and not pad.endswith(" "):
                continue  # a leading space before the whole path is stripped like any around `=`
            out.append(".".join([*parts[:i], pad.format(parts[i]), *parts[i + 1:]]))
    return [p for p in out if p.strip() == p or p.strip() != path]


def _emptied(path: str) -> list[str]:
    parts = path.split(".")
    out = [f".{path}", f"{path}.", path.replace(".", "..", 1)] if "." in path else [f".{path}", f"{path}."]
    out += [".".join([*parts[:i], "", *parts[i:]]) for i in range(1, len(parts))]
    return sorted(set(out))


@pytest.mark.parametrize("path", ALL_PATHS)
def test_padded_or_empty_segments_are_refused(path: str) -> None:
    """`chip_terms. h100_sxm.x=1` would create a chip ` h100_sxm` and leave h100_sxm's terms as the file says."""
    bad = [p for p in _padded(path) if p.strip() != path] + _emptied(path)
    for b in bad:
        msg = check_path(b.strip())
        assert msg is not None and ("spaces around" in msg or "empty key" in msg), (b, msg)
    with pytest.raises(InputError) as exc:
        load_inputs(EXAMPLE, [f"{b}=1" for b in bad])
    problems = exc.value.problems
    assert len(problems) == len(bad)
    assert all(p.file == "example.yaml --set" for p in problems)


def test_the_issue_examples(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        load_inputs(EXAMPLE, ["chip_terms. h100_sxm.price_usd_per_server=1"])
    assert "spaces around" in exc.value.problems[0].message
    with pytest.raises(InputError) as exc:  # an unknown chip named only by an override is located at the override
        load_inputs(EXAMPLE, ["chip_terms.b2000.price_usd_per_server=1"])
    assert [(p.file, p.locator) for p in exc.value.problems] == [("example.yaml --set", "chip_terms.b2000")]
    with pytest.raises(InputError) as exc:
        load_inputs(EXAMPLE, ["extends=other.yaml"])
    assert "cannot override 'extends'" in exc.value.problems[0].message
    with pytest.raises(InputError) as exc:
        load_inputs(EXAMPLE, ["policy.headroom_fraction+=0.1"])
    assert "not a list" in exc.value.problems[0].message


def test_append_to_an_absent_allowed_chips_starts_from_the_catalog(twins: Path) -> None:
    """README: absent allowed_chips = the whole catalog, and `+=` adds one chip to it."""
    assert load_inputs(twins).scenario.policy.allowed_chips is None
    for sets in (["policy.allowed_chips+=twin_b"], ["policy.allowed_chips+=[twin_b, twin_a]"],
                 ["policy.allowed_chips+=twin_a", "policy.allowed_chips+=twin_b"]):
        assert load_inputs(twins, sets).scenario.policy.allowed_chips == ["twin_a", "twin_b"]
    with pytest.raises(InputError) as exc:
        load_inputs(twins, ["policy.allowed_chips+=twin_c"])
    assert [(p.file, p.locator) for p in exc.value.problems] == [("twins.yaml --set", "policy.allowed_chips")]


def test_repeated_appends_all_apply(twins: Path) -> None:
    from planner.io.overrides import normalise_sets

    assert normalise_sets(["policy.allowed_chips+=a", "policy.allowed_chips+=[b, c]"]) == {"policy.allowed_chips+": ["a", "b", "c"]}
    assert normalise_sets("policy.headroom_fraction=0.3") == {"policy.headroom_fraction": 0.3}


@pytest.mark.parametrize("value", [
    "[" * 40 + "]" * 40, "{a: " * 30 + "1" + "}" * 30, "[" + ", ".join(["1"] * 20_000) + "]",
    "&a [1, 2]\n", "x" * 200_000, "!!python/object:os.system x", ".nan", "-.inf",
    "[&a [1,1,1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]]",
])
def test_hostile_override_values_are_refused_quickly(twins: Path, value: str) -> None:
    with pytest.raises(InputError) as exc:
        load_inputs(twins, [f"policy.headroom_fraction={value}"])
    assert all(p.file == "twins.yaml --set" for p in exc.value.problems)
    assert len(exc.value.report()) < 2_000


def test_every_problem_an_override_causes_names_the_command_line(twins: Path) -> None:
    """Generated: each numeric field of the twins scenario set out of range one at a time; whatever check refuses
    it (field, cross-file or model validator), the problem is located at `twins.yaml --set`."""
    paths = [p for p, a in _leaves({"chip_terms": "twin_a", "vendors": "VendorA"}) if _numeric(a)]
    refused = 0
    for path in paths:
        for value in (-1, 10**12):
            try:
                load_inputs(twins, {path: value})
            except InputError as exc:
                refused += 1
                mine = [p.file for p in exc.problems if p.file.startswith("twins")]
                assert mine and set(mine) == {"twins.yaml --set"}, (path, value, exc.report())
    assert refused >= len(paths)


def test_the_readme_states_the_guards() -> None:
    from planner.io.overrides import MAX_VALUE_CHARS, MAX_VALUE_DEPTH, MAX_VALUE_NODES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    text = " ".join(readme.split())
    assert f"deeper than {MAX_VALUE_DEPTH} levels, with more than {MAX_VALUE_NODES:,} items or longer than {MAX_VALUE_CHARS:,} characters" in text
    assert "(example.yaml --set, chip_terms.b2000)" in text
