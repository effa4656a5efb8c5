"""Why this chip: the twins differ only in price, so the rejected twin loses on price by exactly the price ratio."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.api import plan
from tests.whatif_cases import write_twins


def test_rejected_twin_loses_on_price_by_the_price_ratio(tmp_path: Path) -> None:
    # Same layouts and no energy/facility cost: cost per token/s scales with price, 120k / 100k - 1 = +20 %.
    # Residual value off, one quarter: capex is amortised over the 1 quarter left, so cost = price / tokens/s.
    p = plan(write_twins(tmp_path / "sc", price_a=100_000, price_b=120_000))
    c = p.candidates.set_index("chip")
    assert bool(c.loc["twin_a", "chosen"]) and not bool(c.loc["twin_b", "chosen"])
    assert c.loc["twin_b", "vs_chosen_fraction"] == pytest.approx(0.2, abs=1e-3)
    assert c.loc["twin_b", "reason"].startswith("price")
    tokens = float(c.loc["twin_a", "best_layout"].split("(")[1].split(" chips/replica, ")[1].split(" tok/s")[0].replace(",", ""))
    servers_per_replica = 1 / 8  # 1 chip per replica, 8 chips per server
    assert c.loc["twin_a", "usd_per_token_s_quarter"] == pytest.approx(100_000 * servers_per_replica / tokens, rel=1e-3)


def test_api_tables_are_dataframes(tmp_path: Path) -> None:
    p = plan(write_twins(tmp_path / "sc"), overrides={"policy.headroom_fraction": 0.5})
    assert p.status == "optimal" and p.mip_gap is not None and p.objective_usd >= p.best_bound_usd - 1e-6
    assert set(p.purchases["chip"]) == {"twin_a"}
    assert p.capacity["served_tokens_per_s"].iloc[0] >= 1.5 * 20_000 - 1e-6  # headroom 50 % of 20,000 tokens/s
    assert p.document["overrides"] == [{"path": "policy.headroom_fraction", "value": 0.5}]
