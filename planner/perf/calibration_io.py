"""Loading a calibration: the bundled factors, a user's factors JSON, or a user's measured CSV fitted on the spot.

Sits above both `planner.perf.calibration` (data classes, families, lookups, JSON parsing) and
`planner.perf.efficiency_fit` (which predicts with a calibration to fit one), so neither imports the other back.
"""

from __future__ import annotations

import json
from pathlib import Path

from planner.perf.calibration import BUNDLED_FACTORS, Calibration, calibration_from_json, prior_calibration
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
    if target.suffix.lower() == ".csv":
        cal = fit_calibration_file(target)
    else:
        try:
            doc = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{target}: not readable JSON ({exc})") from exc
        cal = calibration_from_json(doc, str(target.name))
    _CACHE[key] = cal
    return cal
