"""`planner perf`: JSON fields, plot, and exit code 2 for bad input, 3 for unreachable targets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from planner.catalog import load_chip_catalog
from planner.perf.cli import add_perf_parser

BASE = ["perf", "--model", "llama-3.1-70b", "--chip", "h200_sxm", "--chips", "8", "--precision", "fp8",
        "--prompt-tokens", "1000", "--output-tokens", "200"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    ap = argparse.ArgumentParser(prog="planner")
    add_perf_parser(ap.add_subparsers())
    args = ap.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_the_documented_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([*BASE, "--ttft-ms", "2000", "--tpot-ms", "60", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    for key in ("model", "chip", "chips", "precision", "tp", "pp", "replicas", "batch", "fits", "bound",
                "throughput_tokens_per_s", "ttft_ms", "tpot_ms", "power_w", "joules_per_token"):
        assert key in d
    assert d["fits"] is True and d["chips"] == 8 and d["replicas"] * d["tp"] * d["pp"] == 8
    assert d["ttft_ms"] <= 2000 and d["tpot_ms"] <= 60
    assert d["throughput_tokens_per_s"] == pytest.approx(d["replicas"] * d["tokens_per_s_per_replica"])
    assert d["joules_per_token"] == pytest.approx(d["power_w"] / d["throughput_tokens_per_s"])


def test_fixed_layout_and_batch_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "roof.png"
    code, out, _ = run([*BASE, "--tp", "2", "--batch", "16", "--plot", str(png)], capsys)
    assert code == 0 and "TP2 PP1" in out and "batch per replica  16" in out
    assert png.exists() and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "change, needle",
    [
        (["--model", "llama-9"], "unknown model"),
        (["--chip", "h100"], "Did you mean"),
        (["--tp", "16"], "scale-up domain"),
        (["--tp", "3"], "does not divide"),
        (["--chips", "1", "--precision", "bf16", "--chip", "h100_sxm"], "does not fit"),
        (["--tp", "1", "--chips", "1", "--batch", "100000"], "does not fit"),
        (["--chips", "6", "--tp", "4"], "not a multiple"),
    ],
)
def test_bad_input_exits_2_with_a_message(change: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = list(BASE)
    for i in range(0, len(change), 2):
        if change[i] in argv:
            argv[argv.index(change[i]) + 1] = change[i + 1]
        else:
            argv += change[i:i + 2]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert needle in err and "Traceback" not in err


def test_precision_the_chip_cannot_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    chips = load_chip_catalog()
    only_int8 = chips["l4"].model_copy(update={"chip_id": "int8_only", "peak_tflops": chips["l4"].peak_tflops.model_copy(
        update={"bf16": None, "fp16": None, "fp8": None})})
    path = tmp_path / "chips.yaml"
    path.write_text(yaml.safe_dump({"chips": [only_int8.model_dump(mode="json", exclude_none=True)]}), encoding="utf-8")
    argv = ["perf", "--model", "llama-3.1-8b", "--chip", "int8_only", "--chips", "1", "--precision", "bf16",
            "--prompt-tokens", "100", "--output-tokens", "10", "--chip-catalog", str(path)]
    code, _, err = run(argv, capsys)
    assert code == 2 and "cannot run bf16" in err


def test_unreachable_targets_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([*BASE, "--tpot-ms", "0.5"], capsys)
    assert code == 3 and "no batch meets the targets" in err


def test_whole_system_pipeline_is_found_for_sram_chips(capsys: pytest.CaptureFixture[str]) -> None:
    # Llama-3.1-70B int8 = 70.55 GB of weights; 230 MB per Groq chip -> at least 307 chips. On the reported
    # 576-chip system the only layouts using every chip are TP x PP = 576, e.g. TP8 PP72 (72 <= 80 layers).
    argv = ["perf", "--model", "llama-3.1-70b", "--chip", "groq_lpu_v1", "--chips", "576", "--precision", "int8",
            "--prompt-tokens", "1000", "--output-tokens", "200", "--json"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["fits"] is True and d["tp"] * d["pp"] * d["replicas"] == 576
    assert d["pp"] <= 80
