"""YAML reading that refuses hostile files quickly: size, alias and depth limits, clear errors.

PyYAML's safe loader shares aliased nodes, so a "billion laughs" file loads cheaply but explodes when
anything walks the result. We count aliases, nodes and nesting while composing and refuse past the limits.
PyYAML is pure Python (~25 us and ~700 bytes per node), so YAML files get a tighter size limit than CSV:
a few MB of YAML is already seconds and hundreds of MB of memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from planner.errors import Problem
from planner.io.safe_read import read_user_bytes

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_YAML_BYTES = 10 * 1024 * 1024
MAX_ALIASES = 200
MAX_DEPTH = 64
MAX_NODES = 200_000  # the bundled chip catalog has ~3,700
#: separators (`,` and line breaks) beyond which a file cannot hold fewer than MAX_NODES values in any sane layout;
#: counted before parsing, because PyYAML's pure-Python scanner needs tens of seconds to reach the node limit on a
#: file of millions of tiny values. A prose field with more than this many commas is refused too (split the file).
MAX_SEPARATORS = 4 * MAX_NODES


class _LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._nodes = 0
        self._expanded: dict[int, int] = {}  # id(node) -> values it stands for once every alias is expanded

    def _refuse(self, message: str, node: Any = None) -> None:
        """Raise a located error: at `node`, else at the event being composed."""
        mark = node.start_mark if node is not None else self.peek_event().start_mark
        raise yaml.composer.ComposerError(None, None, message, mark)

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        is_alias = self.check_event(yaml.AliasEvent)
        if is_alias:
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                self._refuse(f"more than {MAX_ALIASES} YAML aliases (*refs): refusing a file that may expand exponentially")
        self._nodes += 1
        if self._nodes > MAX_NODES:
            self._refuse(f"more than {MAX_NODES:,} YAML values: refusing a file this large (split it or trim it)")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                self._refuse(f"nesting deeper than {MAX_DEPTH} levels")
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if is_alias:
            if id(node) not in self._expanded:  # `&a [*a]`: the anchor is still being composed
                self._refuse("a YAML alias refers to the node that contains it (recursive aliases are refused)", node)
            return node
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._expanded.get(id(c), 1) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._expanded.get(id(k), 1) + self._expanded.get(id(v), 1) for k, v in node.value)
        else:
            size = 1
        if size > MAX_NODES:  # a "billion laughs": few aliases, each repeating the last
            self._refuse(f"YAML aliases (*refs) expand to more than {MAX_NODES:,} values: refusing the file", node)
        self._expanded[id(node)] = size
        return node

    def construct_object(self, node: Any, deep: bool = False) -> Any:  # type: ignore[override]
        """Values PyYAML cannot build (`2027-02-30`, a 5,000-digit number, `!!timestamp 2027Q1`) are located errors."""
        try:
            return super().construct_object(node, deep)
        except (yaml.YAMLError, RecursionError):
            raise
        except Exception as exc:  # noqa: BLE001 - PyYAML raises ValueError, TypeError, AttributeError (`!!timestamp x`)
            reason = "the number has too many digits" if "integer string conversion" in str(exc) else str(exc)
            text = str(node.value) if isinstance(node, yaml.ScalarNode) else str(node.tag)
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise yaml.constructor.ConstructorError(None, None, f"cannot read the value {shown!r}: {reason}",
                                                    node.start_mark) from None

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:  # type: ignore[override]
        """A key written twice in one mapping is an error: silently keeping the last would give two answers."""
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` merges may be overridden by explicit keys
                key = self.construct_object(key_node)
                try:
                    first = seen.get(key)
                    seen.setdefault(key, key_node.start_mark.line)
                except TypeError:  # unhashable key: the constructor reports it
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"key {key!r} appears twice (also on line {first + 1}); keep one", key_node.start_mark)
        return super().construct_mapping(node, deep)


#: YAML 1.2 floats that YAML 1.1 (PyYAML) reads as strings: `1e15`, `1.0e15`, `2.5E-3` (1.1 wants `1.0e+15`). A user
#: writing a price as `1.0e15` means a number; read as a string it would be refused as "a quoted number".
_LimitedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


#: how a relative path in a file is resolved (said when a file is not found); a `--set inputs.*` path is not
SCENARIO_PATH_HINT = " (relative paths are resolved from the scenario file's folder)"
#: the same for a path given by `--set inputs.*=...`, which is relative to the working directory
SET_PATH_HINT = " (a --set path is relative to the working directory)"


def parse_scalar(text: str) -> Any:
    """A command-line value read as YAML with the same limits and number rules as the input files (`1e15` is a
    number, `true` a boolean, `'3'` a string). Raises ValueError (never a YAML error) for text that is not a valid
    value: a caller turns it into a located problem."""
    try:
        return yaml.load(text, Loader=_LimitedLoader)  # noqa: S506 - a SafeLoader with limits
    except (yaml.YAMLError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{text!r:.80} is not a valid value ({first})") from None


def read_text(path: Path, label: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[str | None, list[Problem]]:
    """Read a UTF-8 text file; problems for missing, directory, unreadable, huge, binary or non-UTF-8 files."""
    raw, problems = read_user_bytes(  # a pipe, socket or device would block or never end
        path, label, "", max_bytes, hint=SCENARIO_PATH_HINT)
    if raw is None:
        return None, problems
    if b"\x00" in raw:
        return None, [Problem(label, "", "file contains NUL bytes: it looks binary, not text. Save it as UTF-8 text.")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [not_utf8_problem(raw, exc, label)]
    return text, []


def not_utf8_problem(raw: bytes, exc: UnicodeDecodeError, label: str) -> Problem:
    """Where a file stops being UTF-8 (line and column, counted like an editor) and what it probably is instead."""
    before = raw[:exc.start]
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", errors="replace")) + 1
    bad = raw[exc.start:exc.end]
    try:
        guess = raw.decode("cp1252")
        shown = guess[len(before.decode("cp1252")):][:1]
        hint = f" (as Latin-1/Windows-1252 it would read {shown!r}: the file looks saved in that encoding)"
    except UnicodeDecodeError:
        hint = ""
    return Problem(label, f"line {line}, column {column}",
                   f"byte 0x{bad.hex().upper()[:8]} is not valid UTF-8{hint}. Save the file as UTF-8 text "
                   "(Excel: \"CSV UTF-8\"; editors: encoding UTF-8).")


def load_yaml(path: Path, label: str) -> tuple[Any, list[Problem]]:
    """Parse a YAML file into plain Python data. Returns (data, problems); data is None on failure."""
    text, problems = read_text(path, label, MAX_YAML_BYTES)
    if text is None:
        return None, problems
    if not text.strip():
        return None, [Problem(label, "", "file is empty.")]
    separators = text.count(",") + text.count("\n")
    if separators > MAX_SEPARATORS:
        return None, [Problem(label, "", f"{separators:,} commas and line breaks: more than {MAX_NODES:,} YAML values "
                              "are refused (split the file or trim it).")]
    try:
        loader = _LimitedLoader(text)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return None, [Problem(label, where, f"not valid YAML: {exc.problem or exc}.")]
    except (yaml.YAMLError, RecursionError) as exc:
        return None, [Problem(label, "", f"not valid YAML: {exc}")]
    if data is None:  # only comments, `---` or `null`: None must never mean "no problems"
        return None, [Problem(label, "", "file holds no data (only comments, `---` or null).")]
    return data, []
