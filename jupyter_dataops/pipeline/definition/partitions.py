"""Partitions: the period each run is *for* (``partitions:`` in ``dataops.yaml``).

A key is ISO text: ``2026-09-01T06`` (hour), ``2026-09-01`` (day), ``2026-W36`` (ISO week),
``2026-09`` (month). Keys are read as naive local times in the pipeline's time zone; a tick at
``t`` processes the period that ended ``offset`` periods before ``t`` (``offset: 1``: the run of
the 7th at 06:00 processes the 6th).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import DataOpsError

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

PERIODS = ("hour", "day", "week", "month")
DEFAULT_PARAMETER = "run_date"
EXAMPLES = {"hour": "2026-09-01T06", "day": "2026-09-01", "week": "2026-W36", "month": "2026-09"}
_PATTERNS = {
    "hour": re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})$"),
    "day": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    "week": re.compile(r"^(\d{4})-W(\d{2})$"),
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
}
KEY_LENGTHS = {every: len(example) for every, example in EXAMPLES.items()}  # one per period
_EXPECT_BY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class PartitionKeyError(DataOpsError, ValueError):  # ValueError: callers that parse values catch it
    """A partition key that does not name a period of the pipeline's kind."""


def parse_key(every: str, key: str) -> datetime:
    """The first moment (naive, local) of the period ``key``; PartitionKeyError when ``key`` is
    not a key of an ``every`` period."""
    m = _PATTERNS[every].match(str(key).strip())
    try:
        if m is None:
            raise ValueError
        n = [int(g) for g in m.groups()]
        if every == "hour":
            return datetime(n[0], n[1], n[2], n[3])
        if every == "day":
            return datetime(n[0], n[1], n[2])
        if every == "week":
            return datetime.combine(date.fromisocalendar(n[0], n[1], 1), time())
        return datetime(n[0], n[1], 1)
    except ValueError:
        raise PartitionKeyError(
            f"{key!r} is not a {every} partition key; write one such as {EXAMPLES[every]!r}."
        ) from None


def key_start(key: str) -> tuple[str, datetime] | None:
    """The period ``key`` is a key of and its first moment (``2026-09-01`` -> ``("day",
    2026-09-01 00:00)``); None: ``key`` names no period. (A key that matches its period's
    pattern and parses is canonical: parse and format round-trip.)"""
    every = next((p for p, n in KEY_LENGTHS.items() if n == len(key)), None)
    try:
        return (every, parse_key(every, key)) if every else None
    except PartitionKeyError:
        return None


def period_of(key: str) -> str | None:
    """The period ``key`` is a key of (``2026-09-01`` -> ``"day"``); None: none."""
    found = key_start(key)
    return found[0] if found else None


def floor(every: str, moment: datetime) -> datetime:
    """The first moment of the period holding ``moment`` (naive, local)."""
    moment = moment.replace(minute=0, second=0, microsecond=0)
    if every == "hour":
        return moment
    moment = moment.replace(hour=0)
    if every == "day":
        return moment
    if every == "week":
        return moment - timedelta(days=moment.weekday())
    return moment.replace(day=1)


def format_key(every: str, moment: datetime) -> str:
    """The key of the period holding ``moment``."""
    start = floor(every, moment)
    if every == "hour":
        return start.strftime("%Y-%m-%dT%H")
    if every == "day":
        return start.strftime("%Y-%m-%d")
    if every == "week":
        year, week, _ = start.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return start.strftime("%Y-%m")


def shift_start(every: str, start: datetime, n: int) -> datetime:
    """The start of the period ``n`` periods after (before, when negative) the one at ``start``."""
    if every == "hour":
        return start + timedelta(hours=n)
    if every == "day":
        return start + timedelta(days=n)
    if every == "week":
        return start + timedelta(weeks=n)
    months = start.year * 12 + start.month - 1 + n
    return start.replace(year=months // 12, month=months % 12 + 1)


def periods_between(every: str, first: datetime, last: datetime) -> int:
    """How many periods ``last`` (a period's start) is after ``first`` (one's start): naive
    local arithmetic, as ``shift_start`` steps."""
    if every == "month":
        return (last.year * 12 + last.month) - (first.year * 12 + first.month)
    return (last - first) // timedelta(**{f"{every}s": 1})


@dataclass(frozen=True)
class Partitions:
    """A pipeline's ``partitions:``: the period length, the notebook parameter that receives
    the key, the first partition and the offset of a tick."""

    every: str
    parameter: str = DEFAULT_PARAMETER
    start: str | None = None
    offset: int = 1

    def parse(self, key: str) -> datetime:
        return parse_key(self.every, key)

    @property
    def key_length(self) -> int:
        """The length of every key of this period (ISO text: ``2026-09-01`` is 10)."""
        return KEY_LENGTHS[self.every]

    def check(self, key: str) -> str:
        """``key`` in its canonical form (PartitionKeyError when it is no key of this kind)."""
        return format_key(self.every, self.parse(key))

    def format(self, moment: datetime) -> str:
        return format_key(self.every, moment)

    def next(self, key: str) -> str:
        return self.format(shift_start(self.every, self.parse(key), 1))

    def previous(self, key: str) -> str:
        return self.format(shift_start(self.every, self.parse(key), -1))

    def end(self, key: str) -> datetime:
        """The first moment after the period (naive, local)."""
        return shift_start(self.every, self.parse(key), 1)

    def range(self, first: str, last: str, limit: int = 100_000) -> list[str]:
        """The keys from ``first`` to ``last``, both included, oldest first."""
        start, stop = self.parse(first), self.parse(last)
        if stop < start:
            raise PartitionKeyError(f"{last!r} comes before {first!r}; give the older key first.")
        out = []
        while start <= stop and len(out) < limit:
            out.append(self.format(start))
            start = shift_start(self.every, start, 1)
        return out

    def count(self, first: str, last: str) -> int:
        """How many keys ``range(first, last)`` holds (0 when ``last`` comes before ``first``),
        without building them."""
        start, stop = self.parse(first), self.parse(last)
        return periods_between(self.every, start, stop) + 1 if start <= stop else 0

    def newest(self, first: str, last: str, offset: int = 0, limit: int | None = None) -> list[str]:
        """A window of ``range(first, last)`` newest first: ``limit`` keys (None: all) after
        skipping the ``offset`` newest, computed from ``last`` back (a window of N keys
        builds N keys, not every key since ``first``)."""
        n = self.count(first, last)
        stop = n if limit is None else min(n, offset + max(limit, 0))
        top = self.parse(last)
        return [self.format(shift_start(self.every, top, -i)) for i in range(offset, stop)]

    def is_key(self, key: str) -> bool:
        """Whether ``key`` is a key of this period in its canonical form."""
        try:
            return self.check(key) == key
        except PartitionKeyError:
            return False

    def newest_due(self, now: datetime, timezone: str = "UTC") -> str | None:
        """The newest partition due at ``now`` (None: no ``start:``, or nothing due yet)."""
        if self.start is None:
            return None
        last = self.key_of_tick(now, timezone)
        return last if self.parse(last) >= self.parse(self.start) else None

    def key_of_tick(self, tick: datetime, timezone: str = "UTC") -> str:
        """The partition a tick at ``tick`` (aware) processes: the period that ended ``offset``
        periods before it, in ``timezone``."""
        from zoneinfo import ZoneInfo

        local = tick.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
        return self.format(shift_start(self.every, floor(self.every, local), -self.offset))

    def due(self, now: datetime, timezone: str = "UTC") -> list[str]:
        """Every partition from ``start`` to the one a tick at ``now`` would process."""
        last = self.newest_due(now, timezone)
        return [] if last is None or self.start is None else self.range(self.start, last)


def deadline(partitions: Partitions, key: str, expect_by: str, timezone: str = "UTC") -> datetime:
    """When partition ``key`` should be done (aware): the first ``expect_by`` time of day at or
    after the period's end (a day partition: that time on the day after it)."""
    from zoneinfo import ZoneInfo

    hours, minutes = (int(p) for p in expect_by.split(":"))
    end = partitions.end(key)
    at = datetime.combine(end.date(), time(hours, minutes))
    if at < end:
        at += timedelta(days=1)
    return at.replace(tzinfo=ZoneInfo(timezone))


def parse_expect_by(value: Any) -> str:
    """``"07:00"`` -> ``"07:00"``; ValueError naming the expected form."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # YAML 1.1 reads an unquoted 07:00 as a sexagesimal number (420)
        value = f"{value // 60:02d}:{value % 60:02d}"
    m = _EXPECT_BY.match(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f'expected a time of day such as "07:00", got {value!r}.')
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def parse_partitions(node: Any) -> Partitions:
    """Validate a ``partitions:`` mapping; ValueError saying what is wrong and what to write."""
    if isinstance(node, str) and node in PERIODS:
        return Partitions(every=node)
    if not isinstance(node, Mapping):
        raise ValueError(
            "expected a mapping such as `{every: day, parameter: run_date, start: 2026-09-01}`."
        )
    unknown = [k for k in node if k not in ("every", "parameter", "start", "offset")]
    if unknown:
        raise ValueError(
            f"unknown key {unknown[0]!r}; known keys: every, parameter, start, offset."
        )
    every = node.get("every")
    if every not in PERIODS:
        raise ValueError(f"`every:` must be one of {', '.join(PERIODS)}, got {every!r}.")
    parameter = node.get("parameter", DEFAULT_PARAMETER)
    if not isinstance(parameter, str) or not parameter.isidentifier():
        raise ValueError(
            f"`parameter:` must be a notebook parameter name such as 'run_date', got {parameter!r}."
        )
    offset = node.get("offset", 1)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"`offset:` must be a whole number of 0 or more, got {offset!r}.")
    start = node.get("start")
    if start is not None:
        if isinstance(start, datetime):
            start = format_key(every, start)
        elif isinstance(start, date):
            start = format_key(every, datetime.combine(start, time()))
        try:
            start = format_key(every, parse_key(every, str(start)))
        except PartitionKeyError as exc:
            raise ValueError(f"`start:` {exc}") from None
    return Partitions(every=every, parameter=parameter, start=start, offset=offset)


# -- on time, or late (``expect_by``) ---------------------------------------------------------------

LOOKBACK = 1000  # the newest due partitions looked at for lateness (bounds one look)


@dataclass(frozen=True)
class Late:
    """A partition past a deadline with steps not successful: the late steps (pipeline order)
    and the earliest of their deadlines (aware, the pipeline's time zone)."""

    partition: str
    steps: tuple[str, ...]
    deadline: datetime
    expect_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "steps": list(self.steps),
            "deadline": self.deadline.isoformat(),
            "expect_by": self.expect_by,
        }


def lateness(
    pipeline: Any, store: Store, now: datetime | None = None, keys: Iterable[str] | None = None
) -> list[Late]:
    """The late partitions of ``pipeline``, oldest first: a step with an ``expect_by`` (its own,
    else the pipeline's) whose latest production run for the partition is not ``success`` once
    the deadline passed. Partitions looked at: from ``start:`` to the newest a tick at ``now``
    processes (the newest ``LOOKBACK``); without ``start:`` the ones that ran, and that newest.
    ``keys``: only those of them (the grid's page)."""
    parts = getattr(pipeline, "partitions", None)
    if parts is None:
        return []
    deadlines = {
        name: spec.expect_by or pipeline.expect_by
        for name, spec in pipeline.steps.items()
        if spec.expect_by or pipeline.expect_by
    }
    if not deadlines:
        return []
    from datetime import timezone as tz

    now = now or datetime.now(tz.utc)
    zone = getattr(pipeline, "timezone", None) or "UTC"
    newest = parts.key_of_tick(now, zone)
    if parts.start is not None:
        first = parts.parse(parts.start)
        if parts.parse(newest) < first:
            return []
        oldest = max(first, shift_start(parts.every, parts.parse(newest), 1 - LOOKBACK))
        if keys is not None:  # a few keys: those of the window, without building it
            top = parts.parse(newest)
            wanted = {k for k in keys if parts.is_key(k) and oldest <= parts.parse(k) <= top}
            keys = sorted(wanted)
        else:
            keys = parts.range(parts.format(oldest), newest)
    else:
        # the newest LOOKBACK keys that ran (read from the index, not the whole history);
        # keys of another period (an earlier `every:`) have no deadline of this one
        ran = (
            store.list_partitions(pipeline.name, limit=LOOKBACK, until=newest)
            if store is not None
            else []
        )
        window = sorted({k for k in ran if parts.is_key(k)} | {newest})[-LOOKBACK:]
        only = None if keys is None else set(keys)
        keys = window if only is None else [k for k in window if k in only]
    statuses = store.partition_statuses(pipeline.name, keys) if store is not None else {}
    out = []
    for key in keys:
        late = [
            (step, deadline(parts, key, expect, zone), expect)
            for step, expect in deadlines.items()
            if statuses.get(key, {}).get(step) != "success"
        ]
        late = [item for item in late if item[1] <= now]
        if late:
            first_late = min(late, key=lambda item: item[1])
            out.append(Late(key, tuple(s for s, _, _ in late), first_late[1], first_late[2]))
    return out


def late_partitions(
    pipeline: Any, store: Store, now: datetime | None = None, keys: Iterable[str] | None = None
) -> dict[str, list[str]]:
    """Late partition -> its late steps (``lateness`` as the grid reads it; ``keys``: only
    those partitions)."""
    return {item.partition: list(item.steps) for item in lateness(pipeline, store, now, keys)}
