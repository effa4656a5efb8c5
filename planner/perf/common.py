"""Names shared by the low-level modules of the performance model, at the bottom of its import graph (imports
nothing from `planner.perf`): where bundled data lives, the numeric type of the elementwise formulas, and the
engine limits memory, serving and engines all read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Bundled data of the package (`efficiency.json`, `calibration.csv`, `engine_costs.json`, `measured.csv`).
DATA_DIR = Path(__file__).resolve().parent / "data"

Num = Any  # float | numpy.ndarray; elementwise formulas accept both

#: Engine whose memory reserve is used when none is named (see README, performance model).
DEFAULT_RESERVE_ENGINE = "vllm"

#: Largest batch an engine is configured for (TensorRT-LLM / vLLM max batch sizes in practice).
MAX_BATCH_PER_REPLICA = 4096

#: How much a publisher's row count weighs wherever measurements are pooled (the engine-cost fit and the speed
#: factor): each of a publisher's n rows weighs n^-POWER, so the publisher weighs n^(1 - POWER) in all (1: every
#: publisher counts once; 0: every row alike). One value for both fits, so costs and factor see the same data.
PUBLISHER_WEIGHT_POWER = 0.5
