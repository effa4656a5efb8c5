"""SIGTERM during the solve stops the run: exit 130, nothing written (issue #24, attack of this landing).

The fix-and-optimize solve stops HiGHS through its own SIGINT handler; SIGTERM raised KeyboardInterrupt inside
HiGHS's callback instead, the interrupt was lost and the cut-short solve was written as a `feasible` plan (exit 0).
With the monolithic solve SIGTERM made HiGHS fail and the run exited 4 ("no plan"). For every solve strategy the
signal is sent once the solve has started (its progress line), as a service manager would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planner.schemas.scenario import SolverSettings
from tests.conftest import EXAMPLE, REPO

STRATEGIES = list(SolverSettings.model_fields["strategy"].annotation.__args__)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_sigterm_during_the_solve_exits_130_and_writes_nothing(strategy: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    log = tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "planner", "plan", str(EXAMPLE), "--out", str(out), "--strategy",
                                 strategy, "--time-limit", "120"], stdout=subprocess.DEVNULL, stderr=err, env=env,
                                cwd=tmp_path, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while "[solve] ..." not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, log.read_text()[-800:]
        time.sleep(1.5)  # inside HiGHS
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    text = log.read_text()
    assert code == 130, text[-800:]
    assert "interrupted: no output was written" in text and "Traceback" not in text
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_sigterm_during_a_replan_solve_exits_130_and_writes_nothing(strategy: str, tmp_path: Path,
                                                                     example_run: Path) -> None:
    """`planner replan` solved with the solver's own entry point, so a monolithic solve stopped by SIGTERM came back
    as "no re-plan meets every limit" and ran the diagnosis before the stop was noticed. It takes the plan's path:
    the stop is a stop (exit 130), before any diagnosis, and nothing is written."""
    out = tmp_path / "replan"
    log = tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("w") as err:
        # --mip-gap 0: the solve cannot prove its gap within the half second before the signal
        proc = subprocess.Popen([sys.executable, "-m", "planner", "replan", str(EXAMPLE), "--from",
                                 str(example_run / "plan.json"), "--commit-through", "2027Q2", "--out", str(out),
                                 "--strategy", strategy, "--mip-gap", "0", "--time-limit", "120"],
                                stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while "model:" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, log.read_text()[-800:]
        time.sleep(0.5)  # inside the solve
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    text = log.read_text()
    assert code == 130, text[-800:]
    assert "interrupted: no output was written" in text and "Traceback" not in text
    assert "no re-plan meets every limit" not in text and "diagnos" not in text, text[-800:]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".replan")]
