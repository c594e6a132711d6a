"""Facts: the small questions metrics ask of the data, as values.

A metric (``catalogue``) says which facts it needs and what they mean; an engine
(``checks/engines/``) says how to compute each fact type on its kind of data, in one dispatch
table keyed by these classes. Facts are frozen (hashable) so equal requests of different checks
are computed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.checks.spec import ValidRule


@dataclass(frozen=True)
class Fact:
    """Base of every fact; ``columns`` are the columns of the checked frame it reads."""

    @property
    def columns(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class RowCount(Fact):
    """Number of rows."""


@dataclass(frozen=True)
class NullCount(Fact):
    """Missing values of a column: nulls, and NaN in a float column."""

    column: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)


@dataclass(frozen=True)
class NanCount(Fact):
    """NaN values of a float column (engines use it to decide whether aggregates skip NaN)."""

    column: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)


@dataclass(frozen=True)
class Aggregate(Fact):
    """``fn`` (min, max, mean, std, sum, median, quantile at ``q``) over the non-missing values."""

    fn: str
    column: str
    q: float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)


@dataclass(frozen=True)
class KeyedRowCount(Fact):
    """Rows whose key columns are all non-missing."""

    key: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.key


@dataclass(frozen=True)
class DistinctCount(Fact):
    """Distinct non-missing values (of one column) or keys (of several, all non-missing)."""

    key: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.key


@dataclass(frozen=True)
class InvalidCount(Fact):
    """Non-missing values of a column that break a validity rule."""

    column: str
    rule: ValidRule

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)


@dataclass(frozen=True)
class ConditionCount(Fact):
    """Rows for which a condition (``checks.conditions``: its text, parsed once) is true."""

    condition: str

    @property
    def columns(self) -> tuple[str, ...]:
        from jupyter_dataops.checks.conditions import columns

        return columns(self.condition)


@dataclass(frozen=True)
class ReferenceMissingCount(Fact):
    """Non-missing values of a column absent from ``frame.ref_column`` of another frame."""

    column: str
    frame: str
    ref_column: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)


@dataclass(frozen=True)
class TopValues(Fact):
    """The ``limit`` most frequent non-missing values of a column with their counts, most
    frequent first, as ``[{"value": v, "count": n}, ...]`` (profiles: categories, drift)."""

    column: str
    limit: int

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)


class Unavailable:
    """What an engine stores for a fact it could not compute, with the reason; the checks that
    need that fact report ``error`` with it."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"Unavailable({self.message!r})"
