"""Shared fixtures: a private copy of the bundled inputs that a test may break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
INPUTS = REPO / "inputs"


@pytest.fixture()
def example_copy(tmp_path: Path) -> Path:
    """A copy of `inputs/` under tmp; returns the path of the copied example scenario."""
    shutil.copytree(INPUTS, tmp_path / "inputs")
    return tmp_path / "inputs" / "scenarios" / "example.yaml"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    from planner.cli import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err
