"""The store at a million step runs on SQLite and PostgreSQL (issue 26 item 4): the queries
behind every screen with their times, and the store's size per run.

Seeds 1M step runs (10 steps × 100,000 hourly partitions; 4 check rows and 2 metric points per
run) with set-based SQL (``INSERT ... SELECT`` over a counter: a recursive CTE on SQLite,
``generate_series`` on PostgreSQL), then times what each screen asks, as median and p99 over
repeats: the runs list (``dataops runs`` and the panel), runs of a step, a run's detail, the
pipelines overview, a step's metrics, the chart's window (newest, middle and oldest 90 points), the
grid's first and oldest pages (and the first with ``expect_by``: its late partitions) and the
status. The seeded store is kept (``--keep``: SQLite file under /tmp, PostgreSQL schema) and
reused by the next run with the same size. Run with an older checkout of the package first
(``PYTHONPATH=<checkout>``) to time it side by side on the same store: the seeder fills the
schema that package has, and the newer package migrates the kept store when it opens it.

    python benchmarks/store_scale_bench.py [--runs 1000000] [--pg] [--keep] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from jupyter_dataops.store import open_store
from jupyter_dataops.store.models import Base, PipelineRecord, Step, StepRun, StepVersion

sys.path.insert(0, str(Path(__file__).parent))
from store_bench import timings_ms  # noqa: E402

STEPS = 10
HOUR = 3600
BIG_TABLES = ("pipeline_runs", "step_runs", "check_results", "metrics")


def history_start(runs: int) -> datetime:
    """The first partition's hour: the seeded history ends at the current hour, as a pipeline
    that has run every hour since then (so the grid's due partitions are the seeded ones)."""
    now = int(datetime.now(timezone.utc).timestamp()) // HOUR * HOUR
    return datetime.fromtimestamp(now - (runs + STEPS - 1) // STEPS * HOUR, timezone.utc)


SQLITE_COUNTER = "WITH RECURSIVE k(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM k WHERE x < {n} - 1)"

SEED_SQL = {
    "sqlite": [
        """INSERT INTO pipeline_runs (id, pipeline_id, status, mode, "trigger", parameters,
               created_at, started_at, ended_at, duration, pid, host, partition)
           {counter} SELECT x + 1, {pipeline}, 'success', 'production', 'schedule', '{{}}',
               datetime('{start}', '+' || x || ' hours'), datetime('{start}', '+' || x || ' hours'),
               datetime('{start}', '+' || x || ' hours', '+10 minutes'), 600.0, 1, 'bench',
               strftime('%Y-%m-%dT%H', '{start}', '+' || x || ' hours') FROM k""",
        """INSERT INTO step_runs (id, pipeline_run_id, step_id, step_version_id, status, mode,
               attempt, parameters, error, notebook_path, created_at, started_at, updated_at,
               ended_at, duration, pid, host, partition)
           {counter} SELECT x + 1, x / {steps} + 1, {first_step} + x % {steps},
               {first_version} + x % {steps},
               CASE WHEN (x * 7919) % 100 < 92 THEN 'success' WHEN (x * 7919) % 100 < 98
                    THEN 'failed' WHEN (x * 7919) % 100 < 99 THEN 'skipped' ELSE 'interrupted' END,
               'production', 1, '{{"day": "2026-01-01"}}', NULL,
               '.dataops/runs/' || (x / {steps} + 1) || '/s.ipynb',
               datetime('{start}', '+' || (x / {steps}) || ' hours', '+' || (x % {steps}) || ' minutes'),
               datetime('{start}', '+' || (x / {steps}) || ' hours', '+' || (x % {steps}) || ' minutes'),
               datetime('{start}', '+' || (x / {steps}) || ' hours', '+' || (x % {steps}) || ' minutes'),
               datetime('{start}', '+' || (x / {steps}) || ' hours', '+' || (x % {steps}) || ' minutes',
                        '+' || (x % 29 + 1) || ' seconds'),
               x % 29 + 1.0, 1, 'bench',
               strftime('%Y-%m-%dT%H', '{start}', '+' || (x / {steps}) || ' hours') FROM k""",
    ],
    "postgresql": [
        """INSERT INTO pipeline_runs (id, pipeline_id, status, mode, "trigger", parameters,
               created_at, started_at, ended_at, duration, pid, host, partition)
           SELECT x + 1, {pipeline}, 'success', 'production', 'schedule', '{{}}'::jsonb,
               t, t, t + interval '10 minutes', 600.0, 1, 'bench',
               to_char(t, 'YYYY-MM-DD"T"HH24')
           FROM (SELECT x, timestamptz '{start}' + x * interval '1 hour' AS t
                 FROM generate_series(0, {n} - 1) AS x) AS k""",
        """INSERT INTO step_runs (id, pipeline_run_id, step_id, step_version_id, status, mode,
               attempt, parameters, error, notebook_path, created_at, started_at, updated_at,
               ended_at, duration, pid, host, partition)
           SELECT x + 1, x / {steps} + 1, {first_step} + x % {steps}, {first_version} + x % {steps},
               CASE WHEN (x * 7919) % 100 < 92 THEN 'success' WHEN (x * 7919) % 100 < 98
                    THEN 'failed' WHEN (x * 7919) % 100 < 99 THEN 'skipped' ELSE 'interrupted' END,
               'production', 1, '{{"day": "2026-01-01"}}'::jsonb, NULL,
               '.dataops/runs/' || (x / {steps} + 1) || '/s.ipynb', t, t, t,
               t + (x % 29 + 1) * interval '1 second', x % 29 + 1.0, 1, 'bench',
               to_char(timestamptz '{start}' + (x / {steps}) * interval '1 hour',
                       'YYYY-MM-DD"T"HH24')
           FROM (SELECT x, timestamptz '{start}' + (x / {steps}) * interval '1 hour'
                          + (x % {steps}) * interval '1 minute' AS t
                 FROM generate_series(0::bigint, {n} - 1) AS x) AS k""",
    ],
}
# the same on both: 4 check rows and 2 metric points per step run, from the runs themselves
CHILD_SQL = [
    """INSERT INTO check_results (step_run_id, suite, line, source, status, observed, threshold,
           metric, message)
       SELECT s.id, 'orders', c.x + 1, 'check ' || c.x,
           CASE WHEN (s.id * 31 + c.x * 17) % 100 < 90 THEN 'pass'
                WHEN (s.id * 31 + c.x * 17) % 100 < 97 THEN 'warn' ELSE 'fail' END,
           ((s.id * 13 + c.x) % 1000) / 1000.0, '< 1', 'm' || c.x, 'ok'
       FROM step_runs s CROSS JOIN (SELECT 0 AS x UNION ALL SELECT 1 UNION ALL SELECT 2
                                    UNION ALL SELECT 3) c
       ORDER BY s.id, c.x""",
    """INSERT INTO metrics (step_run_id, step_id, suite, key, value, recorded_at{partition})
       SELECT s.id, s.step_id, 'orders',
           CASE WHEN m.x = 0 THEN 'row_count' ELSE 'avg(x1)' END,
           1000 + (((s.id % 61) * 7919 + m.x) % 61) - 30, s.started_at{run_partition}
       FROM step_runs s CROSS JOIN (SELECT 0 AS x UNION ALL SELECT 1) m
       ORDER BY s.id, m.x""",
]

PIPELINE_YAML = "pipeline: bench\npartitions: {{every: hour, start: '{start}'}}\nsteps:\n{steps}"
LATE_YAML = "expect_by: '00:00'\n"  # the grid's late partitions: the page's, or the lookback's


def seed(url: str, runs: int, start_at: datetime) -> dict[str, Any]:
    """Bulk-insert ``runs`` step runs into the empty store at ``url`` with set-based SQL."""
    t0 = time.perf_counter()
    with open_store(url) as store:
        dialect = store.dialect
        with store.engine.begin() as conn:
            pipeline = conn.scalar(
                insert(PipelineRecord)
                .values(name="bench", created_at=start_at)
                .returning(PipelineRecord.id)
            )
            steps = [
                conn.scalar(
                    insert(Step)
                    .values(pipeline_id=pipeline, name=f"step{i}", notebook=f"step{i}.ipynb")
                    .returning(Step.id)
                )
                for i in range(STEPS)
            ]
            versions = [
                conn.scalar(
                    insert(StepVersion)
                    .values(
                        step_id=s, version=1, notebook_path=f"step{i}.ipynb",
                        content_hash=f"{i:064x}", promoted_by="bench", promoted_at=start_at,
                    )
                    .returning(StepVersion.id)
                )
                for i, s in enumerate(steps)
            ]  # fmt: skip
            assert steps == list(range(steps[0], steps[0] + STEPS))
            assert versions == list(range(versions[0], versions[0] + STEPS))
            start = start_at.strftime("%Y-%m-%d %H:%M:%S") + ("+00" if dialect != "sqlite" else "")
            args = {
                "pipeline": pipeline, "steps": STEPS, "first_step": steps[0],
                "first_version": versions[0], "start": start,
            }  # fmt: skip
            pipeline_runs, step_runs = SEED_SQL[dialect]

            def run(sql: str) -> None:  # psycopg reads % as a placeholder: double it
                conn.exec_driver_sql(sql.replace("%", "%%") if dialect != "sqlite" else sql)

            n_pr = (runs + STEPS - 1) // STEPS
            counter = SQLITE_COUNTER.format(n=n_pr)
            # the big tables' indexes are built once after the load, not row by row
            indexes = [ix for t in BIG_TABLES for ix in Base.metadata.tables[t].indexes]
            for ix in indexes:
                ix.drop(conn)
            run(pipeline_runs.format(counter=counter, n=n_pr, **args))
            counter = SQLITE_COUNTER.format(n=runs)
            run(step_runs.format(counter=counter, n=runs, **args))
            # a point carries its run's partition (migration 0014; absent in older schemas,
            # which the same seeder fills to time the package before it side by side)
            has = "partition" in Base.metadata.tables["metrics"].c
            for sql in CHILD_SQL:
                run(
                    sql.replace("{partition}", ", partition" if has else "").replace(
                        "{run_partition}", ", s.partition" if has else ""
                    )
                )
            for ix in indexes:
                ix.create(conn)
        if dialect == "sqlite":
            with store.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        else:
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in ("pipeline_runs", "step_runs"):  # explicit ids: move the sequences
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                conn.exec_driver_sql("VACUUM ANALYZE")
    return {"runs": runs, "seconds": time.perf_counter() - t0}


def stored_runs(url: str) -> int:
    with open_store(url) as store, store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(StepRun)))


def size_bytes(url: str) -> int:
    """The store's size on disk: the SQLite file (and its WAL), or every relation of the
    schema on PostgreSQL (tables, indexes, TOAST)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = Path(parsed.database)
        return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
    with open_store(url) as store, store.engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            )
        )


def timed(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Median and p99 (the slowest of few repeats) in milliseconds, after a warm-up call."""
    times = timings_ms(fn, repeats)
    return {"median_ms": statistics.median(times), "p99_ms": times[-1]}


def screens(url: str, project: Path, repeats: int) -> dict[str, dict[str, float]]:
    """The queries behind each screen, through the functions the front doors call."""
    from jupyter_dataops.pipeline.definition.spec import load_pipeline
    from jupyter_dataops.pipeline.scheduling.schedule_status import schedule_status
    from jupyter_dataops.pipeline.views import history
    from jupyter_dataops.pipeline.views.charts import metric_chart
    from jupyter_dataops.pipeline.views.grid import grid_page

    pipeline = load_pipeline(project / "dataops.yaml")
    late = load_pipeline(project / "late" / "dataops.yaml")
    store = open_store(url)
    latest = store.list_runs(limit=1)[0]["id"]
    rows = grid_page(pipeline, store, limit=14)["total"]
    points = metric_chart(store, "step1", "row_count", last=90).total
    cases: dict[str, Callable[[], Any]] = {
        "dataops runs (20)": lambda: history.list_runs(store, limit=20),
        "dataops runs --step (20)": lambda: history.list_runs(store, step="step3", limit=20),
        "runs page: list + count (50)": lambda: (
            store.list_runs(limit=50),
            store.count_runs(),
        ),
        "runs of a step: list + count (50)": lambda: (
            store.list_runs(step="step3", limit=50),
            store.count_runs(step="step3"),
        ),
        "runs?status=failed (50)": lambda: store.list_runs(status="failed", limit=50),
        "run detail": lambda: store.get_run(latest),
        "pipelines overview": store.list_pipelines,
        "step metrics": lambda: store.list_metrics("step3"),
        "step metrics, every point grouped (before 0015)": lambda: grouped_metrics(store, "step3"),
        "chart window (90)": lambda: metric_chart(store, "step1", "row_count", last=90),
        "chart window, middle (90)": lambda: metric_chart(
            store, "step1", "row_count", last=90, before=points // 2
        ),
        "chart window, oldest (90)": lambda: metric_chart(
            store, "step1", "row_count", last=90, before=90
        ),
        "grid first page (14)": lambda: grid_page(pipeline, store, limit=14),
        "grid first page, expect_by (14)": lambda: grid_page(late, store, limit=14),
        "grid oldest page (14)": lambda: grid_page(pipeline, store, limit=14, offset=rows - 14),
        "status (schedules)": lambda: schedule_status(pipeline, store),
    }
    cases.update(grid_without_start(project, store))
    try:
        return {name: timed(fn, repeats) for name, fn in cases.items()}
    finally:
        store.close()


def grid_without_start(project: Path, store: Any) -> dict[str, Callable[[], Any]]:
    """The grid of the same pipeline without ``start:`` (its oldest hour that ran starts it),
    side by side with the page as it was read before: every recorded key sorted for the page
    (``partition_grid``) and again for its lateness (``partition_keys``)."""
    from jupyter_dataops.pipeline.definition.spec import load_pipeline
    from jupyter_dataops.pipeline.views.grid import grid_page

    pipeline_text = (project / "dataops.yaml").read_text()
    (project / "nostart").mkdir(exist_ok=True)
    (project / "nostart" / "dataops.yaml").write_text(
        re.sub(r", start: '[^']*'", "", pipeline_text, count=1)
    )
    nostart = load_pipeline(project / "nostart" / "dataops.yaml")
    rows = grid_page(nostart, store, limit=14)["total"]
    steps = list(nostart.steps)
    return {
        "grid without start: first page (14)": lambda: grid_page(nostart, store, limit=14),
        "grid without start: oldest page (14)": lambda: grid_page(
            nostart, store, limit=14, offset=rows - 14
        ),
        "grid without start, every key read (before)": lambda: (
            store.partition_grid("bench", limit=14, steps=steps),
            store.partition_keys("bench"),
        ),
    }


def grouped_metrics(store: Any, step: str) -> list[tuple]:
    """The step's metric list as it was read before migration 0015 (side by side with
    ``list_metrics``): every point grouped by key and suite, then the last points by id."""
    from jupyter_dataops.store.models import MetricRecord as M

    steps = select(Step.id).where(Step.name == step)
    with store.engine.connect() as conn:
        groups = conn.execute(
            select(M.key, M.suite, func.count(), func.max(M.id))
            .where(M.step_id.in_(steps))
            .group_by(M.key, M.suite)
            .order_by(M.key, M.suite)
        ).all()
        last = dict(
            conn.execute(select(M.id, M.value).where(M.id.in_([g[3] for g in groups]))).all()
        )
    return [(k, suite, n, last[i]) for k, suite, n, i in groups]


def analyze_only(engine: Any, tables: Any) -> None:
    """What an upgrade did after its migrations before ``vacuum_analyze`` (0014 analyzed
    ``metrics`` and nothing vacuumed it): ``--migrate-from``'s before."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in sorted(set(tables)):
                conn.exec_driver_sql(f'ANALYZE "{table}"')


def migrated_copy(
    url: str, runs: int, revision: str, repeats: int, tidy: Callable | None = None
) -> dict[str, Any]:
    """A copy of the kept store taken back to ``revision`` (settled: PostgreSQL vacuumed and
    analyzed, as autovacuum leaves an old store), then opened by this package: the migration's
    seconds (VACUUM ANALYZE included) and, at once, the first call of the screens the
    migrations changed, then their medians. ``tidy``: what the upgrade runs after its
    migrations instead of ``engine.vacuum_analyze`` (``analyze_only``: the package before)."""
    from alembic import command

    from jupyter_dataops.pipeline.views.charts import metric_chart
    from jupyter_dataops.store import engine as store_engine
    from jupyter_dataops.store.engine import alembic_config, create_store_engine

    parsed = make_url(url)
    t0 = time.perf_counter()
    if parsed.get_backend_name() == "sqlite":
        source = Path(parsed.database)
        with open_store(url) as store, store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        target = source.with_name("store-migrated.db")
        shutil.copyfile(source, target)
        copy = f"sqlite:///{target}"
    else:
        source_schema = f"dataops_scale_{runs}"
        copy = copy_pg_schema(url, source_schema, f"{source_schema}_migrated")
    copied = time.perf_counter() - t0
    engine = create_store_engine(copy)
    with engine.connect().execution_options(dataops_write=True) as conn, conn.begin():
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).all():
                conn.exec_driver_sql(f'VACUUM ANALYZE "{table}"')
    engine.dispose()
    visible = None
    first: dict[str, float] = {}
    try:
        now = store_engine.vacuum_analyze
        store_engine.vacuum_analyze = tidy or now
        t0 = time.perf_counter()
        try:
            store = open_store(copy)  # migrates to head
        finally:
            store_engine.vacuum_analyze = now
        migration = time.perf_counter() - t0
        if store.dialect == "postgresql":  # how much of metrics index-only scans can skip
            with store.engine.connect() as conn:
                pages, all_visible = conn.execute(
                    text(
                        "SELECT relpages, relallvisible FROM pg_class "
                        "WHERE oid = 'metrics'::regclass"
                    )
                ).one()
            visible = all_visible / max(pages, 1)
        points = None
        cases: dict[str, Callable[[], Any]] = {
            "chart window (90)": lambda: metric_chart(store, "step1", "row_count", last=90),
            "chart window, middle (90)": lambda: metric_chart(
                store, "step1", "row_count", last=90, before=points // 2
            ),
            "step metrics": lambda: store.list_metrics("step3"),
        }
        for name, fn in cases.items():
            t0 = time.perf_counter()
            got = fn()
            first[name] = (time.perf_counter() - t0) * 1000
            if points is None:
                points = got.total
        figures = {name: timed(fn, repeats) for name, fn in cases.items()}
        store.close()
    finally:
        if parsed.get_backend_name() == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        else:
            drop_pg_schema(copy, f"dataops_scale_{runs}_migrated")
    return {
        "from": revision, "copy_seconds": copied, "migration_seconds": migration,
        "first_ms": first, "screens": figures, "metrics_pages_all_visible": visible,
    }  # fmt: skip


def copy_pg_schema(url: str, source: str, target: str) -> str:
    """A copy of schema ``source`` (its tables' rows and indexes) as ``target``; its URL."""
    copy = pg_schema_url(url, target)
    admin = create_engine(make_url(url).set(query={}), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{target}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{target}"'))
        tables = conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": source}
        ).all()
        for table in tables:
            conn.execute(
                text(
                    f'CREATE TABLE "{target}"."{table}" '
                    f'(LIKE "{source}"."{table}" INCLUDING DEFAULTS)'
                )
            )
            conn.execute(
                text(f'INSERT INTO "{target}"."{table}" SELECT * FROM "{source}"."{table}"')
            )
        for (index,) in conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE schemaname = :s"), {"s": source}
        ):
            conn.execute(text(index.replace(f" ON {source}.", f" ON {target}.")))
    admin.dispose()
    return copy


def pg_schema_url(base: str, schema: str) -> str:
    url = make_url(base)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    return url.set(query={**url.query, "options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def drop_pg_schema(url: str, schema: str) -> None:
    admin = create_engine(make_url(url).set(query={}), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL ($DATAOPS_TEST_PG_URL)")
    parser.add_argument("--keep", action="store_true", help="keep the seeded store for next time")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--migrate-from",
        metavar="REV",
        help="also time a copy of the kept store migrated from REV (e.g. 0013) to head",
    )
    args = parser.parse_args(argv)

    work = Path("/tmp") / f"dataops-scale-{args.runs}"
    project = work / "project"
    project.mkdir(parents=True, exist_ok=True)
    steps = "".join(f"  step{i}: {{notebook: step{i}.ipynb, schedule: '0 * * * *'}}\n"
                    for i in range(STEPS))  # fmt: skip
    start_at = history_start(args.runs)
    start_file = work / f"start-{'pg' if args.pg else 'sqlite'}.txt"
    if start_file.exists():  # a kept store: its history starts where it was seeded
        start_at = datetime.fromisoformat(start_file.read_text().strip())
    yaml_text = PIPELINE_YAML.format(start=start_at.strftime("%Y-%m-%dT%H"), steps=steps)
    (project / "dataops.yaml").write_text(yaml_text)
    (project / "late").mkdir(exist_ok=True)
    (project / "late" / "dataops.yaml").write_text(yaml_text + LATE_YAML)
    schema = f"dataops_scale_{args.runs}"
    if args.pg:
        base = os.environ.get("DATAOPS_TEST_PG_URL", "").strip()
        if not base:
            raise SystemExit("--pg needs DATAOPS_TEST_PG_URL (source /work/dev-env.sh)")
        url = pg_schema_url(base, schema)
    else:
        url = f"sqlite:///{work / 'store.db'}"
    try:
        seeded = {"runs": args.runs, "seconds": None, "reused": True}
        have = stored_runs(url)
        if have != args.runs:
            if have:
                raise SystemExit(f"{url} holds {have:,} runs, not {args.runs:,}: remove it first")
            seeded = {**seed(url, args.runs, start_at), "reused": False}
            start_file.write_text(start_at.isoformat())
        size = size_bytes(url)
        figures = screens(url, project, args.repeats)
        migrated = []
        if args.migrate_from and args.pg:  # before: the upgrade analyzed, vacuumed nothing
            before = migrated_copy(url, args.runs, args.migrate_from, args.repeats, analyze_only)
            migrated.append({**before, "how": "ANALYZE only (before)"})
        if args.migrate_from:
            now = migrated_copy(url, args.runs, args.migrate_from, args.repeats)
            migrated.append({**now, "how": "VACUUM (ANALYZE) after the upgrade"})
    finally:
        if not args.keep:
            start_file.unlink(missing_ok=True)
            if args.pg:
                drop_pg_schema(url, schema)
            else:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{work / 'store.db'}{suffix}").unlink(missing_ok=True)
    backend = "PostgreSQL" if args.pg else "SQLite"
    result = {
        "backend": backend, "seed": seeded, "size_bytes": size,
        "bytes_per_run": size / args.runs, "screens": figures, "migrated": migrated,
        "load": os.getloadavg(),
    }  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    how = "reused" if seeded["reused"] else f"seeded in {seeded['seconds']:.0f} s"
    print(
        f"{args.runs:,} step runs on {backend} ({how}); store {size / 2**20:,.0f} MiB, "
        f"{size / args.runs:,.0f} bytes per run (with 4 checks, 2 metric points); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'screen':36} {'median ms':>10} {'p99 ms':>9}")
    for name, f in figures.items():
        print(f"{name:36} {f['median_ms']:10.1f} {f['p99_ms']:9.1f}")
    for copy in migrated:
        print(
            f"a copy migrated from {copy['from']} to head, {copy['how']} (copied in "
            f"{copy['copy_seconds']:.0f} s): the migration {copy['migration_seconds']:.1f} s"
            + (
                f"; metrics pages all-visible after it: {visible:.0%}"
                if (visible := copy["metrics_pages_all_visible"]) is not None
                else ""
            )
        )
        print(f"{'screen, at once after it':36} {'first ms':>10} {'median ms':>10} {'p99 ms':>9}")
        for name, f in copy["screens"].items():
            first = copy["first_ms"][name]
            print(f"{name:36} {first:10.1f} {f['median_ms']:10.1f} {f['p99_ms']:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
