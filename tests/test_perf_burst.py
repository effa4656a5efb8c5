"""An offline `planner perf` answer is a finite burst of requests (planner.perf.burst): the schedule, the length
draw, the factor against the steady state, and the CLI flag."""

from __future__ import annotations

import json

import numpy as np
import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.cli import main
from planner.perf.burst import burst_factor, output_lengths, requests_per_replica, schedule
from planner.perf.calibration_io import load_calibration
from planner.perf.engine_costs import EngineCosts
from planner.perf.layout import Layout
from planner.perf.serving import RequestShape
from planner.perf.stage import stage_params
from planner.perf.step import decode_step


def test_schedule_by_hand() -> None:
    # lengths 4, 1, 1 under a limit of 2: {4, 1} run one pass; the 1 finishes and the third request joins ({4, 1}
    # again) for one pass; then the 4 runs alone for its last two passes
    sizes, spans = schedule(np.array([4, 1, 1]), 2)
    assert sizes.tolist() == [2.0, 2.0, 1.0]
    assert spans.tolist() == [1.0, 1.0, 2.0]


@pytest.mark.parametrize("limit", [1, 7, 64, 1000])
def test_schedule_decodes_every_token_once(limit: int) -> None:
    lengths = np.random.default_rng(3).integers(1, 500, 300)
    sizes, spans = schedule(lengths, limit)
    assert float(np.sum(sizes * spans)) == float(lengths.sum())  # one token per running request per pass
    assert sizes.max() <= min(limit, len(lengths))
    if limit >= len(lengths):  # everything starts at once: the run lasts as long as the longest request
        assert spans.sum() == lengths.max()


def test_output_lengths() -> None:
    assert output_lengths(10, 200.4, 0.0).tolist() == [200] * 10
    a = output_lengths(5000, 200.0, 1.0)
    assert (a == output_lengths(5000, 200.0, 1.0)).all()  # a fixed draw: the same answer every run
    assert abs(a.mean() - 200.0) < 1.0
    assert abs(a.std() / a.mean() - 1.0) < 0.1
    assert a.min() >= 1


def test_requests_per_replica() -> None:
    assert requests_per_replica(1000, 8) == 125
    assert requests_per_replica(1001, 8) == 126
    assert requests_per_replica(None, 8) == 0 and requests_per_replica(0, 3) == 0


@pytest.fixture(scope="module")
def stage():
    model = load_model_catalog()["llama-3.1-70b"]
    chip = load_chip_catalog()["h100_sxm"]
    costs = EngineCosts(layer_us=80.0, seq_us=20.0)
    return stage_params(model, chip, "fp8", "fp8", Layout(tp=4), load_calibration(), costs=costs)


def test_whole_waves_of_fixed_lengths_run_at_the_steady_rate(stage) -> None:
    shape = RequestShape(1000.0, 500.0, 0.0)
    assert burst_factor(stage, shape, 128.0, 256) == pytest.approx(1.0, abs=1e-12)


def test_fewer_requests_than_slots_run_at_their_own_batch(stage) -> None:
    shape = RequestShape(1000.0, 500.0, 0.0)
    per_seq, ctx = shape.prompt_tokens / shape.output_tokens, shape.occupancy_context
    t_full, _ = decode_step(stage, 128.0, ctx, per_seq)
    t_half, _ = decode_step(stage, 64.0, ctx, per_seq)
    # 64 requests, all at once, for 500 passes, against 128 slots busy: (64 / t(64)) / (128 / t(128))
    assert burst_factor(stage, shape, 128.0, 64) == pytest.approx(float(t_full) / (2.0 * float(t_half)), rel=1e-9)


def test_variable_lengths_leave_a_draining_tail(stage) -> None:
    f = [burst_factor(stage, RequestShape(1000.0, 500.0, cv), 128.0, 1000) for cv in (0.5, 1.0, 2.0)]
    assert 0.0 < f[2] < f[1] < f[0] < 1.0
    # many more requests than slots: the tail is a smaller share of the run
    assert burst_factor(stage, RequestShape(1000.0, 500.0, 1.0), 128.0, 20000) > f[1]


BASE = ["perf", "--model", "llama-3.1-70b", "--chip", "h100_sxm", "--chips", "4", "--tp", "4", "--precision", "fp8",
        "--prompt-tokens", "1000", "--output-tokens", "500", "--engine", "vllm", "--json"]


def _run(capsys, *extra: str) -> dict:
    assert main([*BASE, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_offline_is_a_burst_unless_asked_steady(capsys) -> None:
    burst = _run(capsys)
    steady = _run(capsys, "--requests", "0")
    assert burst["burst_requests"] == 1000 and steady["burst_requests"] == 0
    assert burst["steady_tokens_per_s_per_replica"] == pytest.approx(steady["tokens_per_s_per_replica"], rel=1e-9)
    assert burst["tokens_per_s_per_replica"] < steady["tokens_per_s_per_replica"]
    many = _run(capsys, "--requests", "100000")
    assert burst["tokens_per_s_per_replica"] < many["tokens_per_s_per_replica"] <= steady["tokens_per_s_per_replica"]


def test_cli_loaded_questions_are_not_bursts(capsys) -> None:
    for extra in (["--concurrency", "64"], ["--tpot-ms", "50"]):
        assert _run(capsys, *extra)["burst_requests"] == 0


@pytest.mark.parametrize("requests", ["0", "5", "100000"])
@pytest.mark.parametrize("loaded", [["--concurrency", "64"], ["--tpot-ms", "50"], ["--ttft-ms", "2000"],
                                    ["--concurrency", "8", "--tpot-ms", "50"]])
def test_cli_requests_beside_a_load_or_target_is_refused(requests: str, loaded: list[str], capsys) -> None:
    """--requests sizes an offline burst; beside a load or a target it had no effect and was silently ignored."""
    assert main([*BASE, *loaded, "--requests", requests]) == 2
    err = capsys.readouterr().err
    assert f"--requests {requests} sets the size of an offline burst" in err
    assert all(flag in err for flag in loaded if flag.startswith("--"))
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["-1", "100001", "1e9", "nan"])
def test_cli_requests_out_of_bounds_is_an_input_error(value: str, capsys) -> None:
    assert main([*BASE, "--requests", value]) == 2
    assert "--requests" in capsys.readouterr().err
