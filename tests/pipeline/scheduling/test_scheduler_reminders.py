"""A real ``dataops scheduler`` process reminds of incidents still open past a channel's
``remind_after`` on its own ticks, with no run ending (a pipeline whose only schedule is far
off), once per incident and period, and opens the late incident of the days past their
``expect_by`` when it starts, alerted once, to a real webhook receiver."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from builders import json_events as events
from builders import running_scheduler, sales_pipeline, sleep_notebook, wait_for

from jupyter_dataops.store import open_store


def project(root, hook, on: str, *, head: str = "", alert: str = "") -> str:
    """Pipeline ``sales`` of one step (it sleeps), scheduled far off, alerting ``hook`` on the
    events ``on``; its store's URL."""
    url = f"sqlite:///{root / 'store.db'}"
    sleep_notebook(root / "orders.ipynb")
    head = f"store: '{url}'\nschedule: \"0 0 1 1 *\"\n" + head
    sales_pipeline(root, hook.url, on, head=head, alert=alert)
    return url


def test_the_scheduler_reminds_of_an_open_incident_on_its_ticks_once_per_period(tmp_path, hook):
    url = project(tmp_path, hook, "check_failed", alert="    remind_after: 1h\n")
    two_hours_ago = datetime.now(timezone.utc) - timedelta(hours=2)
    with open_store(url) as store:
        due, _ = store.record_failure(
            "sales", "orders", "check", "row_count > 0", title="t", now=two_hours_ago
        )
        recent, _ = store.record_failure("sales", "orders", "check", "x = 0", title="t")
        done, _ = store.record_failure(
            "sales", "orders", "check", "y = 0", title="t", now=two_hours_ago
        )
        store.resolve_incident(done["id"], by="ana")
    # 120 s: a new scheduler process logged scheduler_started after 46 s at load 13 (2 cores)
    with running_scheduler(tmp_path) as scheduler:
        wait_for(lambda: hook.bodies, 120, "a reminder")
        sent_at = datetime.now(timezone.utc)
        with open_store(url) as store:
            # the scheduler goes on ticking (its heartbeat, every tick): no second reminder
            wait_for(lambda: _heartbeat(store) > sent_at + timedelta(seconds=2), 90, "ticks")
    err = scheduler.stderr
    assert scheduler.process.returncode == 0, err
    [reminder] = hook.bodies
    assert reminder["event"] == "check_failed" and reminder["incident"]["id"] == due["id"]
    assert "still open" in reminder["error"]
    logged = [e for e in events(err) if e["event"] == "reminded"]
    assert [(e["incident"], e["delivery"]) for e in logged] == [(due["id"], "alert_sent")]
    with open_store(url) as store:
        assert store.get_incident(due["id"])["reminded_at"] is not None
        assert store.get_incident(recent["id"])["reminded_at"] is None  # not due yet


def _heartbeat(store) -> datetime:
    [row] = store.schedulers(pipeline="sales")
    return datetime.fromisoformat(row["heartbeat_at"])


def test_the_scheduler_opens_and_alerts_a_late_incident_when_it_starts(tmp_path, hook):
    partitions = 'partitions: {every: day, start: 2026-09-01}\nexpect_by: "00:00"\n'
    url = project(tmp_path, hook, "late", head=partitions)
    with running_scheduler(tmp_path) as scheduler:
        wait_for(lambda: hook.bodies, 120, "the late alert")
    err = scheduler.stderr
    assert scheduler.process.returncode == 0, err  # was a TypeError in its log line at start
    [alert] = hook.bodies  # one incident for every late day so far, one alert
    assert alert["event"] == "late" and alert["step"] == "orders"
    logged = [e for e in events(err) if e["event"] == "late"]
    assert [(e["incident"], e["delivery"]) for e in logged] == [
        (alert["incident"]["id"], "alert_sent")
    ]
    with open_store(url) as store:
        [incident] = store.list_incidents(pipeline="sales")
    assert incident["kind"] == "late" and incident["partitions"][0] == "2026-09-01"
