"""Fuzzing `planner validate` with mutations of the bundled example's files (hypothesis, derandomized).

Every mutation must end in exit 0 (still valid) or exit 2 with a located report: a count line, then one
`  - (file[, locator]) | message` line per problem. Never a traceback, never "internal error", never a hang.

Mutations (max_examples, so 1,000+ in total; `test_mutation_count` checks the sum):
  scenario YAML   structured 300 + raw bytes 120      sites YAML   structured 250 + raw bytes 80
  workloads CSV   structured 300 + raw bytes 100      models YAML  structured 40
  chips YAML      structured 25                       several files at once 60
  = 1,275 runs of `planner validate`.
Structured mutations parse the file, change 1-3 places (wrong types, missing and unknown fields, negative,
zero, NaN, inf, huge numbers, very long and unicode strings, duplicated list items = duplicate ids, renamed
ids = dangling references, paths to folders/devices/nowhere) and write it back; raw mutations work on the
bytes (empty, truncated, binary junk, non-UTF-8, UTF-16, BOM, CRLF, tabs, anchors/aliases, deep nesting,
very long lines). Slow or memory-hungry cases (billion laughs, 10 MB files) run in a capped subprocess in
`test_robust_limits.py`.

Speed: the chip and model catalogs are parsed once per distinct content (the session-wide
`catalog_parse_memo` of tests/conftest.py), which is what
makes ~1,300 in-process runs fit in about a minute; mutated catalogs still go through the real parser.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import INPUTS

EXAMPLE = INPUTS / "scenarios" / "example.yaml"
RUNS: Counter[str] = Counter()
EXITS: Counter[tuple[str, int]] = Counter()  # (test, exit code): shows how many mutations stayed valid
PROBLEM_LINE = re.compile(r"^  - \(.+?\) \| .+$")

# Text of the example's files, re-pointed at a flat folder: scenario.yaml, workloads.csv, sites.yaml, ../catalog/.
SCENARIO_TEXT = (
    EXAMPLE.read_text(encoding="utf-8")
    .replace("example/workloads.csv", "workloads.csv")
    .replace("example/sites.yaml", "sites.yaml")
)
SCENARIO = yaml.safe_load(SCENARIO_TEXT)
SITES_TEXT = (EXAMPLE.parent / "example" / "sites.yaml").read_text(encoding="utf-8")
SITES = yaml.safe_load(SITES_TEXT)
CSV_TEXT = (EXAMPLE.parent / "example" / "workloads.csv").read_text(encoding="utf-8")
CSV_ROWS = list(csv.reader(io.StringIO(CSV_TEXT)))
MODELS = yaml.safe_load((INPUTS / "catalog" / "models.yaml").read_text(encoding="utf-8"))
CHIPS = yaml.safe_load((INPUTS / "catalog" / "chips.yaml").read_text(encoding="utf-8"))

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# ---------------------------------------------------------------- values a hand-edited file may hold

EVIL_STRINGS = [
    "", " ", "nan", "NaN", "inf", "-inf", "1e999", "-0", "0", "-1", "1e10", "1e308", "0x10", "1_000", "1,000",
    "１２", "٣", "2027Q5", "2027q1", "2026Q4", "2029Q1", "0000Q1", "9999Q4", "٢٠٢٧Q1", "2027-Q1", "Q1 2027",
    "../../etc/passwd", "/etc/passwd", "/dev/zero", "/dev/null", ".", "..", "/", "~", "C:\\x.csv", "x" * 5000,
    "é" * 300, "🚀", "\u202eevil", "=1+1", "@SUM(A1)", "+cmd", "-2+3", "\x1b[31mred", "line\nbreak", "tab\there",
    "\x00nul", "9" * 5000, "2027-02-30", "h100_sxm", "H100_SXM", "ashburn", "quincy", "llama-3.1-70b", "fp8", "fp8;fp2", "bf16;bf16",
    ";", "air", "liquid", "true", "null", "~", "yes", "no", "{a: 1}", "[1, 2]", "&a", "*a", "!!binary x",
]
EVIL_VALUES = [
    None, True, False, 0, -1, 1, 2, 40, 41, -0.0, 0.5, 1e-300, 1e308, -1e308, 10**30, 2**63, -(2**63), 10**400,
    float("nan"), float("inf"), float("-inf"), [], {}, [1, 2], {"a": 1}, [None], [[[]]], b"\x00\xff",
]


def evil() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(EVIL_VALUES).map(copy.deepcopy),  # a fresh copy: mutations must not edit the constants
        st.sampled_from(EVIL_STRINGS),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.text(max_size=40),
        st.lists(st.sampled_from(EVIL_STRINGS), max_size=4),
        st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    )


def evil_cell() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(EVIL_STRINGS), st.text(max_size=40),
                     st.floats().map(repr), st.integers(min_value=-(10**30), max_value=10**30).map(str))


# ---------------------------------------------------------------- structured mutations


def _places(data: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) in nested dicts and lists, depth first."""
    stack = [data]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            yield node, key
            if isinstance(value, dict | list):
                stack.append(value)


@st.composite
def mutated_tree(draw: st.DrawFn, base: Any, max_edits: int = 3) -> Any:
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, max_edits))):
        places = list(_places(data))
        if not places:
            return draw(evil())
        parent, key = draw(st.sampled_from(places))
        op = draw(st.sampled_from(["set", "set", "set", "delete", "unknown_key", "duplicate", "rename", "wrap", "rename_id"]))
        value = parent[key]
        if op == "set":
            parent[key] = draw(evil())
        elif op == "delete":
            del parent[key]
        elif op == "unknown_key" and isinstance(value, dict):
            value[draw(st.sampled_from(["extra", "Name", "power_kW", "", "🚀", "x" * 300]))] = draw(evil())
        elif op == "duplicate" and isinstance(value, list) and value:
            value.append(copy.deepcopy(draw(st.sampled_from(value))))  # duplicate ids
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from([f"{key}_", str(key).upper(), f" {key}", f"{key}s"]))] = parent.pop(key)
        elif op == "wrap":
            parent[key] = draw(st.sampled_from([[value], {"value": value}, repr(value)[:1000]]))
        elif op == "rename_id" and isinstance(value, str):
            parent[key] = value + draw(st.sampled_from(["x", "_old", "-2", "é", " "]))  # dangling reference
    return data


def dump_yaml(data: Any, unicode: bool) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=unicode).encode("utf-8")


@st.composite
def yaml_file(draw: st.DrawFn, base: Any) -> bytes:
    return dump_yaml(draw(mutated_tree(base)), draw(st.booleans()))


@st.composite
def csv_file(draw: st.DrawFn) -> bytes:
    rows = [list(r) for r in CSV_ROWS]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["cell", "cell", "cell", "drop_col", "drop_header_cell", "add_col", "extra_cell",
                                   "short_row", "drop_row", "dup_row", "swap_rows", "reverse", "repeat_rows",
                                   "rename_id", "swap_cols"]))
        r = draw(st.integers(0, len(rows) - 1))
        width = max(len(row) for row in rows) if rows else 1
        c = draw(st.integers(0, max(width - 1, 0)))
        if not rows:
            rows = [[draw(evil_cell())]]
        elif op == "cell" and c < len(rows[r]):
            rows[r][c] = draw(evil_cell())
        elif op == "drop_col":
            rows = [row[:c] + row[c + 1:] for row in rows]
        elif op == "drop_header_cell" and rows[0]:
            rows[0] = rows[0][:c] + rows[0][c + 1:]
        elif op == "add_col":
            name = draw(st.sampled_from(["region", "", "workload_id", "ttft_ms", "notes", "🚀"]))
            rows = [rows[0] + [name]] + [row + [draw(evil_cell())] for row in rows[1:]]
        elif op == "extra_cell":
            rows[r].append(draw(evil_cell()))
        elif op == "short_row":
            rows[r] = rows[r][:c]
        elif op == "drop_row":
            del rows[r]
        elif op == "dup_row":
            rows.insert(r, list(rows[r]))  # duplicate (workload, quarter)
        elif op == "swap_rows":
            s = draw(st.integers(0, len(rows) - 1))
            rows[r], rows[s] = rows[s], rows[r]  # quarters out of order (or the header moved)
        elif op == "reverse":
            rows = rows[:1] + rows[1:][::-1]
        elif op == "repeat_rows":
            rows = rows + rows[1:] * draw(st.integers(2, 60))
        elif op == "rename_id" and len(rows[r]) > 1:
            rows[r][draw(st.integers(0, 1))] += draw(st.sampled_from(["x", "é", " ", "-v2"]))
        elif op == "swap_cols" and c + 1 < len(rows[0]):
            rows = [row[:c] + row[c + 1:c + 2] + row[c:c + 1] + row[c + 2:] for row in rows]
    out = io.StringIO()
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows(rows)
    return out.getvalue().encode("utf-8")


# ---------------------------------------------------------------- raw byte mutations


@st.composite
def raw_bytes(draw: st.DrawFn, original: str, yaml_file: bool) -> bytes:
    data = original.encode("utf-8")
    ops = ["empty", "blank", "truncate", "junk", "flip", "latin1", "utf16", "bom", "crlf", "double", "long_line", "nul"]
    if yaml_file:
        ops += ["tab", "deep", "anchors", "tag", "unclosed", "dup_key", "merge", "bad_scalar"]
    op = draw(st.sampled_from(ops))
    pos = draw(st.integers(0, len(data)))
    if op == "empty":
        return b""
    if op == "blank":
        return draw(st.sampled_from([b" ", b"\n\n", b"\t\n", b"\r\n", b"# only a comment\n", b"---\n", b"...\n"]))
    if op == "truncate":
        return data[:pos]
    if op == "junk":
        return data[:pos] + draw(st.binary(min_size=1, max_size=64)) + data[pos:]
    if op == "flip":
        buf = bytearray(data)
        for i in draw(st.lists(st.integers(0, max(len(buf) - 1, 0)), min_size=1, max_size=8)):
            if buf:
                buf[i] = draw(st.integers(0, 255))
        return bytes(buf)
    if op == "latin1":
        return original.replace("a", "\xe9", 3).encode("latin-1", errors="replace")
    if op == "utf16":
        return original.encode(draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32"])))
    if op == "bom":
        return b"\xef\xbb\xbf" + data
    if op == "crlf":
        return data.replace(b"\n", b"\r\n") if draw(st.booleans()) else data.replace(b"\n", b"\r")
    if op == "double":
        return data * draw(st.integers(2, 40))
    if op == "long_line":
        return data[:pos] + b"x" * draw(st.integers(10_000, 300_000)) + data[pos:]
    if op == "nul":
        return data[:pos] + b"\x00" + data[pos:]
    text = original
    lines = text.splitlines(keepends=True)
    line = draw(st.integers(0, max(len(lines) - 1, 0)))
    if op == "tab":
        lines[line] = lines[line].replace("  ", "\t", 1)
    elif op == "deep":
        n = draw(st.integers(30, 5000))
        lines.append("nested: " + "[" * n + "]" * n + "\n" if draw(st.booleans()) else "nested: " + "{a: " * n + "1" + "}" * n + "\n")
    elif op == "anchors":
        k = draw(st.integers(2, 12))
        lines.append("lol0: &l0 [x, x, x, x, x, x, x, x, x]\n")
        lines += [f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, k)]
    elif op == "tag":
        lines[line] = lines[line].replace(": ", ": !!python/object/apply:os.system ", 1)
    elif op == "unclosed":
        lines[line] = lines[line].replace(": ", ': "', 1)
    elif op == "dup_key" and lines:
        lines.insert(line, lines[line])
    elif op == "bad_scalar":  # values PyYAML itself cannot build, or builds into something odd
        scalar = draw(st.sampled_from(["9" * 5000, "0x" + "f" * 5000, "2027-02-30", "2027-13-01", "1e99999", "-.inf",
                                       "0o777", "1:20:30", "!!float x", "!!int 1.5", "!!timestamp 2027Q1", "!!set {a}",
                                       "!!omap [a: 1]", "!!str", "&x 1", "*undefined"]))
        lines[line] = re.sub(r":( .*)?$", ": " + scalar, lines[line].rstrip("\n"), count=1) + "\n"
    elif op == "merge":
        lines += ["base: &b {x: 1}\n", "other:\n", "  <<: *b\n", "  y: 2\n"]
    return "".join(lines).encode("utf-8")


# ---------------------------------------------------------------- running `planner validate` in-process


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(INPUTS / "catalog", root / "catalog")
    return root


def check_validate(case_dir: Path, counter: str) -> tuple[int, str]:
    """Run `planner validate` on case_dir/scenario.yaml; assert the contract; return (exit code, stderr)."""
    from planner.cli import main

    RUNS[counter] += 1
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(case_dir / "scenario.yaml")])
    text = err.getvalue()
    EXITS[(counter, code)] += 1
    assert code in (0, 2), f"exit {code}\n{text[-3000:]}"
    assert "Traceback" not in text and "internal error" not in text, text[-3000:]
    if code == 2:
        lines = text.rstrip("\n").split("\n")
        assert re.match(r"^\d+ problems? in the input( \(the first \d+ of each file shown\))?:$", lines[0]), text[:500]
        bad = [line for line in lines[1:] if not PROBLEM_LINE.match(line)]
        assert not bad, f"lines that are not `  - (file, locator) | message`: {[b[:200] for b in bad[:3]]}"
    else:
        assert "valid." in out.getvalue()
    return code, text


def write_case(workspace: Path, files: dict[str, bytes]) -> Path:
    """A fresh folder with the example's three files, some replaced; catalogs at ../catalog/ unless replaced."""
    case = Path(tempfile.mkdtemp(dir=workspace, prefix="case-"))
    default = {"scenario.yaml": SCENARIO_TEXT.encode(), "workloads.csv": CSV_TEXT.encode(), "sites.yaml": SITES_TEXT.encode()}
    for name, data in {**default, **files}.items():
        (case / name).write_bytes(data)
    return case


def run_case(workspace: Path, files: dict[str, bytes], counter: str) -> None:
    case = write_case(workspace, files)
    try:
        check_validate(case, counter)
    finally:
        shutil.rmtree(case, ignore_errors=True)


def fuzz(n: int) -> Callable[[Any], Any]:
    return settings(FUZZ, max_examples=n)


# ---------------------------------------------------------------- the fuzz tests


def test_unmutated_example_is_valid(workspace: Path) -> None:
    case = write_case(workspace, {})
    code, err = check_validate(case, "baseline")
    assert code == 0, err


@fuzz(300)
@given(data=yaml_file(SCENARIO))
def test_fuzz_scenario_structured(data: bytes, workspace: Path) -> None:
    run_case(workspace, {"scenario.yaml": data}, "scenario_structured")


@fuzz(120)
@given(data=raw_bytes(SCENARIO_TEXT, yaml_file=True))
def test_fuzz_scenario_raw(data: bytes, workspace: Path) -> None:
    run_case(workspace, {"scenario.yaml": data}, "scenario_raw")


@fuzz(250)
@given(data=yaml_file(SITES))
def test_fuzz_sites_structured(data: bytes, workspace: Path) -> None:
    run_case(workspace, {"sites.yaml": data}, "sites_structured")


@fuzz(80)
@given(data=raw_bytes(SITES_TEXT, yaml_file=True))
def test_fuzz_sites_raw(data: bytes, workspace: Path) -> None:
    run_case(workspace, {"sites.yaml": data}, "sites_raw")


@fuzz(300)
@given(data=csv_file())
def test_fuzz_workloads_structured(data: bytes, workspace: Path) -> None:
    run_case(workspace, {"workloads.csv": data}, "workloads_structured")


@fuzz(100)
@given(data=raw_bytes(CSV_TEXT, yaml_file=False))
def test_fuzz_workloads_raw(data: bytes, workspace: Path) -> None:
    run_case(workspace, {"workloads.csv": data}, "workloads_raw")


def _with_own_catalog(name: str, data: bytes) -> dict[str, bytes]:
    scenario = SCENARIO_TEXT.replace(f"../catalog/{name}", name)
    assert scenario != SCENARIO_TEXT
    return {"scenario.yaml": scenario.encode(), name: data}


@fuzz(40)
@given(data=yaml_file(MODELS))
def test_fuzz_models_catalog(data: bytes, workspace: Path) -> None:
    run_case(workspace, _with_own_catalog("models.yaml", data), "models_structured")


@fuzz(25)
@given(data=yaml_file(CHIPS))
def test_fuzz_chips_catalog(data: bytes, workspace: Path) -> None:
    run_case(workspace, _with_own_catalog("chips.yaml", data), "chips_structured")


@fuzz(60)
@given(scenario=yaml_file(SCENARIO), sites=yaml_file(SITES), workloads=csv_file())
def test_fuzz_several_files(scenario: bytes, sites: bytes, workloads: bytes, workspace: Path) -> None:
    run_case(workspace, {"scenario.yaml": scenario, "sites.yaml": sites, "workloads.csv": workloads}, "several")


def test_mutation_count() -> None:
    """The suite above ran at least 1,000 generated mutations (when run as a whole)."""
    fuzzed = {k: v for k, v in RUNS.items() if k != "baseline"}
    if len(fuzzed) < 9:
        pytest.skip(f"only part of the fuzz suite ran: {dict(fuzzed)}")
    print(f"\nfuzz runs per test: {dict(fuzzed)}, total {sum(fuzzed.values())}; exit codes: {dict(sorted(EXITS.items()))}")
    assert sum(fuzzed.values()) >= 1000, dict(fuzzed)
