"""Hostile input files that could hang the planner or eat the machine: each is refused (or accepted) quickly.

Each case runs `python -m planner.cli validate` in a subprocess with a budget of 30 s of CPU time (RLIMIT_CPU, and
the child's measured CPU time is checked), a 1 GiB address-space cap (RLIMIT_AS) and a 300 s wall-clock guard, so
a hang or a memory blow-up fails the test instead of the CI machine. The budget is work (CPU seconds), not wall
time, so a loaded machine (other tests, other jobs) does not make a quick case look slow: the slowest cases use
about 8 s of CPU. A hang that burns no CPU (blocked on a read) is caught by the wall-clock guard. Cases run two
at a time. "Billion laughs" YAML (lists and mappings), 100,000-deep nesting, a 10 MB YAML of tiny values, YAML and
CSV files over the size limits, a 49 MB CSV, a single 45 MB CSV cell and a 200,000-row valid forecast.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_robust_corpus import assemble

GIB = 1 << 30
CPU_BUDGET_S = 30  # CPU seconds a case may use (user + system)
WALL_GUARD_S = 300  # a case still running after this long is hung, whatever the load
HEADER = ("workload_id,model_id,quarter,peak_output_tokens_per_s,prompt_tokens_mean,output_tokens_mean,ttft_ms,"
          "tpot_ms,latency_percentile,allowed_precisions,allowed_sites")
ROW = "{i},llama-3.1-70b,2027Q1,150000,1500,350,2000,60,99,fp8;bf16;int8,"


def _cap_child() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_BUDGET_S + 1, CPU_BUDGET_S + 5))  # SIGXCPU, then SIGKILL


def _billion_laughs_lists(sc: Path) -> None:
    text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(20))
    sc.write_text(sc.read_text().replace("description: >-", "old_description: >-") + text + "description: *u\n")


def _billion_laughs_maps(sc: Path) -> None:
    sites = sc.parent / "sites.yaml"
    text = "l0: &l0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9}\n" + "".join(
        f"l{i}: &l{i} {{" + ", ".join(f"k{j}: *l{i - 1}" for j in range(9)) + "}\n" for i in range(1, 25))
    sites.write_text(text + sites.read_text())


def _deep_nesting(sc: Path) -> None:
    sc.write_text(sc.read_text() + "description: " + "[" * 100_000 + "]" * 100_000 + "\n")


def _deep_mappings(sc: Path) -> None:
    sc.write_text(sc.read_text() + "notes: " + "{a: " * 50_000 + "1" + "}" * 50_000 + "\n")


def _many_yaml_values(sc: Path) -> None:  # just under the 10 MB YAML limit, 5 million tiny values
    sites = sc.parent / "sites.yaml"
    sites.write_text(sites.read_text() + "extra: [" + "1," * 5_000_000 + "1]\n")


def _long_yaml_scalar(sc: Path) -> None:  # a 9 MB description: allowed, but must not take long
    text = sc.read_text()
    sc.write_text(re.sub(r"description: >-\n(  .*\n)+", "description: " + "x" * 9_000_000 + "\n", text, count=1))


def _yaml_over_limit(sc: Path) -> None:
    sc.write_text(sc.read_text() + "# " + "x" * (11 * 1024 * 1024) + "\n")


def _csv_49mb(sc: Path) -> None:
    csv = sc.parent / "workloads.csv"
    line = ROW + "x" * 100
    n = 49_000_000 // (len(line) + 8)
    csv.write_text(HEADER + "\n" + "\n".join(line.format(i=f"w{i}") for i in range(n)) + "\n")


def _csv_over_limit(sc: Path) -> None:
    csv = sc.parent / "workloads.csv"
    with csv.open("a") as fh:
        fh.write(("# padding " + "x" * 1000 + "\n") * 60_000)


def _csv_one_huge_cell(sc: Path) -> None:
    csv = sc.parent / "workloads.csv"
    csv.write_text(HEADER + "\n" + '"' + "x" * 45_000_000 + '",a,b\n')


def _csv_200k_valid_rows(sc: Path) -> None:
    csv = sc.parent / "workloads.csv"
    csv.write_text(HEADER + "\n" + "\n".join(ROW.format(i=f"w{i}") for i in range(199_000)) + "\n")
    sc.write_text(sc.read_text().replace("quarters: 8", "quarters: 1"))


# (name, mutation, allowed exit codes, fragment of stderr when 2)
CASES: list[tuple[str, Callable[[Path], None], set[int], str]] = [
    ("billion_laughs_lists", _billion_laughs_lists, {2}, "aliases"),
    ("billion_laughs_maps", _billion_laughs_maps, {2}, "aliases"),
    ("deep_nesting_lists", _deep_nesting, {2}, "nesting deeper than 64 levels"),
    ("deep_nesting_maps", _deep_mappings, {2}, "nesting deeper than 64 levels"),
    ("many_yaml_values", _many_yaml_values, {2}, "more than 200,000 YAML values"),
    ("long_yaml_scalar", _long_yaml_scalar, {0, 2}, ""),
    ("yaml_over_size_limit", _yaml_over_limit, {2}, "are refused"),
    ("csv_49mb", _csv_49mb, {2}, "more than 200000 rows"),
    ("csv_over_size_limit", _csv_over_limit, {2}, "are refused"),
    ("csv_one_huge_cell", _csv_one_huge_cell, {2}, "not valid CSV"),
    ("csv_200k_valid_rows", _csv_200k_valid_rows, {0}, ""),
]


def _run(case: tuple[str, Callable[[Path], None], set[int], str], root: Path) -> tuple[str, int, str, float, float]:
    """(name, exit code, stderr, CPU seconds, wall seconds); exit -1 when the wall-clock guard killed it."""
    name, mutate, _, _ = case
    scenario = assemble(None, root / name)  # the frozen example of the bad-input corpus
    mutate(scenario)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    hung = threading.Event()
    try:
        # Output goes to files, not pipes, so the child can be reaped with os.wait4, which gives its own CPU time.
        with open(root / f"{name}.stdout", "wb") as out, open(root / f"{name}.stderr", "w+b") as err_file:
            t0 = time.monotonic()
            proc = subprocess.Popen([sys.executable, "-m", "planner.cli", "validate", str(scenario)], stdout=out,
                                    stderr=err_file, stdin=subprocess.DEVNULL, preexec_fn=_cap_child, env=env, cwd=REPO)

            def kill() -> None:
                hung.set()
                proc.kill()

            guard = threading.Timer(WALL_GUARD_S, kill)
            guard.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                guard.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
            wall = time.monotonic() - t0
            err_file.seek(0)
            err = err_file.read().decode("utf-8", errors="replace")
    finally:
        shutil.rmtree(root / name, ignore_errors=True)
    cpu = usage.ru_utime + usage.ru_stime
    if hung.is_set():
        return name, -1, f"hang: no answer within {WALL_GUARD_S} s of wall time ({cpu:.1f} s of CPU)\n{err}", cpu, wall
    if proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL) and cpu >= CPU_BUDGET_S:
        err = f"killed after {cpu:.1f} s of CPU (budget {CPU_BUDGET_S} s)\n{err}"
    return name, proc.returncode, err, cpu, wall


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, float, float]]:
    root = tmp_path_factory.mktemp("limits")
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda c: _run(c, root), CASES))
    return {name: (code, err, cpu, wall) for name, code, err, cpu, wall in done}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_file_is_handled_quickly(case: tuple, results: dict[str, tuple[int, str, float, float]]) -> None:
    name, _, codes, fragment = case
    code, err, cpu, wall = results[name]
    assert code in codes, f"{name}: exit {code} after {cpu:.1f} s of CPU ({wall:.1f} s wall)\n{err[-2000:]}"
    assert cpu <= CPU_BUDGET_S, f"{name}: {cpu:.1f} s of CPU, more than the {CPU_BUDGET_S} s budget"
    assert "Traceback" not in err and "internal error" not in err and "out of memory" not in err, err[-2000:]
    assert len(err) < 100_000, f"{name}: a {len(err):,}-character report is not readable"
    if code == 2:
        assert fragment in err, f"{name}: {fragment!r} not in\n{err[:2000]}"
        assert re.search(r"^  - \(.+?\) \| ", err, re.M), err[:2000]
