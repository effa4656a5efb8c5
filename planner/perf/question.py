"""What is asked of a deployment and how one stage answers it: the question (request lengths, targets, engine),
the lane (chip, precision, layout), the lane and question of a measured point, and the operating point of a stage
for a question. Shared by `planner.perf.predictor` (predictions) and `planner.perf.engine_fit` (fitting engine
costs), neither of which imports the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.perf.burst import as_burst
from planner.perf.calibration import Calibration
from planner.perf.engines import DEFAULT_ENGINE, TUNED, batch_cap, reserves_full_length
from planner.perf.layout import Layout
from planner.perf.measured import MeasuredPoint
from planner.perf.serving import OperatingPoint, RequestShape, Targets, closed_loop, operating_point
from planner.perf.speculative import SpecStage, Speculation
from planner.perf.stage import StageParams
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec


@dataclass(frozen=True)
class Question:
    """What is asked of every lane: request lengths, targets (ms, at a percentile; inf = none), engine, and
    optionally a closed-loop client concurrency per replica and a running-batch limit."""

    prompt_tokens: float
    output_tokens: float
    length_cv: float = 1.0
    ttft_ms: float = math.inf
    tpot_ms: float = math.inf
    percentile: float = 99.0
    engine: str = DEFAULT_ENGINE
    concurrency: float | None = None
    batch: int | None = None
    spec: Speculation | None = None  # speculative decoding (planner.perf.speculative); never answered from measurements
    engine_cap: float | None = None  # the engine's own running-sequence limit in a measured run (else its default)
    requests: int | None = None  # offline only: a finite burst of this many requests (planner.perf.burst); None = steady

    @property
    def shape(self) -> RequestShape:
        return RequestShape(self.prompt_tokens, self.output_tokens, self.length_cv)

    @property
    def targets(self) -> Targets:
        return Targets(self.ttft_ms / 1e3, self.tpot_ms / 1e3, self.percentile)


@dataclass(frozen=True)
class Lane:
    """One deployment of a model: chip, weight and KV precision, layout."""

    chip: ChipSpec
    precision: str
    kv_precision: str
    layout: Layout


def run_question(sp: StageParams, q: Question, cal: Calibration, scale: np.ndarray,
                 spec: SpecStage | None = None) -> OperatingPoint:
    """Operating point of a stage for a question: closed loop at the question's concurrency when it names one,
    else at the load its targets allow; `scale` is the speed factor f (`time_scale` of `planner.perf.serving`)."""
    cap = batch_cap(q.engine, q.batch, q.engine_cap)
    overhead = cal.request_overhead_ms / 1e3
    full = reserves_full_length(q.engine)
    if q.concurrency is not None:
        return closed_loop(sp, q.shape, q.concurrency, q.targets, overhead, cap, scale, spec, full)
    op = operating_point(sp, q.shape, q.targets, overhead, cap, scale, spec, full)
    if q.requests and q.targets.offline:
        op = as_burst(sp, q.shape, op, q.requests)
    return op


def correction_key(engine: str, model: ModelSpec | None) -> str:
    """The engine as the correction groups it: stock engines split by architecture (dense / MoE), whose model errors
    differ in shape; `tuned` stays itself (its factor comes from tuned points only)."""
    if engine == TUNED or model is None:
        return engine
    return f"{engine}/{'moe' if model.is_moe else 'dense'}"


def point_lane(p: MeasuredPoint, chip: ChipSpec) -> Lane:
    """The lane a measured point ran (KV cache in FP8 for FP8/FP4 weights, else as the weights)."""
    kv = "fp8" if p.precision in ("fp8", "fp4") else p.precision
    return Lane(chip, p.precision, kv, Layout(tp=p.tp, pp=p.pp, ep=p.ep, dp=p.dp))


def point_question(p: MeasuredPoint) -> Question:
    """The question a measured point answers (benchmarks use near-fixed lengths: CV 0.1)."""
    return Question(p.prompt_tokens, p.output_tokens, 0.1, engine=p.engine, concurrency=p.concurrency,
                    engine_cap=p.max_batch)
