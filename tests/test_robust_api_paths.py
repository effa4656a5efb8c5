"""Scenario paths no file can have (a NUL byte) are located input errors from every entry point, never a ValueError."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.api import plan
from planner.errors import InputError
from planner.io.loader import load_inputs

BAD_PATHS = ["a\x00b", "inputs/scenarios/example.yaml\x00", "\x00", Path("x\x00.yaml")]


@pytest.mark.parametrize("path", BAD_PATHS, ids=repr)
def test_load_inputs_refuses_a_path_with_a_nul_byte(path: str | Path) -> None:
    with pytest.raises(InputError) as info:
        load_inputs(path)
    assert "null byte" in str(info.value) or "not found" in str(info.value)


@pytest.mark.parametrize("path", BAD_PATHS, ids=repr)
def test_the_api_refuses_a_path_with_a_nul_byte(path: str | Path) -> None:
    with pytest.raises(InputError):
        plan(path, overrides={"policy.headroom_fraction": 0.2})
