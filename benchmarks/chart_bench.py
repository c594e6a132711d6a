"""The chart route's work at a year of history (issue 26 item 1): 10,000 points of one metric.

Seeds a store with `store_bench.seed_store` (default 100k step runs over 10 steps: 10,000 points
of `row_count` per step), then an `spc row_count` line's stored verdict on every run of `step1`
(chart i, rules qcc, baseline 20, as `checks/spc_check.py` records them), and times, side by side
in one run, what `GET /dataops/api/metrics` does to answer, as medians of wall and CPU time (the
machine is shared: CPU time is the steadier figure; on PostgreSQL the tables are analyzed after
seeding, as autovacuum would):

- before: `metric_chart` + the altair picture validated point by point (`MetricChart.
  _picture_spec`, the path before `chart_spec`) + every point's dict, dumped as JSON;
- now, every point: `metric_chart` + `to_dict(points=False)` (the plain-dict spec, its points
  as columns), dumped compact as the route does;
- now, the panel's window (the newest 90 points) and its older page (`before=`);
- now, every point of `step2`'s `row_count`, which no spc line watches (rules judged on the fly).

    python benchmarks/chart_bench.py                  # SQLite in a temp folder
    python benchmarks/chart_bench.py --runs 20000     # 2,000 points per step
    python benchmarks/chart_bench.py --url postgresql+psycopg://...  # in a new schema, dropped after
    python benchmarks/chart_bench.py --server   # also GET the route from a real `jupyter server`

`--server` (SQLite): the same store served by `jupyter server` with no answers kept
(`--DataOpsExtension.answer_cache_mb=0`, so every request reads the store), every point and the
window asked over HTTP: median wall time per answer and the server process's CPU per answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from store_bench import seed_store  # noqa: E402

from jupyter_dataops import spc  # noqa: E402
from jupyter_dataops.pipeline.views.charts import metric_chart  # noqa: E402
from jupyter_dataops.store import open_store  # noqa: E402
from jupyter_dataops.store.models import CheckResultRow, MetricRecord, Step, StepRun  # noqa: E402

TARGET_S = 0.2
TARGET_BYTES = 1_000_000


@contextmanager
def empty_store(url: str | None, folder: Path) -> Iterator[str]:
    """An empty store's URL: a SQLite file in ``folder``, the given URL, or on PostgreSQL a new
    schema of that database (dropped afterwards, so the bench leaves nothing behind)."""
    if url is None:  # where `jupyter server` finds a project's store
        (folder / "project" / ".dataops").mkdir(parents=True)
        yield f"sqlite:///{folder / 'project' / '.dataops' / 'dataops.db'}"
        return
    base = make_url(url)
    if not base.drivername.startswith("postgresql"):
        yield url
        return
    schema = f"chart_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        options = {**base.query, "options": f"-csearch_path={schema}"}
        yield base.set(query=options).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def seed_verdicts(url: str, step: str = "step1", metric: str = "row_count", n: int = 20) -> int:
    """An ``spc METRIC`` line's verdict on every production run of ``step``, as the check stores
    it: limits from the first ``n`` successful runs, the qcc rules broken at each run."""
    with open_store(url) as store, store.engine.begin() as conn:
        rows = conn.execute(
            select(MetricRecord.step_run_id, MetricRecord.value, StepRun.status)
            .join(StepRun, StepRun.id == MetricRecord.step_run_id)
            .join(Step, Step.id == StepRun.step_id)
            .where(Step.name == step, MetricRecord.key == metric)
            .order_by(MetricRecord.step_run_id)
        ).all()
        good = [r for r in rows if r.status == "success"]
        cc = spc.control_chart([r.value for r in good], "i", phase1=n, rules="qcc")
        broken: dict[int, list[str]] = {}
        for rule, idx in cc.violations.items():
            for i in idx:
                broken.setdefault(good[i].step_run_id, []).append(rule)
        limits = {"center": float(cc.center[0]), "lcl": float(cc.lcl[0]), "ucl": float(cc.ucl[0])}
        verdicts = [
            {
                "step_run_id": r.step_run_id,
                "suite": "orders",
                "line": 5,
                "source": f"spc {metric}",
                "status": "warn" if broken.get(r.step_run_id) else "pass",
                "metric": metric,
                "message": "ok",
                "spc": {
                    "chart": "i",
                    "rules": "qcc",
                    "baseline": n,
                    "window": "frozen",
                    "judged": k >= n,
                    "broken": broken.get(r.step_run_id, []),
                    **limits,
                },
            }
            for k, r in enumerate(good)
        ]
        conn.execute(insert(CheckResultRow), verdicts)
    return len(verdicts)


def before_answer(store: Any, step: str, metric: str) -> bytes:
    """The answer as it was built before: altair layers validated point by point, the points'
    dicts beside them, JSON with default separators."""
    chart = metric_chart(store, step, metric)
    answer = chart.to_dict(points=True)
    answer["spec"] = chart._picture_spec()
    return json.dumps(answer, default=str).encode()


def now_answer(store: Any, step: str, metric: str, **window: Any) -> bytes:
    """The answer as the route builds it now."""
    chart = metric_chart(store, step, metric, **window)
    body = json.dumps(chart.to_dict(points=False), default=str, separators=(",", ":"))
    return body.encode()


def timed(fn: Callable[[], bytes], repeats: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds of ``fn`` over ``repeats`` (after one warm-up) and its
    answer's size."""
    size = len(fn())
    walls, cpus = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), size


def served(root: Path, args: argparse.Namespace) -> dict[str, tuple[float, float, int]]:
    """Every point and the window asked of `jupyter server` on the project at ``root``: median
    wall seconds per answer, the server's CPU seconds per answer, the answer's size."""
    from routes_bench import cpu_seconds, free_port, get, start_server

    steps = "".join(f"  step{i}: {{notebook: step{i}.ipynb}}\n" for i in range(args.steps))
    (root / "dataops.yaml").write_text(f"pipeline: bench\nsteps:\n{steps}")
    port, token = free_port(), uuid.uuid4().hex
    server = start_server(root, port, token, "--DataOpsExtension.answer_cache_mb=0")
    out = {}
    try:
        route = "/dataops/api/metrics?step=step1&metric=row_count"
        for name, path in (
            ("server: every point", f"{route}&limit=0"),
            ("server: newest 90", route),
        ):
            status, body = get(port, token, path)  # warm-up: the route's first call imports
            assert status == 200, (path, status, body[:300])
            walls = []
            cpu = cpu_seconds(server.pid)
            for _ in range(args.repeats):
                t = time.perf_counter()
                get(port, token, path)
                walls.append(time.perf_counter() - t)
            cpu = (cpu_seconds(server.pid) - cpu) / args.repeats
            out[name] = (statistics.median(walls), cpu, len(body))
    finally:
        server.terminate()
        server.wait(timeout=60)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before-repeats", type=int, default=1, help="the slow path's repeats")
    parser.add_argument("--url", help="an empty store (default: a temporary SQLite file)")
    parser.add_argument("--server", action="store_true", help="also over HTTP (SQLite only)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.server and args.url:
        parser.error("--server serves the SQLite store it seeds: leave out --url")
    tmp = Path(tempfile.mkdtemp(prefix="dataops-chart-bench-"))
    try:
        with empty_store(args.url, tmp) as url:
            return _run(url, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(url: str, args: argparse.Namespace) -> int:
    """Seed the store at ``url`` and print the figures."""
    seeded = seed_store(url, runs=args.runs, steps=args.steps)
    seeded["verdicts"] = seed_verdicts(url)
    if url.startswith("postgresql"):  # the planner's statistics, as autovacuum keeps them
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        engine.dispose()
    step, metric = "step1", "row_count"
    with open_store(url) as store:
        points = len(store.metric_series(step, metric))
        total = metric_chart(store, step, metric, last=90).window["total"]
        cases = {
            "before: altair, every point": (
                lambda: before_answer(store, step, metric),
                args.before_repeats,
            ),
            "now: every point": (lambda: now_answer(store, step, metric), args.repeats),
            "now: newest 90 (panel)": (
                lambda: now_answer(store, step, metric, last=90),
                args.repeats,
            ),
            "now: an older page of 90": (
                lambda: now_answer(store, step, metric, last=90, before=total // 2),
                args.repeats,
            ),
            "now: every point, unwatched": (
                lambda: now_answer(store, "step2", metric),
                args.repeats,
            ),
        }
        figures = {name: timed(fn, n) for name, (fn, n) in cases.items()}
    if args.server:
        figures.update(served(Path(url.removeprefix("sqlite:///")).parents[1], args))
    load = os.getloadavg()
    if args.json:
        out = {"seed": seeded, "points": points, "load": load, "figures": figures}
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"{seeded['runs']:,} step runs ({url.split(':')[0]}); {points:,} points of "
        f"{metric} in {step}, {seeded['verdicts']:,} stored verdicts; load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    base_s, base_c, base_b = figures["before: altair, every point"]
    print(
        f"{'answer':30} {'wall s':>7} {'CPU s':>7} {'bytes':>11} {'x faster':>9} {'x smaller':>10}"
    )
    for name, (s, c, b) in figures.items():
        print(f"{name:30} {s:7.3f} {c:7.3f} {b:11,} {base_c / c:9.1f} {base_b / b:10.1f}")
    print("(x faster: of CPU time, steadier than wall time on a shared machine; server: its CPU)")
    s, c, b = figures["now: every point"]
    print(
        f"every point: target <= {TARGET_S} s and <= {TARGET_BYTES:,} bytes: wall "
        f"{'met' if s <= TARGET_S else 'MISSED'}, CPU {'met' if c <= TARGET_S else 'MISSED'}"
        f", size {'met' if b <= TARGET_BYTES else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
