"""A scheduler tick's partition is stored with its claim, on SQLite and PostgreSQL (late
partitions are alerted once per incident: tests/pipeline/observers/test_incidents.py)."""

from __future__ import annotations

from datetime import datetime, timezone


def test_a_ticks_partition_is_stored_with_its_claim(store):
    t = datetime(2026, 9, 7, 6, tzinfo=timezone.utc)
    claim = store.claim_scheduled_run("shop", "*", t, partition="2026-09-06")
    store.close_scheduled_run(claim, "skipped", "missed while no scheduler ran (catchup: skip)")
    (row,) = store.list_scheduled_runs(pipeline="shop")
    assert (row["partition"], row["status"]) == ("2026-09-06", "skipped")
