"""Reliability of `sweep` and `compare` (issue #24): what is cached, stopping, folders written whole, limits.

Every test runs the real mechanism: real plans on the tiny twins scenario, real subprocesses sent real signals, a
real lock held by another process; the only stand-in is an OS-level write failure (ENOSPC) raised by the chart
writer in the middle of writing a folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from planner.sweep import FINAL_STATUSES, MAX_POINTS
from planner.sweep.engine import CACHE_FORMAT, run_points
from planner.sweep.folder import SWEEP
from planner.sweep.point import point_key
from tests.whatif_cases import write_twins

REPO = Path(__file__).resolve().parents[1]
PRICE_B = "chip_terms.twin_b.price_usd_per_server"
PRICE_A = "chip_terms.twin_a.price_usd_per_server"


def _main(args: list[str]) -> tuple[int, str, str]:
    from planner.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "planner.cli", *args]


def _env() -> dict[str, str]:
    """The environment of a subprocess: this checkout first, then whatever PYTHONPATH the tests run with."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}


def _tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) with the hash of its bytes."""
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file()}


def _siblings(out: Path) -> list[str]:
    """What a run may leave beside its folder: temp folders, folders moved aside, the lock file."""
    return sorted(p.name for p in out.parent.glob(f".{out.name}.*"))


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_twins(tmp_path_factory.mktemp("twins")))


# ---------------------------------------------------------------- what is cached


@pytest.mark.parametrize("status", ["optimal", "optimal_in_reduced_set", "infeasible", "feasible", "no_plan",
                                    "bad_input"])
def test_a_cached_result_is_reused_only_when_final(twins: str, tmp_path: Path, status: str) -> None:
    """A cache file of each kind of outcome, under the point's real key: a final one (a proven plan, a proven
    infeasibility) is reused with the point's own parameter cells; any other is planned again and replaced."""
    pt = {PRICE_B: 80000}
    key = point_key(twins, pt, {})
    (tmp_path / "points").mkdir()
    planted = tmp_path / "points" / f"{key}.json"
    planted.write_text(json.dumps({"format": CACHE_FORMAT, "result": {"status": status, "objective_usd": 1.0}}))
    [row] = run_points(twins, [pt], {}, tmp_path, workers=1)
    assert row[PRICE_B] == 80000
    if status in FINAL_STATUSES:
        assert row["cached"] and row["status"] == status and row["objective_usd"] == 1.0
    else:
        assert not row["cached"] and row["status"] == "optimal"
        assert row["objective_usd"] == pytest.approx(80_003, abs=10)
        assert json.loads(planted.read_text())["result"]["status"] == "optimal"  # the real outcome replaced it


def test_a_solver_failure_is_not_cached(twins: str, tmp_path: Path) -> None:
    """A point whose solve fails (here: a solver this machine lacks) gets a row saying so and no cache file."""
    pytest.importorskip("pulp")
    with contextlib.suppress(ImportError):
        import gurobipy  # noqa: F401

        pytest.skip("gurobi is installed here")
    [row] = run_points(twins, [{PRICE_B: 80000}], {"name": "gurobi"}, tmp_path, workers=1)
    assert row["status"] == "no_plan" and not row["cached"]
    assert list((tmp_path / "points").iterdir()) == []


def test_a_bad_point_gets_a_row_not_an_abort(twins: str, tmp_path: Path) -> None:
    """A point whose values the scenario rejects is a `bad_input` row with the reason (nothing cached); the other
    points of the sweep are planned."""
    rows = run_points(twins, [{"policy.headroom_fraction": -0.5}, {"policy.headroom_fraction": 0.0}], {}, tmp_path,
                      workers=2)
    assert [r["status"] for r in rows] == ["bad_input", "optimal"]
    assert "headroom_fraction" in rows[0]["message"] and rows[0]["policy.headroom_fraction"] == -0.5
    assert len(list((tmp_path / "points").iterdir())) == 1


def test_a_result_cached_by_another_sweep_shows_this_sweeps_parameters(twins: str, tmp_path: Path) -> None:
    """Two parameters that resolve to the same inputs share one cached result; each sweep's row shows its own
    parameter, never a blank cell or the other sweep's column."""
    [first] = run_points(twins, [{"policy.headroom_fraction": 0.0}], {}, tmp_path, workers=1)  # the scenario's own
    [second] = run_points(twins, [{"policy.redundancy": "none"}], {}, tmp_path, workers=1)  # the default
    assert not first["cached"] and second["cached"]
    assert second["policy.redundancy"] == "none" and "policy.headroom_fraction" not in second
    assert second["objective_usd"] == first["objective_usd"]


def test_the_point_key_follows_every_input_file(tmp_path: Path) -> None:
    """The key is of the full resolved inputs: a change in a file the scenario names (not the scenario itself)
    gives another key; the same bytes give the same key."""
    sc = str(write_twins(tmp_path))
    key = point_key(sc, {PRICE_B: 80000}, {})
    assert point_key(sc, {PRICE_B: 80000}, {}) == key
    assert point_key(sc, {PRICE_B: 90000}, {}) != key
    assert point_key(sc, {PRICE_B: 80000}, {"mip_gap": 0.01}) != key
    wl = tmp_path / "workloads.csv"
    wl.write_text(wl.read_text().replace("20000", "20001"))
    assert point_key(sc, {PRICE_B: 80000}, {}) != key


# ---------------------------------------------------------------- sweep folders


def test_sweep_folder_rules(twins: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resume the same sweep; refuse another without --force; --force replaces the whole folder (no stale chart);
    never touch a folder holding a file the planner did not write; a write failing mid-way leaves the folder as it
    was, exits 2 without a traceback and leaves nothing beside it."""
    out = tmp_path / "sweep"
    a = ["sweep", twins, "--param", f"{PRICE_B}=80000,120000", "--workers", "1", "--quiet", "--out", str(out)]
    b = ["sweep", twins, "--param", f"{PRICE_A}=100000", "--workers", "1", "--quiet", "--out", str(out)]
    code, _, err = _main(a)
    assert code == 0, err
    manifest = json.loads((out / SWEEP.manifest).read_text())
    assert manifest["complete"] and set(manifest["files"]) == {
        "sweep.csv", "sweep.xlsx", "tornado.png", "chart_chip_terms_twin_b_price_usd_per_server.png"}
    assert _siblings(out) == []

    code, outp, err = _main(a)  # the same sweep: resumed from the cache
    assert code == 0 and "(0 planned, 2 cached)" in outp, err
    before = _tree(out)

    code, _, err = _main(b)  # another sweep
    assert code == 2 and "another sweep" in err and "--force" in err
    assert _tree(out) == before

    code, _, err = _main([*b, "--force"])
    assert code == 0, err
    assert not (out / "chart_chip_terms_twin_b_price_usd_per_server.png").exists()
    assert (out / "chart_chip_terms_twin_a_price_usd_per_server.png").is_file()
    table = pd.read_csv(out / "sweep.csv")
    assert list(table[PRICE_A]) == [100000] and PRICE_B not in table
    assert len(list((out / "points").iterdir())) == 1 and _siblings(out) == []

    # a write failing mid-way (disk full while writing a chart): the previous folder stays whole
    import matplotlib.figure

    def full_disk(self: object, fname: object, *args: object, **kwargs: object) -> None:
        Path(str(fname)).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(fname))

    before = _tree(out)
    with monkeypatch.context() as m:
        m.setattr(matplotlib.figure.Figure, "savefig", full_disk)
        code, _, err = _main([*a, "--force"])
    assert code == 2, err
    assert "cannot write the sweep tables" in err and "No space left" in err and "unchanged" in err
    assert "Traceback" not in err and "internal error" not in err
    assert {k: v for k, v in _tree(out).items() if not k.startswith("points/")} == {
        k: v for k, v in before.items() if not k.startswith("points/")}
    assert _siblings(out) == []

    (out / "my_notes.txt").write_text("mine")  # a file the planner did not write
    code, _, err = _main([*a, "--force"])
    assert code == 2 and "did not write" in err and "my_notes.txt" in err
    assert (out / "my_notes.txt").read_text() == "mine"


def test_a_folder_of_an_older_sweep_is_replaced_only_with_force(twins: str, tmp_path: Path) -> None:
    """An older planner marked its sweep folders with an empty `.fleet-planner-sweep` and no list of files: such a
    folder holding only sweep output names is another sweep (replaced with --force, stale charts and old-format cache
    files gone); its old cache files are never read."""
    out = tmp_path / "old"
    (out / "points").mkdir(parents=True)
    (out / SWEEP.manifest).write_text("")
    (out / "sweep.csv").write_text("point,status\n0,optimal\n")
    (out / "chart_policy_headroom_fraction.png").write_bytes(b"\x89PNG old")
    key = point_key(twins, {PRICE_B: 80000}, {})
    (out / "points" / f"{key}.json").write_text(json.dumps({PRICE_B: 80000, "status": "optimal", "objective_usd": 1}))
    cmd = ["sweep", twins, "--param", f"{PRICE_B}=80000", "--workers", "1", "--quiet", "--out", str(out)]
    code, _, err = _main(cmd)
    assert code == 2 and "--force" in err and (out / "sweep.csv").read_text() == "point,status\n0,optimal\n"
    code, _, err = _main([*cmd, "--force"])
    assert code == 0, err
    assert not (out / "chart_policy_headroom_fraction.png").exists()
    [row] = pd.read_csv(out / "sweep.csv").to_dict("records")
    assert not row["cached"] and row["objective_usd"] == pytest.approx(80_003, abs=10)


def test_a_failed_first_write_leaves_no_tables(twins: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "new"
    import matplotlib.figure

    def full_disk(self: object, fname: object, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(fname))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full_disk)
    code, _, err = _main(["sweep", twins, "--param", f"{PRICE_B}=120000", "--workers", "1", "--quiet",
                          "--out", str(out)])
    assert code == 2 and "no tables were written" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == [SWEEP.manifest, "points"]  # the cache only: resumable
    assert len(list((out / "points").iterdir())) == 1 and _siblings(out) == []


def test_two_sweeps_into_one_folder_cannot_both_succeed(twins: str, tmp_path: Path) -> None:
    """Two different sweeps started together into one new folder: one writes it, the other exits 2 (the folder is
    locked, or holds the other sweep) and the table is the winner's."""
    out = tmp_path / "shared"
    runs = {p: subprocess.Popen(_cli("sweep", twins, "--param", f"{p}=100000", "--workers", "1", "--quiet", "--out",
                                     str(out)), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for p in (PRICE_A, PRICE_B)}
    results = {p: (r.wait(timeout=300), r.stderr.read()) for p, r in runs.items()}  # type: ignore[union-attr]
    assert sorted(c for c, _ in results.values()) == [0, 2], results
    [winner] = [p for p, (c, _) in results.items() if c == 0]
    [(_, loser_err)] = [v for p, v in results.items() if p != winner]
    assert "another planner command is writing" in loser_err or "another sweep" in loser_err, loser_err
    assert "Traceback" not in loser_err
    assert list(pd.read_csv(out / "sweep.csv").columns)[1] == winner
    assert _siblings(out) == []


def test_a_second_sweep_into_a_locked_folder_exits_2_at_once(twins: str, tmp_path: Path) -> None:
    """While a sweep runs (its lock file exists), the same sweep started into its folder exits 2 in seconds."""
    out = tmp_path / "busy"
    cmd = _cli("sweep", twins, "--param", f"{PRICE_B}=80000:120000:10000", "--workers", "1", "--quiet", "--out",
               str(out))
    first = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock = out.with_name(f".{out.name}.lock")
        deadline = time.monotonic() + 120
        while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.exists(), first.communicate()
        second = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120, check=False)
        assert second.returncode == 2 and "another planner command is writing" in second.stderr, second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    assert not lock.exists()  # removed as the first sweep ended


def test_a_sweep_killed_mid_swap_is_recovered_by_the_next_run(twins: str, tmp_path: Path) -> None:
    """State after a kill between `out -> .out.old-X/run` and `tmp -> out`, with the killed run's temp folder: the
    next sweep into `out` puts the old folder back (it has the sweep manifest) and removes the dead run's temp
    folder, but neither a moved-aside folder without the manifest nor the temp folder of a live process."""
    out = tmp_path / "out"
    cmd = ["sweep", twins, "--param", f"{PRICE_B}=80000,90000", "--workers", "1", "--quiet", "--out", str(out)]
    code, _, err = _main(cmd)
    assert code == 0, err
    before = _tree(out)
    aside = tmp_path / ".out.old-deadbeef"
    aside.mkdir()
    os.rename(out, aside / "run")
    stranger = tmp_path / ".out.old-0badcafe" / "run"
    stranger.mkdir(parents=True)
    (stranger / "notes.txt").write_text("not a sweep")
    dead = tmp_path / f".out.{SWEEP.name}-tmp-999999999-abcd1234"
    dead.mkdir()
    (dead / "sweep.csv").write_text("half written")
    live = tmp_path / f".out.{SWEEP.name}-tmp-{os.getpid()}-abcd1234"
    live.mkdir()
    code, _, err = _main(cmd)
    assert code == 0 and "restored the previous sweep folder" in err, err
    # the same sweep, resumed from the restored folder: its cached points are reused, nothing is planned again
    assert {k: v for k, v in _tree(out).items() if k.startswith("points/")} == \
        {k: v for k, v in before.items() if k.startswith("points/")}
    assert list(pd.read_csv(out / "sweep.csv")["cached"]) == [True, True]
    assert not dead.exists() and live.is_dir() and (stranger / "notes.txt").is_file()


# ---------------------------------------------------------------- stopping a sweep


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a zombie has exited; only its parent has not reaped it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _sweep_with_workers(twins: str, out: Path, at_least: int, *extra: str) -> tuple[subprocess.Popen[str], list[int]]:
    """A `sweep --workers 2` of five points into `out`, started in a subprocess and returned once `at_least` of its
    worker processes run (the sweep and the pids of its children); `extra` arguments go to the sweep."""
    proc = subprocess.Popen(_cli("sweep", twins, "--param", f"{PRICE_B}=80000:120000:10000", "--workers", "2",
                                 "--quiet", *extra, "--out", str(out)), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(_children(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _children(proc.pid)
    if len(workers) < at_least:
        proc.kill()
        pytest.fail(f"the sweep started {len(workers)} worker(s): {proc.communicate()}")
    return proc, workers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker processes")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_a_stopped_sweep_stops_its_workers(twins: str, tmp_path: Path, sig: int, code: int) -> None:
    """A signal while the workers solve: the sweep exits within seconds with 143 (SIGTERM) / 130 (SIGINT), says what
    it wrote, and no worker outlives it; after `kill -9` of the sweep its workers die too."""
    out = tmp_path / "stopped"
    proc, workers = _sweep_with_workers(twins, out, 2)
    try:
        time.sleep(1.0)  # the workers are planning now
        t0 = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(timeout=30)
        took = time.monotonic() - t0
        deadline = time.monotonic() + 5
        while any(_running(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        orphans = [w for w in workers if _running(w)]
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()  # type: ignore[union-attr]
    print(f"{signal.Signals(sig).name}: sweep exited after {took:.2f} s")
    assert rc == code, err
    assert orphans == []
    if sig != signal.SIGKILL:
        assert took < 8, f"took {took:.1f} s"
        assert f"stopped by {signal.Signals(sig).name}" in err and "no tables were written" in err, err
        assert "Traceback" not in err and "no output was written" not in err
    assert not (out / "sweep.csv").exists()
    assert all(f.name.endswith(".json") for f in (out / "points").iterdir())


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker processes")
def test_a_killed_worker_gives_crashed_rows_that_are_not_cached(twins: str, tmp_path: Path) -> None:
    """A worker killed mid-solve (as by the OOM killer): the sweep still writes its table, the lost points say
    `crashed` and are not cached (the next run plans them again), exit 4 (a point without a plan, named on
    stderr) and no traceback."""
    out = tmp_path / "crash"
    proc, workers = _sweep_with_workers(twins, out, 1)
    try:
        time.sleep(0.5)
        os.kill(workers[0], signal.SIGKILL)
        rc = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()  # type: ignore[union-attr]
    assert rc == 4 and "Traceback" not in err, err
    assert [line for line in err.splitlines() if line.strip().startswith("point ") and "exit 4" in line], err
    table = pd.read_csv(out / "sweep.csv")
    assert "crashed" in set(table["status"]) and len(table) == 5
    final = table["status"].isin(sorted(FINAL_STATUSES)).sum()
    assert len(list((out / "points").iterdir())) == final


def _descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid` (children, their children, ...) with its command line."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        for child, ppid in parent.items():
            if ppid == p and child not in found:
                try:
                    found[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    found[child] = ""
                todo.append(child)
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the Ray processes")
def test_sigterm_stops_a_ray_sweep(twins: str, tmp_path: Path) -> None:
    """`sweep --engine ray`, SIGTERM while Ray tasks plan points: exit 143 with the stop message, no table written,
    the finished points kept, and no process the sweep started (Ray's own included) outlives it."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'fleet-planner[ray]'), so its stop path "
                                      "cannot be run here")
    out = tmp_path / "ray"
    # 41 points on 2 workers: far more than are planned by the time a task runs, so the signal lands mid-sweep
    proc = subprocess.Popen(_cli("sweep", twins, "--param", f"{PRICE_B}=80000:120000:1000", "--engine", "ray",
                                 "--workers", "2", "--quiet", "--out", str(out)), env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while proc.poll() is None and time.monotonic() < deadline:
            if any("run_point" in cmd for cmd in _descendants(proc.pid).values()):
                break  # a Ray worker is planning a point
            time.sleep(0.2)
        started = _descendants(proc.pid)
        assert proc.poll() is None and any("run_point" in c for c in started.values()), proc.communicate()
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
        took = time.monotonic() - t0
        deadline = time.monotonic() + 20
        while any(_running(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {p: c for p, c in started.items() if _running(p)}
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()  # type: ignore[union-attr]
    print(f"ray sweep stopped {took:.1f} s after SIGTERM")
    assert rc == 143, err
    assert "stopped by SIGTERM" in err and "Traceback" not in err and "no output was written" not in err, err
    assert not (out / "sweep.csv").exists()
    assert all(f.name.endswith(".json") for f in (out / "points").iterdir())
    assert left == {}, left


# ---------------------------------------------------------------- limits


@pytest.mark.parametrize(("args", "message"), [
    (["--samples", "1e8"], f"--samples takes 1 to {MAX_POINTS:,}"),
    (["--samples", "100000000"], f"--samples takes 1 to {MAX_POINTS:,}"),
    (["--samples", "0"], f"--samples takes 1 to {MAX_POINTS:,}"),
    (["--samples", "2.5"], "not a whole number"),
    (["--workers", "0"], "--workers takes 1 to"),
    (["--workers", "100000"], "--workers takes 1 to"),
    (["--param", "policy.headroom_fraction=0:.inf:0.1"], "not a finite number"),
    (["--param", f"{PRICE_A}=1:200:1", "--param", "policy.headroom_fraction=0:0.99:0.01"], f"at most {MAX_POINTS:,}"),
])
def test_sweep_sizes_are_bounded(twins: str, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "never"
    code, _, err = _main(["sweep", twins, "--param", f"{PRICE_B}=80000,90000", *args, "--quiet", "--out", str(out)])
    assert code == 2 and message in err, err
    assert "Traceback" not in err and not out.exists() and _siblings(out) == []


# ---------------------------------------------------------------- compare


def test_compare_folder_rules_and_cache(twins: str, tmp_path: Path) -> None:
    """compare --out: written whole with a manifest; an earlier comparison is replaced only with --force; a folder
    holding other files never, even with --force. Its cache keeps final plans only: a cached time-limited plan is
    planned again."""
    cache = tmp_path / "cache"
    out = tmp_path / "cmp"
    cmd = ["compare", twins, "--cache-dir", str(cache), "--quiet", "--out", str(out)]
    code, _, err = _main(cmd)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [".fleet-planner-compare", "comparison.html", "comparison.xlsx"]
    code, _, err = _main(cmd)
    assert code == 2 and "--force" in err
    [cached] = list(cache.glob("*.json"))  # beside the cache marker .fleet-planner-cache
    doc = json.loads(cached.read_text())
    assert doc["status"] == "optimal"
    cached.write_text(json.dumps(doc | {"status": "feasible"}))  # as if the solve had hit its time limit
    code, _, err = _main([*cmd, "--force"])
    assert code == 0, err
    assert json.loads(cached.read_text())["status"] == "optimal"  # planned again, not reused
    assert _siblings(out) == []

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "comparison.xlsx").write_bytes(b"my workbook")
    (mine / "notes.txt").write_text("mine")
    code, _, err = _main([*cmd[:-1], str(mine), "--force"])
    assert code == 2 and "no compare wrote" in err
    assert (mine / "comparison.xlsx").read_bytes() == b"my workbook" and (mine / "notes.txt").read_text() == "mine"
