"""Parallel layouts of one model replica: tensor (TP), pipeline (PP) and expert (EP) parallelism.

A replica uses `tp x pp` chips: `pp` pipeline stages of `tp` chips each. EP does not add chips: it spreads a
stage's routed experts over `ep` of its `tp` chips (attention stays tensor-parallel), so `ep` divides `tp`.

Rules used to enumerate layouts (GPUs and other HBM/GDDR chips):
  * TP in powers of two up to min(scale-up domain, query heads, TP_CAP), TP_CAP = 8 for domains of 8 or less,
    else min(domain, 64): every TP group lives inside one scale-up domain.
  * PP in powers of two, only as much as the weights need: the smallest PP that fits, and twice that
    (more room for KV cache). Stages may sit in different domains (hand-offs then go over scale-out).
  * EP in {1, TP} for MoE models when TP > 1 and the expert count divides by TP.
SRAM-only chips (Groq LPU, Cerebras WSE): weights are spread over as many chips as memory demands and the
layers pipelined across them: TP in powers of two up to the chips of one server, PP = the chips needed / TP
(any integer), plus 1.5x and 2x that for a larger batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec

MAX_TP_CAP = 64


@dataclass(frozen=True)
class Layout:
    """One replica's parallel layout."""

    tp: int = 1
    pp: int = 1
    ep: int = 1

    @property
    def chips(self) -> int:
        """Chips per replica = TP x PP."""
        return self.tp * self.pp

    def __str__(self) -> str:
        return f"TP{self.tp} PP{self.pp}" + (f" EP{self.ep}" if self.ep > 1 else "")


def tp_limit(model: ModelSpec, chip: ChipSpec) -> int:
    """Largest TP allowed: the scale-up domain, the query heads, and TP_CAP (see module docstring)."""
    domain = chip.scaleup.domain_size_chips
    cap = 8 if domain <= 8 else min(domain, MAX_TP_CAP)
    if chip.memory_kind == "sram":
        cap = max(1, min(cap, chip.server.chips_per_server))
    return max(1, min(domain, model.n_heads, cap))


def tp_candidates(model: ModelSpec, chip: ChipSpec) -> list[int]:
    """Powers of two up to `tp_limit` that divide the query heads."""
    limit = tp_limit(model, chip)
    out, t = [], 1
    while t <= limit:
        if model.n_heads % t == 0:
            out.append(t)
        t *= 2
    return out


def layout_problem(model: ModelSpec, chip: ChipSpec, layout: Layout) -> str | None:
    """Why a layout is not allowed on this chip (None when it is)."""
    if layout.tp < 1 or layout.pp < 1 or layout.ep < 1:
        return "TP, PP and EP must be at least 1"
    if layout.tp > chip.scaleup.domain_size_chips:
        return (
            f"TP{layout.tp} is larger than the scale-up domain of {chip.chip_id} "
            f"({chip.scaleup.domain_size_chips} chips); use PP so that each stage's TP group fits in a domain"
        )
    if model.n_heads % layout.tp:
        return f"TP{layout.tp} does not divide the {model.n_heads} attention heads of {model.model_id}"
    if layout.pp > model.n_layers:
        return f"PP{layout.pp} exceeds the {model.n_layers} layers of {model.model_id}"
    if layout.ep > 1:
        if model.moe is None:
            return "EP applies to mixture-of-experts models only"
        if layout.tp % layout.ep or model.moe.experts % layout.ep:
            return f"EP{layout.ep} must divide TP{layout.tp} and the {model.moe.experts} experts"
    return None


def ep_candidates(model: ModelSpec, tp: int) -> list[int]:
    """EP options for a TP group: 1, and TP itself for MoE models whose experts divide by TP."""
    if model.moe is not None and tp > 1 and model.moe.experts % tp == 0:
        return [1, tp]
    return [1]


def pipeline_depths(min_pp: int, sram: bool, n_layers: int) -> Iterator[int]:
    """PP values to try given the smallest that fits (see module docstring)."""
    if sram:
        seen = set()
        for f in (1.0, 1.5, 2.0):
            pp = min(n_layers, max(1, math.ceil(min_pp * f)))
            if pp not in seen:
                seen.add(pp)
                yield pp
        return
    if min_pp <= 1:
        yield 1
        return
    pp = 1
    while pp < min_pp:
        pp *= 2
    for p in (pp, pp * 2):
        if p <= n_layers:
            yield p
