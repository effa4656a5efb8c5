"""Straight-line depreciation and book value, derived by hand."""

import pytest

from planner.finance.depreciation import Depreciation, horizon_depreciation


def test_straight_line_by_hand():
    # $1,200 over 12 quarters from quarter 2: $100 per quarter in quarters 2..13
    d = Depreciation(1200.0, 12, 2)
    assert [d.charge(q) for q in (0, 1, 2, 13, 14)] == [0.0, 0.0, 100.0, 100.0, 0.0]
    assert d.book_value(1) == 1200.0          # not yet in service: carried at cost
    assert d.book_value(2) == 1100.0
    assert d.book_value(13) == 0.0
    assert d.book_value(30) == 0.0
    assert d.charged_between(0, 7) == pytest.approx(600.0)  # quarters 2..7


def test_existing_fleet_before_horizon_and_salvage():
    # installed 4 quarters before the horizon, life 8, salvage 25 %: $75/quarter, 4 left in the horizon
    dep, nbv = horizon_depreciation(800.0, 8, -4, 8, salvage_fraction=0.25)
    assert dep == pytest.approx(300.0)
    assert nbv == pytest.approx(200.0)  # the salvage floor


def test_rolls_forward():
    d = Depreciation(5000.0, 20, 3)
    for q in range(-2, 30):
        assert d.book_value(q) == pytest.approx(d.book_value(q - 1) - d.charge(q))


def test_bad_life():
    with pytest.raises(ValueError):
        Depreciation(1.0, 0, 0)
