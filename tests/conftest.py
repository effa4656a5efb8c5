"""Shared fixtures: a private copy of the bundled inputs that a test may break; one planned run of the bundled
example for every test that only reads it; the catalogs parsed once per distinct content."""

from __future__ import annotations

import copy
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
INPUTS = REPO / "inputs"
EXAMPLE = INPUTS / "scenarios" / "example.yaml"


@pytest.fixture()
def example_copy(tmp_path: Path) -> Path:
    """A copy of `inputs/` under tmp; returns the path of the copied example scenario."""
    shutil.copytree(INPUTS, tmp_path / "inputs")
    return tmp_path / "inputs" / "scenarios" / "example.yaml"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    from planner.cli import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- catalogs parsed once per content

#: Files this size or smaller are memoised (the bundled chip catalog is ~100 KB); larger ones always go through
#: the real parser, as do paths that are not regular files (folders, devices, missing files).
_MEMO_MAX_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="session", autouse=True)
def catalog_parse_memo() -> Iterator[None]:
    """Parse each distinct chips/models catalog text once per test process.

    The catalogs are ~100 KB of YAML read by a pure-Python loader with limits (planner.io.safe_yaml), about a
    second for chips.yaml, and one `planner plan` reads them several times. Every distinct content (and label, and
    loader limits) still goes through the real parser once, and each caller gets its own deep copy, so a test that
    edits a catalog, or breaks one, sees exactly what the planner would. Only `planner.catalog`'s reads are
    memoised (the scenario, sites and workload files are small and always parsed)."""
    import planner.catalog as catalog
    import planner.io.safe_yaml as safe_yaml

    real = getattr(catalog, "load_yaml", None)
    if real is None:  # the catalog module no longer reads YAML this way: nothing to memoise
        yield
        return
    memo: dict[tuple[Any, ...], tuple[Any, list[Any]]] = {}

    def memoised(path: Path, label: str) -> Any:
        try:
            st = os.stat(path)
            if not os.path.isfile(path) or st.st_size > _MEMO_MAX_BYTES:
                return real(path, label)
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except (OSError, ValueError, TypeError):
            return real(path, label)
        limits = tuple(getattr(safe_yaml, name, None) for name in sorted(vars(safe_yaml)) if name.startswith("MAX_"))
        key = (digest, label, limits)
        if key not in memo:
            memo[key] = real(path, label)
        return copy.deepcopy(memo[key])

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(catalog, "load_yaml", memoised)
        yield


# ---------------------------------------------------------------- one planned run of the bundled example


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every pytest-xdist worker of this session sees (the session's base temp without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`planner plan inputs/scenarios/example.yaml --out DIR` run once per session (in-process); returns DIR.

    Tests must only read it. Under pytest-xdist the first worker that needs it plans it, under a file lock, and
    the others wait for it and read the same folder."""
    from planner.cli import main

    root = _shared_root(tmp_path_factory) / "example-run"
    root.mkdir(parents=True, exist_ok=True)
    out = root / "example"
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (root / "failed").exists():
                pytest.fail(f"planning the bundled example failed earlier in this session: {(root / 'failed').read_text()}")
            if not (root / "done").exists():
                code = main(["plan", str(EXAMPLE), "--out", str(out), "--quiet", "--time-limit", "120"])
                if code != 0:
                    (root / "failed").write_text(f"exit {code}")
                assert code == 0, f"planner plan example.yaml exited {code}"
                (root / "done").write_text("ok")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return out


# ---------------------------------------------------------------- order for pytest-xdist

#: The modules that take longest (pytest --durations), handed out first: with `-n 2 --dist loadfile` (the README's
#: test command) each module runs whole on one worker, in collection order (`--no-loadscope-reorder`), so starting
#: the long ones first lets both workers finish together instead of one running a long module alone at the end.
#: Any other module keeps its place; a name missing here only costs balance, never correctness.
HEAVY_FIRST = (
    "test_robust_fuzz.py", "test_robust_plan.py", "test_exhaustive.py", "test_decompose.py", "test_robust_limits.py",
    "test_robust_outputs.py", "test_plan_example.py", "test_robust_corpus.py", "test_perf_predictor.py",
    "test_bruteforce.py", "test_sweep.py", "test_money_pipeline.py", "test_report_workbook.py",
    "test_finance_example.py", "test_robust_types.py", "test_replan_set.py", "test_robust_interrupt.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(HEAVY_FIRST)))  # stable: order inside a module kept
