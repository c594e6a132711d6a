"""Warm kernels benchmark: the sample factory run by the pipeline vs papermill by hand.

    python benchmarks/warm_kernel_bench.py [--days 5] [--plain] [--frozen] [--json]

Side by side in one run, on copies of the sample factory (4 one-after-another notebooks), each
copy promoted alike and starting from the same (empty) history:
(a) ours: ``dataops backfill --from D1 --to DN --jobs 1`` (every step of every day one at a
    time, in one process: one kernel template for all of them), and ``dataops run --partition``
    once per day (a CLI process each; the first starts the project's shared kernel template,
    the next ones reuse it) vs ``papermill.execute_notebook`` of
    the same notebooks one after another in one Python process. Target: backfill <= 0.5x
    papermill. ``--plain`` adds the backfill with warm kernels off (``DATAOPS_WARM_KERNELS=0``).
(b) CPU seconds per step (every process and kernel, from the OS's accounting of the reaped
    children) over papermill's: the notebooks' own work is the same in both, so the difference
    is the runner's overhead minus the kernel starts saved. Target: <= 0.15 CPU-s.
(d) The first ``%%dataops_test`` cell in a fresh (forked) kernel, from the executed notebooks'
    papermill cell durations (median). Target: <= 0.1 s.
(c) ``dataops demo`` over 60 days is timed separately, as a whole process (benchmarks/README.md).

Timings depend on the machine's load: compare the ratios, and note the load average printed.
``--frozen`` runs every side on a byte-compiled copy of the package taken at start (first on
``PYTHONPATH``), as an installed package is: on a machine where the source is being edited
meanwhile, each edit would otherwise start a new project template (the source's digest names
its socket) and recompile the edited modules in every process.
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


def freeze_package(root: Path) -> None:
    """A byte-compiled copy of the package (and its sample notebooks) under ``root``, first on
    ``PYTHONPATH`` for this process and every command it starts."""
    import compileall

    import jupyter_dataops

    source = Path(jupyter_dataops.__file__).parent
    frozen = root / "frozen"
    shutil.copytree(
        source, frozen / source.name, ignore=shutil.ignore_patterns("__pycache__", "labextension")
    )
    samples = source.parent / "sample_notebooks"
    if samples.is_dir():
        shutil.copytree(samples, frozen / samples.name)
    compileall.compile_dir(frozen / source.name, quiet=1)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(frozen), os.environ.get("PYTHONPATH", "")) if p
    )
    for name in [
        m for m in sys.modules if m == "jupyter_dataops" or m.startswith("jupyter_dataops.")
    ]:
        del sys.modules[name]
    sys.path.insert(0, str(frozen))


def setup(root: Path) -> tuple[Path, list[str]]:
    """A promoted copy of the sample factory in ``root``; returns it and its raw days."""
    from jupyter_dataops import demo

    factory = root / "factory"
    demo.prepare(factory)
    env = dict(os.environ)
    for step, notebook in demo.STEPS:
        done = subprocess.run(
            ["dataops", "promote", notebook, "--step", step],
            cwd=factory,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            sys.exit(f"dataops promote {notebook} failed:\n{done.stdout}{done.stderr}")
    return factory, demo.raw_days(factory)


def timed(commands: list[list[str]], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (every process and kernel) of ``commands`` run one after another."""
    cpu0, start = children_cpu(), time.monotonic()
    for cmd in commands:
        subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.monotonic() - start, children_cpu() - cpu0


def backfill(factory: Path, days: list[str], warm: bool = True) -> tuple[float, float]:
    """One ``dataops backfill`` over the days, one step at a time."""
    env = dict(os.environ, DATAOPS_WARM_KERNELS="1" if warm else "0")
    cmd = ["dataops", "backfill", "--from", days[0], "--to", days[-1], "--jobs", "1"]
    return timed([cmd], factory, env)


def shared_template_cpu(factory: Path) -> float:
    """CPU seconds of the project's shared kernel template and the kernels it forked and
    reaped (it is no child of ours: the OS accounting of our children does not hold it)."""
    import socket

    from jupyter_dataops.pipeline.execution import warm_server

    total = 0.0
    for path in (factory / ".dataops").glob("warm-*.sock"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            pid, _uid = warm_server.peer(sock)
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
        finally:
            sock.close()
    return total


def run_per_day(factory: Path, days: list[str]) -> tuple[float, float]:
    """One ``dataops run --partition DAY`` process per day (the first starts the project's
    kernel template, the next ones fork their kernels from it)."""
    env = dict(os.environ, DATAOPS_WARM_KERNELS="1")
    wall, cpu = timed([["dataops", "run", "--partition", day] for day in days], factory, env)
    return wall, cpu + shared_template_cpu(factory)


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


def first_check_seconds(runs: Path, skip: frozenset[str] = frozenset()) -> list[float]:
    """The papermill duration of the first ``%%dataops_test`` cell of each executed notebook
    under ``runs`` (not in the run folders named in ``skip``: the promotion gates')."""
    found = []
    for path in sorted(runs.rglob("*.ipynb")):
        if path.parent.name in skip:
            continue
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
    parser.add_argument("--plain", action="store_true", help="also the backfill, warm kernels off")
    parser.add_argument("--frozen", action="store_true", help="a compiled copy of the package")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="warm-bench-"))
    try:
        if args.frozen:
            freeze_package(root)
        factory, all_days = setup(root)
        days = all_days[: args.days]
        steps = len(days) * len(NOTEBOOKS)
        copies = {name: root / name for name in ("per_day", "plain")}
        for copy in copies.values():  # not the promotions' kernel template's socket
            shutil.copytree(factory, copy, ignore=shutil.ignore_patterns("warm-*.sock*"))
        gates = frozenset(p.name for p in (factory / ".dataops" / "runs").iterdir())
        load = os.getloadavg()[0]
        pm_wall, pm_cpu = papermill_by_hand(factory, days, root / "papermill")
        bf_wall, bf_cpu = backfill(factory, days)
        day_wall, day_cpu = run_per_day(copies["per_day"], days)
        figures = {
            "frozen_package": args.frozen,
            "load_average_1min_at_start": round(load, 2),
            "steps": steps,
            "papermill_wall_s": round(pm_wall, 2),
            "ours_backfill_wall_s": round(bf_wall, 2),
            "ours_run_per_day_wall_s": round(day_wall, 2),
            "a_ratio_backfill_vs_papermill": round(bf_wall / pm_wall, 2),
            "a_ratio_run_per_day_vs_papermill": round(day_wall / pm_wall, 2),
            "papermill_cpu_per_step_s": round(pm_cpu / steps, 3),
            "ours_backfill_cpu_per_step_s": round(bf_cpu / steps, 3),
            "ours_run_per_day_cpu_per_step_s": round(day_cpu / steps, 3),
            "b_backfill_cpu_over_papermill_per_step_s": round((bf_cpu - pm_cpu) / steps, 3),
            "b_run_per_day_cpu_over_papermill_per_step_s": round((day_cpu - pm_cpu) / steps, 3),
            "d_first_check_backfill_median_s": round(
                median(first_check_seconds(factory / ".dataops" / "runs", gates)), 3
            ),
            "d_first_check_run_per_day_median_s": round(
                median(first_check_seconds(copies["per_day"] / ".dataops" / "runs", gates)), 3
            ),
            "d_first_check_papermill_median_s": round(
                median(first_check_seconds(root / "papermill")), 3
            ),
        }
        if args.plain:
            plain_wall, plain_cpu = backfill(copies["plain"], days, warm=False)
            figures["ours_backfill_plain_wall_s"] = round(plain_wall, 2)
            figures["a_ratio_backfill_plain_vs_papermill"] = round(plain_wall / pm_wall, 2)
            figures["ours_backfill_plain_cpu_per_step_s"] = round(plain_cpu / steps, 3)
        figures["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        print(f"{key:46} {value}")


if __name__ == "__main__":
    main()
