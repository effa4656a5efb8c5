"""Run folders (issue 15, items 2-4 and 7): recognised beyond doubt, never replaced without --force, never
lost when the swap fails or is killed, and `planner report` / `perf --plot` write their files as one set.

The mechanisms are exercised directly on `planner.results.run_folder` with tiny files (no solve).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from planner.errors import EXIT_BAD_INPUT, PlannerError
from planner.results import run_folder as rf
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "plan_small.json"


def make_run(folder: Path, text: str = "old") -> Path:
    """A genuine run folder: marker + planner files only."""
    with rf.assembling(folder, force=False) as tmp:
        (tmp / "plan.json").write_text(json.dumps({"v": text}))
        (tmp / "csv").mkdir()
        (tmp / "csv" / "summary.csv").write_text("metric,value\r\n")
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_new(out: Path, force: bool, text: str = "new") -> None:
    with rf.assembling(out, force) as tmp:
        (tmp / "plan.json").write_text(json.dumps({"v": text}))


def siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.glob(f".{out.name}.*") if not p.name.endswith(".lock"))


# --------------------------------------------------------------- item 2: what --force may replace


def _plan_json_and_notes(d: Path) -> None:
    (d / "plan.json").write_text("{}")
    (d / "notes.txt").write_text("mine")


def _working_folder(d: Path) -> None:
    (d / "plan.json").write_text("{}")
    (d / "src").mkdir()
    (d / "src" / "main.py").write_text("print(1)")


def _symlinked_csv(d: Path) -> None:
    (d / "plan.json").write_text("{}")
    elsewhere = d.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    (elsewhere / "keep.csv").write_text("x")
    (d / "csv").symlink_to(elsewhere)


def _foreign_file_in_csv(d: Path) -> None:
    (d / "plan.json").write_text("{}")
    (d / "csv").mkdir()
    (d / "csv" / "thesis.tex").write_text("years of work")


def _plan_json_is_a_link(d: Path) -> None:
    target = d.parent / "real_plan.json"
    target.write_text("{}")
    (d / "plan.json").symlink_to(target)


def _only_plan_json_no_marker(d: Path) -> None:
    (d / "plan.json").write_text("{}")


FOREIGN = [_plan_json_and_notes, _working_folder, _symlinked_csv, _foreign_file_in_csv, _plan_json_is_a_link,
           _only_plan_json_no_marker]


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("make", FOREIGN, ids=lambda f: f.__name__)
def test_folders_that_are_not_runs_are_never_replaced(tmp_path: Path, make, force: bool) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    out.mkdir()
    make(out)
    before = snapshot(out)
    with pytest.raises(PlannerError) as info:
        write_new(out, force)
    assert info.value.exit_code == EXIT_BAD_INPUT and str(out) in str(info.value)
    assert snapshot(out) == before and siblings(out) == []


def test_out_dot_force_in_a_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--out . --force`: the current folder (with plan.json and other files) survives, exit 2 names it."""
    monkeypatch.chdir(tmp_path)
    _working_folder(tmp_path)
    before = snapshot(tmp_path)
    from tests.test_robust_plan import run_in_process

    code, _, err = run_in_process(["plan", "whatever.yaml", "--out", ".", "--force", "--quiet"])
    assert code == EXIT_BAD_INPUT and str(tmp_path) in err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("what", ["file", "symlink_to_dir", "dangling_symlink"])
def test_out_that_is_no_folder(tmp_path: Path, what: str) -> None:
    out = tmp_path / "out"
    if what == "file":
        out.write_text("keep")
    elif what == "symlink_to_dir":
        (tmp_path / "real").mkdir()
        out.symlink_to(tmp_path / "real")
    else:
        out.symlink_to(tmp_path / "nowhere")
    with pytest.raises(PlannerError) as info:
        write_new(out, force=True)
    assert info.value.exit_code == EXIT_BAD_INPUT and str(out) in str(info.value)
    assert os.path.lexists(out)


def test_marked_run_folder_needs_force_and_is_then_replaced(tmp_path: Path) -> None:
    out = make_run(tmp_path / "out")
    assert (out / rf.MARKER).is_file() and rf.foreign_entries(out) == []
    with pytest.raises(PlannerError, match="--force"):
        write_new(out, force=False)
    assert json.loads((out / "plan.json").read_text())["v"] == "old"
    write_new(out, force=True)
    assert json.loads((out / "plan.json").read_text())["v"] == "new" and not (out / "csv").exists()
    assert siblings(out) == []


@pytest.mark.parametrize("umask,mode", [(0o022, 0o755), (0o077, 0o700), (0o002, 0o775)])
def test_run_folder_mode_follows_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        out = make_run(tmp_path / "out")
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == mode


# --------------------------------------------------------------- item 3: concurrent runs, no --force


@pytest.mark.parametrize("n", [2, 4])
def test_concurrent_runs_into_one_new_folder_exactly_one_wins(tmp_path: Path, n: int) -> None:
    out = tmp_path / "out"
    barrier = threading.Barrier(n)
    results: dict[int, object] = {}

    def run(i: int) -> None:
        try:
            with rf.assembling(out, force=False) as tmp:
                (tmp / "plan.json").write_text(json.dumps({"v": i}))
                barrier.wait(timeout=10)  # every run has passed its checks; all rename at once
            results[i] = "ok"
        except PlannerError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, r in results.items() if r == "ok"]
    losers = [r for r in results.values() if isinstance(r, PlannerError)]
    assert len(winners) == 1 and len(losers) == n - 1
    assert all(e.exit_code == EXIT_BAD_INPUT and "another run" in str(e) for e in losers)
    assert json.loads((out / "plan.json").read_text())["v"] == winners[0]
    assert siblings(out) == []


@pytest.mark.parametrize("appears", ["run_folder", "file"])
def test_something_appearing_during_the_run_is_never_replaced(tmp_path: Path, appears: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(PlannerError) as info, rf.assembling(out, force=False) as tmp:
        (tmp / "plan.json").write_text("{}")
        if appears == "run_folder":
            make_run(out, "other")
        elif appears == "empty_folder":
            out.mkdir()
        else:
            out.write_text("other")
    assert info.value.exit_code == EXIT_BAD_INPUT
    if appears == "run_folder":
        assert json.loads((out / "plan.json").read_text())["v"] == "other"
    assert siblings(out) == []


# --------------------------------------------------------------- item 4: failed or killed swap


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EIO, errno.EACCES])
def test_failed_final_rename_under_force_restores_the_old_run(tmp_path: Path, err: int,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    out = make_run(tmp_path / "out")
    before = snapshot(out)
    real = rf.rename_noreplace
    calls = []

    def failing_once(src: Path, dst: Path) -> None:
        calls.append(src)
        if len(calls) == 1:
            raise OSError(err, os.strerror(err), str(dst))
        real(src, dst)

    monkeypatch.setattr(rf, "rename_noreplace", failing_once)
    with pytest.raises(OSError):
        write_new(out, force=True)
    assert snapshot(out) == before and siblings(out) == []


@pytest.mark.parametrize("leftover_tmp", [False, True])
def test_kill_between_the_two_renames_is_recovered_by_the_next_run(tmp_path: Path, leftover_tmp: bool) -> None:
    """State after a kill between `out -> .out.old-X/run` and `tmp -> out`: the next run restores the old one."""
    out = make_run(tmp_path / "out")
    before = snapshot(out)
    aside = tmp_path / ".out.old-deadbeef"
    aside.mkdir()
    os.rename(out, aside / "run")
    if leftover_tmp:  # the killed run's half-written temp folder (pid that no longer exists)
        dead = tmp_path / ".out.tmp-999999999-abcd1234"
        dead.mkdir()
        (dead / "plan.json").write_text("{}")
    with pytest.raises(PlannerError, match="already holds a run"):  # restored, so a plain run is refused
        write_new(out, force=False)
    assert snapshot(out) == before and siblings(out) == []


def test_sigterm_cleans_the_temp_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = (
        "import sys, time; from planner.cli import _terminate_as_interrupt; _terminate_as_interrupt();"
        "from planner.results.run_folder import assembling; from pathlib import Path\n"
        f"with assembling(Path({str(out)!r}), False) as tmp:\n"
        "    (tmp / 'plan.json').write_text('{}'); print('ready', flush=True); time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    assert siblings(out)  # the temp folder exists while the run is alive
    proc.terminate()
    proc.wait(timeout=20)
    time.sleep(0.1)
    assert siblings(out) == [] and not out.exists()


# --------------------------------------------------------------- item 7: planner report and perf --plot


def _run(args: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    from planner.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    return code, err.getvalue()


@pytest.mark.parametrize("make", [_symlinked_csv, _plan_json_and_notes, _foreign_file_in_csv],
                         ids=lambda f: f.__name__)
def test_report_refuses_folders_it_did_not_write(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    out.mkdir()
    make(out)
    (out / "plan.json").unlink(missing_ok=True)
    (out / "plan.json").write_bytes(FIXTURE.read_bytes())
    before = snapshot(out)
    elsewhere = snapshot(tmp_path / "elsewhere") if (tmp_path / "elsewhere").exists() else {}
    code, err = _run(["report", str(out)])
    assert code == EXIT_BAD_INPUT and str(out) in err
    assert snapshot(out) == before
    if elsewhere:
        assert snapshot(tmp_path / "elsewhere") == elsewhere


def test_report_failing_midway_keeps_the_old_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk while the HTML is written: the old workbook/HTML/CSV stay together, no new workbook beside them."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "plan.json").write_bytes(FIXTURE.read_bytes())
    assert _run(["report", str(out)])[0] == 0
    before = snapshot(out)
    import planner.report.outputs as outputs

    def full_disk(plan, path):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(outputs, "write_html_report", full_disk)
    code, err = _run(["report", str(out)])
    assert code == EXIT_BAD_INPUT and "No space left" in err
    assert snapshot(out) == before and siblings(out) == []


@pytest.mark.parametrize("kind", ["folder", "txt", "symlink", "no_parent"])
def test_perf_plot_path_is_checked_before_work(tmp_path: Path, kind: str) -> None:
    target = {"folder": tmp_path / "figs", "txt": tmp_path / "x.txt", "symlink": tmp_path / "link.png",
              "no_parent": tmp_path / "missing" / "r.png"}[kind]
    if kind == "folder":
        target.mkdir()
        (tmp_path / "figs.png").write_text("keep")
    if kind == "symlink":
        (tmp_path / "real.png").write_text("keep")
        target.symlink_to(tmp_path / "real.png")
    code, err = _run(["perf", "--model", "llama3_8b", "--chip", "h100_sxm", "--chips", "1", "--precision", "fp8",
                      "--prompt-tokens", "100", "--output-tokens", "100", "--plot", str(target)])
    assert code == EXIT_BAD_INPUT and "--plot" in err
    if kind == "folder":
        assert (tmp_path / "figs.png").read_text() == "keep"
    if kind == "symlink":
        assert (tmp_path / "real.png").read_text() == "keep"


def test_an_empty_folder_made_by_the_user_is_used(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    write_new(out, force=False)
    assert json.loads((out / "plan.json").read_text())["v"] == "new" and (out / rf.MARKER).is_file()


# `--out` given as a symbolic link is refused before any solve (issue 24, fourth attack): the early check resolved
# the link and accepted the run folder it points to, so `plan --out link --force` solved the whole problem and only
# then refused the link. Every kind of link target, for both commands that write a run folder.
LINK_TARGETS = {"a run folder": lambda p: make_run(p), "an empty folder": lambda p: p.mkdir(),
                "a user folder": lambda p: (p.mkdir(), (p / "notes.txt").write_text("mine")),
                "nothing (dangling)": lambda p: None}


@pytest.mark.parametrize("command", ["plan", "replan"])
@pytest.mark.parametrize("target", LINK_TARGETS.values(), ids=LINK_TARGETS.keys())
def test_out_that_is_a_link_is_refused_before_solving(tmp_path: Path, command: str, target,  # type: ignore[no-untyped-def]
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from planner.cli import main
    from tests.whatif_cases import write_twins

    scenario = write_twins(tmp_path / "sc")
    real = tmp_path / "real"
    target(real)
    before = snapshot(real) if real.is_dir() else None
    link = tmp_path / "link"
    link.symlink_to(real)
    extra = ["--from", str(FIXTURE), "--commit-through", "2027Q1"] if command == "replan" else []
    code = main([command, str(scenario), "--out", str(link), "--force", *extra])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and "is a symbolic link" in err, err
    assert "[solve]" not in err and "model:" not in err  # refused before the model was built
    assert (snapshot(real) if real.is_dir() else None) == before and link.is_symlink()


# A user's file in csv/ with a `.csv` name was taken for one of the planner's: `planner report` and `plan --force`
# deleted `csv/notes.csv` (issue 24, fourth attack). Only the names `write_csvs` writes are the planner's.
USER_CSVS = ["notes.csv", "purchases_mine.csv", "Purchases.csv", "summary.csv.bak", "summary.CSV", "my.plan.csv"]


@pytest.mark.parametrize("name", USER_CSVS)
@pytest.mark.parametrize("how", ["report", "plan --force"])
def test_a_users_csv_in_a_run_folder_is_never_deleted(tmp_path: Path, name: str, how: str) -> None:
    out = make_run(tmp_path / "run")
    (out / "plan.json").write_bytes(FIXTURE.read_bytes())
    (out / "csv" / name).write_text("the user's,figures\r\n")
    before = snapshot(out)
    if how == "report":
        code, err = _run(["report", str(out)])
        assert code == EXIT_BAD_INPUT and f"csv/{name}" in err, err
    else:
        with pytest.raises(PlannerError) as info:
            write_new(out, force=True)
        assert info.value.exit_code == EXIT_BAD_INPUT and f"csv/{name}" in str(info.value)
    assert snapshot(out) == before


def test_every_csv_the_planner_writes_is_its_own(tmp_path: Path) -> None:
    from planner.report.csvs import write_csvs
    from planner.results.plan_io import read_plan

    written = write_csvs(read_plan(FIXTURE), tmp_path)
    assert {p.name for p in written} <= rf.csv_names() and rf.foreign_entries(tmp_path) == []


@pytest.mark.parametrize("name", ["mine.json", "0123456789abcdef0123456.json", "0123456789ABCDEF01234567.json", "notes.txt"])
def test_a_users_file_in_a_sweeps_points_folder_is_foreign(tmp_path: Path, name: str) -> None:
    from planner.sweep import folder

    (tmp_path / "points").mkdir()
    (tmp_path / "points" / "0123456789abcdef01234567.json").write_text("{}")  # a cached point
    (tmp_path / "points" / name).write_text("{}")
    assert folder.foreign_entries(tmp_path, folder.SWEEP, {"files": []}) == [f"points/{name}"]
