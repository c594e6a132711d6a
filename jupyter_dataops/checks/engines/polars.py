"""The in-memory polars engine: the streaming engine's fused select plus shortcuts that need the
data in memory.

* ``DistinctCount`` of one integer column: a sorted column lets polars count runs; a dense one
  (max - min small relative to its length) is counted with a bitmap (no hashing); otherwise
  hashing ``n_unique``;
* a text or integer column with few distinct values (judged on a sample) is grouped once and its
  distinct count and every validity rule on it (values, regex, format, length) are answered
  from the groups instead of from every row;
* per-row text work (regex, formats, lengths) on a large column is split into one slice per
  thread so it does not serialise the pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import polars as pl

from jupyter_dataops.checks import facts as F
from jupyter_dataops.checks.engines.base import first_line
from jupyter_dataops.checks.engines.streaming import (
    STREAMING,
    Builder,
    StreamingEngine,
    invalid_expr,
)
from jupyter_dataops.checks.engines.streaming import distinct as plain_distinct
from jupyter_dataops.checks.engines.streaming import invalid as plain_invalid
from jupyter_dataops.checks.facts import Unavailable

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.checks.inputs import CheckInputs

#: a column is "low-cardinality" when a sample of this many rows has at most this share distinct
SAMPLE_ROWS = 20_000
LOW_CARDINALITY = 0.01
#: in-memory text columns at least this long get their per-row work split across threads
SPLIT_ROWS = 500_000


class PolarsEngine(StreamingEngine):
    """Facts over a polars ``DataFrame`` in memory."""

    name: ClassVar[str] = "polars"
    collect_engine: ClassVar[str] = "in-memory"
    frame: pl.DataFrame
    priority: ClassVar[int] = 10
    #: libraries whose frames polars reads directly (anything else narwhals may convert)
    MODULES: ClassVar[tuple[str, ...]] = ("polars", "pandas", "pyarrow")

    @classmethod
    def accepts(cls, data: Any, table: str | None) -> bool:
        return table is None and type(data).__module__.split(".")[0] in cls.MODULES

    @classmethod
    def for_input(cls, data: Any, table: str | None, ctx: CheckInputs) -> StreamingEngine:
        """A ``DataFrame`` in memory; a ``LazyFrame`` as one streaming pass (the planner may
        still read it into memory or in batches once it knows the columns needed)."""
        from jupyter_dataops.checks.inputs import to_polars

        frame = to_polars(data)
        schema = dict(frame.collect_schema())
        return (cls if isinstance(frame, pl.DataFrame) else StreamingEngine)(frame, schema, ctx)

    def low_cardinality(self, col: str) -> bool:
        n = self.frame.height
        if n < 2 * SAMPLE_ROWS:
            return False  # small: the plain pass is already cheap
        sample = self.frame[col].head(SAMPLE_ROWS)
        return sample.n_unique() <= LOW_CARDINALITY * SAMPLE_ROWS

    def split_worthwhile(self) -> bool:
        return self.frame.height >= SPLIT_ROWS and pl.thread_pool_size() > 1

    def split(self, col: str, make: Callable[[pl.Expr], pl.Expr]) -> list[pl.Expr]:
        """The same count over one slice per thread; the parts are summed."""
        n = self.frame.height
        k = pl.thread_pool_size()
        step = math.ceil(n / k)
        parts = []
        for i in range(k):
            lo = i * step
            if lo >= n:
                break
            # slice the column first: slicing the result would do the whole column's work
            parts.append(make(pl.col(col).slice(lo, step)).sum())
        self.steps.append(f"{col}: per-row text work split into {len(parts)} slices")
        return parts


def distinct(engine: PolarsEngine, fact: F.DistinctCount) -> list[pl.Expr] | None:
    if len(fact.key) == 1 and engine.schema[fact.key[0]].is_integer():
        col = fact.key[0]
        s = engine.frame[col]
        count = bitmap_counter(s)
        if count is not None:

            def job(count=count, fact=fact) -> None:  # noqa: ANN001
                try:
                    engine.values[fact] = count()
                except Exception as exc:  # memory, mostly: say so rather than crash
                    engine.values[fact] = Unavailable(first_line(exc))

            engine.side_jobs.append(job)
            engine.steps.append(f"{col}: distinct counted with a bitmap over its dense range")
            return None
        if s.flags.get("SORTED_ASC") or s.flags.get("SORTED_DESC"):
            engine.steps.append(f"{col}: sorted, distinct counted from runs")
    return plain_distinct(engine, fact)


def invalid(engine: PolarsEngine, fact: F.InvalidCount) -> list[pl.Expr]:
    if fact.rule.kind in ("regex", "format", "length") and engine.split_worthwhile():
        bad = invalid_expr(fact.column, engine.schema[fact.column], fact.rule)
        return engine.split(fact.column, bad)
    return plain_invalid(engine, fact)


IN_MEMORY: dict[type, Builder] = {
    **STREAMING,
    F.DistinctCount: distinct,
    F.InvalidCount: invalid,
}
PolarsEngine.TABLE = IN_MEMORY


def bitmap_counter(s: pl.Series) -> Callable[[], int] | None:
    """A function counting the distinct non-null values of an integer series with a bitmap over
    its range, or None when that does not pay.

    Exact and without hashing: used only when the range (max - min + 1) is at most a few times
    the number of values, so the bitmap stays small (one byte per possible value).
    """
    if s.flags.get("SORTED_ASC") or s.flags.get("SORTED_DESC"):
        return None  # polars counts the runs of a sorted series faster still
    values = s.drop_nulls() if s.null_count() else s
    n = values.len()
    if n < 100_000:
        return None
    lo, hi = int(values.min()), int(values.max())  # type: ignore[arg-type]
    if hi - lo + 1 > 4 * n:
        return None

    def count() -> int:
        arr = values.to_numpy()
        if lo >= 0 and hi < 4 * n:  # index directly: no subtraction pass
            seen = np.zeros(hi + 1, dtype=np.bool_)
            seen[arr] = True
        else:
            seen = np.zeros(hi - lo + 1, dtype=np.bool_)
            seen[arr.astype(np.int64) - lo] = True  # int64: small types would overflow
        return int(np.count_nonzero(seen))

    return count
