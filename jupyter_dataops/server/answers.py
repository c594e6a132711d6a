"""Answers of the read routes kept while nothing they depend on has changed.

An answer is kept under its route, its arguments and a stamp of what it was read from: the
pipeline file (its stat), the store's generation (``Store.generation``: changes with every commit,
by any process) and, for answers that also depend on the clock (a schedule's next time, whether a
scheduler's heartbeat is recent, which partitions are late), the current second. The stamp is
taken *before* reading, so a kept answer is never older than its stamp: a run recorded by a
worker appears in the next answer. When the store cannot tell its generation (a database other
than SQLite or PostgreSQL), nothing is kept.

Sixteen clients asking the same page at once wait for one reading instead of doing it sixteen
times. Answers are kept as the JSON bytes sent, up to ``MAX_BYTES`` in all (least recently used
first out).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

MAX_BYTES = 64 * 1024 * 1024
MAX_ANSWERS = 1024
CLOCK_SECONDS = 1.0  # how long an answer that depends on the clock is kept


def to_json(payload: Any, *, compact: bool = False) -> bytes:
    """The bytes a route sends (``compact``: no spaces, for the chart's many points)."""
    separators = (",", ":") if compact else None
    return json.dumps(payload, default=str, separators=separators).encode()


class Answers:
    """A bounded, thread-safe keep of JSON answers; one reading per key at a time."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_answers: int = MAX_ANSWERS) -> None:
        self.max_bytes = max_bytes
        self.max_answers = max_answers
        self._kept: OrderedDict[Hashable, bytes] = OrderedDict()
        self._reading: dict[Hashable, Future] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable | None, read: Callable[[], bytes]) -> bytes:
        """The kept answer under ``key``, else ``read()`` (once, however many ask) and keep it.

        ``key`` None: read and keep nothing. An error is raised to every asker, never kept.
        """
        if key is None:
            return read()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                self.hits += 1
                return kept
            future = self._reading.get(key)
            mine = future is None
            if mine:
                future = self._reading[key] = Future()
                self.misses += 1
        if not mine:
            return future.result()
        try:
            answer = read()
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._reading.pop(key, None)
        future.set_result(answer)
        self._keep(key, answer)
        return answer

    def _keep(self, key: Hashable, answer: bytes) -> None:
        if len(answer) > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._kept:
                return
            self._kept[key] = answer
            self._bytes += len(answer)
            while self._bytes > self.max_bytes or len(self._kept) > self.max_answers:
                _, dropped = self._kept.popitem(last=False)
                self._bytes -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._bytes = 0


def clock_bucket() -> int:
    """The current second (``CLOCK_SECONDS``): part of the key of clock-dependent answers."""
    return int(time.monotonic() / CLOCK_SECONDS)
