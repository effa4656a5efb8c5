"""Fit the efficiency factors on measured results, and report the fit honestly.

Command line of `planner.perf.efficiency_fit` (the fit itself, and the report; see its docstring):
`python -m planner.perf.fit` refits on `data/calibration.csv` and rewrites `data/efficiency.json`. The fit lives in
its own module so that loading a calibration (`planner.perf.calibration_io`, imported with the package) does not
import this one before `python -m` runs it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from planner.perf.calibration import BUNDLED_FACTORS, BUNDLED_MEASUREMENTS
from planner.perf.efficiency_fit import fit, fit_calibration_file, fit_report

__all__ = ["fit", "fit_calibration_file", "fit_report", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Refit on a measured table and write the factors JSON."""
    ap = argparse.ArgumentParser(prog="python -m planner.perf.fit", description=__doc__.split("\n")[0])
    ap.add_argument("--table", type=Path, default=BUNDLED_MEASUREMENTS, help="measured results CSV")
    ap.add_argument("--out", type=Path, default=BUNDLED_FACTORS, help="factors JSON to write")
    args = ap.parse_args(argv)
    cal = fit_calibration_file(args.table)
    args.out.write_text(json.dumps(cal.to_json(), indent=1) + "\n", encoding="utf-8")
    s = (cal.report or {}).get("summary", {})
    print(f"wrote {args.out}: {len(cal.factors)} factor pairs, request overhead {cal.request_overhead_ms:.0f} ms, "
          f"layer latency (us) {dict(cal.layer_latency_us)}")
    for k in ("throughput_in_sample", "throughput_leave_one_out", "ttft_in_sample", "ttft_leave_one_out",
              "sram_per_user_in_sample", "sram_per_user_leave_one_out"):
        print(f"  {k:<26} {s.get(k)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
