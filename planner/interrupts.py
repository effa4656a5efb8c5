"""Whether the user asked the running command to stop (Ctrl-C or SIGTERM), for code past a solver that swallowed it.

HiGHS, told to stop on Ctrl-C, returns from `run()` with the best plan it had, and the solver wrapper reports that as
a `feasible` plan: the interrupt is gone. `planner.cli` notes every SIGINT and SIGTERM here, and `write_run_folder`
calls `stop_if_requested` first, so a stopped run exits 130 with nothing written instead of writing the cut-short
solve as a plan.
"""

from __future__ import annotations

import threading

_REQUESTED = threading.Event()


def note() -> None:
    """A SIGINT or SIGTERM arrived."""
    _REQUESTED.set()


def reset() -> None:
    """A new command starts."""
    _REQUESTED.clear()


def stop_if_requested() -> None:
    """Raise KeyboardInterrupt when a stop was requested since the command started."""
    if _REQUESTED.is_set():
        raise KeyboardInterrupt
