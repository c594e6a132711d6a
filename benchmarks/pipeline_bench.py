"""Pipeline runner benchmark: what `dataops run` costs over papermill, what parallel steps save,
and how fast run history is with 100k runs recorded.

    python benchmarks/pipeline_bench.py [--repeats 5] [--runs 100000] [--json]

1. Per-step overhead: the same trivial notebook run by papermill directly vs by the runner
   (plan, store records, process pool, papermill), in-process and as CLI commands
   (`papermill` vs `dataops run`). Target: <= 0.5 s per step.
2. 8 independent steps on the local executor with 8 workers vs one after another (1 worker).
3. `dataops runs --json` and the store query behind it (`Store.list_runs`) on a store seeded
   with 100k step runs by `benchmarks/store_bench.seed_store`. Target: <= 50 ms.

Prints a table of medians and ratios. Timings depend on the machine's load: compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE.parent / "tests" / "notebooks" / "pipeline" / "trivial.ipynb"
OVERHEAD_TARGET_S = 0.5
QUERY_TARGET_MS = 50.0


def median_s(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in seconds, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_project(root: Path, steps: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(NOTEBOOK, root / "trivial.ipynb")
    body = "".join(
        f"  s{i}:\n    notebook: trivial.ipynb\n    parameters: {{x: {i}}}\n" for i in range(steps)
    )
    (root / "dataops.yaml").write_text("pipeline: bench\nsteps:\n" + body)
    return root / "dataops.yaml"


def bench_overhead(tmp: Path, repeats: int) -> dict[str, float]:
    import papermill as pm

    from jupyter_dataops.pipeline.definition.spec import load_pipeline
    from jupyter_dataops.pipeline.execution.runner import run_pipeline

    path = make_project(tmp / "one", 1)
    pipeline = load_pipeline(path)
    out = tmp / "direct.ipynb"

    def direct() -> None:
        pm.execute_notebook(
            str(path.parent / "trivial.ipynb"),
            str(out),
            parameters={"x": 1},
            cwd=str(path.parent),
            progress_bar=False,
        )

    def runner() -> None:
        result = run_pipeline(pipeline, workers=1)
        assert result.ok, result.steps

    env = {k: v for k, v in os.environ.items() if k != "DATAOPS_STORE_URL"}

    def cli_papermill() -> None:
        subprocess.run(
            [
                "papermill",
                "--no-progress-bar",
                "--cwd",
                str(path.parent),
                "trivial.ipynb",
                str(out),
                "-p",
                "x",
                "1",
            ],
            cwd=path.parent,
            env=env,
            check=True,
            capture_output=True,
        )

    def cli_dataops() -> None:
        subprocess.run(
            ["dataops", "run"], cwd=path.parent, env=env, check=True, capture_output=True
        )

    return {
        "papermill.execute_notebook": median_s(direct, repeats),
        "run_pipeline (1 step)": median_s(runner, repeats),
        "papermill CLI": median_s(cli_papermill, repeats),
        "dataops run CLI (1 step)": median_s(cli_dataops, repeats),
    }


def bench_parallel(tmp: Path, repeats: int, steps: int = 8) -> dict[str, float]:
    from jupyter_dataops.pipeline.definition.spec import load_pipeline
    from jupyter_dataops.pipeline.execution.runner import run_pipeline

    pipeline = load_pipeline(make_project(tmp / "eight", steps))

    def run(workers: int) -> Callable[[], None]:
        def go() -> None:
            result = run_pipeline(pipeline, workers=workers)
            assert result.ok, result.steps

        return go

    return {
        f"{steps} steps, 1 worker (one after another)": median_s(run(1), repeats, warmup=0),
        f"{steps} steps, {steps} workers": median_s(run(steps), repeats, warmup=0),
    }


def bench_history(tmp: Path, runs: int, repeats: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from store_bench import seed_store
    from typer.testing import CliRunner

    from jupyter_dataops.cli import app
    from jupyter_dataops.store import open_store

    project = tmp / "history"
    project.mkdir()
    (project / "dataops.yaml").write_text("pipeline: bench\nsteps: {}\n")
    url = f"sqlite:///{project / '.dataops' / 'dataops.db'}"
    (project / ".dataops").mkdir()
    seeded = seed_store(url, runs=runs)
    store = open_store(url)
    query_ms = 1000 * median_s(lambda: store.list_runs(limit=20), repeats * 4)
    query_step_ms = 1000 * median_s(lambda: store.list_runs(step="step_3", limit=20), repeats * 4)
    interrupted_ms = 1000 * median_s(store.mark_interrupted, repeats * 4)
    store.close()
    open_ms = 1000 * median_s(lambda: open_store(url).close(), repeats * 2)

    cwd = os.getcwd()
    os.chdir(project)
    try:
        cli = CliRunner()
        cli.invoke(app, ["runs"])  # first use: imports

        def in_process() -> None:
            result = cli.invoke(app, ["runs", "--json"])
            assert result.exit_code == 0, result.output
            assert len(json.loads(result.stdout)) == 20

        cli_ms = 1000 * median_s(in_process, repeats * 4)
        env = {k: v for k, v in os.environ.items() if k != "DATAOPS_STORE_URL"}
        proc_ms = 1000 * median_s(
            lambda: subprocess.run(
                ["dataops", "runs", "--json"], env=env, check=True, capture_output=True
            ),
            repeats,
        )
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import jupyter_dataops.cli"], check=True)
        import_ms = 1000 * (time.perf_counter() - started)
        # What every kernel pays on its first %%dataops_test: import the store, open it at head.
        kernel_open = f"from jupyter_dataops.store import open_store; open_store({url!r}).close()"
        kernel_ms = 1000 * median_s(
            lambda: subprocess.run([sys.executable, "-c", kernel_open], check=True), repeats
        )
    finally:
        os.chdir(cwd)
    return {
        "seeded_runs": seeded.get("runs", runs),
        "Store.list_runs(limit=20)": query_ms,
        "Store.list_runs(step=..., limit=20)": query_step_ms,
        "dataops runs --json (in-process)": cli_ms,
        "  of which open_store (migration check)": open_ms,
        "  of which mark_interrupted()": interrupted_ms,
        "dataops runs --json (new process)": proc_ms,
        "python -c 'import jupyter_dataops.cli'": import_ms,
        "new process: import store + open_store": kernel_ms,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["overhead", "parallel", "history"]
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.pop("DATAOPS_STORE_URL", None)

    tmp = Path(tempfile.mkdtemp(prefix="dataops-pipeline-bench-"))
    results: dict[str, Any] = {"cpus": os.cpu_count(), "load": os.getloadavg()[0]}
    try:
        if "overhead" not in args.skip:
            results["overhead_s"] = bench_overhead(tmp, args.repeats)
        if "parallel" not in args.skip:
            results["parallel_s"] = bench_parallel(tmp, max(1, args.repeats // 2))
        if "history" not in args.skip:
            results["history_ms"] = bench_history(tmp, args.runs, args.repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"machine: {results['cpus']} CPUs, load average {results['load']:.1f} at start")
    if "overhead_s" in results:
        o = results["overhead_s"]
        api = o["run_pipeline (1 step)"] - o["papermill.execute_notebook"]
        cli = o["dataops run CLI (1 step)"] - o["papermill CLI"]
        print(f"\n{'per-step overhead (trivial notebook)':44} {'median s':>9}")
        for name, value in o.items():
            print(f"{name:44} {value:9.3f}")
        for label, extra, base in (
            ("in-process", api, o["papermill.execute_notebook"]),
            ("CLI", cli, o["papermill CLI"]),
        ):
            verdict = "met" if extra <= OVERHEAD_TARGET_S else "MISSED"
            print(
                f"  overhead {label:11} {extra:+.3f} s  (x{(base + extra) / base:.2f}); "
                f"target <= {OVERHEAD_TARGET_S} s: {verdict}"
            )
    if "parallel_s" in results:
        p = results["parallel_s"]
        (seq_name, seq), (par_name, par) = p.items()
        print(f"\n{'independent steps, local executor':44} {'median s':>9}")
        print(f"{seq_name:44} {seq:9.2f}")
        print(f"{par_name:44} {par:9.2f}")
        print(f"  speed-up x{seq / par:.2f} on {results['cpus']} CPUs")
    if "history_ms" in results:
        h = dict(results["history_ms"])
        print(
            f"\n{'run history, ' + format(h.pop('seeded_runs'), ',') + ' step runs (SQLite)':44} "
            f"{'median ms':>9}"
        )
        for name, value in h.items():
            print(f"{name:44} {value:9.1f}")
        q = h["Store.list_runs(limit=20)"]
        c = h["dataops runs --json (in-process)"]
        print(
            f"  query target <= {QUERY_TARGET_MS:.0f} ms: {'met' if q <= QUERY_TARGET_MS else 'MISSED'}; "
            f"command (in-process) {'met' if c <= QUERY_TARGET_MS else 'MISSED'}; "
            f"a new process adds Python start-up and imports"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
