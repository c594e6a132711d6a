"""What a read-only ``dataops`` command costs as a whole process, this tree against earlier
commits (issue 26 item 3, issue 21 follow-up).

Each tree (this working tree, and ``git archive`` of each ``--baseline`` commit put first on
``PYTHONPATH``) gets its own copy of the sample factory's project (``dataops.yaml`` and
notebooks) with a store its own code made and seeded with ``--days`` partitions × 4 steps of
recorded runs (no kernels). Then, interleaved (A B A B ...), each command in fresh processes:
CPU seconds of the child (user + sys) and wall, medians over ``--repeat``. Bytecode is written
to a private ``PYTHONPYCACHEPREFIX`` warmed by one run of each first (as an installed package
has its .pyc); warm kernels are off, so ``status`` runs in its own process, as it does when no
kernel template is running.

The floor: a process that only imports what every store-reading command needs (the CLI, the
store with SQLAlchemy and its models, typer's pydantic adapters). Also, the pipeline-file work
of one ``dataops run``: it asked for the pipeline from four places
(lateness, the renamed-pipeline guard twice, the command); each tree's ``Project(...).pipeline``
asked four times in one process, CPU seconds.

    python benchmarks/cli_startup_bench.py [--baseline fe9a78a] [--repeat 7] [--days 60]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (
    ("runs",),
    ("status",),
    ("show", "1"),
    ("history", "ingest", "row_count"),
    ("incidents",),
    ("--help",),
)
SEED = """
import sys
from types import SimpleNamespace
from datetime import date, timedelta
from jupyter_dataops.pipeline.definition.project import Project

project = Project(sys.argv[1])
days = int(sys.argv[2])
pipeline = project.pipeline
store = project.open_store()
store.upsert_pipeline(pipeline.name, project_dir=str(project.root))
first = date.fromisoformat(str(pipeline.partitions.start))
for n in range(days):
    day = (first + timedelta(days=n)).isoformat()
    pr = store.create_pipeline_run(pipeline.name, mode="production", partition=day)
    for step in pipeline.steps:
        sr = store.create_step_run(pr, step)
        store.start_step_run(sr)
        line = SimpleNamespace(line=1, source="row_count > 0", status="pass", observed=100 + n,
                               threshold="> 0", metric="row_count", message="ok")
        store.record_suite(sr, SimpleNamespace(name=step, results=[line],
                                               metrics={"row_count": 100.0 + n}))
        store.finish_step_run(sr, "success")
    store.finish_pipeline_run(pr)
"""
FLOOR = "import jupyter_dataops.cli, jupyter_dataops.store, typer._adapters"
PARSES = """
import sys, time
from jupyter_dataops.pipeline.definition.project import Project
import ruamel.yaml  # imported by the first parse in both trees: not what is compared
start = time.process_time()
for _ in range(4):
    Project(sys.argv[1]).pipeline
print(time.process_time() - start)
"""


def baseline_tree(rev: str, into: Path) -> Path:
    """The package of commit ``rev`` extracted under ``into`` (its folder goes on PYTHONPATH)."""
    data = subprocess.run(
        ["git", "archive", "--format=tar", rev, "jupyter_dataops", "sample_notebooks"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    folder = into / f"tree-{rev}"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def project(folder: Path, env: dict[str, str], days: int) -> Path:
    """The sample factory's pipeline file and notebooks in ``folder``, its store seeded by the
    code that ``env`` imports."""
    samples = ROOT / "sample_notebooks"
    folder.mkdir(parents=True)
    for path in samples.iterdir():
        if path.suffix in (".yaml", ".ipynb"):
            shutil.copy(path, folder / path.name)
    subprocess.run(
        [sys.executable, "-c", SEED, str(folder), str(days)], env=env, check=True, cwd=folder
    )
    return folder


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one run of ``cmd``; a failed command stops the bench."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed in {cwd}:\n{done.stdout}{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="append", help="a commit to compare (repeatable)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--days", type=int, default=60, help="partitions of recorded runs")
    args = parser.parse_args()
    baselines = args.baseline or ["fe9a78a"]
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        base_env.pop("DATAOPS_STORE_URL", None)
        base_env.update(
            PYTHONPYCACHEPREFIX=str(tmp_path / "pycache"), DATAOPS_WARM_KERNELS="0", COLUMNS="120"
        )
        trees: dict[str, tuple[dict[str, str], Path]] = {}
        for name in ["this tree", *baselines]:
            env = dict(base_env)
            if name != "this tree":
                code = baseline_tree(name, tmp_path)
                env["PYTHONPATH"] = os.pathsep.join(
                    p for p in (str(code), base_env.get("PYTHONPATH", "")) if p
                )
            slug = name.replace(" ", "-")
            trees[name] = (env, project(tmp_path / f"project-{slug}", env, args.days))
        time.sleep(2.1)  # the pipeline files are older than the "racy" window of the cache
        py = sys.executable
        for cmd in COMMANDS:  # warm: bytecode written, late partitions recorded once
            for env, folder in trees.values():
                timed([py, "-m", "jupyter_dataops.cli", *cmd], folder, env)
        names = list(trees)
        print(f"{args.days} partitions x 4 steps recorded; medians of {args.repeat} runs")
        print(f"{'command':<28}" + "".join(f"{n:>26}" for n in names) + "   CPU ratio")
        for cmd in COMMANDS:
            got: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
            for _ in range(args.repeat):
                for name, (env, folder) in trees.items():
                    got[name].append(timed([py, "-m", "jupyter_dataops.cli", *cmd], folder, env))
            cpu = {n: statistics.median(c for _, c in got[n]) for n in names}
            wall = {n: statistics.median(w for w, _ in got[n]) for n in names}
            cells = "".join(f"{cpu[n]:8.3f} CPU-s ({wall[n]:5.2f} s) " for n in names)
            ratios = ", ".join(f"{cpu[names[0]] / cpu[n]:.2f}x {n}" for n in names[1:])
            print(f"{'dataops ' + ' '.join(cmd):<28}{cells}  {ratios}")
        floor = [timed([py, "-c", FLOOR], ROOT, trees[names[0]][0])[1] for _ in range(args.repeat)]
        print(
            f"floor, this tree: {statistics.median(floor):.3f} CPU-s for importing the CLI, the "
            "store (SQLAlchemy, its models) and typer's pydantic adapters, doing nothing"
        )
        parses: dict[str, list[float]] = {n: [] for n in names}
        for _ in range(args.repeat):
            for name, (env, folder) in trees.items():
                out = subprocess.run(
                    [py, "-c", PARSES, str(folder)],
                    env=env,
                    cwd=folder,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                parses[name].append(float(out))
        work = {n: statistics.median(parses[n]) for n in names}
        print(
            "pipeline-file work of one `dataops run` (4 askers): "
            + ", ".join(f"{n} {work[n]:.4f} CPU-s" for n in names)
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
