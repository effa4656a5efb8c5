"""Power, energy per token and cost per token of a replica.

  power per chip   = idle + u x (TDP - idle),  idle = IDLE_FRACTION x TDP,  u = utilisation of the busiest resource
  replica power    = chips x power per chip + chips / chips_per_server x server overhead power
  J per token      = replica power / output tokens per s
  USD per 1M tok   = 1e6 / tokens_per_s x [capex / lifetime_s + power x PUE / 3.6e6 x USD per kWh]  (capex straight-line)
"""

from __future__ import annotations

import numpy as np

from planner.perf.common import Num
from planner.schemas.chips import ChipSpec

#: Draw of an idle but powered accelerator as a share of TDP (H100: ~70-100 W of 700 W idle; a loaded-but-
#: stalled chip draws more). Memory-bound decode at high bandwidth use draws close to TDP.
IDLE_FRACTION = 0.2
SECONDS_PER_YEAR = 365.25 * 24 * 3600


def chip_power_w(tdp_w: Num, utilisation: Num) -> Num:
    """idle + u x (TDP - idle), idle = IDLE_FRACTION x TDP."""
    idle = IDLE_FRACTION * np.asarray(tdp_w, dtype=float)
    return idle + np.clip(utilisation, 0.0, 1.0) * (tdp_w - idle)


def replica_power_w(chips: Num, tdp_w: Num, utilisation: Num, chips_per_server: Num, server_overhead_w: Num) -> Num:
    """chips x chip power + chips / chips_per_server x server overhead."""
    return chips * chip_power_w(tdp_w, utilisation) + chips / chips_per_server * server_overhead_w


def joules_per_token(power_w: Num, tokens_per_s: Num) -> Num:
    """W / (tokens/s) = J per output token."""
    return power_w / tokens_per_s


def chip_price_usd(chip: ChipSpec) -> float:
    """Catalog price of one chip (per-server prices divided by chips per server)."""
    if not chip.purchasable and chip.lease is not None:  # lease only: 3 years of chip-hours as the capital figure
        return chip.lease.usd_per_chip_hour * 3 * 8760
    return chip.price_usd_per_server / chip.server.chips_per_server


def usd_per_million_tokens(tokens_per_s: float, power_w: float, capex_usd: float, lifetime_years: float,
                           electricity_usd_per_kwh: float, pue: float = 1.0) -> float:
    """Capex (straight-line over the lifetime) plus energy (IT power x PUE) per million output tokens."""
    capex_per_s = capex_usd / (lifetime_years * SECONDS_PER_YEAR)
    energy_per_s = power_w * pue / 3.6e6 * electricity_usd_per_kwh
    return 1e6 / tokens_per_s * (capex_per_s + energy_per_s)
