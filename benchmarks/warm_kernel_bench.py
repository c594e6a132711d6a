"""Warm kernels benchmark: the sample factory run by the pipeline vs papermill by hand.

    python benchmarks/warm_kernel_bench.py [--days 5] [--json]

Side by side in one run, on a copy of the sample factory (4 one-after-another notebooks):
(a) ``dataops run -p run_date=<day>`` per day (a CLI process each, warm kernels on, and off)
    vs ``papermill.execute_notebook`` of the 4 notebooks one after another in one Python
    process. Target: ours <= 0.5x papermill.
(b) CPU seconds per step: the runner and its kernels vs papermill's (the notebooks' own work is
    the same in both; the difference is the runner's overhead plus the kernel starts saved).
(d) The first ``%%dataops_test`` cell in a fresh (forked) kernel, from the executed notebooks'
    papermill cell durations. Target: <= 0.1 s.
(c) ``dataops demo`` over 60 days is timed separately with farm-bench (see benchmarks/README.md).

Timings depend on the machine's load: compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

NOTEBOOKS = ("01_ingest.ipynb", "02_clean.ipynb", "03_daily_metrics.ipynb", "04_report.ipynb")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def setup(root: Path) -> tuple[Path, list[str]]:
    """A promoted copy of the sample factory in ``root``; returns it and its raw days."""
    from jupyter_dataops import demo

    factory = root / "factory"
    demo.prepare(factory)
    env = dict(os.environ)
    for step, notebook in demo.STEPS:
        subprocess.run(
            ["dataops", "promote", notebook, "--step", step],
            cwd=factory,
            env=env,
            check=True,
            capture_output=True,
        )
    return factory, demo.raw_days(factory)


def ours(factory: Path, days: list[str], warm: bool) -> tuple[float, float]:
    """Wall and CPU seconds (runner and kernels) of one ``dataops run`` per day."""
    env = dict(os.environ, DATAOPS_WARM_KERNELS="1" if warm else "0")
    cpu0, start = children_cpu(), time.monotonic()
    for day in days:
        subprocess.run(
            ["dataops", "run", "-p", f"run_date={day}"],
            cwd=factory,
            env=env,
            check=True,
            capture_output=True,
        )
    return time.monotonic() - start, children_cpu() - cpu0


PAPERMILL = """
import sys, papermill as pm
days, notebooks, out = sys.argv[1].split(","), sys.argv[2].split(","), sys.argv[3]
for day in days:
    for nb in notebooks:
        pm.execute_notebook(nb, f"{out}/{day}-{nb}", parameters={"run_date": day},
                            progress_bar=False, kernel_name="python3")
"""


def papermill_by_hand(factory: Path, days: list[str], out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of papermill running the notebooks one after another, one process."""
    out.mkdir(parents=True, exist_ok=True)
    cpu0, start = children_cpu(), time.monotonic()
    subprocess.run(
        [sys.executable, "-c", PAPERMILL, ",".join(days), ",".join(NOTEBOOKS), str(out)],
        cwd=factory,
        check=True,
        capture_output=True,
    )
    return time.monotonic() - start, children_cpu() - cpu0


def first_check_seconds(runs: Path) -> list[float]:
    """The papermill duration of the first ``%%dataops_test`` cell of each executed notebook."""
    found = []
    for path in sorted(runs.rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.startswith("%%dataops_test"):
                duration = cell.metadata.get("papermill", {}).get("duration")
                if duration is not None:
                    found.append(float(duration))
                break
    return found


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="warm-bench-"))
    try:
        factory, all_days = setup(root)
        days = all_days[: args.days]
        steps = len(days) * len(NOTEBOOKS)
        pm_wall, pm_cpu = papermill_by_hand(factory, days, root / "papermill")
        # a second copy for the cold run, so both runs find the same history
        cold_factory = root / "cold"
        shutil.copytree(factory, cold_factory)
        warm_wall, warm_cpu = ours(factory, days, warm=True)
        cold_wall, cold_cpu = ours(cold_factory, days, warm=False)
        checks = first_check_seconds(factory / ".dataops")
        cold_checks = first_check_seconds(cold_factory / ".dataops")
        pm_checks = first_check_seconds(root / "papermill")
        figures = {
            "steps": steps,
            "papermill_wall_s": round(pm_wall, 2),
            "ours_warm_wall_s": round(warm_wall, 2),
            "ours_plain_wall_s": round(cold_wall, 2),
            "a_ratio_warm_vs_papermill": round(warm_wall / pm_wall, 2),
            "a_ratio_plain_vs_papermill": round(cold_wall / pm_wall, 2),
            "papermill_cpu_per_step_s": round(pm_cpu / steps, 3),
            "ours_warm_cpu_per_step_s": round(warm_cpu / steps, 3),
            "ours_plain_cpu_per_step_s": round(cold_cpu / steps, 3),
            "b_cpu_over_papermill_per_step_s": round((warm_cpu - pm_cpu) / steps, 3),
            "d_first_check_warm_median_s": round(median(checks), 3),
            "d_first_check_plain_median_s": round(median(cold_checks), 3),
            "d_first_check_papermill_median_s": round(median(pm_checks), 3),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        print(f"{key:40} {value}")


if __name__ == "__main__":
    main()
