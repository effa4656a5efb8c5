"""User-facing problems: every bad input becomes a `Problem` with a locator, collected into one report.

A locator says where the problem is, in the user's words: the file name, then the field path
(`racks[3].power_kw`) or the spreadsheet row (`row 7, peak_output_tokens_per_s`). Problems are gathered
across all files before anything is reported, so a user fixes everything in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Exit codes of the CLI (README "Failure modes").
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_NO_PLAN = 4
EXIT_INTERRUPTED = 130

#: outcome codes of a command that plans several scenarios or points (`compare`, `sweep`), least to most severe: it
#: exits with its worst one. Bad input outranks everything (fix it first), then no plan (the result is unknown),
#: then infeasible (a located shortfall), then 0.
OUTCOME_SEVERITY = (EXIT_OK, EXIT_INFEASIBLE, EXIT_NO_PLAN, EXIT_BAD_INPUT)


def worst_outcome(codes: Iterable[int]) -> int:
    """The most severe of `codes` by OUTCOME_SEVERITY (EXIT_OK for none)."""
    return max(codes, key=OUTCOME_SEVERITY.index, default=EXIT_OK)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (file + locator) and what (message, ideally with the fix)."""

    file: str
    locator: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}, {self.locator}" if self.locator else self.file
        return f"({where}) | {self.message}"


@dataclass
class InputError(Exception):
    """Raised with every problem found, never just the first."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.report())

    def report(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the input:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class PlannerError(Exception):
    """A failure that is not the user's input (solver missing, crashed, no plan): message says what to try."""

    def __init__(self, message: str, exit_code: int = EXIT_INTERNAL) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ProblemCollector:
    """Accumulates problems; `raise_if_any()` raises one `InputError` with all of them."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, file: str, locator: str, message: str) -> None:
        self.problems.append(Problem(file, locator, message))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self) -> None:
        if self.problems:
            # Stable order and no duplicates: the same input always gives the same report.
            seen: dict[Problem, None] = dict.fromkeys(self.problems)
            raise InputError(list(seen))


def format_loc(loc: Sequence[str | int]) -> str:
    """Turn a pydantic location tuple into `racks[3].power_kw`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
