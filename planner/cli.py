"""Command line: `planner validate | perf | topology | plan | report | compare | catalog`.

The subcommands mirror the pipeline stages. Every user error ends in a located message and exit code 2,
never a traceback (set PLANNER_DEBUG=1 to see tracebacks of internal errors).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from planner.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    InputError,
    PlannerError,
    Problem,
)


def summarize_inputs(scenario_path: str) -> str:
    """Load and validate a scenario; return the summary `planner validate` prints."""
    from planner.io.loader import load_inputs

    inputs = load_inputs(scenario_path)
    sc = inputs.scenario
    lines = [
        f"Scenario {sc.name!r}: valid.",
        f"  horizon      {inputs.quarters[0]} .. {inputs.quarters[-1]} ({len(inputs.quarters)} quarters)",
        f"  catalog      {len(inputs.chips)} chips, {len(inputs.models)} models"
        + (f" ({len(sc.policy.allowed_chips)} chips allowed for purchase)" if sc.policy.allowed_chips else ""),
        f"  workloads    {len({w.workload_id for w in inputs.workloads})} workloads, {len(inputs.workloads)} rows, "
        f"{len({w.model_id for w in inputs.workloads})} models",
        f"  sites        {len(inputs.sites)}; existing fleet {sum(f.servers for f in inputs.fleet)} servers",
        "  demand (peak output tokens/s, before headroom):",
    ]
    for q in inputs.quarters:
        total = sum(w.peak_output_tokens_per_s for w in inputs.workloads if w.quarter == q)
        lines.append(f"    {q}  {total:>14,.0f}")
    lines.append("  power available per site (IT kW, rack positions):")
    for s in inputs.sites.values():
        racks = sum(r.count for r in s.rack_types)
        rack_kw = sum(r.count * r.power_kw for r in s.rack_types)
        lines.append(
            f"    {s.site_id:<14} cap {s.it_power_cap_kw:>10,.0f} kW  racks {racks:>5}  rack power {rack_kw:>10,.0f} kW  "
            f"PUE {s.pue:.2f}  ${s.electricity_usd_per_kwh:.3f}/kWh"
        )
    p = sc.policy
    if p.capex_budget_usd_total is not None or p.capex_budget_usd_per_quarter is not None:
        lines.append(
            "  capex budget "
            + (f"total ${p.capex_budget_usd_total:,.0f}" if p.capex_budget_usd_total is not None else "")
            + (f"  per quarter ${p.capex_budget_usd_per_quarter:,.0f}" if p.capex_budget_usd_per_quarter is not None else "")
        )
    return "\n".join(lines)


def run_validate(args: argparse.Namespace) -> int:
    print(summarize_inputs(args.scenario))
    return 0


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="load and check a scenario and every file it names; print a summary")
    p.add_argument("scenario", help="scenario YAML file")
    p.set_defaults(func=run_validate)


_SUBCOMMAND_MODULES: tuple[tuple[str, str], ...] = (
    ("planner.perf.cli", "add_perf_parser"),
    ("planner.topology.cli", "add_topology_parser"),
    ("planner.pipeline_cli", "add_plan_parser"),
    ("planner.report.cli", "add_report_parser"),
    ("planner.pipeline_cli", "add_compare_parser"),
    ("planner.sweep.cli", "add_sweep_parser"),
    ("planner.sweep.cli", "add_breakeven_parser"),
    ("planner.replan.cli", "add_replan_parser"),
    ("planner.catalog_cli", "add_catalog_parser"),
)


def _subcommand_adders() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Subcommands live in their own modules; each registers its parser."""
    import importlib

    adders = []
    for module_name, attr in _SUBCOMMAND_MODULES:
        module = importlib.import_module(module_name)
        adders.append(getattr(module, attr))
    return adders


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fleet-planner")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def _terminate_as_interrupt() -> object:
    """SIGTERM behaves like Ctrl-C: every `finally` runs, so no hidden temp folder is left behind. Both are noted in
    `planner.interrupts`, so a solver that swallows the interrupt cannot have its cut-short plan written."""
    import signal
    import threading

    from planner import interrupts

    interrupts.reset()

    def on_sigint(signum: int, frame: object) -> None:
        interrupts.note()
        raise KeyboardInterrupt

    def handler(signum: int, frame: object) -> None:
        interrupts.note()
        # A solve that stops HiGHS on Ctrl-C installs its own SIGINT handler (it sets a flag the solver's callback
        # polls, then raises KeyboardInterrupt once HiGHS has returned). SIGTERM must take the same path: raised
        # here, in the middle of HiGHS's callback, the interrupt was lost and the cut-short solve written as a plan.
        current = signal.getsignal(signal.SIGINT)
        if callable(current) and current is not signal.default_int_handler:
            current(signal.SIGINT, frame)  # type: ignore[arg-type]
            return
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when SIGINT is ignored (nohup, `&`)
        signal.signal(signal.SIGINT, on_sigint)
    return signal.signal(signal.SIGTERM, handler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="planner",
        description="Capacity planner for AI inference fleets: validate inputs, model performance and topology, "
        "plan purchases and placement with a MILP, and report.",
    )
    parser.add_argument("--version", action="version", version=f"planner {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_validate(sub)
    for add in _subcommand_adders():
        add(sub)
    return parser


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """The parser, built once per process (parsing does not change it; building it took a sixth of an in-process
    `planner validate`, which the test suite runs thousands of times)."""
    return build_parser()


def _printable(text: str) -> str:
    """Control and invisible characters from the input (newlines, ESC, RTL overrides) shown escaped."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


MAX_PROBLEMS_PER_FILE = 100


def _one_line_each(exc: InputError) -> str:
    """The problem report: one line per problem whatever characters the input smuggled into it, and at most
    MAX_PROBLEMS_PER_FILE per file (a 200,000-row forecast with one bad column would print 200,000 lines)."""
    shown: list[Problem] = []
    per_file: dict[str, int] = {}
    for p in exc.problems:
        per_file[p.file] = per_file.get(p.file, 0) + 1
        if per_file[p.file] <= MAX_PROBLEMS_PER_FILE:
            shown.append(Problem(_printable(p.file), _printable(p.locator), _printable(p.message)))
    report = InputError(shown).report()
    if len(shown) < len(exc.problems):
        n = len(exc.problems)
        head = f"{n} problems in the input (the first {MAX_PROBLEMS_PER_FILE} of each file shown):"
        report = "\n".join([head, *report.split("\n")[1:]])
    return report


def environment_message(exc: OSError) -> str:
    """An OSError as the user's to fix: which path, what the system said, what to check."""
    paths = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f)
    return (f"error: cannot read or write {paths or 'a file'}: {exc.strerror or exc}. Check that the path exists and "
            "is the right kind (a folder for --out and --cache-dir, a file for inputs), its permissions and the free "
            "disk space.")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the exit code (README "Failure modes")."""
    import signal

    previous = _terminate_as_interrupt()
    try:
        return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]
            if getattr(signal.getsignal(signal.SIGINT), "__qualname__", "").startswith("_terminate_as_interrupt"):
                signal.signal(signal.SIGINT, signal.default_int_handler)


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
        from planner.io.cli_flags import argument_problems, repeated_flags

        tokens = list(sys.argv[1:] if argv is None else argv)
        problems = repeated_flags(_parser(), tokens) + argument_problems(tokens, args)
        if problems:
            raise InputError(problems)
        return int(args.func(args) or 0)
    except InputError as exc:
        print(_one_line_each(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except PlannerError as exc:
        from planner import interrupts

        if exc.exit_code != EXIT_BAD_INPUT and interrupts._REQUESTED.is_set():  # a solve stopped by the user "failed"
            print("interrupted: no output was written (partial files are never left behind).", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: no output was written (partial files are never left behind).", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `planner validate x | head`: the reader left; say nothing more
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_INTERRUPTED
    except OSError as exc:  # the environment, not the planner: a path that is a file, a full disk, no permission
        print(environment_message(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except UnicodeDecodeError as exc:  # a user file read without planner.io.safe_yaml.read_text: still the file's fault
        print(f"error: a file is not valid UTF-8 text ({exc.reason} at byte {exc.start}). Save it as UTF-8.", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # argparse usage errors -> exit 2 with its own message
        return int(exc.code) if isinstance(exc.code, int) else EXIT_BAD_INPUT
    except MemoryError:
        print("error: out of memory. Reduce the scenario size (quarters, sites, workloads) or the solver threads.", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a message, not a traceback
        if os.environ.get("PLANNER_DEBUG"):
            traceback.print_exc()
        print(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in the planner, not in your input. Re-run with PLANNER_DEBUG=1 for a traceback and report it.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["build_parser", "main", "summarize_inputs"]
