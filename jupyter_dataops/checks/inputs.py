"""What a suite runs on: the data as a polars frame, the clock and what lines look up beyond
the frame (other frames by name, the SPC history)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from jupyter_dataops.checks.catalogue import _first_line, _missing_column
from jupyter_dataops.errors import DataOpsError

#: ``history(metric_key)``: earlier production values of a metric, oldest first
HistoryProvider = Callable[[str], Sequence[float]]


class NoHistory:
    """A history that has nothing, saying why: which project, step or store was looked for and
    where. ``spc`` lines and ``drift ... against last`` show the reason instead of a bare
    "no production history", so a user can tell what to change."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __call__(self, metric_key: str) -> Sequence[float]:
        return []

    def __repr__(self) -> str:
        return f"NoHistory({self.reason!r})"


def missing_history(history: HistoryProvider | None) -> str | None:
    """Why ``history`` holds no production history (``None``: it may hold some)."""
    if history is None:
        return "no production history"
    if isinstance(history, NoHistory):
        return f"no production history: {history.reason}"
    return None


def to_polars(data: Any) -> pl.DataFrame | pl.LazyFrame:
    """The data as a polars frame: polars as is, pandas and pyarrow converted (zero-copy where
    the types allow), anything else narwhals supports through narwhals."""
    if isinstance(data, (pl.DataFrame, pl.LazyFrame)):
        return data
    mod = type(data).__module__.split(".")[0]
    try:
        if mod == "pandas":
            return pl.from_pandas(data)
        if mod == "pyarrow":
            out = pl.from_arrow(data)
            if isinstance(out, pl.DataFrame):
                return out
        import narwhals as nw

        frame = nw.from_native(data)
        if isinstance(frame, nw.LazyFrame):
            frame = frame.collect(backend="polars")
        return frame.to_polars()
    except Exception as exc:
        raise DataOpsError(
            f"cannot check data of type {type(data).__module__}.{type(data).__name__}: "
            f"{_first_line(exc)}. Pass a polars, pandas or pyarrow table."
        ) from exc


def parse_as_of(as_of: Any) -> dt.datetime | None:
    if as_of is None or isinstance(as_of, dt.datetime):
        return as_of
    if isinstance(as_of, dt.date):
        return dt.datetime(as_of.year, as_of.month, as_of.day)
    if isinstance(as_of, str):
        try:
            return dt.datetime.fromisoformat(as_of.strip().replace("Z", "+00:00"))
        except ValueError:
            raise DataOpsError(
                f"as_of {as_of!r} is not an ISO date or datetime (e.g. 2024-05-01T06:00:00Z)"
            ) from None
    raise DataOpsError(f"as_of must be a datetime or an ISO string, not {type(as_of).__name__}")


class CheckInputs:
    """What checks may need beyond the frame: other frames by name, the clock, SPC history."""

    def __init__(
        self,
        namespace: Mapping[str, Any] | None,
        as_of: dt.datetime | None,
        history: HistoryProvider | None,
    ) -> None:
        self.namespace = namespace
        self.as_of = as_of
        self.history = history
        self._refs: dict[tuple[str, str], pl.Series] = {}

    def reference_values(self, frame: str, column: str) -> pl.Series:
        """Distinct non-null values of ``frame.column`` (DataOpsError saying what to do)."""
        key = (frame, column)
        if key in self._refs:
            return self._refs[key]
        if self.namespace is None or frame not in self.namespace:
            raise DataOpsError(
                f"no frame named {frame!r} to look up: define {frame} (a polars, pandas or "
                f"pyarrow table) in the notebook before this check, or pass "
                f"namespace={{{frame!r}: ...}} to run_checks"
            )
        other = to_polars(self.namespace[frame])
        schema = other.collect_schema()
        if column not in schema:
            raise DataOpsError(f"in {frame}.{column}: {_missing_column(column, schema)}")
        values = other.lazy().select(pl.col(column).drop_nulls().unique()).collect()[column]
        self._refs[key] = values
        return values
