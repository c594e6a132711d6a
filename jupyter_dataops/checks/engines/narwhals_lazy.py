"""The narwhals lazy engine: a suite runs where a lazy frame lives (DuckDB, Dask, Ibis, ...).

The facts compile to narwhals expressions and run as one ``select`` on the frame's own backend;
only that one-row result comes back to Python, plus at most ``limit`` offending rows of a failing
row-level check. ``failed_rows`` conditions compile to narwhals expressions too
(``checks.conditions``), so they run in the same select on every backend. Nothing is downloaded whole. Semantics follow the polars engines: missing is
null or NaN (in float columns), aggregates and distinct counts skip both.

What a backend cannot express is ``Unavailable`` and its checks report ``error`` saying why:

* ``median``/``percentile`` on a Dask frame of several partitions (narwhals has no exact
  partitioned quantile);
* a multi-column ``duplicate_count`` runs a second, distinct-count query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import narwhals as nw
import polars as pl

from jupyter_dataops.checks import conditions
from jupyter_dataops.checks import facts as F
from jupyter_dataops.checks.dtypes import as_datetime, coerce_values, is_float
from jupyter_dataops.checks.engines.base import Engine, first_line, message_of
from jupyter_dataops.checks.facts import Fact, Unavailable
from jupyter_dataops.checks.formats import FORMAT_PATTERNS
from jupyter_dataops.errors import DataOpsError

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.checks.inputs import CheckInputs

#: a reference frame is sent to the backend as an ``is_in`` list of at most this many values
MAX_INLINE_VALUES = 100_000

#: one fact -> (narwhals expressions, how their values make the fact's value), or None when the
#: builder stored the value itself
Compiled = tuple[list[nw.Expr], Callable[[list], Any]]
Builder = Callable[["NarwhalsEngine", Any], "Compiled | None"]


def polars_dtype(dtype: Any) -> pl.DataType:
    """The polars dtype a narwhals dtype means to the catalogue."""
    name = type(dtype).__name__
    if name == "Datetime":
        return pl.Datetime(dtype.time_unit, dtype.time_zone)
    if name == "Duration":
        return pl.Duration(dtype.time_unit)
    if name == "Decimal":
        return pl.Decimal(getattr(dtype, "precision", None), getattr(dtype, "scale", 0) or 0)
    if name in ("Categorical", "Enum"):
        return pl.Categorical()
    cls = getattr(pl, name, None)
    if isinstance(cls, type) and issubclass(cls, pl.DataType):
        try:
            return cls()
        except TypeError:
            pass
    return pl.Object()


def _py(v: Any) -> Any:
    """A plain Python value (numpy scalars and pandas timestamps come back from Dask)."""
    if v is None:
        return None
    if hasattr(v, "to_pydatetime"):
        return v.to_pydatetime()
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and v != v:  # NaN: an aggregate over nothing
        return None
    from decimal import Decimal

    return float(v) if isinstance(v, Decimal) else v


def _one(vs: list) -> Any:
    return _py(vs[0])


def _int(vs: list) -> int:
    v = _py(vs[0])
    return int(v or 0)


class NarwhalsEngine(Engine):
    """Facts over a narwhals ``LazyFrame``; ``execute()`` returns fact -> value."""

    name: ClassVar[str] = "narwhals"
    TABLE: ClassVar[Mapping[type, Builder]]
    priority: ClassVar[int] = 20
    #: libraries whose lazy frames run where they live
    MODULES: ClassVar[tuple[str, ...]] = (
        "duckdb",
        "dask",
        "dask_expr",
        "ibis",
        "sqlframe",
        "pyspark",
    )

    @classmethod
    def accepts(cls, data: Any, table: str | None) -> bool:
        """A lazy frame of one of ``MODULES`` that narwhals reads as a ``LazyFrame``."""
        if table is not None or type(data).__module__.split(".")[0] not in cls.MODULES:
            return False
        try:
            return isinstance(nw.from_native(data), nw.LazyFrame)
        except TypeError:
            return False

    @classmethod
    def for_input(cls, data: Any, table: str | None, ctx: CheckInputs) -> NarwhalsEngine:
        return cls(data, nw.from_native(data), ctx)

    def __init__(self, native: Any, frame: nw.LazyFrame, ctx: CheckInputs) -> None:
        super().__init__(ctx)
        self.native = native
        self.frame = frame
        self.backend = type(native).__module__.split(".")[0]
        self.schema: dict[str, pl.DataType] = {
            k: polars_dtype(v) for k, v in frame.collect_schema().items()
        }
        #: Dask's quantiles over several partitions are approximate: not offered
        self.exact_quantiles = getattr(native, "npartitions", 1) == 1

    @property
    def who(self) -> str:
        return f"the {self.backend} backend"

    @classmethod
    def of(cls, data: Any, ctx: CheckInputs) -> NarwhalsEngine | None:
        """The engine over ``data`` when narwhals sees a lazy frame in it, else None."""
        try:
            frame = nw.from_native(data)
        except TypeError:
            return None
        if not isinstance(frame, nw.LazyFrame):
            return None
        return cls(data, frame, ctx)

    # ---- expressions with the polars engines' meaning

    def missing(self, name: str) -> nw.Expr:
        c = nw.col(name)
        return (c.is_null() | c.is_nan()) if is_float(self.schema[name]) else c.is_null()

    def clean(self, name: str) -> nw.Expr:
        c = nw.col(name)
        if self.schema[name] == pl.Boolean:
            return c.cast(nw.Int64)
        if is_float(self.schema[name]):
            return nw.when(~self.missing(name)).then(c)
        return c

    def text(self, name: str) -> nw.Expr:
        c = nw.col(name)
        return c if self.schema[name] == pl.String else c.cast(nw.String)

    def valid(self, name: str, rule: Any) -> nw.Expr:
        c = nw.col(name)
        dtype = self.schema[name]
        if rule.kind == "values":
            return c.is_in(coerce_values(rule, dtype))
        if rule.kind == "regex":
            return self.text(name).str.contains(rule.pattern)
        if rule.kind == "format":
            ok = self.text(name).str.contains(FORMAT_PATTERNS[rule.pattern])
            return ok & self._date_exists(name) if rule.pattern == "date" else ok
        lo, hi = rule.low.value, rule.high.value
        if rule.kind == "length":
            n = self.text(name).str.len_chars()
            return (n >= lo) & (n <= hi)
        if isinstance(dtype, pl.Datetime):
            lo, hi = (as_datetime(v, dtype) for v in (lo, hi))
        return (c >= lo) & (c <= hi)

    def _date_exists(self, name: str) -> nw.Expr:
        shaped = self.text(name).str.contains(FORMAT_PATTERNS["date"])
        # only shaped text reaches the integer casts (others read as a date that exists)
        s = nw.when(shaped).then(self.text(name)).otherwise(nw.lit("2000-01-01"))
        y = s.str.slice(0, 4).cast(nw.Int64)
        m = s.str.slice(5, 2).cast(nw.Int64)
        d = s.str.slice(8, 2).cast(nw.Int64)
        leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
        days = (
            nw.when(m == 2)
            .then(nw.when(leap).then(29).otherwise(28))
            .otherwise(nw.when(m.is_in([4, 6, 9, 11])).then(30).otherwise(31))
        )
        return (m >= 1) & (m <= 12) & (d >= 1) & (d <= days)

    def condition(self, fact: F.ConditionCount) -> nw.Expr:
        """True on the rows where the condition holds (NaN read as NULL), as narwhals."""
        return conditions.to_narwhals(fact.condition, self.schema)

    # ---- execution

    def execute(self) -> dict[Fact, Any]:
        self.one_row(
            self.build_each(),
            label=lambda e, name: e.alias(name),
            row_of=lambda exprs: self.frame.select(exprs).collect().row(0),
            failed=self.unavailable,
            step=lambda parts, facts: (
                f"{self.backend}: one lazy select of {parts} expressions for "
                f"{facts} facts, run by the backend (one row collected)"
            ),
            retry_step="the select failed: each fact computed alone to find the culprit",
        )
        return self.values

    def unavailable(self, exc: BaseException) -> Unavailable:
        if isinstance(exc, DataOpsError):
            return Unavailable(message_of(exc))
        return Unavailable(f"the {self.backend} backend could not compute it: {first_line(exc)}")

    def scalar(self, lf: nw.LazyFrame) -> Any:
        return _py(lf.collect().row(0)[0])

    # ---- offending rows

    def failing_rows(
        self, facts: Sequence[Fact], limit: int
    ) -> tuple[pl.DataFrame | None, int | None]:
        try:
            for fact in facts:
                make = OFFENDING.get(type(fact))
                if make is not None:
                    hits = make(self, fact)
                    total = self.scalar(hits.select(nw.len()))
                    sample = hits.head(limit).collect().to_polars()
                    return sample, int(total)
            return None, None
        except Exception:
            return None, None


# ---- the dispatch table: fact type -> narwhals expressions ---------------------------------


def rows(e: NarwhalsEngine, fact: F.RowCount) -> Compiled:
    return [nw.len()], _int


def nulls(e: NarwhalsEngine, fact: F.NullCount) -> Compiled:
    return [e.missing(fact.column).sum()], _int


def nans(e: NarwhalsEngine, fact: F.NanCount) -> Compiled:
    c = nw.col(fact.column)
    return [(~c.is_null() & c.is_nan()).sum()], _int


def aggregate(e: NarwhalsEngine, fact: F.Aggregate) -> Compiled:
    c = e.clean(fact.column)
    dtype = e.schema[fact.column]
    if fact.fn in ("median", "quantile") and not e.exact_quantiles:
        raise DataOpsError(
            f"the {e.backend} backend computes {'median' if fact.fn == 'median' else 'percentile'}"
            f" only approximately over its {e.native.npartitions} partitions: repartition to one "
            "partition, or run this check on a polars frame"
        )
    if fact.fn == "quantile":
        return [c.quantile(fact.q, interpolation="linear")], _float
    if fact.fn == "std":
        return [c.std(ddof=1)], _float
    if fact.fn in ("mean", "median"):
        return [getattr(c, fact.fn)()], _float
    if fact.fn == "sum" and (dtype.is_integer() or dtype == pl.Boolean):
        return [c.sum()], _int
    return [getattr(c, fact.fn)()], _one


def _float(vs: list) -> float | None:
    v = _py(vs[0])
    return None if v is None else float(v)


def keyed_rows(e: NarwhalsEngine, fact: F.KeyedRowCount) -> Compiled:
    return [nw.all_horizontal(*[~e.missing(c) for c in fact.key], ignore_nulls=False).sum()], _int


def distinct(e: NarwhalsEngine, fact: F.DistinctCount) -> Compiled | None:
    if len(fact.key) == 1:
        col = fact.key[0]
        # n_unique counts a missing value as one more value: take it off when there is one
        return [e.clean(col).n_unique(), e.missing(col).sum()], (
            lambda vs: int(_py(vs[0])) - (1 if _py(vs[1]) else 0)
        )
    keyed = nw.all_horizontal(*[~e.missing(c) for c in fact.key], ignore_nulls=False)
    keys = e.frame.filter(keyed).select(list(fact.key)).unique()
    e.values[fact] = int(e.scalar(keys.select(nw.len())))
    e.steps.append(f"distinct ({', '.join(fact.key)}): a second query")
    return None


def invalid(e: NarwhalsEngine, fact: F.InvalidCount) -> Compiled:
    bad = ~e.missing(fact.column) & ~e.valid(fact.column, fact.rule)
    return [bad.sum()], _int


def condition(e: NarwhalsEngine, fact: F.ConditionCount) -> Compiled:
    return [e.condition(fact).sum()], _int


def _reference(e: NarwhalsEngine, fact: F.ReferenceMissingCount) -> nw.Expr:
    values = e.ctx.reference_values(fact.frame, fact.ref_column)
    if values.len() > MAX_INLINE_VALUES:
        raise DataOpsError(
            f"{fact.frame}.{fact.ref_column} has {values.len()} distinct values, more than the "
            f"{MAX_INLINE_VALUES} sent to the {e.backend} backend as a list: check on a polars "
            "frame, or join the reference in the backend first"
        )
    return ~e.missing(fact.column) & ~nw.col(fact.column).is_in(values.to_list())


def reference_missing(e: NarwhalsEngine, fact: F.ReferenceMissingCount) -> Compiled:
    return [_reference(e, fact).sum()], _int


def top_values(e: NarwhalsEngine, fact: F.TopValues) -> Compiled | None:
    """A group-by of its own in the backend; at most ``limit`` rows come back."""
    col = fact.column
    top = (
        e.frame.filter(~e.missing(col))
        .group_by(col)
        .agg(nw.len().alias("_dataops_n"))
        .sort("_dataops_n", descending=True)
        .head(fact.limit)
        .collect()
    )
    e.values[fact] = [{"value": _py(v), "count": int(_py(n))} for v, n in top.iter_rows()]
    e.steps.append(f"{col}: most frequent values by a group-by in {e.backend}")
    return None


NARWHALS: dict[type, Builder] = {
    F.RowCount: rows,
    F.NullCount: nulls,
    F.NanCount: nans,
    F.Aggregate: aggregate,
    F.KeyedRowCount: keyed_rows,
    F.DistinctCount: distinct,
    F.InvalidCount: invalid,
    F.ConditionCount: condition,
    F.ReferenceMissingCount: reference_missing,
    F.TopValues: top_values,
}
NarwhalsEngine.TABLE = NARWHALS


# ---- offending rows: fact type -> the offending rows, lazily -------------------------------


def _off_duplicates(e: NarwhalsEngine, fact: F.DistinctCount) -> nw.LazyFrame:
    key = list(fact.key)
    keyed = nw.all_horizontal(*[~e.missing(c) for c in key], ignore_nulls=False)
    dups = (
        e.frame.filter(keyed)
        .group_by(key)
        .agg(nw.len().alias("_dataops_n"))
        .filter(nw.col("_dataops_n") > 1)
        .select(key)
    )
    return e.frame.join(dups, on=key, how="semi")


OFFENDING: dict[type, Callable[[NarwhalsEngine, Any], nw.LazyFrame]] = {
    F.NullCount: lambda e, f: e.frame.filter(e.missing(f.column)),
    F.DistinctCount: _off_duplicates,
    F.InvalidCount: lambda e, f: e.frame.filter(~e.missing(f.column) & ~e.valid(f.column, f.rule)),
    F.ConditionCount: lambda e, f: e.frame.filter(e.condition(f)),
    F.ReferenceMissingCount: lambda e, f: e.frame.filter(_reference(e, f)),
}
