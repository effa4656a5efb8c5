"""`benchmarks/perf_accuracy.py` prints the LOSO residuals by bands of the question's features: the band bounds are
inclusive upper bounds, offline rows (no concurrency) are their own band, and bands sort from the smallest."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("perf_accuracy", ROOT / "benchmarks" / "perf_accuracy.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_bands_are_inclusive_upper_bounds_and_sort_offline_first() -> None:
    m = _module()
    bounds = (4.0, 16.0, 64.0, 256.0)
    got = {x: m._band(x, bounds, "offline") for x in (None, 1.0, 4.0, 5.0, 16.0, 17.0, 256.0, 257.0)}
    assert got == {None: "offline", 1.0: "<= 4", 4.0: "<= 4", 5.0: "4-16", 16.0: "4-16", 17.0: "16-64",
                   256.0: "64-256", 257.0: "> 256"}
    labels = ["> 256", "16-64", "<= 4", "offline", "64-256", "4-16"]
    assert sorted(labels, key=m._band_order) == ["offline", "<= 4", "4-16", "16-64", "64-256", "> 256"]
