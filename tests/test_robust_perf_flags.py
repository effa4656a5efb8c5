"""`planner perf` integer flags beyond their unit's limit are input errors (exit 2), not a float overflow while formatting the message (exit 1)."""

from __future__ import annotations

import pytest

from planner.cli import main

BASE = ["perf", "--model", "llama-3.1-70b", "--chip", "h100_sxm", "--chips", "8", "--precision", "fp8",
        "--prompt-tokens", "1000", "--output-tokens", "200"]


@pytest.mark.parametrize("flag", ["--tp", "--pp", "--ep", "--dp", "--batch"])
@pytest.mark.parametrize("value", ["9" * 20, "9" * 400, "9" * 4000, str(2**63), "100000000"])
def test_an_oversized_layout_flag_is_an_input_error(flag: str, value: str, capsys) -> None:
    rc = main([*BASE, flag, value])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "internal error" not in err and f"--{flag.lstrip('-')}" in err


# `--batch` above what one replica runs (the engine's running-batch limit, or memory) said "llama-3.1-70b in fp8 does
# not fit on 8 x h100_sxm in any allowed layout", although the model fits; the message names --batch and the most
# that fits, per engine (issue 24, fourth attack).
@pytest.mark.parametrize("engine", ["vllm", "trtllm", "sglang"])
def test_a_batch_above_what_a_replica_runs_is_named(engine: str, capsys) -> None:
    from planner.perf.engines import ENGINE_BATCH_CAP

    assert main([*BASE, "--engine", engine]) == 0
    capsys.readouterr()
    for batch in (int(ENGINE_BATCH_CAP[engine]) + 1, 100_000):
        assert main([*BASE, "--engine", engine, "--batch", str(batch)]) == 2
        err = capsys.readouterr().err
        assert f"--batch {batch} is more than one replica runs" in err and "does not fit" not in err, err
        most = int(err.split("give --batch ")[1].split()[0])
        assert main([*BASE, "--engine", engine, "--batch", str(most)]) == 0  # the figure it gives works
        capsys.readouterr()
