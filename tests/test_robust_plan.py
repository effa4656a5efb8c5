"""`planner plan` under stress: killed mid-solve, failing solvers, occupied --out folders, determinism.

The scenario is the bad-input corpus's frozen copy of the bundled example (`tests/bad_inputs/_base/`), so these
tests do not move when the example is retuned. Subprocess runs use `python -m planner.cli`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from tests.test_robust_corpus import assemble

ENV = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
SMALL_PLAN = REPO / "tests" / "fixtures" / "plan_small.json"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble(None, tmp_path_factory.mktemp("plan") / "sc")


@pytest.fixture(scope="module")
def small_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The frozen example cut to two quarters: loads and builds in well under a second."""
    sc = assemble(None, tmp_path_factory.mktemp("small") / "sc")
    sc.write_text(sc.read_text().replace("quarters: 8", "quarters: 2"))
    csv = sc.parent / "workloads.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0], *(x for x in lines[1:] if ",2027Q1," in x or ",2027Q2," in x)]) + "\n")
    return sc


def plan_cmd(scenario: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "planner.cli", "plan", str(scenario), *args]


def run_in_process(args: list[str]) -> tuple[int, str, str]:
    from planner.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def leftovers(out_dir: Path) -> list[Path]:
    """Anything a run may have left: the folder itself, or hidden temp siblings `.name.tmp-*` / `.name.old-*`."""
    found = [p for p in out_dir.parent.glob(f".{out_dir.name}.*")]
    if out_dir.exists():
        found.append(out_dir)
    return found


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- killed mid-solve


def _start_and_wait_for_solve(cmd: list[str], cwd: Path) -> tuple[subprocess.Popen[str], queue.Queue[str | None]]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=cwd)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        assert line is not None, f"planner ended before solving (exit {proc.wait()})"
        if line.startswith("[solve] ..."):
            time.sleep(0.3)  # inside HiGHS now
            return proc, lines
    proc.kill()
    raise AssertionError("no `[solve] ...` line within 60 s")


def _rest(lines: queue.Queue[str | None]) -> str:
    out = []
    while (line := lines.get(timeout=60)) is not None:
        out.append(line)
    return "".join(out)


# `--mip-gap 0 --time-limit 8`: the solve lasts up to 8 s whatever the machine, so the signal lands inside it.
SLOW = ("--mip-gap", "0", "--time-limit", "8")


def test_ctrl_c_mid_solve_leaves_no_partial_output(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc, lines = _start_and_wait_for_solve(plan_cmd(scenario, "--out", str(out), *SLOW), tmp_path)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=60)
    err = _rest(lines)
    waited = time.monotonic() - sent
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert "[solve] done" not in err, "the signal should have landed inside the solve"
    assert leftovers(out) == [], f"left behind: {leftovers(out)}"
    # HiGHS only sees Ctrl-C when it returns (solvers/backends.py does not cancel it), so allow the time limit.
    assert waited < 30


def test_kill_mid_solve_leaves_no_partial_output(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc, lines = _start_and_wait_for_solve(plan_cmd(scenario, "--out", str(out), *SLOW), tmp_path)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    _rest(lines)
    assert not (out / "plan.json").exists() and not (out / "plan.xlsx").exists()
    assert leftovers(out) == [], f"left behind: {leftovers(out)}"


def test_ctrl_c_while_writing_keeps_the_old_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted between plan.json and the workbook: the previous run folder stays whole, no temp folder stays.

    The plan is the small fixture plan (tests/fixtures/plan_small.json): what is checked is how the run folder is
    replaced, which does not depend on the plan's size, and its reports are written in a fraction of the time."""
    import planner.pipeline_cli as pc
    import planner.report.outputs as reports
    from planner.pipeline import PlanOutcome

    plan_a = json.loads(SMALL_PLAN.read_text(encoding="utf-8"))
    out = tmp_path / "run"
    pc.write_run_folder(PlanOutcome(plan_a, 0), out, force=False)
    before = {p.relative_to(out): sha(p) for p in out.rglob("*") if p.is_file()}

    def interrupted(plan: dict[str, Any], folder: Path) -> None:
        assert (folder / "plan.json").is_file()  # half-way through the temp folder
        raise KeyboardInterrupt

    real_write_reports = reports.write_all_reports
    monkeypatch.setattr(reports, "write_all_reports", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pc.write_run_folder(PlanOutcome({**plan_a, "objective_usd": 1.0}, 0), out, force=True)
    assert {p.relative_to(out): sha(p) for p in out.rglob("*") if p.is_file()} == before
    assert leftovers(out) == [out]

    monkeypatch.setattr(reports, "write_all_reports", real_write_reports)  # --force with nothing in the way: replaced
    pc.write_run_folder(PlanOutcome({**plan_a, "objective_usd": 1.0}, 0), out, force=True)
    assert json.loads((out / "plan.json").read_text(encoding="utf-8"))["objective_usd"] == 1.0
    assert (out / "plan.xlsx").is_file() and leftovers(out) == [out]

    monkeypatch.setattr(reports, "write_all_reports", lambda plan, folder: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    fresh = tmp_path / "fresh"
    from planner.errors import PlannerError

    with pytest.raises(PlannerError, match="No space left"):  # environment problem: exit 2 naming the folder
        pc.write_run_folder(PlanOutcome(plan_a, 0), fresh, force=False)
    assert leftovers(fresh) == []


# ---------------------------------------------------------------- determinism (two runs at once)


@pytest.fixture(scope="module")
def two_runs(scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Plan the frozen example twice at the same time: once with --out, once into the default outputs/<name>."""
    root = tmp_path_factory.mktemp("det")
    (root / "cwd_b").mkdir()
    a = subprocess.Popen(plan_cmd(scenario, "--out", str(root / "a"), "--quiet"), env=ENV, cwd=root,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b = subprocess.Popen(plan_cmd(scenario, "--quiet"), env=ENV, cwd=root / "cwd_b",
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for proc in (a, b):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    return root / "a", root / "cwd_b" / "outputs" / "example"


def _without_timings(plan: dict[str, Any]) -> dict[str, Any]:
    plan = json.loads(json.dumps(plan))
    plan.pop("run")
    for key in ("solve_seconds", "build_seconds"):
        plan["solver"].pop(key)
    return plan


def test_same_inputs_same_plan(two_runs: tuple[Path, Path]) -> None:
    a, b = (json.loads((d / "plan.json").read_text(encoding="utf-8")) for d in two_runs)
    assert a["status"] in ("optimal", "feasible")
    assert a["purchases"] == b["purchases"] and a["deployments"] == b["deployments"] and a["racks"] == b["racks"]
    assert a["objective_usd"] == b["objective_usd"]
    assert _without_timings(a) == _without_timings(b)
    assert set(a["run"]) == set(b["run"])  # only values of `run` may differ: timestamps and timings


def test_same_inputs_same_tables(two_runs: tuple[Path, Path]) -> None:
    """The CSV views hold no timings, so they are byte-identical."""
    a, b = two_runs
    names = sorted(p.name for p in (a / "csv").glob("*.csv"))
    assert names == sorted(p.name for p in (b / "csv").glob("*.csv")) and names
    different = [n for n in names if n != "summary.csv" and sha(a / "csv" / n) != sha(b / "csv" / n)]
    assert different == []


def test_default_out_folder_is_derived_safely(two_runs: tuple[Path, Path]) -> None:
    _, b = two_runs
    assert (b / "plan.json").is_file() and (b / "plan.xlsx").is_file()
    assert b.parent.name == "outputs" and b.name == "example"


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(name=st.one_of(st.text(), st.sampled_from(["..", ".", "../../etc", "/abs/path", "a/../../b", "C:\\x", "~", "",
                                                  "\x00", "-rf", ".hidden", "x" * 500, "con", "é/..", " .. "])))
def test_output_names_cannot_escape(name: str) -> None:
    from planner.pipeline_cli import safe_component

    part = safe_component(name)
    assert part and len(part) <= 80
    assert part not in (".", "..") and not part.startswith(".")
    assert "/" not in part and "\\" not in part and "\x00" not in part
    base = Path("/srv/outputs")
    assert (base / part).resolve().parent == base


# ---------------------------------------------------------------- --out folders


def test_existing_run_refused_before_solving(two_runs: tuple[Path, Path], scenario: Path) -> None:
    a, _ = two_runs
    before = sha(a / "plan.json")
    t0 = time.monotonic()
    code, _, err = run_in_process(["plan", str(scenario), "--out", str(a), "--quiet"])
    assert code == 2 and "--force" in err and "already holds a run" in err
    assert time.monotonic() - t0 < 5, "refused only after solving"
    assert sha(a / "plan.json") == before


def test_out_that_is_a_file_or_a_foreign_folder(scenario: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    code, _, err = run_in_process(["plan", str(scenario), "--out", str(a_file), "--quiet", "--force"])
    assert code == 2 and "is not a folder" in err and a_file.read_text() == "keep me"

    folder = tmp_path / "home"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "thesis.tex").write_text("years of work")
    code, _, err = run_in_process(["plan", str(scenario), "--out", str(folder), "--quiet", "--force"])
    assert code == 2 and "not a run folder" in err
    assert (folder / "docs" / "thesis.tex").read_text() == "years of work"


def test_compare_out_that_is_a_file(scenario: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "comparison.xlsx"
    a_file.write_bytes(b"keep")
    code, _, err = run_in_process(["compare", str(scenario), "--out", str(a_file), "--quiet"])
    assert code == 2 and "is not a folder" in err and a_file.read_bytes() == b"keep"


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--time-limit", "0", "greater than 0"), ("--time-limit", "nan", "finite"), ("--time-limit", "-1", "greater than 0"),
    ("--mip-gap", "2", "must be at most 1"), ("--threads", "0", "must be at least 1"),
    ("--seed", "-3", "must be at least 0"), ("--time-limit", "soon", "invalid float value"),
])
def test_bad_solver_flags_are_input_errors(small_scenario: Path, tmp_path: Path, flag: str, value: str, message: str) -> None:
    code, _, err = run_in_process(["plan", str(small_scenario), "--out", str(tmp_path / "r"), "--quiet", flag, value])
    assert code == 2, err
    assert message in err and "Traceback" not in err and "internal error" not in err
    assert leftovers(tmp_path / "r") == []


# ---------------------------------------------------------------- solver failures


def _one_paragraph(err: str) -> str:
    text = err.strip()
    assert text.startswith("error: "), err
    assert "\n\n" not in text and "Traceback" not in text and "internal error" not in text, err
    return text


def test_gurobi_not_available(small_scenario: Path, tmp_path: Path) -> None:
    pytest.importorskip("pulp")
    import pulp

    if pulp.GUROBI(msg=False).available():
        pytest.skip("Gurobi is licensed here")
    code, _, err = run_in_process(["plan", str(small_scenario), "--out", str(tmp_path / "r"), "--quiet", "--solver", "gurobi"])
    assert code == 2
    assert "not available" in _one_paragraph(err) and "--solver highs" in err
    assert leftovers(tmp_path / "r") == []


def test_highs_not_installed(small_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "highspy", None)  # `import highspy` raises ImportError
    code, _, err = run_in_process(["plan", str(small_scenario), "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2
    text = _one_paragraph(err)
    assert "not installed" in text and "pip install highspy" in text and "--solver cbc" in text
    assert leftovers(tmp_path / "r") == []


def _fake_result(status: str, raw: str, values: dict[str, float] | None = None, objective: float | None = None) -> Any:
    from solvers.backends import SolveResult

    return SolveResult(status, raw, objective, objective, 0.0 if objective is not None else None, 0.01, "highs", "test",
                       values or {}, [])


@pytest.mark.parametrize(("name", "status", "raw", "words"), [
    ("time_limit_without_incumbent", "no_plan", "Time limit reached", ["no plan found within the time limit", "--time-limit"]),
    ("unbounded", "unbounded", "Unbounded", ["unbounded"]),
])
def test_solver_ends_without_a_plan(name: str, status: str, raw: str, words: list[str], small_scenario: Path,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.pipeline as pipeline

    monkeypatch.setattr(pipeline, "solve", lambda model, settings, progress=None: _fake_result(status, raw))
    code, _, err = run_in_process(["plan", str(small_scenario), "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 4, err
    text = _one_paragraph(err)
    assert all(w in text for w in words), text
    assert leftovers(tmp_path / "r") == []


def test_numerically_troubled_solution_is_refused(small_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 'solution' that breaks constraints (all zeros with demand > 0) is caught by the re-check, exit 4."""
    import planner.pipeline as pipeline

    monkeypatch.setattr(pipeline, "solve", lambda model, settings, progress=None: _fake_result("optimal", "Optimal", {}, 0.0))
    code, _, err = run_in_process(["plan", str(small_scenario), "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 4, err
    text = _one_paragraph(err)
    assert "breaks" in text and "numerically troubled" in text and "--solver cbc" in text
    assert leftovers(tmp_path / "r") == []


def test_cbc_failure_exits_4(small_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pulp

    def crash(self: Any, solver: Any = None, **kwargs: Any) -> None:
        raise pulp.PulpSolverError("Pulp: Error while executing cbc")

    monkeypatch.setattr(pulp.LpProblem, "solve", crash)
    code, _, err = run_in_process(["plan", str(small_scenario), "--out", str(tmp_path / "r"), "--quiet", "--solver", "cbc"])
    assert "cbc solver failed" in _one_paragraph(err)
    assert leftovers(tmp_path / "r") == []
    assert code == 4


def test_solver_crash_exits_4(small_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import solvers.highs_env as highs_env

    def crash(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("HiGHS: std::bad_alloc")

    monkeypatch.setattr(highs_env, "new_highs", crash)  # every HiGHS strategy creates its solver through it
    code, _, err = run_in_process(["plan", str(small_scenario), "--out", str(tmp_path / "r"), "--quiet"])
    assert leftovers(tmp_path / "r") == []
    assert "Traceback" not in err
    assert code == 4, err


def test_tiny_time_limit_is_a_clean_no_plan(scenario: Path, tmp_path: Path) -> None:
    code, _, err = run_in_process(["plan", str(scenario), "--out", str(tmp_path / "r"), "--quiet", "--time-limit", "0.001"])
    assert "Traceback" not in err
    assert code in (0, 4), err
    if code == 4:
        assert "no plan found within the time limit" in _one_paragraph(err)
        assert leftovers(tmp_path / "r") == []


# ---------------------------------------------------------------- valid but extreme inputs


def _set_column(sc: Path, column: str, value: str) -> None:
    csv = sc.parent / "workloads.csv"
    lines = csv.read_text().splitlines()
    i = lines[0].split(",").index(column)
    rows = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        cells[i] = value
        rows.append(",".join(cells))
    csv.write_text("\n".join(rows) + "\n")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


EXTREMES = {
    # name: (edit of the two-quarter scenario, allowed exit codes)
    "demand_1e10_tokens_per_s": (lambda sc: _set_column(sc, "peak_output_tokens_per_s", "1e10"), {3}),
    "ttft_one_microsecond": (lambda sc: _set_column(sc, "ttft_ms", "0.001"), {0, 3}),
    "percentile_99_99999": (lambda sc: _set_column(sc, "latency_percentile", "99.99999"), {0, 3}),
    "site_power_cap_1_watt": (lambda sc: _replace(sc.parent / "sites.yaml", "it_power_cap_kw: 6000", "it_power_cap_kw: 0.001"), {3}),
    "free_electricity": (lambda sc: _replace(sc.parent / "sites.yaml", "electricity_usd_per_kwh: 0.085", "electricity_usd_per_kwh: 0"), {0}),
    "server_price_at_its_limit_1e9": (lambda sc: _replace(sc, "solver:", "chip_terms:\n  h100_sxm:\n    price_usd_per_server: 1.0e9\nsolver:"), {0, 3}),
    "no_chip_may_be_bought": (lambda sc: _replace(sc, "allowed_chips: [h100_sxm, h200_sxm, b200, gb200, mi300x, mi325x, gaudi3, l40s]", "allowed_chips: []"), {0, 3}),
    "fleet_installed_in_year_1000": (lambda sc: _replace(sc.parent / "sites.yaml", "installed_quarter: 2024Q3", "installed_quarter: 1000Q1"), {0, 3}),
}


@pytest.mark.parametrize("name", sorted(EXTREMES))
def test_extreme_but_valid_inputs_plan_cleanly(name: str, tmp_path: Path) -> None:
    """Inputs that pass `validate` but push the model to its edges: a plan (0), or a diagnosed infeasible plan (3)."""
    from planner.results.plan_io import read_plan

    sc = assemble(None, tmp_path / "sc")
    sc.write_text(sc.read_text().replace("quarters: 8", "quarters: 2"))
    csv = sc.parent / "workloads.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0], *(x for x in lines[1:] if ",2027Q1," in x or ",2027Q2," in x)]) + "\n")
    edit, codes = EXTREMES[name]
    edit(sc)
    code, _, err = run_in_process(["plan", str(sc), "--out", str(tmp_path / "run"), "--quiet", "--time-limit", "30"])
    assert code in codes, f"exit {code}\n{err[-2000:]}"
    assert "Traceback" not in err and "internal error" not in err
    plan = read_plan(tmp_path / "run" / "plan.json")  # what `planner report` reads back
    assert plan["status"] == ("infeasible" if code == 3 else plan["status"])
    if code == 3:
        assert plan["diagnosis"], "an infeasible plan says what is short"
