"""Per-model quantities the roofline needs: bytes of weights, KV cache per token, FLOPs per token.

Conventions (untied input embedding and LM head, gated FFN experts with three matrices):
  * embedding params  E = vocab x d_model, the same again for the LM head.
  * weight bytes      W(p) = (P - 2E) x b(p) x (1 + m(p)) + 2E x b_emb, with b_emb = 2 bytes when the weights
                      are quantized below 16 bit (embedding and LM head stay in 16 bit, as AWQ/GPTQ/FP8 recipes do),
                      m(p) the quantization metadata fraction.
  * KV bytes/token    GQA/MHA: 2 x layers x kv_heads x head_dim x b_kv;  MLA: layers x (kv_lora_rank + rope_dim) x b_kv.
  * FLOPs/token       decode: 2 x (P_active - E) (the embedding is a lookup, the LM head a matmul);
                      prefill: 2 x (P_active - 2E) (only the last prompt token goes through the LM head).
  * attention FLOPs   per token per cached token: 4 x heads x head_dim x layers (QK^T and AV);
                      MLA (absorbed): 2 x heads x (2 x kv_lora_rank + rope_dim) x layers.
  * MoE               routed expert params R = moe_layers x experts x 3 x d_model x d_ff_expert (capped at P);
                      memory holds all of them, a step reads the experts its tokens hit.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.perf.precision import QUANT_METADATA_FRACTION, bytes_per_element
from planner.schemas.models import ModelSpec


@dataclass(frozen=True)
class ModelCosts:
    """Derived, precision-independent sizes of one model (parameter counts in units, not billions)."""

    params_total: float
    params_active: float
    embedding_params: float          # one matrix: vocab x d_model
    routed_expert_params: float      # 0 for dense models
    experts: int                     # routed experts per MoE layer (1 for dense)
    active_experts: int              # routed experts per token (1 for dense)
    n_layers: int
    moe_layers: int
    d_model: int
    n_heads: int
    kv_elements_per_token: float     # K+V (or latent) elements cached per token over all layers
    attn_flops_per_token_ctx: float  # attention FLOPs per new token per cached token, all layers

    @property
    def is_moe(self) -> bool:
        return self.routed_expert_params > 0

    def weight_bytes(self, precision: str) -> float:
        """Resident weight bytes W(p) of the whole model (see module docstring)."""
        b = bytes_per_element(precision)
        body = self.params_total - 2 * self.embedding_params
        emb_b = 2.0 if b < 2.0 else b
        return body * b * (1.0 + QUANT_METADATA_FRACTION.get(precision, 0.0)) + 2 * self.embedding_params * emb_b

    def expert_bytes(self, precision: str) -> float:
        """Bytes of the routed experts alone (part of `weight_bytes`)."""
        return self.routed_expert_params * bytes_per_element(precision) * (1.0 + QUANT_METADATA_FRACTION.get(precision, 0.0))

    def embedding_bytes(self, precision: str) -> float:
        """Bytes of one vocab x d_model matrix (the input embedding, or the LM head): 16 bit below 16-bit weights."""
        emb_b = 2.0 if bytes_per_element(precision) < 2.0 else bytes_per_element(precision)
        return self.embedding_params * emb_b

    def read_bytes_dense(self, precision: str) -> float:
        """Bytes read by every forward pass whatever the batch: all weights but the routed experts and the
        input-embedding table (only the batch's rows of it are read)."""
        return self.weight_bytes(precision) - self.expert_bytes(precision) - self.embedding_bytes(precision)

    def kv_bytes_per_token(self, kv_precision: str) -> float:
        """KV-cache bytes per token of context over all layers."""
        return self.kv_elements_per_token * bytes_per_element(kv_precision)

    @property
    def decode_flops_per_token(self) -> float:
        """2 x (P_active - E): matmul FLOPs per generated token, LM head included."""
        return 2.0 * (self.params_active - self.embedding_params)

    @property
    def expert_flops_per_token(self) -> float:
        """2 x active routed-expert params: the part of the matmul FLOPs per token done by grouped expert GEMMs."""
        if not self.is_moe:
            return 0.0
        return 2.0 * self.routed_expert_params * self.active_experts / self.experts

    @property
    def prefill_flops_per_token(self) -> float:
        """2 x (P_active - 2E): matmul FLOPs per prompt token (the LM head runs once per prompt, ignored)."""
        return 2.0 * (self.params_active - 2 * self.embedding_params)


def model_costs(model: ModelSpec) -> ModelCosts:
    """Derive `ModelCosts` from a catalog entry."""
    emb = float(model.vocab_size) * model.d_model
    total = model.params_total_b * 1e9
    routed = 0.0
    experts = active = 1
    moe_layers = 0
    if model.moe is not None:
        routed = float(model.moe.moe_layers) * model.moe.experts * 3 * model.d_model * model.moe.d_ff_expert
        routed = min(routed, 0.98 * total)
        experts, active, moe_layers = model.moe.experts, model.moe.active_experts, model.moe.moe_layers
    if model.attention == "MLA" and model.mla is not None:
        kv_elems = float(model.n_layers) * (model.mla.kv_lora_rank + model.mla.rope_head_dim)
        attn = 2.0 * model.n_heads * (2 * model.mla.kv_lora_rank + model.mla.rope_head_dim) * model.n_layers
    else:
        kv_elems = 2.0 * model.n_layers * model.n_kv_heads * model.head_dim
        attn = 4.0 * model.n_heads * model.head_dim * model.n_layers
    return ModelCosts(
        params_total=total,
        params_active=model.params_active_b * 1e9,
        embedding_params=emb,
        routed_expert_params=routed,
        experts=experts,
        active_experts=active,
        n_layers=model.n_layers,
        moe_layers=moe_layers,
        d_model=model.d_model,
        n_heads=model.n_heads,
        kv_elements_per_token=kv_elems,
        attn_flops_per_token_ctx=attn,
    )
