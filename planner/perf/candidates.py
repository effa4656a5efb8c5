"""Candidate layouts for a model on a chip: the enumeration rules of `planner.perf.layout`, filtered by memory."""

from __future__ import annotations

from planner.perf.layout import Layout, ep_candidates, pipeline_depths, tp_candidates
from planner.perf.memory import DEFAULT_RESERVE_ENGINE, min_pipeline_depth
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec


def candidate_layouts(model: ModelSpec, chip: ChipSpec, precision: str, kv_precision: str,
                      context_tokens: float, max_chips: int | None = None,
                      engine: str = DEFAULT_RESERVE_ENGINE) -> list[Layout]:
    """Layouts in which one sequence of `context_tokens` fits beside the `engine`'s memory reserve, using at most
    `max_chips` chips per replica."""
    sram = chip.memory_kind == "sram"
    out: list[Layout] = []
    for tp in tp_candidates(model, chip):
        pp_min = min_pipeline_depth(model, chip, precision, kv_precision, tp, context_tokens, engine)
        if pp_min is None:
            continue
        for pp in pipeline_depths(pp_min, sram, model.n_layers):
            if max_chips is not None and tp * pp > max_chips:
                continue
            for ep in ep_candidates(model, tp):
                out.append(Layout(tp=tp, pp=pp, ep=ep))
    return out
