"""Parallel layouts of one model replica: tensor (TP), pipeline (PP), expert (EP) and attention-data (DP) parallelism.

A replica uses `tp x pp` chips: `pp` pipeline stages of `tp` chips each. EP and DP do not add chips:
  * EP spreads a stage's routed experts over `ep` of its `tp` chips, so `ep` divides `tp`.
  * DP (attention data parallelism, MoE models only: SGLang `--enable-dp-attention`, TensorRT-LLM "DEP8" =
    attention DP 8 + EP 8, against "TEP8" = TP-8 attention + EP 8) runs the attention (and everything that is not
    a routed expert) as `dp` independent replicas of attention-TP degree `tp / dp` inside the stage's `tp` chips;
    each attention rank serves its own share of the stage's sequences, and the ranks meet in the MoE layers
    (all-to-all dispatch / combine with EP, or all-gather / reduce-scatter with TP experts). `dp` divides `tp`;
    `dp = 1` is ordinary TP attention. What DP changes per chip is in `planner.perf.memory` and
    `planner.perf.stage`. The label shows it: "TP8 PP1 EP8 ADP8" (attention DP 8 = DEP8), "TP8 PP1 EP8" (TEP8).

Where a TP group may live (`tp_domain`): inside one scale-up domain; for chips whose scale-up kind is `pcie`
(L40S, L4, H100 PCIe: cards on PCIe, bridges to pairs at most) inside one server, over PCIe, as engines run it
(vLLM / SGLang / TensorRT-LLM TP over PCIe with NCCL): the all-reduce then uses PCIe bandwidth and latency
(`tp_link`). Beyond the catalog's domain the link is PCIe Gen5 x16 at most (PCIE_GBS, bidirectional as the
catalog's figures), or the catalog's own figure when lower (64 GB/s for the PCIe Gen4 L40S and L4).

Rules used to enumerate layouts (GPUs and other HBM/GDDR chips):
  * TP in powers of two up to min(TP domain, query heads, TP_CAP), TP_CAP = 8 for domains of 8 or less,
    else min(domain, 64).
  * PP in powers of two from the smallest that fits up to PP_SPAN (4) times that (more room for KV cache and a
    larger batch per chip), within the layers and the chips allowed. Stages may sit in different domains
    (hand-offs then go over scale-out).
  * EP in {1, TP} for MoE models when TP > 1 and the expert count divides by TP.
  * DP in {1, TP} for MoE models when TP > 1 (attention TP 1 x DP TP, or ordinary TP attention).
The options table keeps, per chip and precision, only the layouts no other one beats in both tokens/s per chip and
TPOT (`planner.perf.options.prune_dominated`), so a wider search costs lanes, not rows.
SRAM-only chips (Groq LPU, Cerebras WSE): weights are spread over as many chips as memory demands and the
layers pipelined across them: TP in powers of two up to the chips of one server (up to the scale-up domain, at
most MAX_TP_CAP, when the chip's fabric spans servers, as Groq's RealScale C2C does: a model with fewer layers than
the chips its weights need is split across more chips per layer), PP = the chips needed / TP (any integer), plus
1.5x and 2x that for a larger batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec

MAX_TP_CAP = 64
#: Deepest pipeline tried, as a multiple of the smallest that fits (powers of two in between).
PP_SPAN = 4
#: PCIe Gen5 x16, GB/s bidirectional (2 x 64): the most a TP all-reduce over PCIe gets per chip.
PCIE_GBS = 128.0


@dataclass(frozen=True)
class Layout:
    """One replica's parallel layout (module docstring); `dp` is the attention data-parallel degree."""

    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp: int = 1

    @property
    def chips(self) -> int:
        """Chips per replica = TP x PP."""
        return self.tp * self.pp

    @property
    def attn_tp(self) -> int:
        """Tensor-parallel degree of one attention replica: TP / DP."""
        return max(1, self.tp // max(self.dp, 1))

    @property
    def parallel_key(self) -> tuple[int, int, int]:
        """(TP, PP, EP): what a measured point records. Benchmark tables name DEP runs by the engine's flags
        (e.g. "DEP4, passed as tp=4 ep=4"), so a measurement of (TP, PP, EP) covers either attention mode."""
        return (self.tp, self.pp, self.ep)

    def __str__(self) -> str:
        return (f"TP{self.tp} PP{self.pp}" + (f" EP{self.ep}" if self.ep > 1 else "")
                + (f" ADP{self.dp}" if self.dp > 1 else ""))


def tp_domain(chip: ChipSpec) -> int:
    """Chips a TP group may span: the scale-up domain, or one server for `pcie` chips (module docstring)."""
    domain = chip.scaleup.domain_size_chips
    if chip.scaleup.kind == "pcie":
        return max(domain, chip.server.chips_per_server)
    return domain


def tp_link(chip: ChipSpec, tp: int) -> tuple[float, float]:
    """(bidirectional GB/s per chip, latency us) of a TP group of `tp` chips: the scale-up fabric inside its
    domain; PCIe (min(catalog figure, PCIE_GBS)) for a `pcie` chip's group beyond it."""
    s = chip.scaleup
    if s.kind == "pcie" and tp > s.domain_size_chips:
        return min(s.bandwidth_gbs_per_chip, PCIE_GBS), s.latency_us
    return s.bandwidth_gbs_per_chip, s.latency_us


def tp_limit(model: ModelSpec, chip: ChipSpec) -> int:
    """Largest TP allowed: the TP domain, the query heads, and TP_CAP (see module docstring)."""
    domain = tp_domain(chip)
    cap = 8 if domain <= 8 else min(domain, MAX_TP_CAP)
    if chip.memory_kind == "sram" and not chip.scaleup.spans_servers:
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
    if layout.tp < 1 or layout.pp < 1 or layout.ep < 1 or layout.dp < 1:
        return "TP, PP, EP and DP must be at least 1"
    if layout.tp > tp_domain(chip):
        where = (f"the {tp_domain(chip)} chips of one {chip.chip_id} server (TP over PCIe)"
                 if chip.scaleup.kind == "pcie" else
                 f"the scale-up domain of {chip.chip_id} ({chip.scaleup.domain_size_chips} chips)")
        return f"TP{layout.tp} is larger than {where}; use PP so that each stage's TP group fits in a domain"
    if model.n_heads % layout.tp:
        return f"TP{layout.tp} does not divide the {model.n_heads} attention heads of {model.model_id}"
    if layout.pp > model.n_layers:
        return f"PP{layout.pp} exceeds the {model.n_layers} layers of {model.model_id}"
    if layout.ep > 1:
        if model.moe is None:
            return "EP applies to mixture-of-experts models only"
        if layout.tp % layout.ep or model.moe.experts % layout.ep:
            return f"EP{layout.ep} must divide TP{layout.tp} and the {model.moe.experts} experts"
    if layout.dp > 1:
        if model.moe is None:
            return "attention DP applies to mixture-of-experts models only"
        if layout.tp % layout.dp:
            return f"attention DP{layout.dp} must divide TP{layout.tp}"
    return None


def ep_candidates(model: ModelSpec, tp: int) -> list[int]:
    """EP options for a TP group: 1, and TP itself for MoE models whose experts divide by TP."""
    if model.moe is not None and tp > 1 and model.moe.experts % tp == 0:
        return [1, tp]
    return [1]


def dp_candidates(model: ModelSpec, tp: int) -> list[int]:
    """Attention-DP options for a TP group: 1 (TP attention), and TP itself for MoE models (one attention replica
    per chip, as DEP runs)."""
    if model.moe is not None and tp > 1:
        return [1, tp]
    return [1]


def pipeline_depths(min_pp: int, sram: bool, n_layers: int, max_pp: int | None = None) -> Iterator[int]:
    """PP values to try given the smallest that fits (see module docstring); at most `max_pp` when given."""
    if sram:
        seen = set()
        for f in (1.0, 1.5, 2.0):
            pp = min(n_layers, max(1, math.ceil(min_pp * f)))
            if pp not in seen:
                seen.add(pp)
                yield pp
        return
    pp = 1
    while pp < min_pp:
        pp *= 2
    top = min(n_layers, PP_SPAN * max(min_pp, 1), max_pp if max_pp is not None else n_layers)
    while pp <= top:
        yield pp
        pp *= 2
