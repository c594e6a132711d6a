"""The planner: bind each line of a suite to its metric, gather the facts they need, choose an
engine for the data and judge every line from the facts it computed.

Equal facts of different checks are computed once. A polars ``DataFrame`` runs on the in-memory
engine (``engines.polars``); a ``LazyFrame`` whose needed columns surely fit in memory is read
into memory and runs there too, any other runs as one streaming pass (``engines.streaming``).
Nothing is skipped: a fact that cannot be computed makes its checks report ``error``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from jupyter_dataops.checks import facts as F
from jupyter_dataops.checks.catalogue import (
    CATALOGUE,
    Metric,
    NothingToMeasure,
    NotJudged,
    _missing_column,
)
from jupyter_dataops.checks.display import format_value, threshold_of
from jupyter_dataops.checks.dtypes import DTYPE_ALIASES
from jupyter_dataops.checks.engines import choose
from jupyter_dataops.checks.engines.batched import BatchedEngine
from jupyter_dataops.checks.engines.polars import PolarsEngine
from jupyter_dataops.checks.engines.streaming import StreamingEngine, nan_as_null
from jupyter_dataops.checks.facts import Fact, Unavailable
from jupyter_dataops.checks.inputs import CheckInputs, HistoryProvider, parse_as_of, to_polars
from jupyter_dataops.checks.language import parse_spec
from jupyter_dataops.checks.results import CheckResult, SuiteResult
from jupyter_dataops.checks.spc_check import is_sized, judge_spc, size_key
from jupyter_dataops.checks.spec import CheckSpec, Condition, Suite

#: most offending rows shown under a failing row-level check
SAMPLE_SIZE = 5


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


#: a file scan whose needed columns are estimated above this share of the free memory runs on
#: the batched engine (bounded memory: mergeable per-batch states) instead of one polars
#: streaming pass, whose memory grows with the data for distinct counts and quantiles
BATCHED_SHARE = 0.5


def scan_bytes(lf: pl.LazyFrame, columns: Sequence[str], schema) -> int | None:
    """The estimated in-memory size of the needed columns of a lazy *file scan*, or None for
    any other lazy pipeline (whose size polars cannot estimate without running it)."""
    if not columns:
        return None
    try:
        text = lf.select([pl.col(c) for c in columns]).explain()
    except Exception:
        return None
    estimates = re.findall(r"ESTIMATED ROWS: (\d+)", text)
    if len(estimates) != 1 or "SCAN" not in text or "JOIN" in text:
        return None
    return int(estimates[0]) * sum(_width(schema[c]) for c in columns)


def materialize(lf: pl.LazyFrame, columns: Sequence[str], schema) -> pl.DataFrame | None:
    """The needed columns of a lazy *file scan* in memory, when they surely fit; else None.

    Reading the columns once with the in-memory engine and then running the in-memory plan
    (bitmaps, group-bys, split text work) beats one streaming pass over the file by 2x here;
    a source larger than the budget, or any lazy pipeline whose size polars cannot estimate
    without running it, keeps the single streaming pass so files larger than memory work.
    """
    size = scan_bytes(lf, columns, schema)
    if size is None or size > MEMORY_SHARE * _free_memory():
        return None
    return lf.select([pl.col(c) for c in columns]).collect(engine="in-memory")


def native_engine(data: Any, table: str | None, ctx: CheckInputs) -> Any:
    """The engine that runs the suite where ``data`` lives, or None for the polars engines
    (the planner routes those by size once it knows the columns needed). Which engine takes
    which input is the engines' own say (``engines.choose``): a database (URL, SQLAlchemy engine
    or connection, with ``table``) gets the SQL engine, a lazy frame of another library (DuckDB,
    Dask, Ibis, SQLFrame/PySpark) the narwhals lazy engine."""
    cls = choose(data, table)
    if cls is PolarsEngine:
        return None
    return cls.for_input(data, table, ctx)


# running a suite ---------------------------------------------------------------------------


def run_checks(
    data: Any,
    spec: str | Suite,
    *,
    name: str | None = None,
    namespace: Mapping[str, Any] | None = None,
    as_of: dt.datetime | str | None = None,
    history: HistoryProvider | None = None,
    table: str | None = None,
) -> SuiteResult:
    """Run a check spec (text or a parsed ``Suite``) on data and return a ``SuiteResult``.

    ``data`` is a frame (polars, pandas, pyarrow), a lazy frame that runs where it lives (a
    DuckDB relation, a Dask DataFrame, an Ibis table, through narwhals), or a database (a
    SQLAlchemy URL, ``Engine`` or ``Connection``, with ``table=``) queried with aggregate SQL.
    ``namespace`` resolves frames named in ``in FRAME.COLUMN``; ``as_of`` replaces now for
    ``freshness``; ``history(metric_key)`` gives earlier production values for ``spc`` lines.
    """
    suite = spec if isinstance(spec, Suite) else parse_spec(spec, name=name)
    name = name if name is not None else suite.name
    ctx = CheckInputs(namespace, parse_as_of(as_of), history)
    plan: Any = native_engine(data, table, ctx)
    frame = None
    if plan is None:
        frame = to_polars(data)
        schema = dict(frame.collect_schema())
        engine_cls = PolarsEngine if isinstance(frame, pl.DataFrame) else StreamingEngine
        plan = engine_cls(frame, schema, ctx)
    else:
        schema = dict(plan.schema)
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
        if is_sized(cs):
            facts = [*facts, *(f for f in metric.sample_size_facts() if f not in facts)]
        plan.add(facts)
        bound.append((cs, metric, facts, None))
    if isinstance(frame, pl.LazyFrame) and plan.facts:
        needed = _needed_columns(bound, schema)
        eager = materialize(frame, needed, schema)
        if eager is not None:
            plan = PolarsEngine(eager, {c: schema[c] for c in needed}, ctx)
            for _cs, _metric, facts, done in bound:
                if done is None:
                    plan.add(facts)
            plan.steps.append(f"lazy source: {len(needed)} needed column(s) read into memory")
        elif (scan_bytes(frame, needed, schema) or 0) > BATCHED_SHARE * _free_memory():
            plan = BatchedEngine(frame, schema, ctx)
            for _cs, _metric, facts, done in bound:
                if done is None:
                    plan.add(facts)
            plan.steps.append("lazy source larger than memory: read in batches, bounded memory")
        else:
            plan.steps.append("lazy source: one streaming pass")
    values = plan.execute() if plan.facts else {}
    results = []
    for cs, metric, facts, done in bound:
        if done is None:
            done = _evaluate(cs, metric, facts, values, ctx)  # type: ignore[arg-type]
            done.profile = _kept(metric, facts, values)  # type: ignore[arg-type]
            if done.status in ("fail", "warn") and metric.row_level:  # type: ignore[union-attr]
                # an engine's own way (in the database, in batches), else a polars filter
                own = getattr(plan, "failing_rows", None)
                got = own(facts, SAMPLE_SIZE) if own is not None else None
                if got is None:
                    got = _failing_rows(frame, schema, metric, ctx)  # type: ignore[arg-type]
                done.failing_rows, done.failing_count = got
        results.append(done)
    row_count = values.get(F.RowCount())
    out = SuiteResult(
        results=results, name=name, row_count=row_count if isinstance(row_count, int) else None
    )
    out.extra["plan"] = plan.explain()
    return out


def _needed_columns(bound, schema) -> list[str]:
    cols: dict[str, None] = {}
    for _cs, metric, facts, done in bound:
        if done is not None or metric is None:
            continue
        cols.update(dict.fromkeys(metric.columns))
        for fact in facts:
            cols.update(dict.fromkeys(fact.columns))
    return [c for c in cols if c in schema]


def _result(cs: CheckSpec, metric: Metric | None, status: str, **kw: Any) -> CheckResult:
    unit = metric.unit if metric else None
    return CheckResult(
        line=cs.line,
        source=cs.source,
        status=status,
        threshold=threshold_of(cs, unit),
        metric=cs.metric_key,
        unit=unit,
        **kw,
    )


def _evaluate(
    cs: CheckSpec, metric: Metric, facts: list[Fact], values: dict, ctx: CheckInputs
) -> CheckResult:
    """The line's result; a metric's ``note`` (set while it observed, e.g. which run a drift
    line compared with) ends its message."""
    done = _judged(cs, metric, facts, values, ctx)
    note = getattr(metric, "note", None)
    if note and done.message:
        done.message = f"{done.message} ({note})"
    return done


def _judged(
    cs: CheckSpec, metric: Metric, facts: list[Fact], values: dict, ctx: CheckInputs
) -> CheckResult:
    try:
        observed = _observe(metric, facts, values, ctx)
    except NotJudged as exc:
        return _result(cs, metric, "baseline", message=str(exc))
    except NothingToMeasure as exc:
        return _result(cs, metric, "error", message=str(exc))
    except _FactError as exc:
        return _result(cs, metric, "error", message=str(exc))
    if cs.kind == "spc":
        size = metric.sample_size(values) if is_sized(cs) else None
        verdict = judge_spc(cs, observed, ctx.history, size)
        res = _result(cs, metric, verdict.status, observed=observed, message=verdict.message)
        res.spc = verdict.details(cs)
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


def _kept(metric: Metric, facts: list[Fact], values: dict) -> dict | None:
    """What the metric keeps for later runs (``Metric.kept``), when its facts were computed."""
    if any(isinstance(values.get(f), Unavailable) for f in facts):
        return None
    try:
        return metric.kept(values)
    except NothingToMeasure:
        return None


class _FactError(Exception):  # internal signal: a fact could not be computed (status "error")
    pass


class _Incomparable(Exception):  # internal signal: observed value and threshold do not compare
    pass


def _observe(metric: Metric, facts: list[Fact], values: dict, ctx: CheckInputs) -> Any:
    for f in facts:
        v = values.get(f)
        if isinstance(v, Unavailable):
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
                f"the observed value {format_value(observed)} is a date/time: compare it with "
                f"a date, e.g. >= 2024-01-01"
            )
        raise _Incomparable(
            f"the observed value {format_value(observed)} is a number, but the threshold "
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
    from jupyter_dataops.checks.display import condition_text

    shown = format_value(observed, metric.unit)
    key = cs.metric_call
    if cs.kind == "graded":
        if status == "pass":
            return f"{key} is {shown}; no trigger ({threshold_of(cs, metric.unit)}) fired"
        trigger = condition_text(cs.triggers[status], metric.unit)
        return f"{key} is {shown}: the {status} trigger {trigger} fired"
    assert cs.condition is not None
    cond = condition_text(cs.condition, metric.unit)
    if status == "pass":
        return f"{key} is {shown}, {cond} as required"
    return f"{key} is {shown}, but it must be {cond}"


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


def _failing_rows(
    frame, schema, metric: Metric, ctx: CheckInputs
) -> tuple[pl.DataFrame | None, int | None]:
    """Up to ``SAMPLE_SIZE`` offending rows and how many rows offend in all; (None, None) if
    they cannot be computed (the status already says why)."""
    try:
        expr = metric.offending(schema, ctx)
        if expr is None:
            return None, None
        engine = "in-memory" if isinstance(frame, pl.DataFrame) else "streaming"
        lf = frame.lazy()
        floats = nan_as_null(expr, schema) if metric.nan_as_null_rows else []
        if floats:  # choose rows with NaN read as null, show them as they are
            lf = lf.with_row_index("_dataops_row")
            hits = lf.with_columns(floats).filter(expr)
            total = hits.select(pl.len()).collect(engine=engine).item()
            hits = hits.select("_dataops_row").head(SAMPLE_SIZE)
            lf = lf.join(hits, on="_dataops_row", how="semi").drop("_dataops_row")
        else:
            lf = lf.filter(expr)
            total = lf.select(pl.len()).collect(engine=engine).item()
        return lf.head(SAMPLE_SIZE).collect(engine=engine), int(total)
    except Exception:
        return None, None
