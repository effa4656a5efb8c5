"""`planner.api.plan` checks its own arguments (issue #24): a bad one raises `InputError` naming it, never a raw
pydantic error or a character-by-character reading of a string; generated from the argument types."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from planner.api import API_LABEL, check_arguments, plan
from planner.errors import InputError
from planner.schemas.scenario import SolverSettings
from tests.whatif_cases import write_twins

GOOD_SOLVER = {"name": "highs", "time_limit_s": 30, "mip_gap": 0.0, "threads": 1, "seed": 0, "strategy": "monolithic"}
BAD_VALUES = [True, False, -1, 0, -0.5, float("nan"), float("inf"), 10**9, "", "x", "1e999", [1], {"a": 1}, object(), b"1"]


def _bad_solver_cases() -> list[tuple[dict, str]]:
    """(solver mapping, locator) for every setting and every value its field refuses."""
    out = []
    for key in SolverSettings.model_fields:
        for value in BAD_VALUES:
            try:
                SolverSettings.model_validate({key: value})
                ok = not isinstance(value, bool) or key == "name"
            except Exception:  # noqa: BLE001 - pydantic's verdict decides which values are bad
                ok = False
            if not ok:
                out.append(({**GOOD_SOLVER, key: value}, f"solver.{key}"))
    for typo in ("time_limit", "mipgap", "thread", "Name", ""):
        out.append(({**GOOD_SOLVER, typo: 1}, f"solver.{typo}"))
    return out


BAD_SOLVER = _bad_solver_cases()


def test_the_generated_solver_cases_cover_every_setting() -> None:
    assert {loc for _, loc in BAD_SOLVER} >= {f"solver.{k}" for k in SolverSettings.model_fields}
    assert len(BAD_SOLVER) > 40


@pytest.mark.parametrize(("solver", "locator"), BAD_SOLVER, ids=[f"{loc}-{i}" for i, (_, loc) in enumerate(BAD_SOLVER)])
def test_bad_solver_settings_raise_located_input_errors(tmp_path: Path, solver: dict, locator: str) -> None:
    sc = write_twins(tmp_path / "sc")
    with pytest.raises(InputError) as exc:
        plan(sc, None, solver)
    assert [(p.file, p.locator) for p in exc.value.problems] == [(API_LABEL, locator)], exc.value.report()


@pytest.mark.parametrize("overrides", [5, 2.5, True, b"policy.headroom_fraction=0.2", bytearray(b"x"), object()])
def test_overrides_of_a_wrong_type_are_refused(tmp_path: Path, overrides: object) -> None:
    with pytest.raises(InputError) as exc:
        check_arguments(write_twins(tmp_path / "sc"), overrides, None, None)
    assert [(p.file, p.locator) for p in exc.value.problems] == [(API_LABEL, "overrides")]


@pytest.mark.parametrize("n_bad", [1, 2, 3])
def test_every_bad_item_of_an_override_list_is_reported(tmp_path: Path, n_bad: int) -> None:
    items: list = ["policy.headroom_fraction=0.1"]
    bad = [3, None, ("a", 1), b"x=1"][:n_bad]
    for i, b in enumerate(bad):
        items.insert(2 * i, b)
    with pytest.raises(InputError) as exc:
        check_arguments(write_twins(tmp_path / "sc"), iter(items), {"mip_gap": 7}, "not callable")
    locators = {p.locator for p in exc.value.problems}
    assert locators == {f"overrides[{i}]" for i, x in enumerate(items) if not isinstance(x, str)} | {"solver.mip_gap", "progress"}


@pytest.mark.parametrize("scenario_path", [None, 3, b"x.yaml", "", "   ", ["a.yaml"]])
def test_a_bad_scenario_path_is_named(scenario_path: object) -> None:
    with pytest.raises(InputError) as exc:
        check_arguments(scenario_path, None, None, None)
    assert [(p.file, p.locator) for p in exc.value.problems] == [(API_LABEL, "scenario_path")]


def test_one_string_override_is_one_override(tmp_path: Path) -> None:
    sc = write_twins(tmp_path / "sc")
    text = "chip_terms.twin_b.price_usd_per_server=90000"
    for form in (text, [text], (text,), {"chip_terms.twin_b.price_usd_per_server": 90000}):
        sets, _ = check_arguments(sc, form, None, None)
        assert sets == {"chip_terms.twin_b.price_usd_per_server": 90000}
    p = plan(sc, text, GOOD_SOLVER)
    assert {r["chip"] for r in p.document["purchases"]} == {"twin_b"}
    assert p.overrides == {"chip_terms.twin_b.price_usd_per_server": 90000}


def test_good_arguments_in_every_combination_pass(tmp_path: Path) -> None:
    sc = write_twins(tmp_path / "sc")
    for path, overrides, solver, progress in itertools.product(
            (sc, str(sc)), (None, [], {}, "policy.headroom_fraction=0.1"), (None, {}, GOOD_SOLVER, {"mip_gap": None}),
            (None, print)):
        check_arguments(path, overrides, solver, progress)
