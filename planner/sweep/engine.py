"""Run sweep points: cached by input hash in `DIR/points/`, on a local process pool or as Ray tasks.

A point whose cache file exists is not re-planned, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from planner.sweep.point import point_key, run_point

Progress = Callable[[int, int, int], None]


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


def _save(cache: Path, key: str, row: dict[str, Any]) -> None:
    from planner.results.atomic import write_json_atomic

    write_json_atomic(cache / f"{key}.json", row)


def run_points(
    scenario: str, pts: list[dict[str, Any]], solver: dict[str, Any], out_dir: Path, workers: int = 1,
    engine: str = "local", address: str | None = None, progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Rows in the order of `pts` (each with `point` index and `cached` flag)."""
    show = progress or (lambda *_: None)
    cache = out_dir / "points"
    cache.mkdir(parents=True, exist_ok=True)
    keys = [point_key(scenario, p, solver) for p in pts]
    rows: dict[int, dict[str, Any]] = {}
    todo = []
    for i, key in enumerate(keys):
        f = cache / f"{key}.json"
        if f.is_file():
            try:
                rows[i] = json.loads(f.read_text()) | {"cached": True}
                continue
            except (OSError, ValueError):
                f.unlink(missing_ok=True)
        todo.append(i)
    n_cached = len(rows)
    show(len(rows), len(pts), n_cached)

    def done(i: int, row: dict[str, Any]) -> None:
        _save(cache, keys[i], row)
        rows[i] = row | {"cached": False}
        show(len(rows), len(pts), n_cached)

    if engine == "ray":
        _run_ray(scenario, pts, todo, solver, workers, address, done)
    elif workers <= 1:
        for i in todo:
            done(i, run_point(scenario, pts[i], solver))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(run_point, scenario, pts[i], solver): i for i in todo}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    done(futures[fut], fut.result())
    return [{"point": i, **rows[i]} for i in range(len(pts))]


def _run_ray(scenario: str, pts: list[dict[str, Any]], todo: list[int], solver: dict[str, Any], workers: int,
             address: str | None, done: Callable[[int, dict[str, Any]], None]) -> None:
    from planner.errors import EXIT_BAD_INPUT, PlannerError

    try:
        import ray
    except ImportError:
        raise PlannerError("--engine ray needs Ray: pip install 'fleet-planner[ray]'", EXIT_BAD_INPUT) from None
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = max(1, workers)
        ray.init(**kwargs)
        started = True
    try:
        remote = ray.remote(num_cpus=1)(run_point)
        refs = {remote.remote(scenario, pts[i], solver): i for i in todo}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                done(refs[ref], ray.get(ref))
    finally:
        if started:
            ray.shutdown()
