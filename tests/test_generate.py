"""benchmarks/generate.py: every dimension is a parameter; presets stay reproducible; solve_scaling's exponent fit."""

from __future__ import annotations

import csv
import math

import pytest
import yaml

from benchmarks.generate import generate, resolve_size
from benchmarks.solve_scaling import growth_exponent


def _read(path):
    scen = yaml.safe_load(path.read_text())
    sites = yaml.safe_load((path.parent / "sites.yaml").read_text())
    with open(path.parent / "workloads.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return scen, sites, rows


def test_overrides_set_each_dimension(tmp_path):
    path = generate("small", 1, tmp_path / "g", workloads=3, sites=3, racks=60, quarters=3, chips=7, models=2)
    scen, sites, rows = _read(path)
    assert len({r["workload_id"] for r in rows}) == 3
    assert len({r["model_id"] for r in rows}) <= 2
    assert len(sites["sites"]) == 3
    assert sum(rt["count"] for s in sites["sites"] for rt in s["rack_types"]) == 60
    assert scen["horizon"]["quarters"] == 3
    assert len(scen["policy"]["allowed_chips"]) == 7
    assert "capex_budget_usd_total" not in scen["policy"]


def test_preset_without_overrides_is_unchanged(tmp_path):
    a = generate("small", 2, tmp_path / "a")
    b = generate("small", 2, tmp_path / "b", workloads=None, racks=None)
    for name in ("workloads.csv", "sites.yaml"):
        assert (a.parent / name).read_text() == (b.parent / name).read_text()
    assert resolve_size("small", workloads=None)[1] == "small"


def test_budget_tightness_and_fleet_scale(tmp_path):
    loose = _read(generate("small", 0, tmp_path / "l", budget_tightness=0.1))[0]["policy"]["capex_budget_usd_total"]
    tight = _read(generate("small", 0, tmp_path / "t", budget_tightness=0.5))[0]["policy"]["capex_budget_usd_total"]
    assert 0 < tight < loose
    assert _read(generate("small", 0, tmp_path / "f", fleet_scale=0.0))[1]["fleet"] == []


@pytest.mark.parametrize("bad", [{"workloads": 0}, {"budget_tightness": 1.0}, {"fleet_scale": -1.0}, {"colour": 3}])
def test_bad_dimensions_are_refused(bad):
    with pytest.raises(ValueError):
        resolve_size("small", **bad)


def test_growth_exponent_recovers_a_power_law():
    xs = [10.0, 20.0, 50.0, 100.0]
    assert math.isclose(growth_exponent(xs, [3.0 * x**2.5 for x in xs]), 2.5, rel_tol=1e-9)
    assert growth_exponent([10.0], [1.0]) is None
