"""Model catalog schema (`inputs/catalog/models.yaml`): architectures, from the checkpoints' configs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planner.schemas.chips import SourceRef
from planner.schemas.common import Identifier, StrictModel


class MoESpec(StrictModel):
    """Mixture-of-experts facts."""

    experts: int = Field(ge=2, le=100_000, description="Routed experts per MoE layer (at most 100,000).")
    active_experts: int = Field(ge=1, le=100_000, description="Routed experts used per token (at most 100,000).")
    shared_experts: int = Field(default=0, ge=0, le=1_000, description="Always-on shared experts per MoE layer (at most 1,000).")
    d_ff_expert: int = Field(ge=1, le=10_000_000, description="Hidden size of one expert's FFN (at most 10 million).")
    moe_layers: int = Field(ge=1, le=10_000, description="Layers whose FFN is an MoE block (the rest are dense) (at most 10,000).")


class MLASpec(StrictModel):
    """Multi-head latent attention: the KV cache holds a compressed latent plus the RoPE key."""

    kv_lora_rank: int = Field(ge=1, le=1_000_000, description="Latent dimension cached per token per layer (at most 1 million).")
    rope_head_dim: int = Field(ge=0, le=1_000_000, description="Decoupled RoPE key dimension cached per token per layer (at most 1 million).")


class ModelSpec(StrictModel):
    """One model architecture."""

    model_id: Identifier = Field(description="Catalog id (the reference data's `model_key`).")
    name: str = Field(description="Display name.")
    hf_repo: str | None = Field(default=None, description="Hugging Face repository of the checkpoint.")
    params_total_b: float = Field(gt=0, le=100_000, description="Total parameters, billions (at most 100,000 billion).")
    params_active_b: float = Field(gt=0, le=100_000, description="Parameters used per token, billions (= total for dense models) (at most 100,000 billion).")
    n_layers: int = Field(ge=1, le=10_000, description="Transformer layers (at most 10,000).")
    d_model: int = Field(ge=1, le=10_000_000, description="Hidden size (at most 10 million).")
    n_heads: int = Field(ge=1, le=100_000, description="Attention (query) heads (at most 100,000).")
    n_kv_heads: int = Field(ge=1, le=100_000, description="Key/value heads (= n_heads for MHA; for MLA the query-head count, unused for KV size) (at most 100,000).")
    head_dim: int = Field(ge=1, le=100_000, description="Dimension per attention head (at most 100,000).")
    d_ff: int = Field(ge=1, le=100_000_000, description="Dense FFN hidden size (MoE: of the dense layers) (at most 100 million).")
    vocab_size: int = Field(ge=1, le=100_000_000, description="Vocabulary size (at most 100 million).")
    max_context_tokens: int = Field(ge=1, le=1_000_000_000, description="Maximum context length, tokens (at most 1 billion).")
    attention: Literal["MHA", "GQA", "MLA"] = Field(description="Attention kind; decides the KV-cache size.")
    mla: MLASpec | None = Field(default=None, description="Required when attention is MLA.")
    moe: MoESpec | None = Field(default=None, description="Present for mixture-of-experts models.")
    kv_bytes_per_token_bf16: int = Field(ge=1, le=1_000_000_000, description="KV-cache bytes per token in BF16 over all layers, from the reference data (at most 1e9 bytes).")
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
