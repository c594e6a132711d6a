"""Where a seasonal spc line's points sit in the calendar: a partition's first moment, else the
run's start in the pipeline's time zone."""

from __future__ import annotations

import datetime as dt

from jupyter_dataops.pipeline.execution.spc_history import partition_start, point_time
from jupyter_dataops.spc.seasonal import season_of


def test_a_partition_dates_its_point_whatever_the_run_started():
    started = "2026-09-08T06:00:00+00:00"  # the run of the 8th processes the 7th
    assert point_time("2026-09-07", started, "UTC") == dt.datetime(2026, 9, 7)
    assert point_time("2026-09-07T06", started, "UTC") == dt.datetime(2026, 9, 7, 6)
    assert point_time("2026-09", started, "UTC") == dt.datetime(2026, 9, 1)
    assert point_time("2026-W37", started, "UTC") == dt.datetime(2026, 9, 7)
    assert partition_start("not a key") is None


def test_an_unpartitioned_run_is_dated_by_its_start_in_the_time_zone():
    started = "2026-09-07T02:00:00+00:00"  # Monday 02:00 UTC is Sunday 22:00 in New York
    utc = point_time(None, started, "UTC")
    ny = point_time(None, started, "America/New_York")
    assert (season_of("weekday", utc), season_of("weekday", ny)) == ("Monday", "Sunday")
    assert season_of("hour", ny) == "22"
    aware = dt.datetime(2026, 9, 7, 2, tzinfo=dt.timezone.utc)
    assert point_time(None, aware, "Europe/Paris") == dt.datetime(2026, 9, 7, 4)
