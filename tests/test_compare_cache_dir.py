"""`compare --cache-dir` never writes among a user's files (README "Failure modes"): the plan cache writes one
`<hash>.json` per plan into its folder, so the folder must be new, empty or a plan cache the planner wrote (marker
`.fleet-planner-cache`, or from before the marker nothing but cache entries); anything else exits 2 before planning,
located at `(command line, --cache-dir)`, and the folder is left as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from planner.errors import EXIT_BAD_INPUT, EXIT_OK
from planner.io.plan_cache_dir import MARKER
from tests.test_outcome_codes import _main, _variant

ENTRY = "0123456789abcdef01234567.json"


def _file(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).write_text("the user's\n")


def _folder(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).mkdir()


#: what a user's folder may hold: every kind of entry the cache does not write (a folder named like an entry too)
FOREIGN = {"a file": _file("notes.txt"), "a json file": _file("results.json"), "a hidden folder": _folder(".git"),
           "a folder": _folder("data"), "a folder named like an entry": _folder(ENTRY),
           "an entry beside a user file": lambda d: (_file(ENTRY)(d), _file("notes.txt")(d))}


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("content", FOREIGN.values(), ids=FOREIGN.keys())
def test_a_cache_dir_holding_user_files_is_refused_and_left_alone(content: Callable[[Path], None], tmp_path: Path) -> None:
    scenario = _variant(tmp_path / "s", "rich", capex_budget_usd_total=200_000)
    cache = tmp_path / "mine"
    cache.mkdir()
    content(cache)
    before = _snapshot(cache)
    code, _, err = _main(["compare", str(scenario), "--cache-dir", str(cache), "--quiet", "--out", str(tmp_path / "cmp")])
    assert code == EXIT_BAD_INPUT, err
    assert "(command line, --cache-dir) | " in err and "did not write" in err and MARKER in err, err
    assert _snapshot(cache) == before and not (tmp_path / "cmp").exists()


def test_a_new_cache_is_marked_and_reused_and_a_legacy_one_is_accepted(tmp_path: Path) -> None:
    scenario = _variant(tmp_path / "s", "rich", capex_budget_usd_total=200_000)
    cache = tmp_path / "cache"
    code, _, err = _main(["compare", str(scenario), "--cache-dir", str(cache), "--quiet", "--out", str(tmp_path / "c1")])
    assert code == EXIT_OK, err
    assert (cache / MARKER).is_file() and len(list(cache.glob("*.json"))) == 1
    (cache / MARKER).unlink()  # a cache from before the marker: nothing but entries
    code, _, err = _main(["compare", str(scenario), "--cache-dir", str(cache), "--quiet", "--out", str(tmp_path / "c2")])
    assert code == EXIT_OK, err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _main(["compare", str(scenario), "--cache-dir", str(empty), "--quiet", "--out", str(tmp_path / "c3")])
    assert code == EXIT_OK and (empty / MARKER).is_file(), err
