"""Read the scenario's `inputs.measurements` (the user's own benchmark results) into measured points.

Every problem is located as (scenario file, `inputs.measurements[i]`) and says what is wrong and how to fix it;
all of them are reported together with the other input problems. A plain CSV has the columns PLAIN_CSV_COLUMNS and
may add PLAIN_CSV_OPTIONAL: `pp` and `ep` (blank = 1; the point's layout is TP x PP with EP), and `tpot_target_ms`
(with `ttft_target_ms`, `target_percentile`) for a throughput measured under a TPOT target; a benchmark JSON takes
`pp`/`ep` from its entry.

A benchmark JSON's own problems are located in that file by field (`(run.json, mean_tpot_ms) | ... looks like
seconds ...`; `planner.io.vllm_json` lists the checks); two JSON entries of the same run (same model, chip,
precision, layout, engine, request shape and concurrency) are reported, since each run must count once.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from planner.errors import Problem
from planner.io.safe_read import file_problem
from planner.perf.measured import (
    MAX_USER_POINTS,
    PLAIN_CSV_COLUMNS,
    PLAIN_CSV_OPTIONAL,
    BenchmarkJsonError,
    MeasuredPoint,
    read_plain_csv,
    read_vllm_json,
)
from planner.schemas.chips import ChipSpec
from planner.schemas.models import ModelSpec
from planner.schemas.scenario import MeasurementFile


def _unknown(kind: str, name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3)
    return f"unknown {kind} {name!r}" + (f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(known))}")


def model_chip(p: MeasuredPoint) -> str:
    """What a point measured, in words."""
    return (f"{p.model_id} on {p.chip_id} {p.precision} TP{p.tp}" + (f" PP{p.pp}" if p.pp != 1 else "")
            + (f" EP{p.ep}" if p.ep != 1 else "") + f", {p.engine}, {p.prompt_tokens:g}/{p.output_tokens:g} tokens")


def read_measurements(entries: Sequence[MeasurementFile], label: str, models: Mapping[str, ModelSpec] | None,
                      chips: Mapping[str, ChipSpec] | None) -> tuple[list[MeasuredPoint], list[Problem], dict[str, Path]]:
    """(points, problems, {role: path}) for the entries; catalogs (when loaded) check model and chip ids."""
    points: list[MeasuredPoint] = []
    problems: list[Problem] = []
    files: dict[str, Path] = {}
    runs: dict[tuple[object, ...], int] = {}  # (point key, concurrency) of each JSON run -> its entry
    real_paths: dict[str, int] = {}  # each file's real path -> the first entry naming it
    for i, entry in enumerate(entries):
        where = f"inputs.measurements[{i}]"
        path = Path(entry.file)
        is_json = path.suffix.lower() == ".json"
        bad = file_problem(path, label, where, hint=" (paths are relative to the scenario file)")
        if bad is not None:
            problems.append(bad)
            continue
        same = real_paths.setdefault(os.path.realpath(path), i)  # `m.csv` and `./m.csv`, or a link to it
        if same != i and not is_json:  # a JSON entry says its own layout: the same file twice may be two layouts
            problems.append(Problem(label, where, f"names the same file as inputs.measurements[{same}] ({path.name}): "
                                    "its points would count twice in every fit; keep one entry"))
            continue
        missing = [k for k in ("model_id", "chip_id", "precision", "tp") if getattr(entry, k) is None]
        if is_json and missing:
            problems.append(Problem(label, where, f"a benchmark JSON does not say what it ran: add {', '.join(missing)} "
                                    "as {file: x.json, model_id: ..., chip_id: ..., precision: ..., tp: ..., engine: ...}"))
            continue
        if not is_json and (len(missing) < 4 or entry.pp != 1 or entry.ep != 1):
            problems.append(Problem(label, where, "a plain CSV names its runs (and their pp/ep) in its columns; give only its path "
                                    f"(columns: {', '.join(PLAIN_CSV_COLUMNS)}; optional: {', '.join(PLAIN_CSV_OPTIONAL)})"))
            continue
        try:
            if not is_json:
                got = read_plain_csv(path)
            else:
                got = [read_vllm_json(path, str(entry.model_id), str(entry.chip_id), str(entry.precision), int(entry.tp or 1),
                                      entry.engine, entry.pp, entry.ep)]
        except BenchmarkJsonError as exc:  # located in the JSON file, by field
            for key, message in exc.problems:
                problems.append(Problem(path.name, key, f"{message} (the file of {where} in {label})"))
            continue
        except (ValueError, KeyError, OSError, UnicodeDecodeError) as exc:
            hint = "" if is_json else (f" (plain CSV columns: {', '.join(PLAIN_CSV_COLUMNS)}; "
                                       f"optional: {', '.join(PLAIN_CSV_OPTIONAL)})")
            for line in str(exc).splitlines() or [repr(exc)]:
                problems.append(Problem(label, where, f"{line}{hint}"))
            continue
        for p in got:
            if models is not None and p.model_id not in models:
                problems.append(Problem(label, where, f"{path.name}: {_unknown('model', p.model_id, list(models))}"))
            if chips is not None and p.chip_id not in chips:
                problems.append(Problem(label, where, f"{path.name}: {_unknown('chip', p.chip_id, list(chips))}"))
            if p.concurrency is None and is_json:
                problems.append(Problem(label, where, f"{path.name}: max_concurrency is missing or null; run "
                                        "benchmark_serving with --max-concurrency so the point says how loaded the server was"))
        if is_json:
            for p in got:
                run = (p.key, p.concurrency)
                if run in runs:
                    problems.append(Problem(label, where, f"{path.name}: the same run as inputs.measurements[{runs[run]}] "
                                            f"({model_chip(p)}, concurrency {p.concurrency if p.concurrency is not None else 'unlimited'}); "
                                            "each run counts once: remove one of the two entries"))
                    got = []
                else:
                    runs[run] = i
        points += got
        files[f"measurements[{i}]"] = path
    if len(points) > MAX_USER_POINTS:  # all files together: the predictor is fitted on each (about 1 ms a point)
        problems.append(Problem(label, "inputs.measurements", f"{len(points):,} measured points in all; at most "
                                f"{MAX_USER_POINTS:,} (fitting costs about 1 ms per point): keep the runs that matter"))
    return points, problems, files
