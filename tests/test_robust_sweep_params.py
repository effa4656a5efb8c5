"""`sweep --param` values that overflow, underflow or are not YAML are located input errors (exit 2), never a crash.

Mechanism: a range's point count `(HI - LO) / STEP` overflows a float (0:1e308:0.1, 0:1:1e-320, a 400-digit int),
and a value PyYAML cannot parse (`[`, a recursive alias) raised a YAML error that no caller turned into a problem.
"""

from __future__ import annotations

import pytest

from planner.cli import main
from planner.errors import InputError
from planner.io.safe_yaml import parse_scalar
from planner.sweep.params import parse_params

HUGE_INT = "9" * 400
SPECS = [
    "0:1e308:0.1", "0:1:1e-320", "0:1:5e-324", "-1e308:1e308:1", f"0:{HUGE_INT}:1", f"0:{HUGE_INT}:{HUGE_INT[:-1]}",
    f"{HUGE_INT}:{HUGE_INT}:1", "[", "0:[:1", "0:1:{", "0.1,[,0.2", "&a [*a]", "0.1,&a [*a]",
]


@pytest.mark.parametrize("spec", SPECS)
def test_a_bad_param_spec_is_a_located_input_error(spec: str) -> None:
    with pytest.raises(InputError) as info:
        parse_params([f"policy.headroom_fraction={spec}"])
    (problem,) = info.value.problems
    assert problem.locator == "--param policy.headroom_fraction"


@pytest.mark.parametrize("text", ["[", "{a: [}", "&a [*a]", "'unterminated", "a: b: c"])
def test_parse_scalar_raises_value_error_not_a_yaml_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_scalar(text)


@pytest.mark.parametrize("spec", ["0:1e308:0.1", f"0:{HUGE_INT}:1", "["])
def test_sweep_exits_2_before_planning(spec: str, tmp_path, capsys) -> None:
    rc = main(["sweep", "inputs/scenarios/example.yaml", "--param", f"policy.headroom_fraction={spec}",
               "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "internal error" not in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()


# A value list with an empty item (a stray comma) swept a null as a point, and a value given twice planned the same
# point twice (two rows of one point in the table): both are refused before planning, like any item given twice.
LIST_FAULTS = {
    "trailing comma": ("0.1,", "empty value"), "leading comma": (",0.1", "empty value"),
    "double comma": ("0.1,,0.2", "empty value"), "blank item": ("0.1, ,0.2", "empty value"),
    "same value": ("0.1,0.1", "twice"), "same number spelt twice": ("0.1,0.10", "twice"),
    "int and float": ("1,1.0", "twice"), "same word": ("none,n_plus_1,none", "twice"),
}


@pytest.mark.parametrize(("spec", "words"), LIST_FAULTS.values(), ids=LIST_FAULTS.keys())
def test_a_value_list_with_an_empty_or_repeated_value_is_refused(spec: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_params([f"policy.headroom_fraction={spec}"])
    (problem,) = info.value.problems
    assert problem.locator == "--param policy.headroom_fraction" and words in problem.message, str(problem)


def test_distinct_values_still_sweep() -> None:
    (param,) = parse_params(["policy.redundancy=none,n_plus_1"])
    assert param.values == ("none", "n_plus_1")
    (param,) = parse_params(["policy.headroom_fraction=0,0.1,1"])
    assert param.values == (0, 0.1, 1)


# A bad value of a swept path is the sweep's `--param`, not a `--set`: every kind of bad value, checked when the
# override is applied (a type the schema would misread) or when the scenario validates (a bound, an enum, a section
# replaced whole), is located `(example.yaml --param, PATH)`; a fixed `--set` beside it keeps `--set`.
BAD_VALUES = [
    ("policy.headroom_fraction", True),         # a boolean for a number
    ("policy.headroom_fraction", -5),           # below the bound
    ("policy.headroom_fraction", 1e9),          # above the bound
    ("policy.headroom_fraction", "abc"),        # a word for a number
    ("policy.headroom_fraction", [0.1]),        # a list for a number
    ("policy.redundancy", "bogus"),             # not one of the choices
    ("policy", 1),                              # a number for a whole section
    ("chip_terms.b200.discount_fraction", 2),   # inside a mapping keyed by chip
    ("horizon.quarters", 0),                    # an integer below its bound
]


@pytest.fixture(scope="module")
def frozen_scenario(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.test_robust_corpus import assemble

    return assemble(None, tmp_path_factory.mktemp("sweep_values") / "sc")


@pytest.mark.parametrize(("path", "value"), BAD_VALUES)
def test_a_bad_swept_value_is_located_at_param(frozen_scenario, path: str, value: object) -> None:  # type: ignore[no-untyped-def]
    from planner.sweep.point import run_point

    fixed = {"chip_terms.h100.discount_fraction": 5}  # a bad fixed --set beside it keeps its own label
    row = run_point(str(frozen_scenario), {**fixed, path: value}, {}, swept=(path,))
    assert row["status"] == "bad_input"
    name = frozen_scenario.name
    assert f"({name} --param, {path}" in row["message"], row["message"]
    assert f"--set, {path}" not in row["message"]
    assert f"({name} --set, chip_terms.h100.discount_fraction)" in row["message"], row["message"]


def test_sweep_names_param_for_bad_point_values(frozen_scenario, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    rc = main(["sweep", str(frozen_scenario), "--param", "policy.headroom_fraction=true,-5", "--out",
               str(tmp_path / "s"), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count(f"({frozen_scenario.name} --param, policy.headroom_fraction)") == 2, err
    assert "--set" not in err
