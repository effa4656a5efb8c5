"""Memory fit of one replica layout: weights, KV cache, reserve, and so the largest batch.

Per chip of the bottleneck pipeline stage, for a layout TP x PP (EP) with attention DP degree D (A = TP / D the
attention-TP degree; D = 1 is ordinary TP attention, see `planner.perf.layout`):
  weights      = [X + H + D x (W(p) - X - H)] / (TP x PP)
                 X = routed-expert bytes (spread over all TP x PP chips, by EP or by TP alike), H = the LM head
                 (vocab-parallel over the whole TP group, the engines' default); everything else - attention,
                 dense FFN, shared experts, norms and the input embedding - is held by every attention replica,
                 split over its A chips only (SGLang keeps the input embedding whole per DP rank; its LM head stays
                 TP-parallel unless `--enable-dp-lm-head`). D = 1: W(p) / (TP x PP).
  KV per token per attention rank (one chip of an attention replica, holding only its own sequences):
                 GQA/MHA: 2 x ceil(layers/PP) x ceil(kv_heads/A) x head_dim x b_kv   (KV heads are replicated
                 when A exceeds them);
                 MLA: ceil(layers/PP) x (kv_lora_rank + rope_dim) x b_kv: the latent is one KV head that attention
                 TP cannot split, so with TP attention every rank holds the whole latent of every sequence (vLLM,
                 SGLang and TensorRT-LLM store it so by default); with attention DP each rank holds its own
                 sequences' latents only, which is what makes DP the larger-batch layout for MLA models.
  KV per token per chip (of the stage's batch B, spread evenly over the D attention replicas: B / D each)
               = KV per rank / D   - what the step-time bytes and the batch formulas use
  memory       = memory_gb in the unit the part is sold in (GiB for HBM, see `memory_bytes`)
  reserve      = engine-specific (`reserve_bytes`: vLLM 10 % of the total, TensorRT-LLM 10 % of what is left
                 after the weights; SRAM 5 %)
  free for KV  = memory - weights - reserve
  max batch    = D x floor(free / (KV per rank x context))   (every attention replica holds whole sequences)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.perf.common import DEFAULT_RESERVE_ENGINE, MAX_BATCH_PER_REPLICA
from planner.perf.layout import Layout
from planner.perf.model_costs import model_costs
from planner.perf.precision import bytes_per_element
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec

#: Share of device memory kept back for the runtime, activation workspace and fragmentation. vLLM's default
#: gpu_memory_utilization=0.9 keeps 10 %; TensorRT-LLM reserves a few GB of activation workspace. SRAM chips run
#: a static schedule with small activation buffers.
RESERVE_FRACTION: dict[str, float] = {"hbm": 0.08, "gddr": 0.08, "sram": 0.05}

GIB = 2.0**30


def memory_bytes(chip: ChipSpec) -> float:
    """Device memory in bytes in the unit the part is sold in: HBM capacities are GiB (an "80 GB" H100 holds
    80 GiB), GDDR and SRAM figures are taken as decimal GB."""
    return chip.memory_gb * (GIB if chip.memory_kind == "hbm" else 1e9)


def reserve_bytes(chip: ChipSpec, weights_bytes: float, engine: str = DEFAULT_RESERVE_ENGINE) -> float:
    """Memory an engine keeps back from the KV cache, per chip:
    vLLM / SGLang: (1 - gpu_memory_utilization 0.9) of the total; TensorRT-LLM: 1 - kv_cache_free_gpu_mem_fraction
    (0.9) of what is left after the weights; SRAM chips: RESERVE_FRACTION of the total (static schedule)."""
    mem = memory_bytes(chip)
    if chip.memory_kind == "sram":
        return RESERVE_FRACTION["sram"] * mem
    if engine == "trtllm":
        return 0.1 * max(mem - weights_bytes, 0.0)
    return 0.1 * mem


def kv_bytes_per_token_per_rank(model: ModelSpec, kv_precision: str, layout: Layout) -> float:
    """KV-cache bytes per token of context held by one chip of an attention replica for its own sequences
    (attention TP = TP / DP; formula in the module docstring)."""
    b = bytes_per_element(kv_precision)
    layers = math.ceil(model.n_layers / layout.pp)
    if model.attention == "MLA" and model.mla is not None:
        return layers * (model.mla.kv_lora_rank + model.mla.rope_head_dim) * b
    heads = math.ceil(model.n_kv_heads / layout.attn_tp)
    return 2.0 * layers * heads * model.head_dim * b


def kv_bytes_per_token_per_chip(model: ModelSpec, kv_precision: str, layout: Layout) -> float:
    """KV-cache bytes per token of the stage's batch held by one chip: KV per rank / DP (module docstring); with
    DP = 1 the KV per rank itself."""
    return kv_bytes_per_token_per_rank(model, kv_precision, layout) / max(layout.dp, 1)


def weight_bytes_per_chip(model: ModelSpec, precision: str, layout: Layout) -> float:
    """Resident weight bytes on one chip: [X + H + DP x (W - X - H)] / (TP x PP) (module docstring)."""
    mc = model_costs(model)
    w = mc.weight_bytes(precision)
    if layout.dp <= 1:
        return w / layout.chips
    tp_wide = mc.expert_bytes(precision) + mc.embedding_bytes(precision)
    return (tp_wide + layout.dp * (w - tp_wide)) / layout.chips


@dataclass(frozen=True)
class MemoryFit:
    """Memory arithmetic of one layout at one context length (bytes are per chip)."""

    weights_bytes_per_chip: float
    kv_bytes_per_token_per_chip: float
    reserve_bytes_per_chip: float
    memory_bytes_per_chip: float
    context_tokens: float
    max_batch: int

    @property
    def free_bytes_per_chip(self) -> float:
        return self.memory_bytes_per_chip - self.weights_bytes_per_chip - self.reserve_bytes_per_chip

    @property
    def fits(self) -> bool:
        """At least one sequence of the full context fits beside the weights."""
        return self.max_batch >= 1

    def explain(self) -> str:
        """One line with the numbers, for messages."""
        gb = 1e9
        return (
            f"per chip: memory {self.memory_bytes_per_chip / gb:.2f} GB = weights {self.weights_bytes_per_chip / gb:.2f} GB"
            f" + reserve {self.reserve_bytes_per_chip / gb:.2f} GB + KV room {max(self.free_bytes_per_chip, 0) / gb:.2f} GB"
            + ("" if self.free_bytes_per_chip >= 0 else f" (short by {-self.free_bytes_per_chip / gb:.2f} GB)")
            + f"; KV {self.kv_bytes_per_token_per_chip / 1024:.1f} KiB/token x {self.context_tokens:,.0f} tokens"
            f" -> max batch {self.max_batch}"
        )


def memory_fit(
    model: ModelSpec, chip: ChipSpec, precision: str, kv_precision: str, layout: Layout, context_tokens: float,
    engine: str = DEFAULT_RESERVE_ENGINE,
) -> MemoryFit:
    """Weights, KV per token, the `engine`'s reserve and the largest batch at `context_tokens` for one layout."""
    weights = weight_bytes_per_chip(model, precision, layout)
    kv = kv_bytes_per_token_per_chip(model, kv_precision, layout)
    mem = memory_bytes(chip)
    reserve = reserve_bytes(chip, weights, engine)
    free = mem - weights - reserve
    dp = max(layout.dp, 1)
    per_seq = kv * dp * max(context_tokens, 1.0)  # one sequence on its attention rank
    max_batch = int(min(MAX_BATCH_PER_REPLICA, dp * math.floor(free / per_seq))) if free > 0 else 0
    return MemoryFit(weights, kv, reserve, mem, context_tokens, max(max_batch, 0))


def min_pipeline_depth(model: ModelSpec, chip: ChipSpec, precision: str, kv_precision: str, tp: int,
                       context_tokens: float, engine: str = DEFAULT_RESERVE_ENGINE, dp: int = 1) -> int | None:
    """Smallest PP (any integer) at which one sequence of `context_tokens` fits on its attention rank with
    TP=`tp` and attention DP=`dp` (weights and KV per rank as in the module docstring); None if none does."""
    weights = weight_bytes_per_chip(model, precision, Layout(tp=tp, dp=dp)) * tp
    mem = memory_bytes(chip) * (1.0 - RESERVE_FRACTION[chip.memory_kind])
    kv_all = kv_bytes_per_token_per_rank(model, kv_precision, Layout(tp=tp, pp=1, dp=dp)) * context_tokens
    # weights/(tp*pp) + kv_all/pp <= mem  ->  pp >= (weights/tp + kv_all) / mem
    pp = max(1, math.ceil((weights / tp + kv_all) / mem))
    while pp <= model.n_layers:
        if memory_fit(model, chip, precision, kv_precision, Layout(tp=tp, pp=pp, dp=dp), context_tokens, engine).fits:
            return pp
        pp += 1
    return None
