"""`rebuild_run_folder`: rewrite a run folder's reports as one set, swapped in at once.

The folder must hold only the planner's own files (plan.json, plan.xlsx, report.html, csv/*.csv, the
run marker); symlinks anywhere in it (a `csv/` pointing into another folder) are refused with exit 2. The
new set is written into a hidden sibling with a copy of plan.json and moved over the old folder with the
same safe swap as `planner plan --force` (`planner.results.run_folder.install`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from planner.errors import EXIT_BAD_INPUT, PlannerError
from planner.results.run_folder import foreign_entries, has_marker, install, new_temp_folder, write_marker

Writer = Callable[[dict[str, Any], Path], list[Path]]


def rebuild_run_folder(plan: dict[str, Any], folder: Path, write_reports: Writer) -> list[Path]:
    """Write the reports of `plan` for `folder` atomically as a set; returns the paths (inside `folder`)."""
    folder = Path(os.path.abspath(folder))
    if folder.is_symlink():
        raise PlannerError(f"{folder} is a symbolic link; run `planner report` on the real folder.", EXIT_BAD_INPUT)
    foreign = foreign_entries(folder)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise PlannerError(f"{folder} holds entries the planner does not write or symbolic links ({shown}); "
                           "refusing to write reports there. Copy plan.json into a new folder and run "
                           "`planner report` on that folder.", EXIT_BAD_INPUT)
    if not has_marker(folder):  # a folder of only plan.json and our reports is adopted as a run folder
        write_marker(folder)
    tmp = new_temp_folder(folder)
    try:
        shutil.copy2(folder / "plan.json", tmp / "plan.json")
        written = write_reports(plan, tmp)
        write_marker(tmp)
        install(tmp, folder, force=True)
    finally:
        if os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return [folder / p.relative_to(tmp) for p in written]
