"""The planned engine: compile a suite into as few passes over a polars frame as the data allows.

Metrics ask for *facts* (``("nulls", "email")``, ``("distinct", ("order_id",))`` ...). The planner
shares equal facts between checks and chooses how to compute each one from what the data is:

* every aggregate fact becomes one named expression of a single fused ``select`` (streaming for a
  ``LazyFrame``); float aggregates are computed as is together with a NaN count, and recomputed
  without NaN only if the column has NaN (rare), so the common case pays no ``fill_nan`` copy;
* ``distinct`` of one in-memory integer column: a sorted column lets polars count runs; a dense
  one (max - min small relative to its length) is counted with a bitmap (no hashing);
  otherwise hashing ``n_unique``;
* a text/categorical column with few distinct values (judged on a sample) is grouped once and the
  distinct count and every validity rule on it (values, regex, format, length) are answered from
  the groups instead of from every row;
* per-row text work (regex, formats) on a large in-memory column is split into one slice per
  thread so it does not serialise the pass.

Nothing is skipped: a fact that cannot be computed makes its checks report ``error``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from jupyter_dataops.checks.catalogue import (
    CATALOGUE,
    Fact,
    Metric,
    NothingToMeasure,
    _first_line,
    _missing_column,
    is_float,
    is_stringlike,
    missing_expr,
    valid_expr,
)
from jupyter_dataops.checks.language import DTYPE_ALIASES, parse_spec
from jupyter_dataops.checks.results import CheckResult, SuiteResult, format_observed
from jupyter_dataops.checks.spec import CheckSpec, Condition, Suite
from jupyter_dataops.errors import DataOpsError

HistoryProvider = Callable[[str], Sequence[float]]

#: a column is "low-cardinality" when a sample of this many rows has at most this share distinct
SAMPLE_ROWS = 20_000
LOW_CARDINALITY = 0.01
#: in-memory text columns at least this long get their per-row work split across threads
SPLIT_ROWS = 500_000


class _Failed:
    """A fact that could not be computed, with the reason."""

    def __init__(self, message: str) -> None:
        self.message = message


# inputs ------------------------------------------------------------------------------------


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


#: a lazy source is read into memory (only the columns the suite needs) when its estimated size
#: is below this share of the free memory; larger ones run as one streaming pass
MEMORY_SHARE = 0.25


def _free_memory() -> int:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def _width(dtype: pl.DataType) -> int:
    """Rough bytes per value, generous for text (an estimate only decides the route)."""
    if dtype.is_numeric() or dtype.is_temporal() or dtype == pl.Boolean:
        return 9
    return 64


def materialize(lf: pl.LazyFrame, columns: Sequence[str], schema) -> pl.DataFrame | None:
    """The needed columns of a lazy *file scan* in memory, when they surely fit; else None.

    Reading the columns once with the in-memory engine and then running the in-memory plan
    (bitmaps, group-bys, split text work) beats one streaming pass over the file by 2x here;
    a source larger than the budget, or any lazy pipeline whose size polars cannot estimate
    without running it, keeps the single streaming pass so files larger than memory work.
    """
    if not columns:
        return None
    sub = lf.select([pl.col(c) for c in columns])
    try:
        text = sub.explain()
    except Exception:
        return None
    estimates = re.findall(r"ESTIMATED ROWS: (\d+)", text)
    if len(estimates) != 1 or "SCAN" not in text or "JOIN" in text:
        return None
    size = int(estimates[0]) * sum(_width(schema[c]) for c in columns)
    if size > MEMORY_SHARE * _free_memory():
        return None
    return sub.collect(engine="in-memory")


def _parse_as_of(as_of: Any) -> dt.datetime | None:
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


# context -----------------------------------------------------------------------------------


class RunContext:
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


# the plan ----------------------------------------------------------------------------------


class Plan:
    """Facts to compute over one frame, and how; ``execute()`` returns fact -> value."""

    def __init__(
        self, frame: pl.DataFrame | pl.LazyFrame, schema: Mapping[str, pl.DataType], ctx: RunContext
    ) -> None:
        self.frame = frame
        self.eager = isinstance(frame, pl.DataFrame)
        self.schema = schema
        self.ctx = ctx
        self.facts: list[Fact] = []
        self.values: dict[Fact, Any] = {}
        self.steps: list[str] = []  # what was chosen, for explain()

    def add(self, facts: Sequence[Fact]) -> None:
        for f in facts:
            if f not in self.facts:
                self.facts.append(f)

    def explain(self) -> str:
        """How the plan computed its facts (for tests and curious users)."""
        return "\n".join(self.steps)

    # ---- execution

    def execute(self) -> dict[Fact, Any]:
        exprs: dict[Fact, list[pl.Expr]] = {}
        self.side_jobs: list[Callable[[], None]] = []
        grouped = self._grouped_columns()
        for col, facts in grouped.items():
            self.side_jobs.append(lambda col=col, facts=facts: self._group_facts(col, facts))
        for fact in self.facts:
            if fact in self.values or any(fact in fs for fs in grouped.values()):
                continue
            try:
                built = self._build(fact)
            except Exception as exc:  # e.g. a reference frame that is not there
                self.values[fact] = _Failed(_message(exc))
                continue
            if built is not None:
                exprs[fact] = built
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
        # the jobs close over this plan: drop them so the frame is freed now, not at the next
        # cyclic garbage collection (a materialized file would otherwise pile up across runs)
        self.side_jobs = []
        self._refine_nan()
        return self.values

    def _collect(self, lf: pl.LazyFrame) -> pl.DataFrame:
        return lf.collect(engine="in-memory" if self.eager else "streaming")

    def _fused(self, exprs: dict[Fact, list[pl.Expr]]) -> None:
        """One select for every expression fact; on failure, isolate the culprit fact(s)."""
        if not exprs:
            return
        named, owners = [], []
        for fact, parts in exprs.items():
            for e in parts:
                named.append(e.alias(f"_{len(named)}"))
                owners.append(fact)
        self.steps.append(f"fused select: {len(named)} expressions for {len(exprs)} facts")
        try:
            row = self._collect(self.frame.lazy().select(named)).row(0)
        except Exception:
            row = None
        if row is not None:
            acc: dict[Fact, list] = {}
            for fact, v in zip(owners, row, strict=True):
                acc.setdefault(fact, []).append(v)
            for fact, vs in acc.items():
                self.values[fact] = _combine(fact, vs)
            return
        for fact, parts in exprs.items():  # slow path, only when something is wrong
            try:
                r = self._collect(
                    self.frame.lazy().select([e.alias(f"_{i}") for i, e in enumerate(parts)])
                ).row(0)
                self.values[fact] = _combine(fact, list(r))
            except Exception as exc:
                self.values[fact] = _Failed(_first_line(exc))

    # ---- how each fact is computed

    def _build(self, fact: Fact) -> list[pl.Expr] | None:
        kind = fact[0]
        if kind == "len":
            return [pl.len()]
        if kind == "nulls":
            col = fact[1]
            c = pl.col(col)
            if is_float(self.schema[col]):
                return [c.null_count() + c.is_nan().sum()]
            return [c.null_count()]
        if kind == "nan":
            return [pl.col(fact[1]).is_nan().sum()]
        if kind == "agg":
            _, fn, col, q = fact
            if is_float(self.schema[col]):
                self.add([("nan", col)])  # appended to the list execute() is walking: built too
            return [_agg(pl.col(col), fn, q, self.schema[col])]
        if kind == "keyed":
            cols = fact[1]
            if len(cols) == 1:
                return [pl.len() - _nulls_expr(cols[0], self.schema)]
            return [pl.all_horizontal([~missing_expr(c, self.schema[c]) for c in cols]).sum()]
        if kind == "distinct":
            return self._distinct(fact[1])
        if kind == "invalid":
            _, col, rule = fact
            dtype = self.schema[col]

            def bad(c: pl.Expr) -> pl.Expr:
                # a null value gives null here, which sum() skips: only non-null values count
                out = ~valid_expr(col, dtype, rule, c)
                return out & c.is_not_nan() if is_float(dtype) else out

            if rule.kind in ("regex", "format", "length") and self._split_worthwhile():
                return self._split(col, bad)
            return [bad(pl.col(col)).sum()]
        if kind == "failed":
            expr = pl.sql_expr(fact[1])
            floats = nan_as_null(expr, self.schema)
            if floats:
                # NaN is missing, as everywhere else: compare with it as with a null
                self.values[fact] = self._collect(
                    self.frame.lazy().with_columns(floats).select(expr.sum())
                ).item()
                return None
            return [expr.sum()]
        if kind == "refmissing":
            _, col, frame, refcol = fact
            values = self.ctx.reference_values(frame, refcol)
            dtype = self.schema[col]
            try:
                values = values.cast(dtype)
            except Exception:
                raise DataOpsError(
                    f"{frame}.{refcol} is {values.dtype} but {col!r} is {dtype}: they cannot be "
                    "compared; cast one of them first"
                ) from None
            return [(~pl.col(col).is_in(values.implode())).sum()]
        raise DataOpsError(f"internal: no way to compute fact {fact!r}")

    def _split_worthwhile(self) -> bool:
        return self.eager and self.frame.height >= SPLIT_ROWS and pl.thread_pool_size() > 1

    def _split(self, col: str, make: Callable[[pl.Expr], pl.Expr]) -> list[pl.Expr]:
        """The same count over one slice per thread; summed by ``_combine``."""
        n = self.frame.height  # type: ignore[union-attr]
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

    def _distinct(self, cols: tuple[str, ...]) -> list[pl.Expr] | None:
        if len(cols) > 1:
            keyed = pl.all_horizontal([~missing_expr(c, self.schema[c]) for c in cols])
            return [pl.struct(list(cols)).filter(keyed).n_unique()]
        col = cols[0]
        dtype = self.schema[col]
        if self.eager and dtype.is_integer():
            s = self.frame[col]  # type: ignore[index]
            count = bitmap_counter(s)
            if count is not None:
                fact = ("distinct", cols)

                def job(count=count, fact=fact) -> None:
                    try:
                        self.values[fact] = count()
                    except Exception as exc:  # memory, mostly: say so rather than crash
                        self.values[fact] = _Failed(_first_line(exc))

                self.side_jobs.append(job)
                self.steps.append(f"{col}: distinct counted with a bitmap over its dense range")
                return None
            if s.flags.get("SORTED_ASC") or s.flags.get("SORTED_DESC"):
                self.steps.append(f"{col}: sorted, distinct counted from runs")
        c = pl.col(col)
        if is_float(dtype):
            return [c.filter(c.is_not_nan()).n_unique()]  # the filter drops nulls too
        return [c.n_unique() - (c.null_count() > 0).cast(pl.UInt32)]

    # ---- low-cardinality columns: one group-by answers distinct and validity

    def _grouped_columns(self) -> dict[str, list[Fact]]:
        per_col: dict[str, list[Fact]] = {}
        for f in self.facts:
            if f[0] == "distinct" and len(f[1]) == 1:
                per_col.setdefault(f[1][0], []).append(f)
            elif f[0] == "invalid" and f[2].kind in ("values", "regex", "format", "length"):
                per_col.setdefault(f[1], []).append(f)
        chosen = {}
        for col, facts in per_col.items():
            dtype = self.schema.get(col)
            if dtype is None or not (
                is_stringlike(dtype) or dtype.is_integer() or dtype == pl.Boolean
            ):
                continue
            always = isinstance(dtype, (pl.Categorical, pl.Enum)) or dtype == pl.Boolean
            if always or self._low_cardinality(col):
                chosen[col] = facts
        return chosen

    def _low_cardinality(self, col: str) -> bool:
        if self.eager:
            n = self.frame.height  # type: ignore[union-attr]
            if n < 2 * SAMPLE_ROWS:
                return False  # small: the plain pass is already cheap
            sample = self.frame[col].head(SAMPLE_ROWS)  # type: ignore[index]
        else:
            return False  # a lazy source would be read twice; one streaming pass is cheaper
        return sample.n_unique() <= LOW_CARDINALITY * SAMPLE_ROWS

    def _group_facts(self, col: str, facts: list[Fact]) -> None:
        try:
            groups = self._collect(self.frame.lazy().group_by(col).agg(pl.len().alias("_n")))
        except Exception as exc:
            for f in facts:
                self.values[f] = _Failed(_first_line(exc))
            return
        dtype = self.schema[col]
        groups = groups.filter(~missing_expr(col, dtype))
        self.steps.append(
            f"{col}: one group-by ({groups.height} groups) answers {len(facts)} fact(s)"
        )
        for f in facts:
            if f[0] == "distinct":
                self.values[f] = groups.height
            else:
                rule = f[2]
                try:
                    bad = groups.filter(~valid_expr(col, dtype, rule))["_n"].sum()
                    self.values[f] = int(bad)
                except Exception as exc:
                    self.values[f] = _Failed(_first_line(exc))

    # ---- floats with NaN: recompute their aggregates without NaN

    def _refine_nan(self) -> None:
        nan_cols = [
            f[1]
            for f in self.facts
            if f[0] == "nan" and isinstance(self.values.get(f), int) and self.values[f] > 0
        ]
        if not nan_cols:
            return
        redo = [f for f in self.facts if f[0] == "agg" and f[2] in nan_cols]
        exprs = {
            f: [_agg(pl.col(f[2]).fill_nan(None), f[1], f[3], self.schema[f[2]])] for f in redo
        }
        self.steps.append(f"NaN found in {', '.join(nan_cols)}: aggregates recomputed without NaN")
        self._fused(exprs)


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


def nan_as_null(expr: pl.Expr, schema: Mapping[str, pl.DataType]) -> list[pl.Expr]:
    """``fill_nan(None)`` for each float column ``expr`` reads (empty if it reads none)."""
    return [
        pl.col(c).fill_nan(None)
        for c in dict.fromkeys(expr.meta.root_names())
        if c in schema and is_float(schema[c])
    ]


def _agg(c: pl.Expr, fn: str, q: float | None, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Boolean:
        c = c.cast(pl.Int64)
    if fn == "quantile":
        return c.quantile(q, interpolation="linear")
    if fn == "std":
        return c.std(ddof=1)
    return getattr(c, fn)()


def _nulls_expr(col: str, schema) -> pl.Expr:
    c = pl.col(col)
    return c.null_count() + c.is_nan().sum() if is_float(schema[col]) else c.null_count()


def _combine(fact: Fact, parts: list) -> Any:
    if len(parts) == 1:
        return _plain(parts[0])
    return sum(int(p or 0) for p in parts)


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    return v


def _message(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, DataOpsError) else _first_line(exc)


# running a suite ---------------------------------------------------------------------------


def run_checks(
    data: Any,
    spec: str | Suite,
    *,
    name: str | None = None,
    namespace: Mapping[str, Any] | None = None,
    as_of: dt.datetime | str | None = None,
    history: HistoryProvider | None = None,
) -> SuiteResult:
    """Run a check spec (text or a parsed ``Suite``) on a frame and return a ``SuiteResult``.

    ``namespace`` resolves frames named in ``in FRAME.COLUMN``; ``as_of`` replaces now for
    ``freshness``; ``history(metric_key)`` gives earlier production values for ``spc`` lines.
    """
    suite = spec if isinstance(spec, Suite) else parse_spec(spec, name=name)
    name = name if name is not None else suite.name
    frame = to_polars(data)
    ctx = RunContext(namespace, _parse_as_of(as_of), history)
    schema = dict(frame.collect_schema())
    plan = Plan(frame, schema, ctx)
    bound: list[tuple[CheckSpec, Metric | None, list[Fact], CheckResult | None]] = []
    for cs in suite.checks:
        if cs.kind in ("columns", "schema"):
            bound.append((cs, None, [], _structural(cs, schema)))
            continue
        metric = CATALOGUE[cs.metric](cs)  # type: ignore[index]
        problem = metric.problem(schema)
        if problem:
            bound.append((cs, metric, [], _result(cs, metric, "error", message=problem)))
            continue
        facts = metric.facts(schema)
        if cs.kind == "spc":
            from jupyter_dataops.checks.spc_check import size_facts

            facts = [*facts, *(f for f in size_facts(cs) if f not in facts)]
        plan.add(facts)
        bound.append((cs, metric, facts, None))
    if isinstance(frame, pl.LazyFrame) and plan.facts:
        needed = _needed_columns(bound, schema)
        eager = materialize(frame, needed, schema)
        if eager is not None:
            plan = Plan(eager, {c: schema[c] for c in needed}, ctx)
            for _cs, _metric, facts, done in bound:
                if done is None:
                    plan.add(facts)
            plan.steps.append(f"lazy source: {len(needed)} needed column(s) read into memory")
        else:
            plan.steps.append("lazy source: one streaming pass")
    values = plan.execute() if plan.facts else {}
    results = []
    for cs, metric, facts, done in bound:
        if done is None:
            done = _evaluate(cs, metric, facts, values, ctx)  # type: ignore[arg-type]
            if done.status in ("fail", "warn") and metric.row_level:  # type: ignore[union-attr]
                done.failing_rows = _failing_rows(frame, schema, metric, ctx)  # type: ignore[arg-type]
        results.append(done)
    row_count = values.get(("len",))
    out = SuiteResult(
        results=results, name=name, row_count=row_count if isinstance(row_count, int) else None
    )
    out.extra["plan"] = plan.explain()
    return out


def _needed_columns(bound, schema) -> list[str]:
    cols: dict[str, None] = {}
    for _cs, metric, _facts, done in bound:
        if done is not None or metric is None:
            continue
        cols.update(dict.fromkeys(metric.columns))
        if metric.name == "failed_rows":
            cols.update(dict.fromkeys(pl.sql_expr(metric.args[0]).meta.root_names()))
    return [c for c in cols if c in schema]


def _result(cs: CheckSpec, metric: Metric | None, status: str, **kw: Any) -> CheckResult:
    return CheckResult(
        line=cs.line,
        source=cs.source,
        status=status,
        threshold=cs.threshold_text,
        metric=cs.metric_key,
        unit=metric.unit if metric else None,
        **kw,
    )


def _evaluate(
    cs: CheckSpec, metric: Metric, facts: list[Fact], values: dict, ctx: RunContext
) -> CheckResult:
    try:
        observed = _observe(metric, facts, values, ctx)
    except NothingToMeasure as exc:
        return _result(cs, metric, "error", message=str(exc))
    except _FactError as exc:
        return _result(cs, metric, "error", message=str(exc))
    if cs.kind == "spc":
        from jupyter_dataops.checks.spc_check import evaluate_spc, sample_size, size_key

        size = sample_size(cs, values)
        status, message = evaluate_spc(cs, observed, ctx.history, size)
        res = _result(cs, metric, status, observed=observed, message=message)
        if size is not None and cs.metric_key is not None:
            res.extra_metrics[size_key(cs.metric_key)] = float(size)
        return res
    try:
        if cs.kind == "graded":
            status = "pass"
            for level in ("fail", "warn"):
                trig = cs.triggers.get(level)
                if trig is not None and _holds(trig, observed):
                    status = level
                    break
        else:
            assert cs.condition is not None
            status = "pass" if _holds(cs.condition, observed) else cs.severity
    except _Incomparable as exc:
        return _result(cs, metric, "error", observed=observed, message=str(exc))
    return _result(
        cs, metric, status, observed=observed, message=_message_for(cs, metric, status, observed)
    )


class _FactError(Exception):
    pass


class _Incomparable(Exception):
    pass


def _observe(metric: Metric, facts: list[Fact], values: dict, ctx: RunContext) -> Any:
    for f in facts:
        v = values.get(f)
        if isinstance(v, _Failed):
            raise _FactError(v.message)
    v = metric.observe(values, ctx)
    if isinstance(v, float) and math.isnan(v):
        raise NothingToMeasure(f"nothing to measure: {metric.spec.metric_key} is not a number")
    return v


def _holds(cond: Condition, observed: Any) -> bool:
    temporal_obs = isinstance(observed, (dt.date, dt.datetime))
    temporal_thr = isinstance(cond.low.value, (dt.date, dt.datetime))
    if temporal_obs != temporal_thr:
        if temporal_obs:
            raise _Incomparable(
                f"the observed value {format_observed(observed)} is a date/time: compare it with "
                f"a date, e.g. >= 2024-01-01"
            )
        raise _Incomparable(
            f"the observed value {format_observed(observed)} is a number, but the threshold "
            f"{cond.low.text} is a date"
        )
    if temporal_obs:
        o = _utc(observed)
        cond = Condition(cond.op, _retime(cond.low), _retime(cond.high) if cond.high else None)
        return cond.holds(o)
    return cond.holds(observed)


def _utc(v: dt.date | dt.datetime) -> dt.datetime:
    if not isinstance(v, dt.datetime):
        v = dt.datetime(v.year, v.month, v.day)
    return v.replace(tzinfo=dt.timezone.utc) if v.tzinfo is None else v


def _retime(t):
    from dataclasses import replace

    return replace(t, value=_utc(t.value))


def _message_for(cs: CheckSpec, metric: Metric, status: str, observed: Any) -> str:
    shown = format_observed(observed, metric.unit)
    key = cs.metric_call
    if cs.kind == "graded":
        if status == "pass":
            return f"{key} is {shown}; no trigger ({cs.threshold_text}) fired"
        return f"{key} is {shown}: the {status} trigger {cs.triggers[status].text} fired"
    assert cs.condition is not None
    if status == "pass":
        return f"{key} is {shown}, {cs.condition.text} as required"
    return f"{key} is {shown}, but it must be {cs.condition.text}"


def _structural(cs: CheckSpec, schema: Mapping[str, pl.DataType]) -> CheckResult:
    problems = []
    wanted = cs.columns if cs.kind == "columns" else tuple(c for c, _ in cs.schema)
    for c in wanted:
        if c not in schema:
            problems.append(_missing_column(c, schema))
    if cs.kind == "schema":
        for c, want in cs.schema:
            if c in schema and not dtype_matches(schema[c], want):
                problems.append(f"column {c!r} is {schema[c]}, not {want}")
    status = cs.severity if problems else "pass"
    msg = (
        "; ".join(problems)
        if problems
        else (
            f"all {len(wanted)} column(s) present"
            + (" with those types" if cs.kind == "schema" else "")
        )
    )
    return CheckResult(
        line=cs.line, source=cs.source, status=status, threshold="", metric=None, message=msg
    )


def dtype_matches(actual: pl.DataType, wanted: str) -> bool:
    """``Int64`` matches Int64; ``Datetime`` any datetime; ``Datetime(time_unit='us', ...)``
    only that exact type (compared as polars prints it)."""
    base = wanted.split("(")[0].split("[")[0]
    canon = DTYPE_ALIASES.get(base.lower(), base)
    if canon != base or "(" not in wanted and "[" not in wanted:
        if "(" in wanted or "[" in wanted:
            return str(actual).replace(" ", "") == (canon + wanted[len(base) :]).replace(" ", "")
        return type(actual).__name__ == canon or str(actual) == canon
    return str(actual).replace(" ", "") == wanted.replace(" ", "")


def _failing_rows(frame, schema, metric: Metric, ctx: RunContext) -> pl.DataFrame | None:
    """Up to 5 offending rows; None if they cannot be computed (the status already says why)."""
    try:
        expr = metric.offending(schema, ctx)
        if expr is None:
            return None
        lf = frame.lazy()
        floats = nan_as_null(expr, schema) if metric.name == "failed_rows" else []
        if floats:  # choose rows with NaN read as null, show them as they are
            lf = lf.with_row_index("_dataops_row")
            hits = lf.with_columns(floats).filter(expr).select("_dataops_row").head(5)
            lf = lf.join(hits, on="_dataops_row", how="semi").drop("_dataops_row")
        else:
            lf = lf.filter(expr)
        lf = lf.head(5)
        return lf.collect(engine="in-memory" if isinstance(frame, pl.DataFrame) else "streaming")
    except Exception:
        return None
