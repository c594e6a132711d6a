"""Executors benchmark: 8 independent steps on the local executor vs a 2-worker Dask cluster.

    python benchmarks/executor_bench.py [--steps 8] [--workers 2] [--repeats 1]

Each step is ``tests/notebooks/pipeline/parallel_writer.ipynb`` (a polars frame and a
``%%dataops_test`` whose results the kernel writes to the SQLite run store). Three contenders,
each running the same pipeline with ``--workers`` attempts at a time:

1. ``local``: the local executor's process pool;
2. ``dask (own cluster)``: ``--executor dask`` with no address, so the executor starts and stops
   a ``LocalCluster`` of worker processes inside the run (its start-up is in the time);
3. ``dask (running cluster)``: a ``LocalCluster`` started beforehand, reached by its address, as
   with ``--address`` (the cluster's start-up is not in the time).

Prints the median wall time of each and its ratio to ``local``. The machine's load moves the
absolute times: compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE.parent / "tests" / "notebooks" / "pipeline" / "parallel_writer.ipynb"


def make_project(root: Path, steps: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(NOTEBOOK, root / "writer.ipynb")
    body = "".join(
        f"  s{i}: {{notebook: writer.ipynb, parameters: {{n: {i + 1}}}}}\n" for i in range(steps)
    )
    (root / "dataops.yaml").write_text("pipeline: bench\nsteps:\n" + body)
    return root / "dataops.yaml"


def timed_run(path: Path, workers: int, **options) -> float:
    from jupyter_dataops.pipeline.definition.spec import load_pipeline
    from jupyter_dataops.pipeline.execution.runner import run_pipeline

    start = time.perf_counter()
    result = run_pipeline(load_pipeline(path), workers=workers, unpromoted=True, **options)
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise SystemExit(
            f"the benchmark run failed: { {n: o.error for n, o in result.steps.items()} }"
        )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    os.environ.pop("DATAOPS_STORE_URL", None)
    import distributed

    times: dict[str, list[float]] = {
        "local": [],
        "dask (own cluster)": [],
        "dask (running cluster)": [],
    }
    with tempfile.TemporaryDirectory(prefix="dataops-executor-bench-") as tmp:
        path = make_project(Path(tmp), args.steps)
        cluster = distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        try:
            for _ in range(args.repeats):
                times["local"].append(timed_run(path, args.workers))
                times["dask (own cluster)"].append(timed_run(path, args.workers, executor="dask"))
                times["dask (running cluster)"].append(
                    timed_run(
                        path,
                        args.workers,
                        executor="dask",
                        executor_options={"address": cluster.scheduler_address},
                    )
                )
        finally:
            cluster.close()
    base = statistics.median(times["local"])
    print(
        f"{args.steps} independent steps, {args.workers} at a time, {args.repeats} repeat(s), "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'executor':<24} {'median s':>9} {'x local':>8}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<24} {med:>9.1f} {med / base:>8.2f}")


if __name__ == "__main__":
    sys.exit(main())
