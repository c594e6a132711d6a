"""The catalogue of metrics: what each one means, once; the planner decides how it runs.

Adding a metric is one class and one ``register`` line (or, from another package, an entry
point in the group ``jupyter_dataops.check``). A metric says which columns and dtypes it can
measure (``problem``), which *facts* it needs (``facts``: values of ``checks.facts`` such as
``NullCount("email")`` that an engine computes, shared and fused), how to turn those facts
into the observed value (``observe``) and, for row-level metrics, which rows offend
(``offending``). How each fact is computed lives in ``checks/engines/``, one module per engine.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import polars as pl

from jupyter_dataops.checks import conditions
from jupyter_dataops.checks import facts as F
from jupyter_dataops.checks.dtypes import (
    _dtype_name,
    coerce_values,
    is_numeric,
    is_stringlike,
    is_temporal,
    missing_expr,
    valid_expr,
)
from jupyter_dataops.checks.facts import Fact
from jupyter_dataops.checks.registry import Catalogue
from jupyter_dataops.checks.spec import CheckSpec, ValidRule

Schema = dict[str, pl.DataType]


class NothingToMeasure(Exception):  # noqa: N818 - internal signal, becomes status "error"
    """The metric has no value on this data (e.g. an average over zero non-null values)."""


class NotJudged(Exception):  # noqa: N818 - internal signal, becomes status "baseline"
    """The metric has a value but nothing to judge it against yet (e.g. a drift line's first
    production run): the line is ``baseline``, shown as "not judged"."""


# base class --------------------------------------------------------------------------------


class Metric:
    """One metric type. Subclasses set the class attributes and override the hooks."""

    name: ClassVar[str]
    #: how the arguments are written: "" | "column" | "columns" | "column, fraction" | "condition"
    signature: ClassVar[str] = "column"
    #: "count", "percent" (observed in percent), "seconds", or "value" (in the column's unit)
    unit: ClassVar[str] = "count"
    #: what may follow the condition after ":" — None, "valid" (required) or "in" (required)
    config: ClassVar[str | None] = None
    #: offending rows can be shown when the check fails
    row_level: ClassVar[bool] = False
    #: offending rows are chosen with NaN read as null (and shown as they are)
    nan_as_null_rows: ClassVar[bool] = False
    #: what an spc line's attribute charts may take it as: "percent" (a proportion of the sample
    #: size n: p and np charts), "count" (defects in n rows: u chart), or None (neither)
    kind: ClassVar[str | None] = None
    example: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def __init__(self, spec: CheckSpec) -> None:
        self.spec = spec
        self.args = spec.args

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns of the checked frame this metric reads."""
        return tuple(self.args) if self.signature in ("column", "columns") else self.args[:1]

    def problem(self, schema: Schema) -> str | None:
        """Why this metric cannot be measured on this schema, or None."""
        for c in self.columns:
            if c not in schema:
                return _missing_column(c, schema)
        return self.dtype_problem(schema)

    def dtype_problem(self, schema: Schema) -> str | None:
        return None

    def facts(self, schema: Schema) -> list[Fact]:
        raise NotImplementedError

    def observe(self, facts: dict[Fact, Any], ctx: Any) -> Any:
        raise NotImplementedError

    def offending(self, schema: Schema, ctx: Any) -> pl.Expr | None:
        """A filter selecting offending rows (row-level metrics only)."""
        return None

    def kept(self, facts: dict[Fact, Any]) -> dict[str, Any] | None:
        """What the result keeps beside its value for later runs (a drift line: the column's
        profile, read back by ``against last``), or None."""
        return None

    def sample_size_facts(self) -> list[Fact]:
        """Facts giving this run's sample size n for the p, np and u charts: the rows."""
        return [F.RowCount()]

    def sample_size(self, facts: dict[Fact, Any]) -> int:
        """This run's sample size n (from ``sample_size_facts``)."""
        return int(facts[F.RowCount()])


CATALOGUE: Catalogue = Catalogue(Metric)


def register(cls: type[Metric]) -> type[Metric]:
    """Add a metric class to the catalogue under ``cls.name`` (usable as a decorator)."""
    CATALOGUE.register(cls.name, cls)
    return cls


def lookup(name: str) -> type[Metric] | None:
    """The metric class called ``name`` (plug-ins included), or None."""
    return CATALOGUE.get(name, None)


def _missing_column(col: str, schema: Schema) -> str:
    import difflib

    msg = f"column {col!r} is not in the data"
    near = difflib.get_close_matches(col, list(schema), n=1)
    if near:
        msg += f"; did you mean {near[0]!r}?"
    else:
        shown = ", ".join(list(schema)[:12])
        msg += f" (columns: {shown})"
    return msg


def _need(kind: str, col: str, dtype: pl.DataType, ok: bool) -> str | None:
    if ok:
        return None
    return f"{kind} needs a {col!r} column of another type: it is {_dtype_name(dtype)}"


def _percent(num: float, den: float, what: str) -> float:
    if den == 0:
        raise NothingToMeasure(f"no {what} to take a percentage of")
    return 100.0 * num / den


# metrics -----------------------------------------------------------------------------------


@register
class RowCount(Metric):
    name = "row_count"
    signature = ""
    example = "row_count between 1000 and 50000"
    summary = "number of rows"

    @property
    def columns(self) -> tuple[str, ...]:
        return ()

    def facts(self, schema: Schema) -> list[Fact]:
        return [F.RowCount()]

    def observe(self, facts, ctx):
        return int(facts[F.RowCount()])


@register
class MissingCount(Metric):
    name = "missing_count"
    row_level = True
    kind = "count"
    example = "missing_count(customer_id) = 0"
    summary = "rows whose value is null (or NaN in a float column)"

    def facts(self, schema):
        return [F.NullCount(self.args[0])]

    def observe(self, facts, ctx):
        return int(facts[F.NullCount(self.args[0])])

    def offending(self, schema, ctx):
        return missing_expr(self.args[0], schema[self.args[0]])


@register
class MissingPercent(MissingCount):
    name = "missing_percent"
    unit = "percent"
    kind = "percent"
    example = "missing_percent(customer_id) < 2%"
    summary = "missing_count as a percent of all rows"

    def facts(self, schema):
        return [F.NullCount(self.args[0]), F.RowCount()]

    def observe(self, facts, ctx):
        return _percent(facts[F.NullCount(self.args[0])], facts[F.RowCount()], "rows")


@register
class DuplicateCount(Metric):
    name = "duplicate_count"
    signature = "columns"
    row_level = True
    kind = "count"
    example = "duplicate_count(order_id, line_no) = 0"
    summary = "rows minus distinct keys, over rows whose key columns are all non-null"

    def facts(self, schema):
        key = tuple(self.args)
        return [F.DistinctCount(key), F.KeyedRowCount(key)]

    def observe(self, facts, ctx):
        key = tuple(self.args)
        return int(facts[F.KeyedRowCount(key)]) - int(facts[F.DistinctCount(key)])

    def offending(self, schema, ctx):
        # A row with a fully non-null key can only equal other such rows, so is_duplicated over
        # all rows, restricted to keyed rows, is exactly the rows that share their key.
        keyed = pl.all_horizontal([~missing_expr(c, schema[c]) for c in self.args])
        key = pl.struct(list(self.args)) if len(self.args) > 1 else pl.col(self.args[0])
        return keyed & key.is_duplicated()


@register
class DuplicatePercent(DuplicateCount):
    name = "duplicate_percent"
    unit = "percent"
    kind = "percent"
    example = "duplicate_percent(email) <= 1%"
    summary = "duplicate_count as a percent of all rows"

    def facts(self, schema):
        return [*super().facts(schema), F.RowCount()]

    def observe(self, facts, ctx):
        return _percent(super().observe(facts, ctx), facts[F.RowCount()], "rows")


@register
class DistinctCount(Metric):
    name = "distinct_count"
    example = "distinct_count(status) = 5"
    summary = "number of distinct non-missing values"

    def facts(self, schema):
        return [F.DistinctCount((self.args[0],))]

    def observe(self, facts, ctx):
        return int(facts[F.DistinctCount((self.args[0],))])


class _Aggregate(Metric):
    """An aggregate over the non-missing values of one column."""

    unit = "value"
    fn: ClassVar[str]
    temporal_ok: ClassVar[bool] = False
    min_values: ClassVar[int] = 1

    def dtype_problem(self, schema):
        dtype = schema[self.args[0]]
        ok = is_numeric(dtype) or (self.temporal_ok and is_temporal(dtype))
        kinds = "a numeric or date/time" if self.temporal_ok else "a numeric"
        if ok:
            return None
        return f"{self.name} needs {kinds} column; {self.args[0]!r} is {_dtype_name(dtype)}"

    def _fact(self) -> Fact:
        return F.Aggregate(self.fn, self.args[0])

    def facts(self, schema):
        return [self._fact(), F.NullCount(self.args[0]), F.RowCount()]

    def observe(self, facts, ctx):
        n = facts[F.RowCount()] - facts[F.NullCount(self.args[0])]
        if n < self.min_values:
            need = "values" if self.min_values > 1 else "value"
            raise NothingToMeasure(
                f"nothing to measure: {self.name} needs at least {self.min_values} non-missing "
                f"{need} of {self.args[0]!r}, found {n}"
            )
        v = facts[self._fact()]
        if v is None:
            raise NothingToMeasure(f"nothing to measure in {self.args[0]!r}")
        if isinstance(v, bool):
            return int(v)
        return v


@register
class Min(_Aggregate):
    name = "min"
    fn = "min"
    temporal_ok = True
    example = "min(amount) >= 0"
    summary = "smallest non-missing value (numbers, dates, datetimes)"


@register
class Max(_Aggregate):
    name = "max"
    fn = "max"
    temporal_ok = True
    example = "max(amount) <= 10_000"
    summary = "largest non-missing value (numbers, dates, datetimes)"


@register
class Avg(_Aggregate):
    name = "avg"
    fn = "mean"
    example = "avg(amount) between 20 and 80"
    summary = "mean of the non-missing values"


@register
class StdDev(_Aggregate):
    name = "stddev"
    fn = "std"
    min_values = 2
    example = "stddev(amount) < 50"
    summary = "sample standard deviation (n - 1) of the non-missing values"


@register
class Sum(_Aggregate):
    name = "sum"
    fn = "sum"
    example = "sum(amount) > 0"
    summary = "sum of the non-missing values"


@register
class Median(_Aggregate):
    name = "median"
    fn = "median"
    example = "median(amount) between 10 and 100"
    summary = "median of the non-missing values"


@register
class Percentile(_Aggregate):
    name = "percentile"
    fn = "quantile"
    signature = "column, fraction"
    example = "percentile(amount, 0.95) < 500"
    summary = "quantile (fraction 0..1) with linear interpolation"

    def _fact(self) -> Fact:
        return F.Aggregate("quantile", self.args[0], float(self.args[1]))


@register
class InvalidCount(Metric):
    name = "invalid_count"
    config = "valid"
    row_level = True
    kind = "count"
    example = "invalid_count(status) = 0: valid values [new, shipped, returned]"
    summary = "non-missing values that break the validity rule"

    @property
    def rule(self) -> ValidRule:
        assert self.spec.rule is not None
        return self.spec.rule

    def dtype_problem(self, schema):
        col, dtype, rule = self.args[0], schema[self.args[0]], self.rule
        if rule.kind in ("regex", "format", "length") and not is_stringlike(dtype):
            return (
                f"valid {rule.kind} needs a text column; {col!r} is {_dtype_name(dtype)} "
                f"(use valid range or valid values for numbers)"
            )
        if rule.kind == "range":
            lo = rule.low.value  # type: ignore[union-attr]
            temporal_bound = isinstance(lo, (dt.date, dt.datetime))
            if is_numeric(dtype) and not temporal_bound:
                return None
            if is_temporal(dtype) and temporal_bound:
                return None
            return f"valid range {rule.low.text} .. {rule.high.text} does not fit column {col!r} of type {_dtype_name(dtype)}"  # type: ignore[union-attr]
        if rule.kind == "values":
            try:
                coerce_values(rule, dtype)
            except ValueError as exc:
                return f"valid values do not fit column {col!r} of type {_dtype_name(dtype)}: {exc}"
        return None

    def facts(self, schema):
        return [F.InvalidCount(self.args[0], self.rule)]

    def observe(self, facts, ctx):
        return int(facts[F.InvalidCount(self.args[0], self.rule)])

    def offending(self, schema, ctx):
        col = self.args[0]
        return ~missing_expr(col, schema[col]) & ~valid_expr(col, schema[col], self.rule)


@register
class InvalidPercent(InvalidCount):
    name = "invalid_percent"
    unit = "percent"
    kind = "percent"
    example = r"invalid_percent(email) < 5%: valid regex ^[^@]+@[^@]+\.[^@]+$"
    summary = "invalid_count as a percent of the non-missing rows"

    def facts(self, schema):
        return [*super().facts(schema), F.NullCount(self.args[0]), F.RowCount()]

    def observe(self, facts, ctx):
        nonmissing = facts[F.RowCount()] - facts[F.NullCount(self.args[0])]
        return _percent(super().observe(facts, ctx), nonmissing, "non-missing values")

    def sample_size_facts(self) -> list[Fact]:
        """n is the non-missing rows: the denominator of the percentage."""
        return [F.RowCount(), F.NullCount(self.args[0])]

    def sample_size(self, facts: dict[Fact, Any]) -> int:
        return int(facts[F.RowCount()]) - int(facts[F.NullCount(self.args[0])])


@register
class FailedRows(Metric):
    name = "failed_rows"
    signature = "condition"
    row_level = True
    kind = "count"
    example = "failed_rows(shipped_at < created_at) = 0"
    summary = "rows for which the condition is true (a small SQL subset, the same on every backend)"

    @property
    def columns(self) -> tuple[str, ...]:
        return conditions.columns(self.args[0])

    def problem(self, schema):
        for c in self.columns:
            if c not in schema:
                return f"condition {self.args[0]!r}: " + _missing_column(c, schema)
        for c in conditions.boolean_columns(self.args[0]):
            if schema[c] not in (pl.Boolean, pl.Null):
                return (
                    f"condition {self.args[0]!r}: {c!r} is {_dtype_name(schema[c])}, not "
                    f"true/false; compare it, e.g. {c} > 0"
                )
        try:  # type errors (text compared with a number, ...): the same answer on every backend
            # (run on no rows: some type errors show only when the expression runs)
            plain = conditions.to_polars(self.args[0], schema, guarded=False)
            pl.LazyFrame(schema=schema).select(plain).collect()
        except Exception as exc:
            return f"cannot evaluate condition {self.args[0]!r}: {_first_line(exc)}"
        return None

    def expr(self, schema: Schema) -> pl.Expr:
        return conditions.to_polars(self.args[0], schema)

    def facts(self, schema):
        return [F.ConditionCount(self.args[0])]

    def observe(self, facts, ctx):
        return int(facts[F.ConditionCount(self.args[0])])

    def offending(self, schema, ctx):
        return self.expr(schema)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@register
class Freshness(Metric):
    name = "freshness"
    unit = "seconds"
    example = "freshness(created_at) < 24h"
    summary = "seconds from the newest value to now (or --as-of); dates count from midnight"

    def dtype_problem(self, schema):
        dtype = schema[self.args[0]]
        if is_temporal(dtype):
            return None
        return (
            f"freshness needs a date or datetime column; {self.args[0]!r} is {_dtype_name(dtype)}"
        )

    def facts(self, schema):
        return [F.Aggregate("max", self.args[0])]

    def observe(self, facts, ctx):
        newest = facts[F.Aggregate("max", self.args[0])]
        if newest is None:
            raise NothingToMeasure(f"nothing to measure: {self.args[0]!r} has no values")
        return seconds_since(newest, ctx.as_of)


def seconds_since(newest: dt.date | dt.datetime, as_of: dt.datetime | None) -> float:
    """``as_of`` (default now) minus ``newest`` in seconds; naive times are taken as UTC."""
    now = as_of or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    if not isinstance(newest, dt.datetime):
        newest = dt.datetime(newest.year, newest.month, newest.day)
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=dt.timezone.utc)
    return (now - newest).total_seconds()


@register
class ReferenceMissingCount(Metric):
    name = "reference_missing_count"
    config = "in"
    row_level = True
    kind = "count"
    example = "reference_missing_count(customer_id) = 0: in customers.customer_id"
    summary = "rows whose non-missing value is absent from a column of another frame"

    def facts(self, schema):
        ref = self.spec.reference
        return [F.ReferenceMissingCount(self.args[0], ref.frame, ref.column)]  # type: ignore[union-attr]

    def observe(self, facts, ctx):
        ref = self.spec.reference
        return int(facts[F.ReferenceMissingCount(self.args[0], ref.frame, ref.column)])  # type: ignore[union-attr]

    def offending(self, schema, ctx):
        ref = self.spec.reference
        values = ctx.reference_values(ref.frame, ref.column)  # type: ignore[union-attr]
        col = self.args[0]
        return ~missing_expr(col, schema[col]) & ~pl.col(col).is_in(values.implode())


STRUCTURAL = ("columns", "schema", "spc")

# drift(col) is a metric of its own module (it needs numpy, and imports this one): registered by
# its path, so every parser of check lines knows it and it is imported on its first lookup
CATALOGUE.register("drift", "jupyter_dataops.checks.drift:Drift")
