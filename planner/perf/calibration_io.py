"""Loading a calibration: the bundled factors, a user's factors JSON, or a user's measured CSV fitted on the spot.

Sits above both `planner.perf.calibration` (data classes, families, lookups, JSON parsing) and
`planner.perf.efficiency_fit` (which predicts with a calibration to fit one), so neither imports the other back.
"""

from __future__ import annotations

import json
from pathlib import Path

from planner.perf.calibration import (
    BUNDLED_FACTORS,
    SCHEMA,
    Calibration,
    calibration_from_json,
    prior_calibration,
)
from planner.perf.efficiency_fit import fit_calibration_file

_CACHE: dict[str, Calibration] = {}


def load_calibration(path: Path | None = None) -> Calibration:
    """Load efficiency factors.

    None -> the bundled fitted factors (`data/efficiency.json`; priors if it is missing). A `.json` path -> factors
    in that format. A `.csv` path -> a measured table with the columns of `data/calibration.csv`, fitted here on
    the bundled chip and model catalogs. Raises ValueError with the reason when the file is unusable.
    """
    target = BUNDLED_FACTORS if path is None else Path(path)
    key = f"{target.resolve()}:{target.stat().st_mtime_ns if target.exists() else 0}"
    if key in _CACHE:
        return _CACHE[key]
    if not target.exists():
        if path is None:
            return prior_calibration()
        raise ValueError(f"{target}: calibration file not found")
    if not target.is_file():
        from planner.io.safe_read import file_kind

        raise ValueError(f"{target} is {file_kind(target)}, not a calibration file (a .json of factors or a measured .csv)")
    if target.suffix.lower() == ".csv":
        try:
            cal = fit_calibration_file(target)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{target.name}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
    else:
        try:
            doc = json.loads(target.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"{target.name}: not UTF-8 text (byte {exc.start}); save it as UTF-8 JSON") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{target.name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        except (OSError, RecursionError, ValueError) as exc:
            raise ValueError(f"{target.name}: not readable JSON ({getattr(exc, 'strerror', None) or exc})") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{target.name}: a calibration JSON is an object {{\"schema\": \"{SCHEMA}\", \"factors\": "
                             f"[...], ...}} (as `python -m planner.perf.fit` writes it), got a JSON {_json_kind(doc)}")
        try:
            cal = calibration_from_json(doc, str(target.name))
        except (TypeError, AttributeError) as exc:  # a field of the wrong JSON type (`"families": [1]`)
            raise ValueError(f"{target.name}: a field has the wrong type ({exc}); compare with "
                             "planner/perf/data/efficiency.json") from None
    _CACHE[key] = cal
    return cal


def _json_kind(doc: object) -> str:
    return {list: "list [...]", str: "string", int: "number", float: "number", bool: "true/false"}.get(type(doc), "null")
