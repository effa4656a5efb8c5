"""A `--set` the planner refuses does not stop the load: the other overrides and files are still checked, so one
report lists every problem (the refused value beside, e.g., an unknown chip another override names)."""

from __future__ import annotations

import pytest

from planner.errors import InputError
from planner.io.loader import load_inputs

SCENARIO = "inputs/scenarios/example.yaml"
REFUSED = ["policy.headroom_fraction=true", "horizon.quarters=true", "policy.capex_budget_usd_total='12'",
           "policy .headroom_fraction=0.2", "policy.headroom_fraction=[", "solver.threads=1e308x"]
CROSS = [("chip_terms.b2000.price_usd_per_server=1", "chip_terms.b2000"), ("policy.allowed_chips+=b2000", "policy.allowed_chips"),
         ("vendors.NVIDIAX.discount_fraction=0.1", "vendors.NVIDIAX")]


@pytest.mark.parametrize("refused", REFUSED)
@pytest.mark.parametrize(("cross", "locator"), CROSS)
def test_a_refused_override_and_a_cross_file_problem_are_one_report(refused: str, cross: str, locator: str) -> None:
    with pytest.raises(InputError) as info:
        load_inputs(SCENARIO, [refused, cross])
    problems = info.value.problems
    assert len(problems) >= 2, [str(p) for p in problems]
    assert all(p.file == "example.yaml --set" for p in problems), [str(p) for p in problems]
    assert any(p.locator == locator for p in problems), [str(p) for p in problems]
