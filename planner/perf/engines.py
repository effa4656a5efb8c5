"""Serving engines: the names the planner knows, their default batch limit and which memory reserve they keep.

`tuned` is the regime of a tuned benchmark submission (MLPerf Inference): the analytic model is calibrated on such
runs (`planner.perf.calibration`), so `tuned` is the calibrated model with no stock engine's costs, the largest
batch memory allows (up to MAX_BATCH_PER_REPLICA) and the default (vLLM-style) memory reserve it was fitted with;
its speed factor comes from the bundled tuned submissions only (MLPerf v4.1 and v5.0 rows of `data/measured.csv`,
`planner.perf.correction`), since the calibration rows are older rounds.
The stock engines (`vllm`, `trtllm`, `sglang`) run at their default batch limit and memory reserve, and the
model is corrected per (engine, chip family) from measurements (`planner.perf.correction`).
"""

from __future__ import annotations

import math

from planner.perf.common import DEFAULT_RESERVE_ENGINE, MAX_BATCH_PER_REPLICA

TUNED = "tuned"
#: Every engine name the planner accepts (workload CSV `engine`, `policy.engine`, `planner perf --engine`).
ENGINES: tuple[str, ...] = ("vllm", "trtllm", "sglang", TUNED)
#: Default of `policy.engine`: vLLM, the most widely deployed open engine and the one whose benchmark tool
#: (`benchmark_serving.py`) users are most likely to have run themselves.
DEFAULT_ENGINE = "vllm"
#: Spellings read as an engine name.
ENGINE_ALIASES: dict[str, str] = {"trt": "trtllm", "tensorrt-llm": "trtllm", "tensorrt_llm": "trtllm", "trt-llm": "trtllm",
                                  "mlperf": TUNED}
#: Largest running batch per replica: vLLM `max_num_seqs` 256 (its V0 default, and V1's on A100 and GPUs under
#: 70 GiB; V1 defaults to 1024 on larger GPUs - vllm-project/vllm@99d7eb5d vllm/engine/arg_utils.py - but 15 of the
#: 99 bundled vLLM rows ran above 256, all dense models on AMD but one, so questions stay at 256 until the model is
#: validated there: measured runs carry their own limit, `MeasuredPoint.max_batch`); TensorRT-LLM max_batch_size
#: 2048 for questions (the bundled perf-overview and Azure runs of `trtllm-bench` took a limit from the chip's memory
#: instead, `trtllm_bench_max_batch`, which those rows carry as `max_batch`); SGLang max_running_requests has no
#: fixed default, 1024 is used; tuned submissions: whatever memory holds.
ENGINE_BATCH_CAP: dict[str, float] = {"vllm": 256.0, "trtllm": 2048.0, "sglang": 1024.0,
                                      TUNED: float(MAX_BATCH_PER_REPLICA)}


#: Engines whose scheduler admits a request only when the KV cache of its whole length (prompt + max output) can be
#: guaranteed: TensorRT-LLM's default capacity scheduler policy GUARANTEED_NO_EVICT ("GUARANTEED_NO_EVICT (default),
#: MAX_UTILIZATION and STATIC_BATCH": https://nvidia.github.io/TensorRT-LLM/performance/performance-tuning-guide/
#: useful-runtime-flags.html; `tensorrt_llm.llmapi.SchedulerConfig.capacity_scheduler_policy`). vLLM and SGLang
#: admit on the blocks in use and preempt when the cache fills, so they hold sequences at their mean context.
FULL_LENGTH_ADMISSION: frozenset[str] = frozenset({"trtllm"})


def reserves_full_length(engine: str) -> bool:
    """True when `engine` admits a request only with KV room for its whole length (FULL_LENGTH_ADMISSION)."""
    return engine in FULL_LENGTH_ADMISSION


def normalise_engine(name: object, default: str = DEFAULT_ENGINE) -> str:
    """'trt' -> 'trtllm'; empty -> `default`; raises ValueError naming the known engines for anything else."""
    s = str(name if name is not None else "").strip().lower()
    if not s or s == "nan":
        return default
    s = ENGINE_ALIASES.get(s, s)
    if s not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}")
    return s


def reserve_engine(engine: str) -> str:
    """Whose memory reserve an engine keeps: TensorRT-LLM its own; vLLM, SGLang (same default
    mem_fraction 0.9 of the total) and tuned runs (the calibration's) the vLLM one."""
    return "trtllm" if engine == "trtllm" else DEFAULT_RESERVE_ENGINE


def batch_cap(engine: str, user_batch: float | None = None, engine_cap: float | None = None) -> float:
    """The engine's batch limit (`engine_cap` where a measured run recorded its own, else ENGINE_BATCH_CAP),
    lowered to the user's own running-batch limit when one is given."""
    cap = float(engine_cap) if engine_cap else ENGINE_BATCH_CAP[engine]
    return cap if user_batch is None else min(cap, float(user_batch))


#: Source of `trtllm_bench_max_batch`: trtllm-bench's engine-setting heuristic, read at NVIDIA/TensorRT-LLM@04cba882
#: (tuning.py), where both the TensorRT engine build (`trtllm-bench build --dataset`) and the PyTorch-backend
#: `trtllm-bench throughput` (bench/benchmark/utils/general.py get_settings) call it when max_batch_size is not
#: given. The bundled rows ran 0.15-1.0; that those versions applied the same rule is an assumption.
TRTLLM_BENCH_HEURISTIC = ("NVIDIA/TensorRT-LLM tensorrt_llm/bench/build/tuning.py calc_engine_setting + "
                          "finetune_setting (called by bench/build/build.py get_benchmark_engine_settings)")


def trtllm_bench_max_batch(params_total_b: float, n_layers: int, n_kv_heads: int, head_dim: int,
                           weight_bytes: float, kv_bytes: float, tp: int, pp: int, memory_gib: float,
                           input_len: float, output_len: float, kv_fraction: float = 0.95) -> tuple[int, float]:
    """The max_batch_size `trtllm-bench` gives an engine when none is set (`TRTLLM_BENCH_HEURISTIC`), and the
    requests its KV estimate fits:
      KV per token (GiB) = 2 x layers x max(TP, kv_heads) x head_dim x kv_bytes / 2^30
      engine (GiB)       = params x weight_bytes / 2^30
      requests R         = (TP x PP x memory_gib - engine) x kv_fraction / (KV per token x (ISL + OSL))
      raw = min(R, 4096) / PP;  max_batch_size = max(64, 32 ceil(raw / 32)) below 256, 128 ceil(raw / 128) below
      1024, else 256 ceil(raw / 256) (rounded up: "slightly optimistic"; the KV cache itself limits at run time).
    ISL / OSL are the averages of the data set the engine is built or run with; kv_fraction is the default 0.95.
    The limit depends on the chip's memory: Llama-3.1-70B FP8 at TP8 built for 2048/2048 gets 896 on 8 x 80 GiB
    and 1792 on 8 x 141 GiB."""
    per_token = 2.0 * n_layers * max(tp, n_kv_heads) * head_dim * kv_bytes / 2.0**30
    engine = params_total_b * 1e9 * weight_bytes / 2.0**30
    requests = (tp * pp * memory_gib - engine) * kv_fraction / (per_token * (input_len + output_len))
    raw = min(requests, 4096.0) / pp
    if raw < 256:
        return max(64, 32 * math.ceil(raw / 32)), requests
    if raw < 1024:
        return 128 * math.ceil(raw / 128), requests
    return 256 * math.ceil(raw / 256), requests
