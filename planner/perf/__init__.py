"""Roofline performance model of LLM inference: memory fit, step times, serving under load, power, calibration,
and the deployment-options table the optimizer consumes.

Pipeline inside the package: precision / model_costs / memory (sizes) -> layout / candidates (parallel layouts)
-> stage / step (roofline of one forward pass) -> queueing / serving (operating point under load) -> power
-> options (table for the optimizer) and evaluate / cli / plot (one configuration for a person).
Calibration: calib_rows (measured rows -> cases) -> predict -> efficiency_fit (factors + report; run by
`python -m planner.perf.fit`) -> calibration_io (load the bundled factors or a user's file, fitting a CSV) over
calibration (data classes and lookup). common: names shared at the bottom of the import graph.
"""

from planner.perf.calibration import Calibration, Efficiency
from planner.perf.calibration_io import load_calibration
from planner.perf.layout import Layout
from planner.perf.options import DeploymentOption, deployment_options, options_table

__all__ = ["Calibration", "DeploymentOption", "Efficiency", "Layout", "deployment_options", "load_calibration",
           "options_table"]
