"""The streaming engine: every fact of a suite in one fused polars ``select`` over a ``LazyFrame``.

Works on sources larger than memory (polars' streaming engine). Each fact type maps to
expressions in ``STREAMING``; float aggregates are computed as is together with a NaN count and
recomputed without NaN only if the column has NaN (rare), so the common case pays no
``fill_nan`` copy. Categorical, enum and boolean columns are grouped once and every distinct and
validity fact on them is answered from the groups. The in-memory engine (``engines.polars``)
extends this one with shortcuts that need the data in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from jupyter_dataops.checks import conditions
from jupyter_dataops.checks import facts as F
from jupyter_dataops.checks.dtypes import is_float, is_stringlike, missing_expr, valid_expr
from jupyter_dataops.checks.engines.base import Engine, first_line
from jupyter_dataops.checks.facts import Fact, Unavailable
from jupyter_dataops.errors import DataOpsError

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.checks.inputs import CheckInputs

#: how one fact type is computed: expressions for the fused select, or None when the builder
#: stored the value itself (or queued a side job that will)
Builder = Callable[["StreamingEngine", Any], "list[pl.Expr] | None"]
#: validity rules a group-by of a column can answer
GROUPABLE_RULES = ("values", "regex", "format", "length")


class StreamingEngine(Engine):
    """Facts to compute over one frame; ``execute()`` returns fact -> value (or Unavailable)."""

    name: ClassVar[str] = "streaming"
    collect_engine: ClassVar[str] = "streaming"
    TABLE: ClassVar[Mapping[type, Builder]]
    elsewhere: ClassVar[str] = (
        "a metric asks for facts of jupyter_dataops.checks.facts (e.g. facts.NullCount(column))"
    )

    def __init__(
        self,
        frame: pl.DataFrame | pl.LazyFrame,
        schema: Mapping[str, pl.DataType],
        ctx: CheckInputs,
    ) -> None:
        super().__init__(ctx)
        self.frame = frame
        self.schema = schema
        self.side_jobs: list[Callable[[], None]] = []

    # ---- execution

    def execute(self) -> dict[Fact, Any]:
        self.side_jobs = []
        grouped = self._grouped_columns()
        for col, facts in grouped.items():
            self.side_jobs.append(lambda col=col, facts=facts: self._group_facts(col, facts))
        exprs = self.build_each(skip=lambda fact: any(fact in fs for fs in grouped.values()))
        if self.side_jobs:
            # Group-bys and bitmaps run beside the fused select (polars and numpy release the
            # GIL), so the pass uses every core instead of waiting for them in turn.
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = [pool.submit(job) for job in self.side_jobs]
                self._fused(exprs)
                for job in pending:
                    job.result()
        else:
            self._fused(exprs)
        # the jobs close over this engine: drop them so the frame is freed now, not at the next
        # cyclic garbage collection (a materialized file would otherwise pile up across runs)
        self.side_jobs = []
        self._refine_nan()
        return self.values

    def collect(self, lf: pl.LazyFrame) -> pl.DataFrame:
        return lf.collect(engine=self.collect_engine)  # type: ignore[arg-type]

    def _fused(self, exprs: dict[Fact, list[pl.Expr]]) -> None:
        """One select for every expression fact; on failure, isolate the culprit fact(s)."""
        self.one_row(
            {fact: (parts, _combine) for fact, parts in exprs.items()},
            label=lambda e, name: e.alias(name),
            row_of=lambda named: self.collect(self.frame.lazy().select(named)).row(0),
            failed=lambda exc: Unavailable(first_line(exc)),
            step=lambda parts, facts: f"fused select: {parts} expressions for {facts} facts",
        )

    # ---- low-cardinality columns: one group-by answers distinct and validity

    def _grouped_columns(self) -> dict[str, list[Fact]]:
        per_col: dict[str, list[Fact]] = {}
        for f in self.facts:
            if isinstance(f, F.DistinctCount) and len(f.key) == 1:
                per_col.setdefault(f.key[0], []).append(f)
            elif isinstance(f, F.InvalidCount) and f.rule.kind in GROUPABLE_RULES:
                per_col.setdefault(f.column, []).append(f)
        chosen = {}
        for col, facts in per_col.items():
            dtype = self.schema.get(col)
            if dtype is None or not (
                is_stringlike(dtype) or dtype.is_integer() or dtype == pl.Boolean
            ):
                continue
            always = isinstance(dtype, (pl.Categorical, pl.Enum)) or dtype == pl.Boolean
            if always or self.low_cardinality(col):
                chosen[col] = facts
        return chosen

    def low_cardinality(self, col: str) -> bool:
        """Whether a group-by of ``col`` is cheap; a lazy source would be read twice to know."""
        return False

    def _group_facts(self, col: str, facts: list[Fact]) -> None:
        try:
            groups = self.collect(self.frame.lazy().group_by(col).agg(pl.len().alias("_n")))
        except Exception as exc:
            for f in facts:
                self.values[f] = Unavailable(first_line(exc))
            return
        dtype = self.schema[col]
        groups = groups.filter(~missing_expr(col, dtype))
        self.steps.append(
            f"{col}: one group-by ({groups.height} groups) answers {len(facts)} fact(s)"
        )
        for f in facts:
            if isinstance(f, F.DistinctCount):
                self.values[f] = groups.height
                continue
            try:
                bad = groups.filter(~valid_expr(col, dtype, f.rule))["_n"].sum()  # type: ignore[attr-defined]
                self.values[f] = int(bad)
            except Exception as exc:
                self.values[f] = Unavailable(first_line(exc))

    # ---- floats with NaN: recompute their aggregates without NaN

    def _refine_nan(self) -> None:
        nan_cols = [
            f.column
            for f in self.facts
            if isinstance(f, F.NanCount)
            and isinstance(self.values.get(f), int)
            and self.values[f] > 0
        ]
        if not nan_cols:
            return
        redo = [f for f in self.facts if isinstance(f, F.Aggregate) and f.column in nan_cols]
        exprs: dict[Fact, list[pl.Expr]] = {
            f: [_agg(pl.col(f.column).fill_nan(None), f, self.schema[f.column])] for f in redo
        }
        self.steps.append(f"NaN found in {', '.join(nan_cols)}: aggregates recomputed without NaN")
        self._fused(exprs)


# ---- the dispatch table: fact type -> expressions ----------------------------------------


def rows(engine: StreamingEngine, fact: F.RowCount) -> list[pl.Expr]:
    return [pl.len()]


def nulls(engine: StreamingEngine, fact: F.NullCount) -> list[pl.Expr]:
    return [null_count(fact.column, engine.schema)]


def nans(engine: StreamingEngine, fact: F.NanCount) -> list[pl.Expr]:
    return [pl.col(fact.column).is_nan().sum()]


def aggregate(engine: StreamingEngine, fact: F.Aggregate) -> list[pl.Expr]:
    dtype = engine.schema[fact.column]
    if is_float(dtype):
        engine.add([F.NanCount(fact.column)])  # appended to the list execute() walks: built too
    return [_agg(pl.col(fact.column), fact, dtype)]


def keyed_rows(engine: StreamingEngine, fact: F.KeyedRowCount) -> list[pl.Expr]:
    if len(fact.key) == 1:
        return [pl.len() - null_count(fact.key[0], engine.schema)]
    return [pl.all_horizontal([~missing_expr(c, engine.schema[c]) for c in fact.key]).sum()]


def distinct(engine: StreamingEngine, fact: F.DistinctCount) -> list[pl.Expr] | None:
    if len(fact.key) > 1:
        keyed = pl.all_horizontal([~missing_expr(c, engine.schema[c]) for c in fact.key])
        return [pl.struct(list(fact.key)).filter(keyed).n_unique()]
    c = pl.col(fact.key[0])
    if is_float(engine.schema[fact.key[0]]):
        return [c.filter(c.is_not_nan()).n_unique()]  # the filter drops nulls too
    return [c.n_unique() - (c.null_count() > 0).cast(pl.UInt32)]


def invalid_expr(col: str, dtype: pl.DataType, rule: Any) -> Callable[[pl.Expr], pl.Expr]:
    """Per value: True where a non-missing value breaks ``rule`` (null where it is missing)."""

    def bad(c: pl.Expr) -> pl.Expr:
        # a null value gives null here, which sum() skips: only non-null values count
        out = ~valid_expr(col, dtype, rule, c)
        return out & c.is_not_nan() if is_float(dtype) else out

    return bad


def invalid(engine: StreamingEngine, fact: F.InvalidCount) -> list[pl.Expr]:
    bad = invalid_expr(fact.column, engine.schema[fact.column], fact.rule)
    return [bad(pl.col(fact.column)).sum()]


def condition(engine: StreamingEngine, fact: F.ConditionCount) -> list[pl.Expr]:
    # compiled with NaN read as null in the float columns it reads: part of the fused select
    return [conditions.to_polars(fact.condition, engine.schema).sum()]


def reference_missing(engine: StreamingEngine, fact: F.ReferenceMissingCount) -> list[pl.Expr]:
    values = engine.ctx.reference_values(fact.frame, fact.ref_column)
    dtype = engine.schema[fact.column]
    try:
        values = values.cast(dtype)
    except Exception:
        raise DataOpsError(
            f"{fact.frame}.{fact.ref_column} is {values.dtype} but {fact.column!r} is {dtype}: "
            "they cannot be compared; cast one of them first"
        ) from None
    return [(~pl.col(fact.column).is_in(values.implode())).sum()]


def top_values(engine: StreamingEngine, fact: F.TopValues) -> list[pl.Expr]:
    c = pl.col(fact.column)
    kept = c.filter(c.is_not_nan()) if is_float(engine.schema[fact.column]) else c.drop_nulls()
    counts = kept.value_counts(sort=True, name="_dataops_n").head(fact.limit)
    return [counts.struct.rename_fields(["value", "count"]).implode()]


STREAMING: dict[type, Builder] = {
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
StreamingEngine.TABLE = STREAMING


# ---- helpers ------------------------------------------------------------------------------


def nan_as_null(expr: pl.Expr, schema: Mapping[str, pl.DataType]) -> list[pl.Expr]:
    """``fill_nan(None)`` for each float column ``expr`` reads (empty if it reads none)."""
    return [
        pl.col(c).fill_nan(None)
        for c in dict.fromkeys(expr.meta.root_names())
        if c in schema and is_float(schema[c])
    ]


def null_count(col: str, schema: Mapping[str, pl.DataType]) -> pl.Expr:
    c = pl.col(col)
    return c.null_count() + c.is_nan().sum() if is_float(schema[col]) else c.null_count()


def _agg(c: pl.Expr, fact: F.Aggregate, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Boolean:
        c = c.cast(pl.Int64)
    if fact.fn == "quantile":
        return c.quantile(fact.q, interpolation="linear")
    if fact.fn == "std":
        return c.std(ddof=1)
    return getattr(c, fact.fn)()


def _combine(parts: list) -> Any:
    if len(parts) == 1:
        v = parts[0]
        return float(v) if isinstance(v, Decimal) else v
    return sum(int(p or 0) for p in parts)
