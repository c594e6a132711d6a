"""A ``late`` alert is claimed once per partition and channel, on SQLite and PostgreSQL: the
second claim (another process noticing the same late day) gets nothing to send."""

from __future__ import annotations

from datetime import datetime, timezone

HOOK = ("webhook", "http://127.0.0.1:9/late")
MAIL = ("email", "ops@example.com via smtp:25")


def test_a_partition_alert_is_claimed_once_per_partition_and_channel(store):
    first = store.claim_partition_alert("shop", "late", "2026-09-01", [HOOK, MAIL])
    assert first is not None and len(first) == 2
    assert store.claim_partition_alert("shop", "late", "2026-09-01", [HOOK, MAIL]) is None
    assert store.claim_partition_alert("shop", "late", "2026-09-01", [HOOK]) is None
    assert store.claim_partition_alert("shop", "late", "2026-09-02", [HOOK]) is not None
    assert store.claim_partition_alert("other", "late", "2026-09-01", [HOOK]) is not None
    store.finish_alert(first[0], "sent", attempts=1, error=None)
    store.finish_alert(first[1], "failed", attempts=3, error="ConnectionRefusedError")
    logged = {a["id"]: a for a in store.list_alerts(pipeline="shop")}
    assert (logged[first[0]]["status"], logged[first[0]]["attempts"]) == ("sent", 1)
    assert logged[first[1]]["error"] == "ConnectionRefusedError"
    # alerts that are not deduplicated (failure, spc_signal...) are logged as before
    for _ in range(2):
        store.record_alert(
            pipeline="shop", event="failure", channel="webhook", target=HOOK[1], status="sent"
        )
    assert [a["event"] for a in store.list_alerts(pipeline="shop")][:2] == ["failure", "failure"]


def test_a_ticks_partition_is_stored_with_its_claim(store):
    t = datetime(2026, 9, 7, 6, tzinfo=timezone.utc)
    claim = store.claim_scheduled_run("shop", "*", t, partition="2026-09-06")
    store.close_scheduled_run(claim, "skipped", "missed while no scheduler ran (catchup: skip)")
    (row,) = store.list_scheduled_runs(pipeline="shop")
    assert (row["partition"], row["status"]) == ("2026-09-06", "skipped")
