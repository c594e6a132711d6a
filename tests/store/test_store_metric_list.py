"""A step's metric list (``Store.list_metrics``, behind GET /dataops/api/steps/{step}/metrics)
counts each series by seeks of ``ix_metrics_step_id_key_suite_id`` (migration 0015): the same
names, counts and last values as grouping every point, with unnamed and several named suites
under one key, a step name in two pipelines, test runs; on a store migrated from 0014 with
points in it too; and a PostgreSQL store's migrated tables are vacuumed and analyzed by the
upgrade. Real stores: SQLite, and PostgreSQL via DATAOPS_TEST_PG_URL."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select, text

from jupyter_dataops.store import open_store
from jupyter_dataops.store.engine import alembic_config
from jupyter_dataops.store.models import MetricRecord, Step
from jupyter_dataops.store.models import PipelineRecord as Pipeline


def record(store, pipeline: str, step: str, points: dict, *, mode="production", partition=None):
    """One run of ``step`` recording ``points`` ({suite: {key: value}})."""
    prid = store.create_pipeline_run(pipeline, mode=mode, partition=partition)
    srid = store.create_step_run(prid, step)
    store.start_step_run(srid)
    for suite, values in points.items():
        for key, value in values.items():
            store.record_metric(srid, key, value, suite=suite)
    store.finish_step_run(srid, "success")
    store.finish_pipeline_run(prid)


def seeded(store) -> None:
    """Keys with an unnamed suite, one named suite, both, two named suites; the same step name
    in a second pipeline; a test run; a key no other step has; a key sorting before 'A'."""
    store.upsert_step("factory", "load", notebook="load.ipynb")
    store.upsert_step("factory", "report", notebook="report.ipynb")
    store.upsert_step("other", "load", notebook="load.ipynb")
    rng = random.Random(26)
    for day in range(1, 31):
        points = {
            "orders": {"row_count": 100 + day, "avg(x1)": rng.uniform(0, 1)},
            None: {"row_count": 7 * day},  # the same key unnamed: its own series
        }
        if day % 3 == 0:
            points["shipments"] = {"row_count": 3 * day, "null_count": day % 4}
        if day % 7 == 0:
            points.setdefault(None, {})["0 first"] = -day
        record(store, "factory", "load", points, partition=f"2026-09-{day:02d}")
        if day % 5 == 0:
            record(store, "other", "load", {"orders": {"row_count": 1000 + day, "ünï": 1.5}})
        record(store, "factory", "report", {"r": {"pages": day}})
    record(store, "factory", "load", {"orders": {"row_count": -1}}, mode="test")


def grouped(store, step: str, pipeline: str | None = None) -> list[tuple]:
    """What grouping every point of the step gives: (metric, suite, points, last value)."""
    steps = select(Step.id).where(Step.name == step)
    if pipeline is not None:
        steps = steps.where(
            Step.pipeline_id.in_(select(Pipeline.id).where(Pipeline.name == pipeline))
        )
    with store.engine.connect() as conn:
        groups = conn.execute(
            select(MetricRecord.key, MetricRecord.suite, func.count(), func.max(MetricRecord.id))
            .where(MetricRecord.step_id.in_(steps))
            .group_by(MetricRecord.key, MetricRecord.suite)
        ).all()
        value = {
            i: v
            for i, v in conn.execute(
                select(MetricRecord.id, MetricRecord.value).where(
                    MetricRecord.id.in_([g[3] for g in groups])
                )
            ).all()
        }
    rows = [(k, s, n, value[last]) for k, s, n, last in groups]
    return sorted(rows, key=lambda r: (r[0], r[1] is not None, r[1] or ""))


def listed(store, step: str, pipeline: str | None = None) -> list[tuple]:
    return [
        (m["metric"], m["suite"], m["points"], m["last_value"])
        for m in store.list_metrics(step, pipeline=pipeline)
    ]


def test_the_list_counts_every_series_as_grouping_every_point_does(store):
    seeded(store)
    load = listed(store, "load", "factory")
    assert load == grouped(store, "load", "factory")
    assert [r for r in load if r[0] != "avg(x1)"] == [
        ("0 first", None, 4, -28.0),
        ("null_count", "shipments", 10, 2.0),
        ("row_count", None, 30, 210.0),
        ("row_count", "orders", 31, -1.0),  # the test run's point counts too, and is the last
        ("row_count", "shipments", 10, 90.0),
    ]
    assert [(m, s, n) for m, s, n, _ in load if m == "avg(x1)"] == [("avg(x1)", "orders", 30)]
    # the step name in both pipelines: the series of both, counted together
    both = listed(store, "load")
    assert both == grouped(store, "load")
    assert ("row_count", "orders", 37, -1.0) in both and ("ünï", "orders", 6, 1.5) in both
    assert listed(store, "report") == [("pages", "r", 30, 30.0)]
    assert listed(store, "nothing") == []
    store.upsert_step("factory", "quiet", notebook="quiet.ipynb")
    assert listed(store, "quiet", "factory") == []


def test_the_list_on_a_store_migrated_from_0014_with_points_in_it(store_url):
    from alembic import command

    with open_store(store_url) as store:
        seeded(store)
        expected = grouped(store, "load", "factory")
    with open_store(store_url) as store, store.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0014")  # points recorded before the series index
        assert listed_in(conn) == 0
    with open_store(store_url) as store:  # migrates to head
        assert listed(store, "load", "factory") == expected
        record(store, "factory", "load", {"shipments": {"row_count": 5.5}})
        after = listed(store, "load", "factory")
        assert ("row_count", "shipments", 11, 5.5) in after
        assert after == grouped(store, "load", "factory")


def listed_in(conn) -> int:
    """How many indexes named like the series index the metrics table has."""
    from sqlalchemy import inspect

    names = [ix["name"] for ix in inspect(conn).get_indexes("metrics")]
    return sum(name == "ix_metrics_step_id_key_suite_id" for name in names)


@pytest.mark.parametrize(
    "store_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)  # VACUUM and ANALYZE are PostgreSQL's
def test_a_postgresql_upgrade_vacuums_and_analyzes_the_tables_it_rewrote(store_url):
    from alembic import command

    with open_store(store_url) as store:
        seeded(store)
    state = text(
        "SELECT t.vacuum_count, (SELECT count(*) FROM pg_stats s WHERE s.schemaname = "
        "current_schema() AND s.tablename = 'metrics' AND s.attname = 'partition') "
        "FROM pg_stat_user_tables t WHERE t.relid = 'metrics'::regclass"
    )
    with open_store(store_url) as store, store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE metrics SET (autovacuum_enabled = false)"))  # only ours
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")
        vacuums, stats = conn.execute(state).one()
        assert stats == 0
    with open_store(store_url) as store, store.engine.connect() as conn:  # migrated to head
        # 0014 rewrote every point: one VACUUM after the upgrade (the visibility map of
        # index-only scans; no autovacuum here) with ANALYZE (the new column's statistics)
        assert conn.execute(state).one() == (vacuums + 1, 1)
