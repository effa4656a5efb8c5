"""Candidate layouts for a model on a chip: the enumeration rules of `planner.perf.layout`, filtered by memory.

For every TP and attention-DP degree the smallest pipeline depth that holds one full-length sequence is found
(`planner.perf.memory.min_pipeline_depth`), then every power-of-two depth from it up to `layout.PP_SPAN` times it
(`pipeline_depths`), within `max_chips`, and every EP option. The step model is vectorised over lanes, so the wider
search costs little; `planner.perf.options.prune_dominated` keeps the best per chip.
"""

from __future__ import annotations

from planner.perf.layout import Layout, dp_candidates, ep_candidates, pipeline_depths, tp_candidates
from planner.perf.memory import DEFAULT_RESERVE_ENGINE, min_pipeline_depth
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec


def candidate_layouts(model: ModelSpec, chip: ChipSpec, precision: str, kv_precision: str,
                      context_tokens: float, max_chips: int | None = None,
                      engine: str = DEFAULT_RESERVE_ENGINE, attention_dp: bool = False) -> list[Layout]:
    """Layouts in which one sequence of `context_tokens` fits beside the `engine`'s memory reserve, using at most
    `max_chips` chips per replica. Attention-DP layouts only with `attention_dp`: they are modelled
    (`planner.perf.stage`) but not calibrated (one bundled measurement records the attention mode), and on the
    held-out published set picking them whenever the model says they are faster made predictions more optimistic
    (trtllm rows +5 % -> +27 % median signed), so plans and the layout-free `planner perf` search do not buy on them."""
    sram = chip.memory_kind == "sram"
    out: list[Layout] = []
    for tp in tp_candidates(model, chip):
        if max_chips is not None and tp > max_chips:
            continue
        for dp in (dp_candidates(model, tp) if attention_dp else [1]):
            pp_min = min_pipeline_depth(model, chip, precision, kv_precision, tp, context_tokens, engine, dp)
            if pp_min is None:
                continue
            max_pp = None if max_chips is None else max_chips // tp
            for pp in pipeline_depths(pp_min, sram, model.n_layers, None if sram else max_pp):
                if max_chips is not None and tp * pp > max_chips:
                    continue
                for ep in ep_candidates(model, tp):
                    out.append(Layout(tp=tp, pp=pp, ep=ep, dp=dp))
    return out
