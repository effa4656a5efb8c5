"""Command-line flag checks shared by subcommands: finite numbers within named bounds, safe output files.

Every check returns a message naming the flag (or None); callers print it and exit 2 before any work.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from planner.errors import Problem
from planner.schemas.common import file_name_problem, number_shown

# (flag attribute, lowest, highest, unit) - the bounds are physical sanity, not policy.
PERF_BOUNDS: tuple[tuple[str, float, float, str], ...] = (
    ("chips", 1, 1_000_000, "chips"),
    ("prompt_tokens", 1e-9, 10_000_000, "tokens"),
    ("output_tokens", 1e-9, 10_000_000, "tokens"),
    ("tp", 1, 4096, "chips"),
    ("pp", 1, 4096, "stages"),
    ("ep", 1, 4096, "chips"),
    ("dp", 1, 4096, "attention replicas"),
    ("batch", 1, 1_000_000, "requests"),
    ("concurrency", 1e-9, 10_000_000, "requests"),
    ("requests", 0, 100_000, "requests (an offline burst; 0 = the steady state)"),
    ("ttft_ms", 1e-9, 3_600_000, "ms"),
    ("tpot_ms", 1e-9, 3_600_000, "ms"),
    ("percentile", 1e-9, 100 - 1e-9, "percent"),
    ("length_cv", 0, 10, "(coefficient of variation)"),
    ("electricity_usd_per_kwh", 0, 10, "USD/kWh"),
    ("pue", 1, 5, "(facility power / IT power)"),
)


def _flag(attr: str) -> str:
    return "--" + attr.replace("_", "-")


def bounded_flag_problems(args: argparse.Namespace, bounds: tuple[tuple[str, float, float, str], ...]) -> list[str]:
    """Every flag that is not a finite number within its bounds (all of them, not the first)."""
    problems = []
    for attr, lo, hi, unit in bounds:
        value = getattr(args, attr, None)
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{_flag(attr)} must be a finite number, got {value}")
        elif not lo <= value <= hi:
            problems.append(f"{_flag(attr)} must be between {lo:g} and {hi:g} {unit}, got {number_shown(value)}")
    return problems


def _folder_problem(p: Path, flag: str) -> str | None:
    """The folder an output file goes into must exist and be writable."""
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        return f"{flag} {p}: folder {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{flag} {p}: folder {parent} is not writable"
    return None


def new_file_problem(path: Path | str | None, flag: str = "--out") -> str | None:
    """A new output file (`breakeven --out`) must not exist yet in any form (a file, a folder, a link, even one
    pointing nowhere: writing would replace it or write through it) and its folder must exist and be writable."""
    if path is None:
        return None
    p = Path(path)
    if os.path.islink(p):
        return f"{flag} {p} is a symbolic link; give a plain file name that does not exist yet"
    if os.path.lexists(p):
        return f"{flag} {p} already exists; choose a new file name or remove it first"
    return _folder_problem(p, flag)


def png_path_problem(path: Path | None, flag: str = "--plot") -> str | None:
    """A PNG output must be a new or regular `.png` file (not a folder, link or device) in an existing folder."""
    if path is None:
        return None
    p = Path(path)
    if p.suffix.lower() != ".png":
        return f"{flag} {p} must name a .png file (for example {p.with_suffix('.png').name})"
    if os.path.islink(p):
        return f"{flag} {p} is a symbolic link; give a plain file name"
    if p.exists() and not p.is_file():
        return f"{flag} {p} exists and is not a regular file; choose another name"
    return _folder_problem(p, flag)


def out_dir_problem(path: Path | str | None, flag: str = "--out") -> Problem | None:
    """An output folder must be an existing folder or creatable: not a file, a link to a file, a device, or
    inside a file or an unwritable folder. A located problem (`command line`, flag) or None."""
    if path is None:
        return None
    p = Path(path)
    where = ("command line", flag)
    if p.exists() and not p.is_dir():
        from planner.io.safe_read import file_kind

        return Problem(*where, f"{p} is {file_kind(p)}, not a folder; give a folder path (it is created if missing).")
    if p.is_dir():
        return None if os.access(p, os.W_OK | os.X_OK) else Problem(*where, f"folder {p} is not writable; choose another.")
    parent = p.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return Problem(*where, f"{p} cannot be created: {parent} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        return Problem(*where, f"{p} cannot be created: folder {parent} is not writable.")
    return None


def perf_flag_problem(args: argparse.Namespace) -> str | None:
    """All problems of `planner perf` flags in one message, or None."""
    problems = bounded_flag_problems(args, PERF_BOUNDS)
    loaded = [flag for dest, flag in (("concurrency", "--concurrency"), ("ttft_ms", "--ttft-ms"), ("tpot_ms", "--tpot-ms"))
              if getattr(args, dest, None) is not None]
    if getattr(args, "requests", None) is not None and loaded:
        # the burst is an offline question's; a load or a target asks for a load that does not end, and the flag
        # was silently ignored
        problems.append(f"--requests {args.requests} sets the size of an offline burst, but {' and '.join(loaded)} "
                        "asks for a served load that does not end, where it has no effect; drop --requests, or drop "
                        f"{' and '.join(loaded)} for an offline question")
    plot = png_path_problem(getattr(args, "plot", None))
    if plot:
        problems.append(plot)
    return "; ".join(problems) or None


#: parsed arguments (argparse `dest`) that name a file or folder, and the flag a problem names
PATH_ARGUMENTS = {"scenario": "SCENARIO", "scenarios": "SCENARIO", "out": "--out", "cache_dir": "--cache-dir",
                  "purchases": "--purchases", "plan": "--plan", "previous": "--from", "dir": "DIR",
                  "catalog": "--catalog", "measurements": "--measurements", "calibration": "--calibration",
                  "chip_catalog": "--chip-catalog", "model_catalog": "--model-catalog", "plot": "--plot"}


def argument_problems(argv: list[str], args: argparse.Namespace) -> list[Problem]:
    """Command-line arguments no subcommand can mean, found before any work (exit 2), all at once:

    - an empty argument (`--out "$UNSET"`): argparse would take `''` as the current folder or as a value;
    - a file or folder argument with whitespace around it (`--out ' runs'`): a quoting slip that would create or
      read a name the user did not mean, refused as file names in input files are (`schemas.common.FileName`)."""
    problems = []
    # a positional read as '' (or as Path('') == '.', which argv then does not hold): name it as its argument
    empty_positionals = [flag for dest, flag in PATH_ARGUMENTS.items() if not flag.startswith("-") and any(
        str(v) == "" or (isinstance(v, Path) and str(v) == "." and "." not in argv)
        for v in (lambda x: x if isinstance(x, list) else [x])(getattr(args, dest, None)))]
    for i, token in enumerate(argv):
        if token == "" or (token.startswith("--") and token.endswith("=") and "=" not in token[:-1]):
            if token:
                flag = token[:-1]
            elif i and argv[i - 1].startswith("--"):
                flag = argv[i - 1]
            else:
                flag = empty_positionals.pop(0) if empty_positionals else f"argument {i + 1}"
            problems.append(Problem("command line", flag, "is empty (an unset shell variable?); give a value"))
    for dest, flag in PATH_ARGUMENTS.items():
        value = getattr(args, dest, None)
        for v in value if isinstance(value, list) else [value]:
            text = str(v) if isinstance(v, (str, os.PathLike)) else None
            bad = file_name_problem(text) if text and text.strip() else None
            if bad:
                problems.append(Problem("command line", flag, f"{text!r:.200} {bad}"))
    return problems + inputs_inside_out(args) + repeated_values(args)


#: list arguments whose items must differ: (dest, flag, items are paths)
DISTINCT_LISTS = (("scenarios", "SCENARIO", True), ("measurements", "--measurements", True), ("chip", "--chip", False))


def repeated_values(args: argparse.Namespace) -> list[Problem]:
    """An item given twice in a list argument (`compare a.yaml a.yaml`, `breakeven --chip b200 --chip b200`,
    `--measurements m.csv m.csv`, which would count every point twice): refused, naming the repeat."""
    problems = []
    for dest, flag, is_path in DISTINCT_LISTS:
        values = getattr(args, dest, None)
        if not isinstance(values, list):
            continue
        seen: dict[str, str] = {}
        for v in values:
            if not isinstance(v, (str, os.PathLike)):
                continue
            try:
                key = os.path.realpath(v) if is_path else str(v)
            except (OSError, ValueError):
                key = str(v)
            if key in seen:
                same = "" if str(v) == seen[key] else f" (the same file as {seen[key]})"
                problems.append(Problem("command line", flag, f"{v} is given twice{same}; give each once"))
            else:
                seen[key] = str(v)
    return problems


#: arguments that are read, never written (`DIR` of `report` is both; `--cache-dir` is checked by `compare`)
INPUT_ARGUMENTS = ("scenario", "scenarios", "previous", "purchases", "plan", "catalog", "measurements", "calibration",
                   "chip_catalog", "model_catalog")


def inputs_inside_out(args: argparse.Namespace) -> list[Problem]:
    """An input argument that is `--out` or lies inside it (`replan --from runA/plan.json --out runA --force`
    replaced the very run it re-plans from): `--out` is written, and a run folder is replaced whole with --force."""
    out = getattr(args, "out", None)
    if not isinstance(out, (str, os.PathLike)) or not str(out).strip():
        return []
    try:
        out_real = Path(os.path.realpath(out))
    except (OSError, ValueError):
        return []
    problems = []
    for dest in INPUT_ARGUMENTS:
        value = getattr(args, dest, None)
        for v in value if isinstance(value, list) else [value]:
            if not isinstance(v, (str, os.PathLike)) or not str(v).strip():
                continue
            try:
                real = Path(os.path.realpath(v))
            except (OSError, ValueError):
                continue
            if real == out_real or out_real in real.parents:
                problems.append(Problem("command line", PATH_ARGUMENTS[dest], (
                    f"{v} is inside --out {out} ({out_real}), which this command writes (with --force a run folder is replaced "
                    "whole): the input would be overwritten or deleted. Choose another --out, or copy the input out "
                    "of it first")))
    return problems


def _subparser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser | None:
    """The (innermost) subcommand's parser: the first argument naming a subcommand, `catalog show` included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for i, token in enumerate(argv):
                if token in action.choices:
                    sub = action.choices[token]
                    return _subparser(sub, argv[i + 1:]) or sub
    return None


def repeated_flags(parser: argparse.ArgumentParser, argv: list[str]) -> list[Problem]:
    """A flag that takes one value (or one list, `--measurements a b`) given twice: argparse keeps the last
    silently (`--out a --out b` wrote to b; `--measurements a.csv --measurements b.csv` dropped a.csv). Refused,
    naming the flag and both values. Repeatable flags (`--set`, `--param`, `--chip`) and switches are not concerned."""
    sub = _subparser(parser, argv) or parser
    single = {}
    for action in sub._actions:
        if (type(action) is argparse._StoreAction) and action.option_strings:
            for opt in action.option_strings:
                single[opt] = action
    longs = [o for o in sub._option_string_actions if o.startswith("--")]
    seen: dict[argparse.Action, list[str]] = {}
    for i, token in enumerate(argv):
        if token == "--":
            break
        if not token.startswith("-") or token == "-":
            continue
        name, eq, value = token.partition("=")
        action = single.get(name)
        if action is None and name.startswith("--") and sub.allow_abbrev:
            matches = {sub._option_string_actions[o] for o in longs if o.startswith(name)}
            action = next(iter(matches)) if len(matches) == 1 and next(iter(matches)) in single.values() else None
        if action is None:
            continue
        shown = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
        seen.setdefault(action, []).append(shown)
    problems = []
    for action, values in seen.items():
        if len(values) > 1:
            flag = max(action.option_strings, key=len)
            given = ", then ".join(repr(v)[:60] for v in values)
            problems.append(Problem("command line", flag, f"is given {len(values)} times ({given}); only the last "
                                                          "would count. Give it once" + (
                                    ", with all its files after it" if action.nargs in ("+", "*") else "")))
    return problems
