"""The user's own measurements set the speed factor of the (engine x architecture, family) groups they measure."""

from __future__ import annotations

from dataclasses import replace

import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.layout import Layout
from planner.perf.measured import MeasuredPoint
from planner.perf.predictor import Lane, Question, build_predictor, predict_point

MODELS = load_model_catalog()
CHIPS = load_chip_catalog()


def _offline(pr, model: str, chip: str, tp: int) -> float:  # type: ignore[no-untyped-def]
    q = Question(500.0, 500.0, 0.1, engine="vllm")
    return pr.predict(MODELS[model], [Lane(CHIPS[chip], "fp8", "fp8", Layout(tp=tp))], q)[0].tokens_per_s_p50


def test_a_user_point_at_half_the_model_halves_uncovered_cases_of_its_group_only() -> None:
    base = build_predictor()
    raw = replace(base, use_measured=False, use_correction=False)  # the model with engine costs, factor 1
    p = MeasuredPoint("U1", "llama-3.1-70b", "h100_sxm", "fp8", 4, 1, 1, "vllm", 1000.0, 1000.0, None, 1.0, None,
                      None, "my-lab", user=True)
    y = predict_point(raw, p, MODELS, CHIPS)
    assert y is not None and y.feasible
    mine = replace(p, tokens_per_s_per_chip=0.5 * y.tokens_per_s_p50 / p.chips)  # my stack: half the model
    pr = build_predictor(user_points=[mine])
    assert pr.report["user_factor_groups"] == {"vllm/dense|nvidia_hopper": 0.5}
    # another dense model on another Hopper part, offline (tokens/s scale exactly with the factor): the user's level
    assert _offline(pr, "llama-3.1-8b", "h200_sxm", 1) == pytest.approx(0.5 * _offline(raw, "llama-3.1-8b", "h200_sxm", 1),
                                                                         rel=1e-9)
    # other families and other architectures keep the bundled factor
    assert _offline(pr, "llama-3.1-8b", "mi300x", 1) == pytest.approx(_offline(base, "llama-3.1-8b", "mi300x", 1), rel=1e-12)
    assert _offline(pr, "mixtral-8x7b", "h100_sxm", 2) == pytest.approx(_offline(base, "mixtral-8x7b", "h100_sxm", 2),
                                                                         rel=1e-12)
