"""Partition keys per period: parse/format round trip, neighbours, the key of a tick."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_dataops.pipeline.definition.partitions import (
    PERIODS,
    PartitionKeyError,
    Partitions,
    deadline,
    key_start,
    parse_partitions,
    period_of,
)


@given(
    every=st.sampled_from(PERIODS),
    moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1)),
)
def test_a_key_round_trips_and_its_neighbours_are_one_period_away(every, moment):
    p = Partitions(every)
    key = p.format(moment)
    assert p.format(p.parse(key)) == key
    assert p.parse(key) <= moment < p.end(key)
    assert p.previous(p.next(key)) == key
    assert p.range(key, p.next(key)) == [key, p.next(key)]
    assert key_start(key) == (every, p.parse(key)) and len(key) == p.key_length


@pytest.mark.parametrize(
    ("every", "key"),
    [("hour", "2026-09-01T06"), ("day", "2026-09-01"), ("week", "2026-W36"), ("month", "2026-09")],
)
def test_iso_keys_per_period(every, key):
    assert Partitions(every).check(key) == key
    assert period_of(key) == every  # a key says its period: the grid's rows of an old `every:`
    for other in ("yesterday", key + " ", key.replace("-", "/"), "2026-W54", "2026-13"):
        assert period_of(other) is None
    with pytest.raises(PartitionKeyError, match="not a .* partition key"):
        Partitions(every).check("yesterday")


def test_a_daily_tick_processes_the_day_before_in_the_pipeline_time_zone():
    p = Partitions("day")
    tick = datetime(2026, 9, 7, 4, 0, tzinfo=timezone.utc)  # 06:00 in Paris
    assert p.key_of_tick(tick, "Europe/Paris") == "2026-09-06"
    assert Partitions("day", offset=0).key_of_tick(tick, "Europe/Paris") == "2026-09-07"
    assert Partitions("hour").key_of_tick(tick, "UTC") == "2026-09-07T03"
    assert deadline(p, "2026-09-06", "07:00", "UTC") == datetime(
        2026, 9, 7, 7, tzinfo=timezone.utc
    ) - timedelta(0)


def test_bad_partitions_say_what_to_write():
    with pytest.raises(ValueError, match="every"):
        parse_partitions({"every": "fortnight"})
    with pytest.raises(ValueError, match="start"):
        parse_partitions({"every": "day", "start": "Sept 1"})
    with pytest.raises(ValueError, match="offset"):
        parse_partitions({"every": "day", "offset": -1})


@given(
    every=st.sampled_from(PERIODS),
    moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1)),
    length=st.integers(0, 300),
    offset=st.integers(0, 320),
    limit=st.integers(1, 40),
)
def test_a_window_of_keys_is_the_slice_of_every_key_newest_first(
    every, moment, length, offset, limit
):
    p = Partitions(every)
    first = p.format(moment)
    last = first
    for _ in range(length - 1):
        last = p.next(last)
    every_key = p.range(first, last) if length else []
    if not length:
        first, last = p.next(first), first  # last before first: no key
    assert p.count(first, last) == len(every_key)
    assert p.newest(first, last, offset, limit) == every_key[::-1][offset : offset + limit]
    assert p.newest(first, last) == every_key[::-1]
