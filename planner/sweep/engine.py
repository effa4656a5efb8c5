"""Run sweep points: cached by input hash in `DIR/points/`, on a local process pool or as Ray tasks.

A point whose cache file exists is not re-planned, so an interrupted sweep resumes where it stopped. Only final
outcomes are cached (`FINAL_STATUSES`: a proven plan or a proven infeasibility); a time-limited plan, a solver
failure or a crash is planned again by the next run. A cache file holds the point's results only: the row always
takes its parameter cells from the point itself, so a result cached by another sweep never shows blank cells.

Stopping: `run_points` polls `stop()` (set by the sweep's SIGINT/SIGTERM handler) at least every 0.1 s; on a stop
it kills the workers at once (SIGKILL: they write nothing, the parent writes the cache) and raises `Stopped`.
Workers die with their parent: on Linux `prctl(PR_SET_PDEATHSIG, SIGKILL)`, elsewhere (and as a backstop) a
watchdog thread in each worker that exits when the parent process is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from planner.results.run_folder import _alive
from planner.sweep import FINAL_STATUSES
from planner.sweep.point import point_key, run_point

Progress = Callable[[int, int, int], None]
StopFn = Callable[[], bool]

#: bumped when the cache file's content changes: files of another format are never read
CACHE_FORMAT = 3  # 3: rows carry `demand_served`
POLL_S = 0.1


class Stopped(Exception):
    """The sweep was stopped by a signal; `planned` points were planned (and cached) before the stop."""

    def __init__(self, planned: int, total: int, cached: int) -> None:
        super().__init__(f"stopped after {planned} of {total} points")
        self.planned, self.total, self.cached = planned, total, cached


def progress_bar(enabled: bool) -> Progress:
    """`[#####.....] 12/50 points (3 cached)` on stderr, in place on a terminal."""
    tty = sys.stderr.isatty()

    def show(done: int, total: int, cached: int) -> None:
        if not enabled:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} points ({cached} cached)"
        if tty:
            print(f"\r{line}", end="\n" if done == total else "", file=sys.stderr, flush=True)
        elif done == total or done % max(1, total // 10) == 0:
            print(line, file=sys.stderr, flush=True)

    return show


def point_exit_code(row: dict[str, Any]) -> int:
    """The exit code `planner plan` gives the point: 2 bad input, 4 no plan (or its worker died), 3 infeasible or a
    demand row left short, 0 every demand row served."""
    from planner.errors import EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_NO_PLAN, EXIT_OK

    status = row.get("status")
    if status == "bad_input":
        return EXIT_BAD_INPUT
    if status in ("no_plan", "crashed"):
        return EXIT_NO_PLAN
    return EXIT_INFEASIBLE if status == "infeasible" or row.get("demand_served") is False else EXIT_OK


def cacheable(result: dict[str, Any]) -> bool:
    """A final outcome: the same inputs on the same planner give it again (a time limit or crash may not)."""
    return result.get("status") in FINAL_STATUSES


def _save(cache: Path, key: str, result: dict[str, Any]) -> None:
    from planner.results.atomic import write_json_atomic

    write_json_atomic(cache / f"{key}.json", {"format": CACHE_FORMAT, "result": result})


def _load(f: Path) -> dict[str, Any] | None:
    """The cached result in `f`, or None (absent, damaged, of another format or not final: planned again)."""
    try:
        data = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("result"), dict):
        return None
    return data["result"] if cacheable(data["result"]) else None


def _result_only(row: dict[str, Any], pt: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in pt}


def point_keys(scenario: str, pts: list[dict[str, Any]], solver: dict[str, Any],
               stop: StopFn | None = None) -> list[str | None]:
    """The cache key of each point; None for a point whose inputs are bad (its row says so, it is not cached)."""
    from planner.errors import InputError

    keys: list[str | None] = []
    for p in pts:
        if stop is not None and stop():
            raise Stopped(0, len(pts), 0)
        try:
            keys.append(point_key(scenario, p, solver))
        except InputError:
            keys.append(None)
    return keys


def run_points(
    scenario: str, pts: list[dict[str, Any]], solver: dict[str, Any], out_dir: Path, workers: int = 1,
    engine: str = "local", address: str | None = None, progress: Progress | None = None,
    stop: StopFn | None = None, keys: list[str | None] | None = None, swept: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Rows in the order of `pts`: `point` index, the point's parameters, its results and a `cached` flag.
    `swept`: the `--param` paths (a bad value of one is located at `--param`, not `--set`).

    Raises `Stopped` when `stop()` turns true (the workers are killed first)."""
    show = progress or (lambda *_: None)
    stopped = stop or (lambda: False)
    cache = out_dir / "points"
    cache.mkdir(parents=True, exist_ok=True)
    if keys is None:
        keys = point_keys(scenario, pts, solver, stopped)
    rows: dict[int, dict[str, Any]] = {}
    todo = []
    for i, key in enumerate(keys):
        hit = _load(cache / f"{key}.json") if key else None
        if hit is not None:
            rows[i] = {**pts[i], **_result_only(hit, pts[i]), "cached": True}
        else:
            todo.append(i)
    n_cached = len(rows)
    show(len(rows), len(pts), n_cached)

    def done(i: int, row: dict[str, Any]) -> None:
        result = _result_only(row, pts[i])
        key = keys[i]
        if key and cacheable(result):
            _save(cache, key, result)
        rows[i] = {**pts[i], **result, "cached": False}
        show(len(rows), len(pts), n_cached)

    def halt() -> None:
        raise Stopped(len(rows) - n_cached, len(pts), n_cached)

    if engine == "ray":
        _run_ray(scenario, pts, todo, solver, workers, address, done, stopped, halt, swept)
    elif todo:
        _run_local(scenario, pts, todo, solver, max(1, workers), done, stopped, halt, swept)
    return [{"point": i, **rows[i]} for i in range(len(pts))]


# ------------------------------------------------------------------ local pool


def _watch_parent(parent: int, first_ppid: int) -> None:
    import time

    while True:
        time.sleep(0.5)
        if os.getppid() != first_ppid or not _alive(parent):
            os._exit(1)


def _worker_init(parent: int) -> None:
    """In each worker: die with the parent; leave SIGINT (a terminal's Ctrl-C) to the parent, which stops us."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if not _alive(parent):
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent, os.getppid()), daemon=True).start()


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Kill every worker now (mid-solve), then let the executor wind down without waiting for them."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        with contextlib.suppress(OSError, ValueError):
            p.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            p.join(timeout=5)


def _run_local(scenario: str, pts: list[dict[str, Any]], todo: list[int], solver: dict[str, Any], workers: int,
               done: Callable[[int, dict[str, Any]], None], stopped: StopFn, halt: Callable[[], None],
               swept: tuple[str, ...] = ()) -> None:
    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), initializer=_worker_init,
                               initargs=(os.getpid(),))
    try:
        futures = {pool.submit(run_point, scenario, pts[i], solver, swept): i for i in todo}
        pending = set(futures)
        while pending:
            if stopped():
                halt()
            finished, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for fut in finished:
                try:
                    row = fut.result()
                except BrokenProcessPool:  # a worker died (killed, out of memory): every unfinished point is lost
                    row = {"status": "crashed", "message": "the worker process planning this point died (killed or "
                           "out of memory); not cached: the next run plans it again"}
                done(futures[fut], row)
        pool.shutdown(wait=True)
    except BaseException:
        _kill_pool(pool)
        raise


# ------------------------------------------------------------------ Ray


@contextlib.contextmanager
def _keep_signal_handlers():  # type: ignore[no-untyped-def]
    """Put the SIGINT/SIGTERM handlers back after the block: `ray.init` installs its own fatal-signal handler in
    the driver, which on SIGTERM prints a stack dump and exits 1 instead of letting the sweep stop (exit 143)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:  # None: installed from C, not Python; leave it
                signal.signal(sig, handler)


def _run_ray(scenario: str, pts: list[dict[str, Any]], todo: list[int], solver: dict[str, Any], workers: int,
             address: str | None, done: Callable[[int, dict[str, Any]], None], stopped: StopFn,
             halt: Callable[[], None], swept: tuple[str, ...] = ()) -> None:
    from planner.errors import EXIT_BAD_INPUT, PlannerError

    try:
        import ray
    except ImportError:
        raise PlannerError("--engine ray needs Ray: pip install 'fleet-planner[ray]'", EXIT_BAD_INPUT) from None
    if not todo:
        return
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = max(1, workers)
        with _keep_signal_handlers():
            ray.init(**kwargs)
        started = True
    pending: list[Any] = []
    try:
        remote = ray.remote(num_cpus=1)(run_point)
        refs = {remote.remote(scenario, pts[i], solver, swept): i for i in todo}
        pending = list(refs)
        while pending:
            if stopped():
                halt()
            ready, pending = ray.wait(pending, num_returns=1, timeout=POLL_S)
            for ref in ready:
                done(refs[ref], ray.get(ref))
    except BaseException:
        for ref in pending:
            with contextlib.suppress(Exception):  # best effort: the shutdown below ends a local Ray anyway
                ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()
