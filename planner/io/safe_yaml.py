"""YAML reading that refuses hostile files quickly: size, alias and depth limits, clear errors.

PyYAML's safe loader shares aliased nodes, so a "billion laughs" file loads cheaply but explodes when
anything walks the result. We count aliases and nesting while composing and refuse past the limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from planner.errors import Problem

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ALIASES = 200
MAX_DEPTH = 64


class _LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.YAMLError(
                    f"more than {MAX_ALIASES} YAML aliases (*refs): refusing a file that may expand exponentially"
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_text(path: Path, label: str) -> tuple[str | None, list[Problem]]:
    """Read a UTF-8 text file; problems for missing, directory, unreadable, huge, binary or non-UTF-8 files."""
    if not path.exists():
        return None, [Problem(label, "", f"file not found: {path}. Check the path (relative paths are resolved from the scenario file's folder).")]
    if path.is_dir():
        return None, [Problem(label, "", f"{path} is a directory, expected a file.")]
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [Problem(label, "", f"file is {size / 1e6:.0f} MB; inputs larger than {MAX_FILE_BYTES // 1_000_000} MB are refused.")]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(label, "", f"cannot read {path}: {exc.strerror or exc}. Check permissions.")]
    if b"\x00" in raw:
        return None, [Problem(label, "", "file contains NUL bytes: it looks binary, not text. Save it as UTF-8 text.")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [Problem(label, f"byte {exc.start}", "file is not valid UTF-8. Save it as UTF-8 text.")]
    return text, []


def load_yaml(path: Path, label: str) -> tuple[Any, list[Problem]]:
    """Parse a YAML file into plain Python data. Returns (data, problems); data is None on failure."""
    text, problems = read_text(path, label)
    if text is None:
        return None, problems
    if not text.strip():
        return None, [Problem(label, "", "file is empty.")]
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
    return data, []
