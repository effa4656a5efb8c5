"""Speculative decoding as an option of a deployment: a draft proposes k tokens, the target verifies them in one pass.

Inputs (`Speculation`): k speculated tokens per step, acceptance rate alpha (the probability that a draft token is
accepted, i.i.d. per token), and the draft's cost: a draft model from the catalog run on the same chips, or draft
heads (EAGLE, Medusa, DeepSeek MTP) costing h x one plain target decode step per speculated token.

Tokens per step (Leviathan, Kalman and Matias, "Fast Inference from Transformers via Speculative Decoding",
ICML 2023, eq. 1): the accepted prefix is geometric, and the verify pass always yields one token of its own, so
  E = 1 + alpha + ... + alpha^k = (1 - alpha^(k+1)) / (1 - alpha)         output tokens per sequence per step.

One step of a batch of B sequences at mean context L (the step formulas of `planner.perf.step`):
  t_verify = decode_step(target, B, L, E I/O, I, verify_tokens=k)
             each sequence's pass carries k + 1 tokens: weights read once, matmul FLOPs x (k + 1) (LM head on
             every position), KV read once per sequence, attention FLOPs x (k + 1); chunked prefill of the prompts
             admitted meanwhile, E I/O prompt tokens per sequence per step (I/O per output token, E outputs a step)
  t_draft  = heads:       k x h x decode_step(target, B, L)            (h of a plain target step per token)
             draft model: decode_step(draft, B, L, E I/O, I) + (k - 1) x decode_step(draft, B, L)
             (k draft steps at the same batch; the first also prefills the admitted prompts in the draft)
  TPOT_eff = (t_verify + t_draft) / E,      throughput = B / TPOT_eff.
At small batch a step is memory-bound (weights and KV read once whatever k), so t_verify ~ t_plain and speculation
gains ~E / (1 + k h); at large batch the step is compute-bound, t_verify ~ (k + 1) t_plain, and speculation loses
~E / (k + 1) < 1. Where the two cross depends on the chip's compute-to-bandwidth ratio (tests derive it by hand).
TTFT: the wait for the running step is one whole step (t_verify + t_draft) / PP instead of one TPOT / PP, and a
draft model also prefills the prompt (its `prefill_latency`).

Draft model placement: the draft runs at the layout's TP as one stage (PP 1), in the lane's weight and KV
precisions; its weights and its KV (per token of every running sequence) are counted on every chip of the
bottleneck stage (exact at PP 1, conservative for deeper pipelines):
  max batch = D x floor((free - W_draft) / (D x (kv + kv_draft) x context))        (`planner.perf.serving`).
A draft model must share the target's vocabulary (catalog `vocab_size`).

Defaults, ASSUMPTIONS (not measured): draft heads cost DEFAULT_HEAD_COST = 0.10 of a target decode step per
speculated token (EAGLE-style heads are one decoder layer plus the LM head: ~0.05-0.15 of a step). Nothing here is
calibrated: no bundled measurement records speculation, so a speculative question is never answered from a
measurement (`planner.perf.predictor` skips the measured lookup for it and flags the figure extrapolated).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import numpy as np

from planner.perf.common import Num
from planner.perf.stage import StageParams
from planner.perf.step import StepTime, decode_step, prefill_latency
from planner.schemas.models import ModelSpec

#: Cost of draft heads per speculated token, as a fraction of one plain target decode step (ASSUMPTION: EAGLE /
#: MTP heads are about one decoder layer plus the LM head; 0.05-0.15 is the usual range).
DEFAULT_HEAD_COST = 0.10


def expected_tokens(k: Num, alpha: Num) -> Num:
    """E = (1 - alpha^(k+1)) / (1 - alpha): expected output tokens per verify step (alpha in [0, 1))."""
    a = np.asarray(alpha, dtype=float)
    return (1.0 - np.power(a, np.asarray(k, dtype=float) + 1.0)) / (1.0 - a)


@dataclass(frozen=True)
class Speculation:
    """A deployment's speculative decoding: k tokens, acceptance alpha, and a draft model id or a heads' cost h."""

    tokens: int
    acceptance: float
    draft_model: str | None = None     # catalog id of a draft model (run on the same chips); None = heads
    head_cost: float | None = None     # heads: cost per speculated token / one target decode step (None = default)
    draft: ModelSpec | None = field(default=None, compare=False, hash=False, repr=False)  # the draft's catalog entry

    @property
    def expected_tokens(self) -> float:
        return float(expected_tokens(self.tokens, self.acceptance))

    @property
    def heads_cost(self) -> float:
        """h of draft heads (0 with a draft model)."""
        if self.draft_model:
            return 0.0
        return DEFAULT_HEAD_COST if self.head_cost is None else float(self.head_cost)

    def label(self) -> str:
        draft = f"draft {self.draft_model}" if self.draft_model else f"heads at {self.heads_cost:g} of a step per token"
        return f"k={self.tokens}, acceptance {self.acceptance:g}, {draft}"

    def key(self) -> list[object]:
        """JSON-able identity (for memo and cache keys)."""
        return [self.tokens, self.acceptance, self.draft_model, self.heads_cost]


def speculation_problem(tokens: object, acceptance: object, draft_model: object, head_cost: object,
                        target: ModelSpec | None, models: Mapping[str, ModelSpec],
                        names: Mapping[str, str]) -> str | None:
    """A message naming the offending field (`names` maps tokens/acceptance/draft_model/head_cost to the flag or
    column name), or None when the settings are usable. All None = no speculation (fine)."""
    if tokens is None:
        for what, value in (("acceptance", acceptance), ("draft_model", draft_model), ("head_cost", head_cost)):
            if value not in (None, ""):
                return f"{names[what]} needs {names['tokens']} (the number of speculated tokens per step)"
        return None
    if isinstance(tokens, bool) or not isinstance(tokens, int | float) or tokens != int(tokens) or tokens < 1:
        return f"{names['tokens']} must be a whole number of at least 1, got {tokens!r}"
    if tokens > 64:
        return f"{names['tokens']} must be at most 64 speculated tokens per step, got {tokens!r}"
    if acceptance is None:
        return f"{names['tokens']} needs {names['acceptance']} (per-token acceptance rate in [0, 1))"
    if not isinstance(acceptance, int | float) or not 0.0 <= float(acceptance) < 1.0:
        return f"{names['acceptance']} must be in [0, 1) (per-token probability a draft token is accepted), got {acceptance!r}"
    if draft_model not in (None, "") and head_cost is not None:
        return f"give {names['draft_model']} or {names['head_cost']}, not both"
    if head_cost is not None and (not isinstance(head_cost, int | float) or not 0.0 < float(head_cost) <= 1.0):
        return f"{names['head_cost']} must be in (0, 1] (cost per speculated token / one target decode step), got {head_cost!r}"
    if draft_model not in (None, ""):
        if draft_model not in models:
            import difflib

            close = difflib.get_close_matches(str(draft_model), list(models), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            return f"{names['draft_model']}: unknown model {draft_model!r}.{hint}"
        draft = models[str(draft_model)]
        if target is not None:
            if draft.model_id == target.model_id:
                return f"{names['draft_model']}: the draft must be a different (smaller) model than {target.model_id!r}"
            if draft.vocab_size != target.vocab_size:
                return (f"{names['draft_model']}: {draft.model_id!r} has vocabulary {draft.vocab_size}, "
                        f"{target.model_id!r} {target.vocab_size}; a draft model must share the target's vocabulary")
    return None


@dataclass(frozen=True)
class SpecStage:
    """Speculation of a set of lanes, ready for the step formulas: per-lane arrays (or floats) like StageParams."""

    tokens: Num
    acceptance: Num
    head_cost: Num                       # 0 with a draft model
    draft: StageParams | None = None     # the draft model's stage on the lane's chips (TP of the lane, PP 1)
    draft_weight_bytes: Num = 0.0        # per chip: taken from the KV room
    draft_kv_bytes_token: Num = 0.0      # per chip per token of context of every running sequence

    @property
    def expected(self) -> Num:
        return expected_tokens(self.tokens, self.acceptance)

    def tiled(self, reps: int) -> SpecStage:
        """Every per-lane array repeated `reps` times (the predictor evaluates all quantiles in one pass)."""
        t = lambda v: np.tile(np.asarray(v, dtype=float), reps) if np.ndim(v) else v  # noqa: E731
        draft = None if self.draft is None else StageParams(**{f.name: t(getattr(self.draft, f.name))
                                                               for f in fields(StageParams)})
        return SpecStage(t(self.tokens), t(self.acceptance), t(self.head_cost), draft, t(self.draft_weight_bytes),
                         t(self.draft_kv_bytes_token))


def spec_step(p: StageParams, s: SpecStage, batch: Num, context: Num, prefill_per_token: Num = 0.0,
              prompt: Num = 0.0) -> tuple[Num, Num, StepTime]:
    """(TPOT_eff, step time t_verify + t_draft, the verify pass's StepTime) of a batch (module docstring).
    `prefill_per_token` is I/O: prompt tokens per output token."""
    e = s.expected
    k = np.asarray(s.tokens, dtype=float)
    verify, st = decode_step(p, batch, context, e * prefill_per_token, prompt, verify_tokens=k)
    if s.draft is None:
        draft = k * s.head_cost * decode_step(p, batch, context)[0]
    else:
        draft = (decode_step(s.draft, batch, context, e * prefill_per_token, prompt)[0]
                 + (k - 1.0) * decode_step(s.draft, batch, context)[0])
    step = verify + draft
    return step / e, step, st


def draft_prefill_latency(s: SpecStage | None, prompt: Num) -> Num:
    """Time the draft model takes to prefill one prompt alone (0 for heads or no speculation)."""
    if s is None or s.draft is None:
        return 0.0
    return prefill_latency(s.draft, prompt)
