"""Model catalog schema (`inputs/catalog/models.yaml`): architectures, from the checkpoints' configs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planner.schemas.chips import SourceRef
from planner.schemas.common import Identifier, StrictModel


class MoESpec(StrictModel):
    """Mixture-of-experts facts."""

    experts: int = Field(ge=2, description="Routed experts per MoE layer.")
    active_experts: int = Field(ge=1, description="Routed experts used per token.")
    shared_experts: int = Field(default=0, ge=0, description="Always-on shared experts per MoE layer.")
    d_ff_expert: int = Field(ge=1, description="Hidden size of one expert's FFN.")
    moe_layers: int = Field(ge=1, description="Layers whose FFN is an MoE block (the rest are dense).")


class MLASpec(StrictModel):
    """Multi-head latent attention: the KV cache holds a compressed latent plus the RoPE key."""

    kv_lora_rank: int = Field(ge=1, description="Latent dimension cached per token per layer.")
    rope_head_dim: int = Field(ge=0, description="Decoupled RoPE key dimension cached per token per layer.")


class ModelSpec(StrictModel):
    """One model architecture."""

    model_id: Identifier = Field(description="Catalog id (the reference data's `model_key`).")
    name: str = Field(description="Display name.")
    hf_repo: str | None = Field(default=None, description="Hugging Face repository of the checkpoint.")
    params_total_b: float = Field(gt=0, description="Total parameters, billions.")
    params_active_b: float = Field(gt=0, description="Parameters used per token, billions (= total for dense models).")
    n_layers: int = Field(ge=1, description="Transformer layers.")
    d_model: int = Field(ge=1, description="Hidden size.")
    n_heads: int = Field(ge=1, description="Attention (query) heads.")
    n_kv_heads: int = Field(ge=1, description="Key/value heads (= n_heads for MHA; for MLA the query-head count, unused for KV size).")
    head_dim: int = Field(ge=1, description="Dimension per attention head.")
    d_ff: int = Field(ge=1, description="Dense FFN hidden size (MoE: of the dense layers).")
    vocab_size: int = Field(ge=1, description="Vocabulary size.")
    max_context_tokens: int = Field(ge=1, description="Maximum context length, tokens.")
    attention: Literal["MHA", "GQA", "MLA"] = Field(description="Attention kind; decides the KV-cache size.")
    mla: MLASpec | None = Field(default=None, description="Required when attention is MLA.")
    moe: MoESpec | None = Field(default=None, description="Present for mixture-of-experts models.")
    kv_bytes_per_token_bf16: int = Field(ge=1, description="KV-cache bytes per token in BF16 over all layers, from the reference data.")
    sources: list[SourceRef] = Field(min_length=1, description="Where the figures come from.")
    notes: str | None = Field(default=None, description="Free text.")

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.params_active_b > self.params_total_b * 1.0001:
            raise ValueError("params_active_b cannot exceed params_total_b")
        if self.attention == "MLA" and self.mla is None:
            raise ValueError("attention MLA needs an `mla` block (kv_lora_rank, rope_head_dim)")
        if self.moe is not None and self.moe.active_experts > self.moe.experts:
            raise ValueError("moe.active_experts cannot exceed moe.experts")
        return self

    @property
    def is_moe(self) -> bool:
        return self.moe is not None


class ModelCatalog(StrictModel):
    """The file `models.yaml`."""

    models: list[ModelSpec] = Field(min_length=1, description="Model architectures.")
