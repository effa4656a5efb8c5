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
