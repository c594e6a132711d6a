"""The grid's pages when many recorded keys are of another period (issue 26): the keys an
earlier ``every:`` left, read on every page before (``Store.grid_keys`` read them all and
``_window`` placed each in Python), counted in buckets now and read only for the page's stretch
of time (``views.grid.grid_page``). Side by side in one run, interleaved, on the same store:

- ``hours seen as days``: ``--keys`` hourly keys (``--steps`` step runs each) ending at the
  current hour, under a pipeline that now says ``every: day`` (with ``start:`` at the first
  day: the due days among the hours; and without it: only the hours);
- ``days seen as hours``: ``--days`` daily keys ending yesterday under ``every: hour`` (its
  ``start:`` at the first day's first hour: 24 due hours a day among them).

Each case times the first, a middle and the oldest page of 14 rows (median of ``--repeats``,
after a warm-up), checks that both ways give the same rows and total, and prints the ratio:
counted afresh (as after a commit) and with the counts the store kept (nothing committed since
the last page, the store's ``generation`` unchanged).
The rows are written with set-based SQL (``INSERT ... SELECT`` over a counter).

    python benchmarks/grid_bench.py [--keys 100000] [--steps 10] [--days 3650] [--pg] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from jupyter_dataops.pipeline.definition.partitions import period_of
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.views.grid import _late, _newest, _window, grid_page
from jupyter_dataops.store import open_store
from jupyter_dataops.store.grid import check_page
from jupyter_dataops.store.models import Base, PipelineRecord, Step

sys.path.insert(0, str(Path(__file__).parent))
from store_bench import median_ms  # noqa: E402
from store_scale_bench import drop_pg_schema, pg_schema_url  # noqa: E402

COUNTER = {  # 0 .. n-1
    "sqlite": "WITH RECURSIVE k(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM k WHERE x < {n} - 1) ",
    "postgresql": "",
}
FROM = {"sqlite": "FROM k", "postgresql": "FROM generate_series(0, {n} - 1) AS x"}
# the key of counter x: an hour or a day after the first
KEY = {
    ("sqlite", "hour"): "strftime('%Y-%m-%dT%H', '{first}', '+' || (x / {steps}) || ' hours')",
    ("sqlite", "day"): "strftime('%Y-%m-%d', '{first}', '+' || (x / {steps}) || ' days')",
    ("postgresql", "hour"): (
        "to_char(timestamp '{first}' + (x / {steps}) * interval '1 hour', 'YYYY-MM-DD\"T\"HH24')"
    ),
    ("postgresql", "day"): (
        "to_char(timestamp '{first}' + (x / {steps}) * interval '1 day', 'YYYY-MM-DD')"
    ),
}
STEP_RUNS = """{counter}INSERT INTO step_runs (pipeline_run_id, step_id, status, mode, attempt,
    created_at, partition)
    SELECT {run}, {first_step} + x % {steps}, 'success', 'production', 1, {now}, {key} {source}"""


def seed(url: str, name: str, every: str, first: datetime, keys: int, steps: int) -> None:
    """``keys`` keys of ``every`` from ``first`` on, one production step run of each of
    ``steps`` steps for each, in one statement (the indexes of step_runs built after)."""
    with open_store(url) as store:
        run = store.create_pipeline_run(name)
        for i in range(steps):
            store.finish_step_run(store.create_step_run(run, f"step{i}"), "success")
        dialect = store.dialect
        with store.engine.begin() as conn:
            ids = conn.scalars(
                select(Step.id)
                .join(PipelineRecord, PipelineRecord.id == Step.pipeline_id)
                .where(PipelineRecord.name == name)
            ).all()
            first_step = min(ids)
            assert sorted(ids) == list(range(first_step, first_step + steps))
            indexes = Base.metadata.tables["step_runs"].indexes
            for ix in indexes:
                ix.drop(conn)
            sql = STEP_RUNS.format(
                counter=COUNTER[dialect].format(n=keys * steps),
                run=run,
                first_step=first_step,
                steps=steps,
                now="CURRENT_TIMESTAMP",
                key=KEY[(dialect, every)].format(first=first.isoformat(" "), steps=steps),
                source=FROM[dialect].format(n=keys * steps),
            )
            conn.exec_driver_sql(sql.replace("%", "%%") if dialect != "sqlite" else sql)
            for ix in indexes:
                ix.create(conn)
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE" if dialect == "sqlite" else "VACUUM ANALYZE step_runs")


def read_every_key(pipeline: Any, store: Any, *, limit: int = 14, offset: int = 0) -> dict:
    """The grid page as it was read before (the package at 452f88d): every recorded key not
    due (``grid_keys``) placed by ``_window``; the page's cells as now."""
    spec = pipeline.partitions
    check_page(limit, offset)
    newest = _newest(spec, pipeline)
    first, extra = store.grid_keys(pipeline.name, spec.key_length, newest, spec.start)
    if first is not None and spec.parse(first) > spec.parse(newest):
        first = None
    keys, total = _window(spec, first, newest, extra, limit, offset)
    columns, rows = store.partition_rows(
        pipeline.name, keys, steps=list(pipeline.steps), late=_late(pipeline, store, keys)
    )
    rows = [{**r, "every": period_of(r["partition"])} for r in rows]
    return {"steps": columns, "partitions": rows, "total": total}


def project(root: Path, name: str, every: str, start: str | None, steps: int) -> Any:
    root.mkdir(parents=True, exist_ok=True)
    since = f", start: '{start}'" if start else ""
    lines = "".join(f"  step{i}: {{notebook: step{i}.ipynb}}\n" for i in range(steps))
    (root / "dataops.yaml").write_text(
        f"pipeline: {name}\npartitions: {{every: {every}{since}}}\nsteps:\n{lines}"
    )
    return load_pipeline(root / "dataops.yaml")


def afresh(store: Any, pipeline: Any, offset: int) -> dict:
    """A page counted afresh: as after a commit (the counts the store kept are dropped)."""
    store.__dict__.pop("_grid_counts", None)
    return grid_page(pipeline, store, limit=14, offset=offset)


def compare(store: Any, cases: dict[str, Any], repeats: int) -> list[dict]:
    out = []
    for case, pipeline in cases.items():
        total = grid_page(pipeline, store, limit=14)["total"]
        for where, offset in (("first", 0), ("middle", total // 2), ("oldest", total - 14)):
            new = grid_page(pipeline, store, limit=14, offset=offset)
            old = read_every_key(pipeline, store, limit=14, offset=offset)
            assert [r["partition"] for r in new["partitions"]] == [
                r["partition"] for r in old["partitions"]
            ], (case, where)
            assert new["total"] == old["total"] == total, (case, where)
            before = median_ms(
                lambda p=pipeline, o=offset: read_every_key(p, store, limit=14, offset=o), repeats
            )
            after = median_ms(lambda p=pipeline, o=offset: afresh(store, p, o), repeats)
            kept = median_ms(
                lambda p=pipeline, o=offset: grid_page(p, store, limit=14, offset=o), repeats
            )
            row = {
                "case": case, "page": where, "offset": offset, "total": total,
                "every key read (before) ms": round(before, 1), "counted (now) ms": round(after, 1),
                "ratio": round(before / after, 1), "counts kept ms": round(kept, 1),
                "ratio kept": round(before / kept, 1),
            }  # fmt: skip
            print(json.dumps(row), flush=True)
            out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=100_000, help="hourly keys seen as days")
    parser.add_argument("--steps", type=int, default=10, help="step runs a key")
    parser.add_argument("--days", type=int, default=3_650, help="daily keys seen as hours")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL ($DATAOPS_TEST_PG_URL)")
    parser.add_argument("--keep", action="store_true", help="keep the store for next time")
    args = parser.parse_args(argv)
    work = Path(tempfile.gettempdir()) / f"dataops-grid-bench-{args.keys}-{args.steps}"
    work.mkdir(exist_ok=True)
    schema = f"dataops_grid_{args.keys}_{args.steps}"
    if args.pg:
        base = os.environ.get("DATAOPS_TEST_PG_URL")
        if not base:
            raise SystemExit("--pg needs DATAOPS_TEST_PG_URL (source /work/dev-env.sh)")
        url = pg_schema_url(base, schema)
    else:
        url = f"sqlite:///{work / 'store.db'}"
    marker = work / f"seeded-{'pg' if args.pg else 'sqlite'}.txt"
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    hours_from = now - timedelta(hours=args.keys - 1)
    days_from = (now - timedelta(days=args.days)).replace(hour=0)
    try:
        if not marker.exists():
            t0 = time.perf_counter()
            seed(url, "hours", "hour", hours_from, args.keys, args.steps)
            seed(url, "days", "day", days_from, args.days, args.steps)
            marker.write_text(f"{hours_from.isoformat()} {days_from.isoformat()}")
            print(f"seeded in {time.perf_counter() - t0:.1f} s", flush=True)
        else:
            hours_from, days_from = (datetime.fromisoformat(t) for t in marker.read_text().split())
        steps = args.steps
        with open_store(url) as store:
            with store.engine.connect() as conn:
                n = conn.execute(text("SELECT count(*) FROM step_runs")).scalar()
            print(f"{n} step runs; load {os.getloadavg()}", flush=True)
            cases = {
                "hours seen as days, start:": project(
                    work / "a", "hours", "day", hours_from.strftime("%Y-%m-%d"), steps
                ),
                "hours seen as days, no start": project(work / "b", "hours", "day", None, steps),
                "days seen as hours, start:": project(
                    work / "c", "days", "hour", days_from.strftime("%Y-%m-%dT%H"), steps
                ),
            }
            compare(store, cases, args.repeats)
        print(f"load {os.getloadavg()}", flush=True)
    finally:
        if not args.keep:
            marker.unlink(missing_ok=True)
            if args.pg:
                drop_pg_schema(url, schema)
            else:
                (work / "store.db").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
