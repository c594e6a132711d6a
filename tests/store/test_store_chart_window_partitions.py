"""A partitioned step's chart window is counted and found on the metrics index alone
(``metrics.partition``, migration 0014): the window is still the slice of the whole series,
runs that were not production never count, and a store migrated from 0013 gets its points'
partitions filled in. Real stores: SQLite, and PostgreSQL via DATAOPS_TEST_PG_URL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jupyter_dataops.store import chart_reads, open_store
from jupyter_dataops.store.engine import alembic_config
from jupyter_dataops.store.models import MetricRecord


def record(store, value: float, partition=None, mode="production") -> int:
    prid = store.create_pipeline_run("factory", partition=partition, mode=mode)
    srid = store.create_step_run(prid, "load")
    store.start_step_run(srid)
    store.record_metric(srid, "row_count", value, suite="q")
    store.finish_step_run(srid, "success")
    store.finish_pipeline_run(prid)
    return srid


def window(store, last: int | None = None, before: int | None = None) -> tuple:
    got = store.chart_window("load", "row_count", pipeline="factory", last=last, before=before)
    points = chart_reads.points(got["columns"])  # read as columns, one list per field
    return got["total"], got["first"], [(p["partition"], p["value"]) for p in points]


def seeded(store) -> list[tuple]:
    """Eight days, a re-run of the 3rd, a run without a partition; test runs of the 3rd and of
    a day production never ran: the series, as the chart draws it."""
    store.upsert_step("factory", "load", notebook="load.ipynb")
    record(store, 0.5)
    for day in range(1, 9):
        record(store, float(day), f"2026-09-0{day}")
    record(store, 33.0, "2026-09-03")
    record(store, 99.0, "2026-09-03", mode="test")
    record(store, 99.0, "2026-09-09", mode="test")
    days = [(f"2026-09-0{d}", 33.0 if d == 3 else float(d)) for d in range(1, 9)]
    return [(None, 0.5), *days]


@pytest.mark.parametrize("in_list", [900, 1], ids=["few-test-runs", "many-test-runs"])
def test_windows_from_either_end_are_slices_and_test_runs_never_count(store, in_list, monkeypatch):
    # up to _IN_LIST test runs are left out by their ids, more by a subquery
    monkeypatch.setattr(chart_reads, "_IN_LIST", in_list)
    series = seeded(store)
    assert window(store) == (9, 0, series)
    for last in (1, 3, 4, 9, 20):
        for before in (None, 1, 2, 5, 8, 9):
            end = 9 if before is None else before
            start = max(0, end - last)
            assert window(store, last, before) == (9, start, series[start:end]), (last, before)


def test_a_store_migrated_from_0013_has_the_partitions_of_its_points(store_url):
    from alembic import command

    with open_store(store_url) as store:
        series = seeded(store)
    with open_store(store_url) as store, store.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")  # points recorded before metrics had a partition
        command.upgrade(cfg, "head")
    with open_store(store_url) as store:
        with store.engine.connect() as conn:
            filled = conn.execute(select(MetricRecord.partition, MetricRecord.value)).all()
        assert sorted(filled, key=str) == sorted(
            [(None, 0.5), *((f"2026-09-0{d}", float(d)) for d in range(1, 9))]
            + [("2026-09-03", 33.0), ("2026-09-03", 99.0), ("2026-09-09", 99.0)],
            key=str,
        )
        assert window(store, 3) == (9, 6, series[6:])
        assert window(store, 2, 3) == (9, 1, series[1:3])


@pytest.mark.parametrize("mode", ["production", "test"])
def test_a_new_point_carries_its_runs_partition(store, mode):
    store.upsert_step("factory", "load", notebook="load.ipynb")
    srid = record(store, 1.0, "2026-09-01", mode=mode)
    with store.engine.connect() as conn:
        assert (
            conn.execute(
                select(MetricRecord.partition).where(MetricRecord.step_run_id == srid)
            ).scalar_one()
            == "2026-09-01"
        )
