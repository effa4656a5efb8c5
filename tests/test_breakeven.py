"""Break-even prices by re-solving, on the twins: identical chips, so the break-even of one is the other's price."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.api import plan
from solvers.breakeven import chip_chosen, find_breakeven
from tests.whatif_cases import write_twins


def test_rejected_twin_enters_below_the_other_twins_price(tmp_path: Path) -> None:
    # twin_a $100k, twin_b $120k per server, same performance, no energy or facility cost, no residual value:
    # every plan buys the same number of servers, so twin_b is bought exactly when its price < $100k.
    sc = write_twins(tmp_path / "sc", price_a=100_000, price_b=120_000)
    be = find_breakeven(sc, "twin_b", rel_tol=0.001)
    assert not be.chosen_at_base and be.direction == "enters the plan below"
    assert be.breakeven_price_usd_per_server == pytest.approx(100_000, rel=0.005)
    assert be.verified
    key = "chip_terms.twin_b.price_usd_per_server"
    below = plan(sc, {key: be.breakeven_price_usd_per_server * 0.99}).document
    above = plan(sc, {key: be.breakeven_price_usd_per_server * 1.01}).document
    assert chip_chosen(below, "twin_b") and not chip_chosen(above, "twin_b")
    assert chip_chosen(above, "twin_a")


def test_chosen_twin_leaves_above_the_other_twins_price(tmp_path: Path) -> None:
    sc = write_twins(tmp_path / "sc", price_a=100_000, price_b=120_000)
    be = find_breakeven(sc, "twin_a", rel_tol=0.001)
    assert be.chosen_at_base and be.direction == "leaves the plan above"
    assert be.breakeven_price_usd_per_server == pytest.approx(120_000, rel=0.005) and be.verified
