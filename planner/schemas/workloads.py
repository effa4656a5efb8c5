"""Workload forecast schema: one CSV row per workload x quarter."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from planner.schemas.common import Identifier, Precision, Quarter, StrictModel

#: CSV columns in order; the first ten are required, `allowed_sites`, `engine` and the `spec_*` columns (speculative
#: decoding, `planner.perf.speculative`) may be absent or blank.
WORKLOAD_COLUMNS: tuple[str, ...] = (
    "workload_id", "model_id", "quarter", "peak_output_tokens_per_s", "prompt_tokens_mean",
    "output_tokens_mean", "ttft_ms", "tpot_ms", "latency_percentile", "allowed_precisions", "allowed_sites", "engine",
    "spec_tokens", "spec_acceptance", "spec_draft_model", "spec_head_cost",
)
#: Optional columns read as absent when blank.
OPTIONAL_WORKLOAD_COLUMNS: tuple[str, ...] = WORKLOAD_COLUMNS[10:]
#: Serving engines (planner.perf.engines.ENGINES): `tuned` = a tuned benchmark submission (the calibrated model at
#: the level of the bundled MLPerf submissions).
Engine = Literal["vllm", "trtllm", "sglang", "tuned"]
_ENGINE_SPELLINGS = {"trt": "trtllm", "tensorrt-llm": "trtllm", "tensorrt_llm": "trtllm", "trt-llm": "trtllm",
                     "mlperf": "tuned"}
REQUIRED_WORKLOAD_COLUMNS: tuple[str, ...] = WORKLOAD_COLUMNS[:10]


class WorkloadRow(StrictModel):
    """Demand for one workload in one quarter."""

    _numbers_from_text: ClassVar[bool] = True  # CSV cells are text; `true` still fails as a number

    workload_id: Identifier = Field(description="Workload id; one row per workload and quarter.")
    model_id: Identifier = Field(description="Model served (an id in models.yaml).")
    quarter: Quarter = Field(description="Quarter, written 2027Q1.")
    peak_output_tokens_per_s: float = Field(gt=0, le=1e10, description="Peak output tokens per second to serve.")
    prompt_tokens_mean: float = Field(gt=0, le=10_000_000, description="Mean prompt (input) tokens per request.")
    output_tokens_mean: float = Field(gt=0, le=10_000_000, description="Mean output tokens per request.")
    ttft_ms: float = Field(gt=0, le=3_600_000, description="Time-to-first-token target at `latency_percentile`, ms.")
    tpot_ms: float = Field(gt=0, le=600_000, description="Time-per-output-token target at `latency_percentile`, ms.")
    latency_percentile: float = Field(gt=0, lt=100, description="Percentile the latency targets refer to, e.g. 99.")
    allowed_precisions: list[Precision] = Field(min_length=1, description="Weight precisions the quality floor allows; CSV: `fp8;int8`.")
    allowed_sites: list[Identifier] = Field(default_factory=list, description="Sites allowed to serve it; empty = any. CSV: `site_a;site_b`.")
    engine: Engine | None = Field(default=None, description="Serving engine (`vllm`, `trtllm`, `sglang`, or `tuned` for a tuned benchmark submission); empty = the scenario's `policy.engine`.")

    spec_tokens: int | None = Field(default=None, ge=1, le=64, description="Speculative decoding: tokens speculated per step k; empty = no speculation.")
    spec_acceptance: float | None = Field(default=None, ge=0, lt=1, description="Speculative decoding: per-token acceptance rate alpha in [0, 1) (needs `spec_tokens`).")
    spec_draft_model: Identifier | None = Field(default=None, description="Speculative decoding: draft model id (in models.yaml, same vocabulary), run on the same chips; empty = draft heads.")
    spec_head_cost: float | None = Field(default=None, gt=0, le=1, description="Speculative decoding with draft heads (EAGLE/MTP): cost per speculated token as a fraction of one target decode step; empty = 0.10 (assumption).")

    @model_validator(mode="after")
    def _speculation(self) -> WorkloadRow:
        from planner.perf.speculative import speculation_problem

        names = {"tokens": "spec_tokens", "acceptance": "spec_acceptance", "draft_model": "spec_draft_model",
                 "head_cost": "spec_head_cost"}
        problem = speculation_problem(self.spec_tokens, self.spec_acceptance, self.spec_draft_model,
                                      self.spec_head_cost, None, {}, names)
        if problem and "unknown model" not in problem:
            raise ValueError(problem)
        return self

    @field_validator("engine", mode="before")
    @classmethod
    def _engine(cls, value: object) -> object:
        if isinstance(value, str):
            s = value.strip().lower()
            return _ENGINE_SPELLINGS.get(s, s) or None
        return value

    @field_validator("allowed_precisions", "allowed_sites", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.replace(",", ";").split(";") if v.strip()]
        if value is None:
            return []
        return value
