"""The one predictor: same figure everywhere, measured first, corrected with a fallback chain, engine limits in every
path, honest intervals, and located errors for bad engines and bad measurement entries."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.io.loader import PlanInputs, load_inputs
from planner.perf.calibration_io import load_calibration
from planner.perf.correction import Correction, fit_correction, fit_intervals
from planner.perf.engines import ENGINE_BATCH_CAP
from planner.perf.layout import Layout
from planner.perf.measured import MeasuredPoint
from planner.perf.memory import memory_bytes
from planner.perf.model_costs import model_costs
from planner.perf.options import options_table
from planner.perf.predictor import Lane, Predictor, Question, build_predictor, correction_key
from planner.pipeline import _with_perf_source, deployment_table
from planner.schemas.scenario import Scenario, SolverSettings
from planner.schemas.workloads import WorkloadRow
from solvers.build import build_model
from solvers.extract import extract
from solvers.sets import build_sets
from solvers.solve import solve
from tests.conftest import run_cli
from tests.milp_cases import make_site

CHIPS = load_chip_catalog()
MODELS = load_model_catalog()
CAL = load_calibration()


def _workload(**kw: object) -> WorkloadRow:
    base = {"workload_id": "w", "model_id": "llama-3.1-70b", "quarter": "2027Q1", "peak_output_tokens_per_s": 1e5,
            "prompt_tokens_mean": 1500, "output_tokens_mean": 350, "ttft_ms": 2000, "tpot_ms": 60,
            "latency_percentile": 99, "allowed_precisions": ["fp8"]}
    return WorkloadRow.model_validate({**base, **kw})


# --- one figure everywhere --------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["vllm", "trtllm", "sglang", "tuned"])
def test_perf_cli_and_options_table_give_the_same_tokens_per_s(engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    w = _workload(engine=engine)
    table = options_table([w], MODELS, {"h200_sxm": CHIPS["h200_sxm"]})
    assert len(table), "the case has options"
    for row in table.head(3).to_dict(orient="records"):
        code, out, err = run_cli([
            "perf", "--model", "llama-3.1-70b", "--chip", "h200_sxm", "--chips", str(row["chips_per_replica"]),
            "--precision", "fp8", "--prompt-tokens", "1500", "--output-tokens", "350", "--ttft-ms", "2000",
            "--tpot-ms", "60", "--percentile", "99", "--tp", str(row["tp"]), "--pp", str(row["pp"]), "--ep",
            str(row["ep"]), "--engine", engine, "--json"], capsys)
        assert code == 0, err
        ev = json.loads(out)
        assert ev["tokens_per_s_per_replica"] == pytest.approx(row["tokens_per_s_per_replica"], rel=1e-9)
        assert ev["tpot_ms"] == pytest.approx(row["tpot_ms"], rel=1e-9)
        assert ev["tokens_per_s_p10"] == pytest.approx(row["tokens_per_s_p10"], rel=1e-9)
        assert ev["perf_source"] == row["perf_source"] == "corrected"  # tuned: its factor from tuned points
        assert ev["batch"] == row["batch"]


# --- measured first: a vLLM benchmark JSON in the bundled example -----------------------------------------------------


def _vllm_json(path: Path, concurrency: int, throughput: float, tpot_p99: float, ttft_p99: float) -> None:
    n = 200  # requests; 1500 prompt and 350 output tokens each, as the example's chat-70b workload
    path.write_text(json.dumps({
        "backend": "vllm", "max_concurrency": concurrency, "completed": n, "total_input_tokens": 1500 * n,
        "total_output_tokens": 350 * n, "output_throughput": throughput, "mean_ttft_ms": ttft_p99 / 2,
        "p99_ttft_ms": ttft_p99, "mean_tpot_ms": tpot_p99 * 0.8, "p99_tpot_ms": tpot_p99,
    }))


def test_a_vllm_benchmark_json_in_the_example_becomes_the_plans_option(example_copy: Path) -> None:
    folder = example_copy.parent
    runs = [(8, 1500.0, 20.0, 300.0), (32, 3000.0, 40.0, 600.0), (128, 6000.0, 90.0, 1500.0)]
    entries = []
    for c, x, tpot, ttft in runs:
        _vllm_json(folder / f"h200_tp2_c{c}.json", c, x, tpot, ttft)
        entries.append(f"    - {{file: h200_tp2_c{c}.json, model_id: llama-3.1-70b, chip_id: h200_sxm, precision: fp8, "
                       f"tp: 2, engine: vllm}}")
    key = ("chat-70b", "2027Q1", "h200_sxm", "fp8", 2, 1, 1)

    def option(inputs: PlanInputs) -> dict | None:
        t = deployment_table(inputs)
        rows = [r for r in t.to_dict(orient="records")
                if (r["workload_id"], r["quarter"], r["chip_id"], r["precision"], r["tp"], r["pp"], r["ep"]) == key]
        return rows[0] if rows else None

    before = option(load_inputs(example_copy, ["policy.engine=vllm"]))
    text = example_copy.read_text().replace("  sites: example/sites.yaml\n",
                                            "  sites: example/sites.yaml\n  measurements:\n" + "\n".join(entries) + "\n")
    example_copy.write_text(text)
    after = option(load_inputs(example_copy, ["policy.engine=vllm"]))
    assert after is not None and after["perf_source"] == "measured" and after["extrapolated"] is False
    # The workload's targets: TPOT 60 ms, TTFT 2000 ms at p99. p99 TPOT is 40 ms at 32 clients and 90 ms at 128, so
    # the largest concurrency meeting 60 ms is ln C = ln 32 + (60 - 40) / (90 - 40) x (ln 128 - ln 32); p99 TTFT
    # (600 -> 1500 ms) meets 2000 ms at both. Tokens/s are linear in ln C between the points: 0.4 of the way.
    frac = (60 - 40) / (90 - 40)
    expected = 3000.0 + frac * (6000.0 - 3000.0)  # whole TP2 server = one replica
    assert after["tokens_per_s_per_replica"] == pytest.approx(expected, rel=1e-9)
    assert after["tokens_per_s_p10"] == after["tokens_per_s_p90"] == pytest.approx(expected, rel=1e-9)
    assert after["batch"] == math.ceil(32 * 4**frac)
    assert after["tpot_ms"] == pytest.approx(60.0, rel=1e-9)
    assert before is None or before["perf_source"] != "measured"
    assert before is None or before["tokens_per_s_per_replica"] != pytest.approx(expected)
    # another workload shape (code-405b) is not covered by these files
    t = deployment_table(load_inputs(example_copy, ["policy.engine=vllm"]))
    assert set(t[t.workload_id != "chat-70b"].perf_source) == {"corrected"}
    # the fit report lists the user's points with their residuals against the model
    rows = [r for r in build_predictor(CAL, load_inputs(example_copy).measurements).report["rows"] if r["origin"] == "user"]
    assert [r["measured_tokens_per_s_per_chip"] for r in rows] == [x / 2 for _, x, _, _ in runs]
    for r in rows:
        assert r["raw_error_pct"] == pytest.approx(
            100 * (r["raw_tokens_per_s_per_chip"] - r["measured_tokens_per_s_per_chip"]) / r["measured_tokens_per_s_per_chip"], abs=0.01)


def test_deployments_say_where_their_tokens_came_from() -> None:
    import pandas as pd

    options = pd.DataFrame([{"workload_id": "w", "quarter": "2027Q1", "chip_id": "h200_sxm", "precision": "fp8", "tp": 2,
                             "pp": 1, "ep": 1, "perf_source": "measured", "extrapolated": False,
                             "tokens_per_s_p10": 100.0, "tokens_per_s_p90": 300.0}])
    dep = [{"workload": "w", "quarter": "2027Q1", "chip": "h200_sxm", "precision": "fp8", "tp": 2, "pp": 1, "ep": 1,
            "replicas": 3, "tokens_per_s": 600.0}]
    got = _with_perf_source(dep, options)[0]
    assert got["perf_source"] == "measured" and got["extrapolated"] is False
    assert got["tokens_per_s_p10"] == 300.0 and got["tokens_per_s_p90"] == 900.0


# --- correction: fallback chain, applied as a step-time scale ----------------------------------------------------


def test_fallback_chain_engine_family_then_engine_then_pooled() -> None:
    r = [("trtllm", "hopper", math.log(0.5)), ("trtllm", "hopper", math.log(0.6)), ("trtllm", "hopper", math.log(0.7)),
         ("trtllm", "ampere", math.log(0.9)), ("vllm", "cdna3", math.log(0.3)), ("vllm", "cdna3", math.log(0.35))]
    c = fit_correction(r)
    assert c.lookup("trtllm", "hopper") == (pytest.approx(0.6), "engine x family")  # 3 points: their median
    # 1 point: the engine's median of 0.5, 0.6, 0.7, 0.9 (geometric mean of the middle two)
    assert c.lookup("trtllm", "ampere") == (pytest.approx(math.sqrt(0.6 * 0.7)), "engine")
    assert c.lookup("vllm", "cdna3") == (pytest.approx(math.sqrt(0.3 * 0.35)), "engine")  # 2 points: engine median
    # no sglang point: the median of all six (0.3, 0.35, 0.5, 0.6, 0.7, 0.9)
    assert c.lookup("sglang", "hopper") == (pytest.approx(math.sqrt(0.5 * 0.6)), "pooled")
    assert c.lookup("tuned", "hopper") == (1.0, "none")


def test_interval_quantiles_come_from_the_groups_loso_residuals() -> None:
    r = [("vllm", "f", math.log(v)) for v in (0.5, 0.8, 1.0, 1.25, 2.0)]
    iv = fit_intervals(r)
    # Q(0.5) = ln 1.0, Q(0.25) = ln 0.8 (order statistics at 0, .25, .5, .75, 1)
    assert iv.scale("vllm", "f", 0.25) == pytest.approx(0.8)
    assert iv.scale("vllm", "f", 0.75) == pytest.approx(1.25)
    assert iv.scale("vllm", "f", 0.5) == 1.0
    assert iv.residuals("sglang", "f")[1] == "pooled"


def test_correction_scales_step_times_inside_the_search() -> None:
    model, chip = MODELS["llama-3.1-8b"], CHIPS["h100_sxm"]
    lane = Lane(chip, "fp8", "fp8", Layout())
    f = 0.5
    raw = Predictor(CAL, use_measured=False, use_correction=False)
    half = Predictor(CAL, Correction({}, {correction_key("vllm", model): math.log(f)}, 0.0), use_measured=False)
    offline = Question(1000, 200, 0.1, engine="vllm")
    a, b = raw.predict(model, [lane], offline)[0], half.predict(model, [lane], offline)[0]
    assert b.tokens_per_s_p50 == pytest.approx(f * a.tokens_per_s_p50, rel=1e-9)  # same batch, every step 1/f longer
    assert b.tpot_ms == pytest.approx(a.tpot_ms / f, rel=1e-9)
    closed = Question(1000, 200, 0.1, engine="vllm", concurrency=16)
    a, b = raw.predict(model, [lane], closed)[0], half.predict(model, [lane], closed)[0]
    assert b.tokens_per_s_p50 == pytest.approx(f * a.tokens_per_s_p50, rel=1e-9)
    # under a TPOT target the corrected step time is what must meet it: a smaller load, not raw x f
    tight = Question(1000, 200, 1.0, ttft_ms=5000, tpot_ms=1.2 * a.tpot_ms / f, engine="vllm")
    a, b = raw.predict(model, [lane], tight)[0], half.predict(model, [lane], tight)[0]
    assert b.tpot_ms <= tight.tpot_ms * (1 + 1e-9)
    assert b.batch <= a.batch


# --- engine batch cap and memory reserve in every path -----------------------------------------------------------


def test_engine_batch_cap_in_options_perf_and_evaluation(capsys: pytest.CaptureFixture[str]) -> None:
    loose = {"model_id": "llama-3.1-8b", "prompt_tokens_mean": 200, "output_tokens_mean": 200, "ttft_ms": 600_000,
             "tpot_ms": 60_000}
    for engine in ("vllm", "sglang", "tuned"):
        t = options_table([_workload(**loose, engine=engine)], MODELS, {"h200_sxm": CHIPS["h200_sxm"]})
        assert t.batch.max() <= ENGINE_BATCH_CAP[engine], engine
    t_tuned = options_table([_workload(**loose, engine="tuned")], MODELS, {"h200_sxm": CHIPS["h200_sxm"]})
    assert t_tuned.batch.max() > ENGINE_BATCH_CAP["vllm"]  # the cap, not memory, limits vLLM here
    code, out, _ = run_cli(["perf", "--model", "llama-3.1-8b", "--chip", "h200_sxm", "--chips", "1", "--precision", "fp8",
                            "--prompt-tokens", "200", "--output-tokens", "200", "--engine", "vllm", "--json"], capsys)
    assert code == 0 and json.loads(out)["batch"] <= ENGINE_BATCH_CAP["vllm"]
    from planner.perf.predictor import (
        predict_point,  # what measured_eval and benchmarks/perf_accuracy.py call
    )

    raw = Predictor(CAL, use_measured=False, use_correction=False)
    p = MeasuredPoint("x", "llama-3.1-8b", "h200_sxm", "fp8", 1, 1, 1, "vllm", 200, 200, None, 1.0, None, None, "t")
    for point in (p, replace(p, concurrency=2000.0)):
        capped = predict_point(raw, point, MODELS, CHIPS)
        uncapped = predict_point(raw, replace(point, engine="tuned"), MODELS, CHIPS)
        assert capped is not None and uncapped is not None
        assert capped.batch <= ENGINE_BATCH_CAP["vllm"] < uncapped.batch
        # a run that recorded its own limit (vLLM V1's 1024 on an H200) is fitted under that limit, not the default
        v1 = predict_point(raw, replace(point, max_batch=1024.0), MODELS, CHIPS)
        assert v1 is not None and capped.batch <= ENGINE_BATCH_CAP["vllm"] < v1.batch <= 1024


def test_engine_memory_reserve_in_perf(capsys: pytest.CaptureFixture[str]) -> None:
    chip, model = CHIPS["h100_sxm"], MODELS["llama-3.1-70b"]
    weights = model_costs(model).weight_bytes("fp8") / 2
    mem = memory_bytes(chip)
    for engine, reserve in (("trtllm", 0.1 * (mem - weights)), ("vllm", 0.1 * mem), ("sglang", 0.1 * mem)):
        code, out, err = run_cli(["perf", "--model", "llama-3.1-70b", "--chip", "h100_sxm", "--chips", "2", "--tp", "2",
                                  "--precision", "fp8", "--prompt-tokens", "1000", "--output-tokens", "200",
                                  "--engine", engine, "--json"], capsys)
        assert code == 0, err
        assert json.loads(out)["memory"]["reserve_gb_per_chip"] == pytest.approx(reserve / 1e9, abs=1e-3)


# --- perf_quantile: lower quantile, fewer tokens/s, at least as much bought -------------------------------------


def _plan_at(quantile: float) -> tuple[float, int]:
    sc = Scenario.model_validate({
        "name": "q", "horizon": {"first_quarter": "2027Q1", "quarters": 1},
        "inputs": {"chips": "-", "models": "-", "workloads": "-", "sites": "-"},
        "policy": {"allowed_chips": ["h100_sxm"], "residual_value": False, "engine": "vllm", "perf_quantile": quantile},
        "chip_terms": {"h100_sxm": {"lead_time_quarters": 0, "lease_allowed": False}},  # counts purchases
    })
    w = _workload(model_id="llama-3.1-8b", peak_output_tokens_per_s=2_000_000, prompt_tokens_mean=500,
                  output_tokens_mean=200, ttft_ms=1000, tpot_ms=40)
    inputs = PlanInputs(scenario=sc, scenario_path=Path("q.yaml"), quarters=["2027Q1"], chips=CHIPS, models=MODELS,
                        workloads=[w], sites={"s1": make_site(rack_kw=40.0, rack_units=42)}, fleet=[])
    options = deployment_table(inputs)
    S = build_sets(inputs, options)
    m, const = build_model(S)
    r = solve(m, SolverSettings(time_limit_s=30, mip_gap=0.0))
    assert r.status == "optimal"
    ex = extract(S, m, r.values, const)
    # chips put to work (bought or leased: the optimizer may lease since the money model)
    return float(options.tokens_per_s_per_replica.max()), sum(d["chips"] for d in ex.deployments)


def test_lower_perf_quantile_means_fewer_tokens_and_no_fewer_chips() -> None:
    low, mid, high = _plan_at(0.2), _plan_at(0.5), _plan_at(0.8)
    assert low[0] < mid[0] < high[0]
    assert low[1] >= mid[1] >= high[1]
    assert low[1] > high[1]


# --- located errors ------------------------------------------------------------------------------------------------


def test_bad_engine_in_workloads_and_policy_is_located(example_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = example_copy.parent / "example" / "workloads.csv"
    lines = csv.read_text().splitlines()
    lines[0] += ",engine"
    lines[1] += ",vlm"
    lines[2:] = [ln + "," for ln in lines[2:]]
    csv.write_text("\n".join(lines) + "\n")
    example_copy.write_text(example_copy.read_text().replace("  objective: min_tco", "  objective: min_tco\n  engine: trt_llm"))
    code, _, err = run_cli(["validate", str(example_copy)], capsys)
    assert code == 2
    assert "(workloads.csv, row 2, engine)" in err and "vllm" in err
    assert "(example.yaml, policy.engine)" in err


def test_bad_measurement_entries_are_located(example_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = example_copy.parent
    (folder / "broken.json").write_text(json.dumps({"completed": 10}))
    _vllm_json(folder / "ok.json", 8, 1000.0, 20.0, 300.0)
    (folder / "runs.csv").write_text("model_id,chip_id\nx,y\n")
    block = ("  measurements:\n    - missing.csv\n    - ok.json\n"
             "    - {file: broken.json, model_id: llama-3.1-70b, chip_id: h200_sxm, precision: fp8, tp: 2}\n"
             "    - {file: ok.json, model_id: llama-3.1-70b, chip_id: h201_sxm, precision: fp8, tp: 2}\n"
             "    - {file: ok.json, model_id: llama-3.1-70b, chip_id: h200_sxm, precision: fp8, tp: 0}\n"
             "    - {file: ok.json, model_id: llama-3.1-70b, chip_id: h200_sxm, precision: fp8, tp: 2, engine: vlm}\n"
             "    - runs.csv\n")
    example_copy.write_text(example_copy.read_text().replace("  sites: example/sites.yaml\n",
                                                             "  sites: example/sites.yaml\n" + block))
    code, _, err = run_cli(["validate", str(example_copy)], capsys)
    assert code == 2
    assert "(example.yaml, inputs.measurements[4].tp)" in err
    assert "(example.yaml, inputs.measurements[5].engine)" in err and "'vllm', 'trtllm', 'sglang' or 'tuned'" in err
    # the shape problems stop validation before files are read; fix them and the file problems show
    example_copy.write_text(example_copy.read_text().replace("tp: 0}", "tp: 2}").replace(", engine: vlm}", "}"))
    code, _, err = run_cli(["validate", str(example_copy)], capsys)
    assert code == 2
    assert "(example.yaml, inputs.measurements[0]) | file not found" in err
    assert "(example.yaml, inputs.measurements[1]) | a benchmark JSON does not say what it ran" in err
    assert "(broken.json, output_throughput) | missing" in err and "the file of inputs.measurements[2] in example.yaml" in err
    assert "(example.yaml, inputs.measurements[5]) | ok.json: the same run as inputs.measurements[4]" in err
    assert "(example.yaml, inputs.measurements[3])" in err and "h200_sxm" in err
    assert "(example.yaml, inputs.measurements[6])" in err and "missing column" in err
    assert "Traceback" not in err


def test_perf_bad_engine_and_concurrency_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["perf", "--model", "llama-3.1-8b", "--chip", "h100_sxm", "--chips", "1", "--precision", "fp8",
            "--prompt-tokens", "200", "--output-tokens", "200"]
    code, _, err = run_cli([*base, "--engine", "vllm2"], capsys)
    assert code == 2 and "unknown engine 'vllm2'" in err and "trtllm" in err
    code, _, err = run_cli([*base, "--concurrency", "0"], capsys)
    assert code == 2 and "--concurrency" in err


def test_perf_reads_your_csv_measurements_and_reports_their_residuals(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs.csv"
    runs.write_text("model_id,chip_id,precision,tp,engine,prompt_tokens,output_tokens,concurrency,output_tokens_per_s,"
                    "ttft_ms,tpot_ms\n"
                    "llama-3.1-8b,h100_sxm,fp8,1,sglang,1000,200,16,2400,150,6\n"
                    "llama-3.1-8b,h100_sxm,fp8,1,sglang,1000,200,64,6400,400,9\n")
    base = ["perf", "--model", "llama-3.1-8b", "--chip", "h100_sxm", "--chips", "1", "--tp", "1", "--precision", "fp8",
            "--prompt-tokens", "1100", "--output-tokens", "190", "--engine", "sglang", "--measurements", str(runs)]
    code, out, err = run_cli([*base, "--concurrency", "32", "--json"], capsys)
    assert code == 0, err
    ev = json.loads(out)
    # lengths within 25 %: covered; 32 clients is halfway between 16 and 64 in ln C
    assert ev["perf_source"] == "measured" and ev["extrapolated"] is False
    assert ev["tokens_per_s_per_replica"] == pytest.approx((2400 + 6400) / 2, rel=1e-9)
    code, out, err = run_cli([*base, "--concurrency", "128", "--json"], capsys)  # beyond the measured range
    assert code == 0, err
    assert json.loads(out)["perf_source"] == "corrected" and json.loads(out)["extrapolated"] is True
    code, out, err = run_cli([*base, "--concurrency", "32", "--fit-report"], capsys)
    assert code == 0, err
    assert "source             measured (sglang at concurrency 32)" in out
    assert "runs:2: llama-3.1-8b h100_sxm fp8 TP1 sglang c=16.0: 2,400.0 /" in out


def test_a_quantile_other_than_the_median_is_priced_against_p50(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.generate import generate
    from planner.pipeline import plan_scenario

    scenario = generate("tiny", 0, tmp_path / "tiny")
    out = plan_scenario(scenario, sets=["policy.perf_quantile=0.2", "policy.engine=vllm"])
    q = out.plan["perf_quantile"]
    assert q["quantile"] == 0.2 and q["p50_status"] in ("optimal", "feasible")
    assert q["extra_objective_usd"] == pytest.approx(q["objective_usd"] - q["p50_objective_usd"], abs=0.01)
    assert q["objective_usd"] == out.plan["objective_usd"]
    assert {d["perf_source"] for d in out.plan["deployments"]} <= {"corrected", "measured"}
    assert out.perf_fit and out.perf_fit["quantile"] == 0.2 and out.perf_fit["rows"]


def test_correction_groups_dense_and_moe_apart() -> None:
    """A factor fitted for MoE models of an engine moves a MoE lane and leaves a dense lane of that engine alone."""
    dense, moe = MODELS["llama-3.1-8b"], MODELS["qwen3-235b-a22b"]
    assert correction_key("vllm", dense) == "vllm/dense" and correction_key("vllm", moe) == "vllm/moe"
    assert correction_key("tuned", moe) == "tuned"
    chip = CHIPS["h200_sxm"]
    only_moe = Predictor(CAL, Correction({}, {"vllm/moe": math.log(0.5)}, 0.0), use_measured=False)
    raw = Predictor(CAL, use_measured=False, use_correction=False)
    q = Question(1000, 200, 0.1, engine="vllm")
    lane_d, lane_m = Lane(chip, "fp8", "fp8", Layout()), Lane(chip, "fp8", "fp8", Layout(tp=8))
    assert only_moe.predict(dense, [lane_d], q)[0].tokens_per_s_p50 == pytest.approx(
        raw.predict(dense, [lane_d], q)[0].tokens_per_s_p50, rel=1e-9)
    assert only_moe.predict(moe, [lane_m], q)[0].tokens_per_s_p50 == pytest.approx(
        0.5 * raw.predict(moe, [lane_m], q)[0].tokens_per_s_p50, rel=1e-9)


def test_factor_level_is_the_publisher_weighted_median() -> None:
    """Each of a publisher's n rows weighs n^-1/2. Publisher a: 4 rows at ln r = 0 (weight 1/2 each), b: 1 row at 1,
    c: 1 row at 2 (weight 1). Sorted, the cumulative-weight midpoints are .25 .75 1.25 1.75 (the four zeros), 2.5 (1)
    and 3.5 (2); half the total weight 4 is 2, a third of the way from 1.75 to 2.5: ln f = 1/3. (Every row alike
    would give 0; every publisher once, median(0, 1, 2) = 1.)"""
    r = [("vllm/dense", "f", 0.0)] * 4 + [("vllm/dense", "f", 1.0), ("vllm/dense", "f", 2.0)]
    c = fit_correction(r, ["a"] * 4 + ["b", "c"])
    assert c.lookup("vllm/dense", "f") == (pytest.approx(math.exp(1.0 / 3.0)), "engine x family")
    assert c.pooled == pytest.approx(1.0 / 3.0)


# A lane the predictor cannot stage (a precision it cannot compute, a model that does not fit in the layout) used to
# fall back to a Prediction built from 19 positional values for 18 fields: a TypeError (exit 1) whenever one came up,
# e.g. `perf --measurements` with a row in `fp7`. Every kind of unstageable lane answers "not feasible".
@pytest.mark.parametrize("lane_args", [("fp7", "fp8", Layout()), ("fp8", "fp7", Layout()),
                                       ("bf16", "bf16", Layout(tp=1))])
def test_an_unstageable_lane_is_not_feasible(lane_args: tuple) -> None:
    model, chip = MODELS["llama-3.1-405b"], CHIPS["h100_sxm"]
    good = Lane(chip, "fp8", "fp8", Layout(tp=8))
    bad, ok = Predictor(CAL, use_measured=False).predict(model, [Lane(chip, *lane_args), good],
                                                          Question(1000, 200, 0.1, engine="vllm"))
    assert not bad.feasible and math.isnan(bad.tokens_per_s_per_replica)
    assert ok.feasible and ok.tokens_per_s_per_replica > 0
