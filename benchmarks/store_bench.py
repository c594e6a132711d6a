"""Run-store query speed with a large history (issue 4 item 9).

Seeds a store with 100k step runs (each with check rows and metric points) by bulk insert, then
times the queries behind `dataops runs`, the sidebar and SPC, as medians over repeats, side by side
with two alternatives: the same queries on a store without the run-store indexes, and a naive
N+1 listing (one query for the page, then one per run for its check counts).

    python benchmarks/store_bench.py                   # SQLite file in a temp folder
    python benchmarks/store_bench.py --runs 20000      # smaller
    python benchmarks/store_bench.py --url postgresql+psycopg://...   # a server database
    python benchmarks/store_bench.py --json            # machine-readable figures

`seed_store(url, runs=...)` is importable (benchmarks/pipeline_bench.py reuses it):

    sys.path.insert(0, str(Path(__file__).parent)); from store_bench import seed_store
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from jupyter_dataops.store import open_store
from jupyter_dataops.store.models import (
    Base,
    CheckResultRow,
    MetricRecord,
    PipelineRecord,
    PipelineRun,
    Step,
    StepRun,
    StepVersion,
)

BATCH = 20_000
TARGET_MS = 50.0


def seed_store(
    url: str,
    runs: int = 100_000,
    steps: int = 10,
    checks_per_run: int = 4,
    metrics_per_run: int = 2,
    pipeline: str = "bench",
    seed: int = 7,
) -> dict[str, Any]:
    """Bulk-insert a realistic history into an empty store at ``url``; returns what was made.

    ``runs`` step runs spread over ``steps`` steps (one pipeline run per round of steps), each with
    ``checks_per_run`` check rows (mostly pass, some warn/fail) and ``metrics_per_run`` metric
    points; statuses ~92% success, 6% failed, 1% skipped, 1% interrupted; one minute apart.
    """
    rng = random.Random(seed)
    t0 = time.perf_counter()
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            if conn.scalar(select(func.count()).select_from(StepRun)):
                raise SystemExit(f"seed_store needs an empty store, {url} has runs already")
            conn.rollback()
        start = datetime.now(timezone.utc) - timedelta(minutes=runs + 10)
        with store.engine.begin() as conn:
            pid = conn.scalar(
                insert(PipelineRecord)
                .values(name=pipeline, created_at=start)
                .returning(PipelineRecord.id)
            )
            step_ids = [
                conn.scalar(
                    insert(Step)
                    .values(
                        pipeline_id=pid,
                        name=f"step{i}",
                        notebook=f"step{i}.ipynb",
                        created_at=start,
                    )
                    .returning(Step.id)
                )
                for i in range(steps)
            ]
            conn.execute(
                insert(StepVersion),
                [
                    {
                        "step_id": s,
                        "version": 1,
                        "notebook_path": f"step{i}.ipynb",
                        "content_hash": f"{i:064x}",
                        "parameters": {"day": "2026-01-01"},
                        "promoted_by": "bench",
                        "promoted_at": start,
                    }
                    for i, s in enumerate(step_ids)
                ],
            )
            version_of = dict(zip(step_ids, range(1, steps + 1), strict=True))
            n_pipeline_runs = (runs + steps - 1) // steps
            first_pr = _next_id(conn, PipelineRun)
            for lo in range(0, n_pipeline_runs, BATCH):
                conn.execute(
                    insert(PipelineRun),
                    [
                        {
                            "id": first_pr + k,
                            "pipeline_id": pid,
                            "status": "success",
                            "mode": "production",
                            "trigger": "schedule",
                            "created_at": start + timedelta(minutes=k * steps),
                            "started_at": start + timedelta(minutes=k * steps),
                            "ended_at": start + timedelta(minutes=(k + 1) * steps),
                            "duration": 60.0 * steps,
                            "pid": 1,
                            "host": "bench",
                        }
                        for k in range(lo, min(lo + BATCH, n_pipeline_runs))
                    ],
                )
            first_sr = _next_id(conn, StepRun)
            statuses = ["success"] * 92 + ["failed"] * 6 + ["skipped", "interrupted"]
            check_statuses = ["pass"] * 90 + ["warn"] * 7 + ["fail"] * 3
            for lo in range(0, runs, BATCH):
                sr_rows, cr_rows, m_rows = [], [], []
                for k in range(lo, min(lo + BATCH, runs)):
                    srid = first_sr + k
                    step_id = step_ids[k % steps]
                    status = rng.choice(statuses)
                    began = start + timedelta(minutes=k)
                    dur = rng.uniform(1, 30)
                    sr_rows.append(
                        {
                            "id": srid,
                            "pipeline_run_id": first_pr + k // steps,
                            "step_id": step_id,
                            "step_version_id": version_of[step_id],
                            "status": status,
                            "mode": "production",
                            "attempt": 1,
                            "parameters": {"day": "2026-01-01"},
                            "error": {"failed": "boom", "interrupted": "runner gone"}.get(status),
                            "notebook_path": f".dataops/runs/{first_pr + k // steps}/s.ipynb",
                            "created_at": began,
                            "started_at": began,
                            "updated_at": began,
                            "ended_at": began + timedelta(seconds=dur),
                            "duration": dur,
                            "pid": 1,
                            "host": "bench",
                        }
                    )
                    for c in range(checks_per_run):
                        cr_rows.append(
                            {
                                "step_run_id": srid,
                                "suite": "orders",
                                "line": c + 1,
                                "source": f"check {c}",
                                "status": rng.choice(check_statuses),
                                "observed": rng.random(),
                                "threshold": "< 1",
                                "metric": f"m{c}",
                                "message": "ok",
                            }
                        )
                    for m in range(metrics_per_run):
                        m_rows.append(
                            {
                                "step_run_id": srid,
                                "step_id": step_id,
                                "suite": "orders",
                                "key": "row_count" if m == 0 else f"avg(x{m})",
                                "value": rng.gauss(1000, 30),
                                "recorded_at": began,
                            }
                        )
                conn.execute(insert(StepRun), sr_rows)
                if cr_rows:
                    conn.execute(insert(CheckResultRow), cr_rows)
                if m_rows:
                    conn.execute(insert(MetricRecord), m_rows)
        if store.dialect == "sqlite":
            with store.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        elif store.dialect == "postgresql":
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
                for table in ("pipeline_runs", "step_runs"):  # explicit ids: move the sequences
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
    finally:
        store.close()
    return {
        "runs": runs,
        "steps": steps,
        "checks": runs * checks_per_run,
        "metrics": runs * metrics_per_run,
        "seconds": time.perf_counter() - t0,
    }


def _next_id(conn, model) -> int:  # noqa: ANN001
    return (conn.scalar(select(func.max(model.id))) or 0) + 1


def timings_ms(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls of ``fn`` in milliseconds, sorted (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return sorted(times)


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds (after one warm-up call)."""
    return statistics.median(timings_ms(fn, repeats))


def naive_list_runs(store, limit: int = 50, step: str | None = None) -> list[dict[str, Any]]:
    """The N+1 alternative: one query for the page, then one count query per run."""
    with store.engine.connect() as conn:
        q = select(StepRun.id, StepRun.status, Step.name).join(Step, Step.id == StepRun.step_id)
        if step:
            q = q.where(Step.name == step)
        page = conn.execute(q.order_by(StepRun.id.desc()).limit(limit)).all()
        out = []
        for r in page:
            counts = dict(
                conn.execute(
                    select(CheckResultRow.status, func.count())
                    .where(CheckResultRow.step_run_id == r.id)
                    .group_by(CheckResultRow.status)
                ).all()
            )
            out.append({"id": r.id, "step": r.name, "status": r.status, "checks": counts})
        return out


def _custom_indexes() -> list[str]:
    return [ix.name for t in Base.metadata.tables.values() for ix in t.indexes]


def measure(url: str, repeats: int) -> dict[str, float]:
    """Median milliseconds of each store query on the store at ``url``."""
    with open_store(url) as store:
        latest = store.list_runs(limit=1)[0]["id"]
        cases: dict[str, Callable[[], Any]] = {
            "list_runs(limit=50)": lambda: store.list_runs(limit=50),
            "list_runs(step, limit=50)": lambda: store.list_runs(step="step3", limit=50),
            "list_runs(status=failed)": lambda: store.list_runs(status="failed", limit=50),
            "list_runs(offset=5000)": lambda: store.list_runs(limit=50, offset=5000),
            "count_runs(step)": lambda: store.count_runs(step="step3"),
            "get_run(latest)": lambda: store.get_run(latest),
            "metric_history(step, row_count)": lambda: store.metric_history("step3", "row_count"),
            "metric_history(..., limit=100)": lambda: store.metric_history(
                "step3", "row_count", limit=100
            ),
            "metric_series(..., limit=500)": lambda: store.metric_series(
                "step3", "row_count", limit=500
            ),
            "list_metrics(step)": lambda: store.list_metrics("step3"),
            "list_pipelines()": store.list_pipelines,
            "naive N+1 list (limit=50)": lambda: naive_list_runs(store, 50),
            "naive N+1 list (step, limit=50)": lambda: naive_list_runs(store, 50, "step3"),
        }
        return {name: median_ms(fn, repeats) for name, fn in cases.items()}


def drop_indexes(url: str) -> None:
    """Remove the run-store indexes (keeping primary keys and unique constraints)."""
    with open_store(url) as store, store.engine.begin() as conn:
        for name in _custom_indexes():
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--url", help="an empty store (default: a temporary SQLite file)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="dataops-store-bench-"))
    try:
        url = args.url or f"sqlite:///{tmp / 'bench.db'}"
        seeded = seed_store(url, runs=args.runs)
        indexed = measure(url, args.repeats)
        bare = None
        if url.startswith("sqlite:///"):
            # the alternative: the same store and queries without the run-store indexes
            copy = tmp / "bare.db"
            shutil.copy(tmp / "bench.db", copy)
            bare_url = f"sqlite:///{copy}"
            drop_indexes(bare_url)
            bare = measure(bare_url, max(3, args.repeats // 3))
        result = {
            "seed": seeded,
            "indexed_ms": indexed,
            "without_indexes_ms": bare,
            "target_ms": TARGET_MS,
        }
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        print(
            f"seeded {seeded['runs']:,} step runs, {seeded['checks']:,} check rows, "
            f"{seeded['metrics']:,} metric points in {seeded['seconds']:.1f} s ({url.split(':')[0]})"
        )
        print(f"{'query':34} {'median ms':>10} {'no indexes':>11} {'ratio':>7}")
        for name, ms in indexed.items():
            other = bare.get(name) if bare else None
            ratio = f"{other / ms:6.1f}x" if other else ""
            print(
                f"{name:34} {ms:10.2f} {other if other is not None else float('nan'):11.2f} "
                f"{ratio:>7}"
            )
        naive = indexed["naive N+1 list (limit=50)"] / indexed["list_runs(limit=50)"]
        print(
            f"list_runs vs naive N+1 listing: {naive:.1f}x faster; "
            f"target <= {TARGET_MS:.0f} ms: "
            f"{'met' if indexed['list_runs(limit=50)'] <= TARGET_MS else 'MISSED'}"
        )
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
