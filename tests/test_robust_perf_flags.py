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
