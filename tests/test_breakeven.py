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


# --- issue #24: an infeasible base exits 3 with its diagnosis; a range is never reported beyond what was searched.

import subprocess  # noqa: E402
import sys  # noqa: E402

from planner.errors import EXIT_INFEASIBLE, PlannerError  # noqa: E402
from solvers.breakeven import MAX_STEPS  # noqa: E402


@pytest.mark.parametrize("chip", ["twin_a", "twin_b"])
def test_an_infeasible_base_is_exit_3_with_the_diagnosis(tmp_path: Path, chip: str) -> None:
    """The twins need one $100k server; a $1 capex budget leaves the demand short at any price of either twin."""
    sc = write_twins(tmp_path / "sc")
    with pytest.raises(PlannerError) as exc:
        find_breakeven(sc, chip, {"policy.capex_budget_usd_total": 1})
    assert exc.value.exit_code == EXIT_INFEASIBLE
    assert "base scenario" in str(exc.value) and "chat 2027Q1: short" in str(exc.value)
    r = subprocess.run([sys.executable, "-m", "planner.cli", "breakeven", str(sc), "--chip", chip, "--quiet",
                        "--set", "policy.capex_budget_usd_total=1"], capture_output=True, text=True)
    assert r.returncode == EXIT_INFEASIBLE, r.stderr
    assert "short" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(("chip", "allowed", "factor"), [("twin_b", ["twin_b"], 2.0), ("twin_b", ["twin_a"], 0.5)])
def test_no_flip_reports_only_the_interval_searched(tmp_path: Path, chip: str, allowed: list[str], factor: float) -> None:
    """Only twin_b may be bought: it stays in at any price, and the search only doubled (never halved) its price;
    only twin_a may be bought: twin_b stays out, and the search only halved it."""
    sc = write_twins(tmp_path / "sc")
    be = find_breakeven(sc, chip, {"policy.allowed_chips": allowed})
    p0 = be.base_price_usd_per_server
    assert be.breakeven_price_usd_per_server is None
    ends = sorted([p0, round(p0 * factor**MAX_STEPS, 2)])
    assert [be.searched_low_usd, be.searched_high_usd] == ends
    assert f"not found within [${ends[0]:,.0f}, ${ends[1]:,.0f}]" in be.text()
    never = round(p0 / factor**MAX_STEPS)  # the other direction was never searched
    assert f"${never:,.0f}" not in be.text()


def test_a_price_without_a_plan_stops_the_search_there(tmp_path: Path) -> None:
    """Only twin_a, a $150k budget and one server needed: at $200k there is no plan, so the search stops at $100k."""
    sc = write_twins(tmp_path / "sc")
    be = find_breakeven(sc, "twin_a", {"policy.allowed_chips": ["twin_a"], "policy.capex_budget_usd_total": 150_000})
    assert be.chosen_at_base and be.breakeven_price_usd_per_server is None
    assert (be.searched_low_usd, be.searched_high_usd) == (100_000, 100_000)
    assert "not found within [$100,000, $100,000]" in be.text()
    assert be.stopped_because and "$200,000" in be.stopped_because


def test_a_found_break_even_lies_inside_the_searched_interval(tmp_path: Path) -> None:
    sc = write_twins(tmp_path / "sc", price_a=100_000, price_b=130_000)
    be = find_breakeven(sc, "twin_b", rel_tol=0.01)
    assert be.breakeven_price_usd_per_server is not None
    assert be.searched_low_usd <= be.breakeven_price_usd_per_server <= be.searched_high_usd
    assert be.searched_high_usd == 130_000 and be.searched_low_usd >= 130_000 / 4


# --- issue 24, fourth attack: every --chip is checked before any solve. A lease-only chip exited 1 ("internal
# error: ... lease only"); a chip outside policy.allowed_chips ran 11 solves (68 s on the example) to say "not found";
# `--chip b200 --chip typo` solved b200 for minutes before naming the typo.
CHIP_FAULTS = {
    "unknown": ("twin_z", "unknown chip 'twin_z'; did you mean"),
    "not allowed": ("twin_b", "not in policy.allowed_chips"),
    "lease only": ("lease_c", "lease only"),
}


def _with_lease_only_chip(sc: Path) -> Path:
    import yaml

    doc = yaml.safe_load(sc.read_text())
    chips_path = sc.parent / doc["inputs"]["chips"]
    chips = yaml.safe_load(chips_path.read_text())
    lease = dict(chips["chips"][0], chip_id="lease_c", name="Lease C")
    lease.pop("price", None)
    lease["lease"] = {"usd_per_chip_hour": 2.0, "min_term_quarters": 1, "kind": "estimate", "source": "test"}
    chips["chips"].append(lease)
    chips_path.write_text(yaml.safe_dump(chips, sort_keys=False))
    doc["policy"]["allowed_chips"] = ["twin_a", "lease_c"]
    sc.write_text(yaml.safe_dump(doc, sort_keys=False))
    return sc


@pytest.mark.parametrize(("chip", "words"), CHIP_FAULTS.values(), ids=CHIP_FAULTS.keys())
def test_a_chip_without_a_break_even_is_refused_before_any_solve(tmp_path: Path, chip: str, words: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from planner.cli import main

    sc = _with_lease_only_chip(write_twins(tmp_path / "sc"))
    code = main(["breakeven", str(sc), "--chip", "twin_a", "--chip", chip, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "(command line, --chip) | " in err and words in err, err
    assert "twin_a at $" not in err and "chosen" not in err  # nothing was solved


def test_the_api_refuses_a_lease_only_chip_as_input(tmp_path: Path) -> None:
    from planner.errors import InputError

    sc = _with_lease_only_chip(write_twins(tmp_path / "sc"))
    with pytest.raises(InputError) as info:
        find_breakeven(sc, "lease_c")
    assert "lease only" in str(info.value)


OUT_FAULTS = {
    "an existing file": lambda p: p.write_text("mine"),
    "a folder": lambda p: p.mkdir(),
    "a link pointing nowhere": lambda p: p.symlink_to(p.parent / "elsewhere.json"),
    "a link to a file": lambda p: ((p.parent / "mine.json").write_text("mine"), p.symlink_to(p.parent / "mine.json")),
    "in a missing folder": lambda p: None,
    "in a file": lambda p: None,
}


@pytest.mark.parametrize("fault", OUT_FAULTS, ids=OUT_FAULTS.keys())
def test_a_bad_out_file_is_refused_before_any_solve(tmp_path: Path, fault: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A link pointing nowhere passed `exists()`: every re-solve ran, then the JSON was written through the link.
    from planner.cli import main

    sc = write_twins(tmp_path / "sc")
    out = {"in a missing folder": tmp_path / "nope" / "be.json", "in a file": tmp_path / "f" / "be.json"}.get(fault, tmp_path / "be.json")
    if fault == "in a file":
        (tmp_path / "f").write_text("mine")
    OUT_FAULTS[fault](out)
    before = sorted((p.name, p.is_symlink()) for p in tmp_path.iterdir())
    code = main(["breakeven", str(sc), "--chip", "twin_a", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "(command line, --out) | " in err, err
    assert sorted((p.name, p.is_symlink()) for p in tmp_path.iterdir()) == before
    assert not (tmp_path / "elsewhere.json").exists()


def test_the_out_file_is_written_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from planner.cli import main

    sc = write_twins(tmp_path / "sc", price_a=100_000, price_b=120_000)
    out = tmp_path / "be.json"
    assert main(["breakeven", str(sc), "--chip", "twin_b", "--out", str(out), "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert doc["breakeven"][0]["chip_id"] == "twin_b" and sorted(p.name for p in tmp_path.iterdir()) == ["be.json", "sc"]
