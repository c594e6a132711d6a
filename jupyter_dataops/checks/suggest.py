"""Checks that write themselves: profile a frame in one planned pass and suggest a check spec.

``suggest(data)`` asks the engine that would run the checks (in memory, streaming, a database,
a DuckDB/Dask frame) for one batch of facts per column -- missing values, distinct counts, key
uniqueness of id-like columns and their pairs, robust quantiles, the most frequent values of
text columns, how many text values break each named format -- and turns them into check lines
by a few rules:

* completeness: ``missing_count(c) = 0`` when nothing is missing, else a percent with headroom;
* keys: ``duplicate_count(c) = 0`` for unique id-like columns (``order_id``, ``sku_code``,
  ``ref``, ...), and for an id-like pair unique while neither column alone is
  (``order_id, line_no``); ids get no range (they grow);
* categories: ``valid values [...]`` for text with at most ``MAX_CATEGORIES`` values;
* ranges: ``valid range LO .. HI`` around the middle 98% of a number, widened by half that
  spread (never narrower than what was observed), kept at 0 for a non-negative column;
* formats: ``valid format NAME`` when at least 95% of a text column has that format (the rest
  allowed as a percent with headroom);
* schema, ``freshness`` of each date/time column and ``spc`` lines for the volume and the
  averages of the main measures.

Every line carries its evidence as a trailing comment (``# 0 nulls in 20,000 rows``), written
with the one formatter (``checks.display.format_value``). Suggestions pass on the data they
came from.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import polars as pl

from jupyter_dataops.checks import facts as F
from jupyter_dataops.checks.catalogue import seconds_since
from jupyter_dataops.checks.cursor import IDENT
from jupyter_dataops.checks.display import duration, format_value
from jupyter_dataops.checks.dtypes import (
    DTYPE_ALIASES,
    is_float,
    is_numeric,
    is_stringlike,
    is_temporal,
)
from jupyter_dataops.checks.engines.polars import PolarsEngine
from jupyter_dataops.checks.engines.streaming import StreamingEngine
from jupyter_dataops.checks.facts import Fact, Unavailable
from jupyter_dataops.checks.formats import FORMATS
from jupyter_dataops.checks.inputs import CheckInputs, parse_as_of, to_polars
from jupyter_dataops.checks.planner import materialize, native_engine
from jupyter_dataops.checks.spec import ValidRule

#: text with at most this many distinct values (and each seen twice on average) is a category
MAX_CATEGORIES = 20
#: a format is suggested when at least this share of the non-missing values has it (the rest
#: is then allowed as a percent with headroom)
FORMAT_SHARE = 0.95
#: formats tried on text columns, most specific first (the first that fits is suggested)
FORMAT_ORDER = ("uuid", "email", "date", "ipv4", "phone_e164", "integer", "decimal")
#: quantiles read for ranges (the bounds widen the 1%..99% spread by ``RANGE_MARGIN`` of it)
QUANTILES = (0.01, 0.99)
RANGE_MARGIN = 0.5
#: spc lines on the averages of at most this many measure columns
MAX_SPC_AVERAGES = 3
#: id-like columns paired when looking for a compound key (at most this many columns)
MAX_KEY_PARTS = 6
_ID_LIKE = re.compile(
    r"(^id$|_id$|^id_|_key$|^key$|_no$|^no$|_num$|_number$|^line$|^seq|_seq$|_code$"
    r"|(^|_)(ref|uuid|guid)$)",
    re.IGNORECASE,
)


@dataclass
class SuggestedLine:
    """One suggested check line: its text and the evidence behind it."""

    kind: str  # schema | volume | completeness | key | category | range | format | freshness | spc
    column: str | None
    check: str
    evidence: str

    @property
    def text(self) -> str:
        return f"{self.check}  # {self.evidence}" if self.evidence else self.check


@dataclass
class Suggestion:
    """A suggested spec: ``text`` (ready for ``%%dataops_test`` or ``dataops check``), its
    ``lines``, the ``row_count`` profiled, ``notes`` (what could not be profiled, as comments)
    and ``plan`` (how the engine computed the profile)."""

    lines: list[SuggestedLine]
    row_count: int
    columns: int
    notes: list[str] = field(default_factory=list)
    plan: str = ""
    profiled_at: dt.datetime | None = None

    @property
    def text(self) -> str:
        when = self.profiled_at.strftime("%Y-%m-%d %H:%M UTC") if self.profiled_at else ""
        head = [
            f"# suggested from {format_value(self.row_count, 'count')} rows x "
            f"{self.columns} columns{' at ' + when if when else ''}: review before relying on it"
        ]
        head += [f"# {n}" for n in self.notes]
        return "\n".join([*head, *(ln.text for ln in self.lines)]) + "\n"

    def cell(self, frame: str) -> str:
        """A ``%%dataops_test FRAME`` cell holding the suggestion."""
        return f"%%dataops_test {frame}\n{self.text}"

    def __str__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return "```\n" + self.text + "```"


# profiling ---------------------------------------------------------------------------------


def _engine(data: Any, table: str | None, ctx: CheckInputs) -> tuple[Any, pl.LazyFrame | None]:
    """The engine ``run_checks`` would use for ``data`` (a lazy file scan is read later)."""
    native = native_engine(data, table, ctx)
    if native is not None:
        return native, None
    frame = to_polars(data)
    schema = dict(frame.collect_schema())
    if isinstance(frame, pl.DataFrame):
        return PolarsEngine(frame, schema, ctx), None
    return StreamingEngine(frame, schema, ctx), frame


#: camelCase ids: orderId, customerID, lineNo (case matters: "valid" is no id)
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID|Key|No|Ref|Code)$")


def _id_like(name: str) -> bool:
    return bool(_ID_LIKE.search(re.sub(r"[\s.-]+", "_", name.strip())) or _CAMEL_ID.search(name))


def _can_key(dtype: pl.DataType) -> bool:
    return is_stringlike(dtype) or (dtype.is_integer() and dtype != pl.Boolean)


def _profile_facts(schema: dict[str, pl.DataType]) -> list[Fact]:
    facts: list[Fact] = [F.RowCount()]
    for col, dtype in schema.items():
        facts.append(F.NullCount(col))
        if _can_key(dtype) and _id_like(col):
            facts += [F.DistinctCount((col,)), F.KeyedRowCount((col,))]
        if is_numeric(dtype) and dtype != pl.Boolean:
            facts += [F.Aggregate("min", col), F.Aggregate("max", col), F.Aggregate("mean", col)]
            facts += [F.Aggregate("quantile", col, q) for q in QUANTILES]
        elif is_temporal(dtype):
            facts += [F.Aggregate("min", col), F.Aggregate("max", col)]
        if is_stringlike(dtype):
            facts.append(F.TopValues(col, MAX_CATEGORIES + 1))
            if dtype == pl.String:
                facts += [F.InvalidCount(col, _format_rule(name)) for name in FORMAT_ORDER]
    parts = [c for c, d in schema.items() if _can_key(d) and _id_like(c)][:MAX_KEY_PARTS]
    for pair in combinations(parts, 2):
        facts += [F.DistinctCount(pair), F.KeyedRowCount(pair)]
    return facts


def _format_rule(name: str) -> ValidRule:
    assert name in FORMATS
    return ValidRule(kind="format", pattern=name)


def profile_facts(
    data: Any, *, table: str | None = None
) -> tuple[dict[str, pl.DataType], dict[Fact, Any], str]:
    """Schema, fact values (``Unavailable`` where the engine could not) and the engine's plan,
    computed in one planned pass over ``data`` (any input ``run_checks`` takes)."""
    ctx = CheckInputs(None, None, None)
    engine, lazy = _engine(data, table, ctx)
    schema = dict(engine.schema)
    facts = _profile_facts(schema)
    if lazy is not None:
        eager = materialize(lazy, list(schema), schema)
        if eager is not None:
            engine = PolarsEngine(eager, schema, ctx)
            engine.steps.append(f"lazy source: {len(schema)} column(s) read into memory")
        else:
            engine.steps.append("lazy source: one streaming pass")
    engine.add(facts)
    values = engine.execute()
    return schema, values, engine.explain()


# rules -------------------------------------------------------------------------------------


def suggest(
    data: Any,
    *,
    table: str | None = None,
    as_of: dt.datetime | str | None = None,
) -> Suggestion:
    """Profile ``data`` in one planned pass and suggest a check spec for it (see the module).

    ``data`` is anything ``run_checks`` takes (with ``table=`` for a database); ``as_of`` is
    the time freshness is measured at (default now).
    """
    now = parse_as_of(as_of) or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    schema, values, plan = profile_facts(data, table=table)
    p = _Profile(schema, values)
    rows = p.get(F.RowCount())
    if not isinstance(rows, int):
        from jupyter_dataops.errors import DataOpsError

        raise DataOpsError(f"cannot profile the data: {p.why(F.RowCount())}")
    out = Suggestion(lines=[], row_count=rows, columns=len(schema), plan=plan, profiled_at=now)
    n = format_value(rows, "count")
    known = {c: d for c, d in schema.items() if _dtype(d) in DTYPE_ALIASES.values()}
    types = ", ".join(f"{_col(c)} {_dtype(d)}" for c, d in known.items())
    for c in schema.keys() - known.keys():
        out.notes.append(f"{c} is {schema[c]}: a type the check language does not name")
    if known:
        out.lines.append(SuggestedLine("schema", None, f"schema: {types}", "types as profiled"))
    if rows == 0:
        out.notes.append("no rows to profile: only the schema is suggested")
        return out
    out.lines.append(SuggestedLine("volume", None, "row_count > 0", f"{n} rows"))
    keys = _keys(p, schema, rows, out)
    for col, dtype in schema.items():
        _completeness(p, col, rows, out)
        if is_stringlike(dtype):
            if col in keys or not _category(p, col, rows, out):
                _format(p, col, rows, out)
        elif col in keys or _id_like(col):
            continue  # ids grow: no range
        elif is_numeric(dtype) and dtype != pl.Boolean:
            _range(p, col, dtype, out)
        elif is_temporal(dtype):
            _freshness(p, col, now, out)
    _spc(p, schema, keys, rows, out)
    return out


class _Profile:
    def __init__(self, schema: dict[str, pl.DataType], values: dict[Fact, Any]) -> None:
        self.schema = schema
        self.values = values

    def get(self, fact: Fact) -> Any:
        v = self.values.get(fact)
        return None if isinstance(v, Unavailable) else v

    def why(self, fact: Fact) -> str:
        v = self.values.get(fact)
        return v.message if isinstance(v, Unavailable) else "not computed"

    def nonmissing(self, col: str, rows: int) -> int | None:
        nulls = self.get(F.NullCount(col))
        return None if nulls is None else rows - int(nulls)


def _col(name: str) -> str:
    """A column as the check language reads it (quoted when it is not a plain name)."""
    return name if IDENT.fullmatch(name) else "`" + name + "`"


def _dtype(dtype: pl.DataType) -> str:
    return type(dtype).__name__


def _share(part: int, whole: int) -> str:
    return format_value(100.0 * part / whole, "percent") if whole else "0%"


def _nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``x`` (x > 0)."""
    exp = math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        v = m * 10**exp
        if v >= x * (1 - 1e-12):
            return float(f"{v:.12g}")
    return 10.0 ** (exp + 1)  # pragma: no cover


def _number(v: float) -> str:
    """A threshold as the language reads it: no thousands separators, no exponent surprises."""
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.12g}"


def _completeness(p: _Profile, col: str, rows: int, out: Suggestion) -> None:
    nulls = p.get(F.NullCount(col))
    if nulls is None:
        out.notes.append(f"missing values of {col} not profiled: {p.why(F.NullCount(col))}")
        return
    c = _col(col)
    if nulls == 0:
        evidence = f"0 nulls in {format_value(rows, 'count')} rows"
        out.lines.append(SuggestedLine("completeness", col, f"missing_count({c}) = 0", evidence))
        return
    pct = 100.0 * nulls / rows
    if pct >= 100:
        evidence = f"every one of {format_value(rows, 'count')} rows is missing"
        out.lines.append(
            SuggestedLine("completeness", col, f"missing_percent({c}) <= 100%", evidence)
        )
        return
    limit = min(_nice_ceiling(max(2 * pct, pct + 1)), 100.0)
    evidence = f"{_share(nulls, rows)} missing ({format_value(nulls, 'count')} of {format_value(rows, 'count')} rows)"
    out.lines.append(
        SuggestedLine("completeness", col, f"missing_percent({c}) < {_number(limit)}%", evidence)
    )


def _keys(p: _Profile, schema: dict[str, pl.DataType], rows: int, out: Suggestion) -> set[str]:
    """Suggest uniqueness of key columns (and one compound key); return the key columns."""
    unique: set[str] = set()
    for col, dtype in schema.items():
        if not _can_key(dtype):
            continue
        distinct = p.get(F.DistinctCount((col,)))
        keyed = p.get(F.KeyedRowCount((col,)))
        if distinct is None or keyed is None or keyed < 2 or distinct != keyed:
            continue
        unique.add(col)
        evidence = f"{format_value(distinct, 'count')} distinct values in {format_value(keyed, 'count')} rows"
        out.lines.append(SuggestedLine("key", col, f"duplicate_count({_col(col)}) = 0", evidence))
    for fact in p.values:
        if not (isinstance(fact, F.DistinctCount) and len(fact.key) == 2):
            continue
        a, b = fact.key
        if a in unique or b in unique:
            continue
        distinct = p.get(fact)
        keyed = p.get(F.KeyedRowCount(fact.key))
        if distinct is None or keyed is None or keyed < 2 or distinct != keyed:
            continue
        if keyed < rows:
            continue  # a compound key with missing parts is no obvious key
        evidence = (
            f"({a}, {b}) unique over {format_value(rows, 'count')} rows; neither column alone is"
        )
        out.lines.append(
            SuggestedLine("key", None, f"duplicate_count({_col(a)}, {_col(b)}) = 0", evidence)
        )
        break  # one obvious compound key; more would be guesses
    return unique


def _top(p: _Profile, col: str) -> list[tuple[Any, int]] | None:
    raw = p.get(F.TopValues(col, MAX_CATEGORIES + 1))
    if raw is None:
        return None
    return [(r["value"], int(r["count"])) for r in raw]


def _category(p: _Profile, col: str, rows: int, out: Suggestion) -> bool:
    top = _top(p, col)
    present = p.nonmissing(col, rows)
    if top is None:
        why = p.why(F.TopValues(col, MAX_CATEGORIES + 1))
        out.notes.append(f"values of {col} not profiled: {why}")
        return False
    if not top or present is None or len(top) > MAX_CATEGORIES or 2 * len(top) > present:
        return False
    values = sorted(str(v) for v, _ in top)
    if any("'" in v and '"' in v for v in values):
        return False  # a value with both quotes cannot be written in the list
    items = ", ".join(_quote_value(v) for v in values)
    shown = ", ".join(f"{v} {_share(k, present)}" for v, k in top[:5])
    more = f", ... ({len(top) - 5} more)" if len(top) > 5 else ""
    evidence = f"{len(top)} values in {format_value(present, 'count')} rows: {shown}{more}"
    check = f"invalid_count({_col(col)}) = 0: valid values [{items}]"
    out.lines.append(SuggestedLine("category", col, check, evidence))
    return True


def _quote_value(v: str) -> str:
    if v and v == v.strip() and not any(ch in v for ch in ",]'\"#"):
        return v
    return "'" + v + "'" if "'" not in v else '"' + v + '"'


def _format(p: _Profile, col: str, rows: int, out: Suggestion) -> None:
    present = p.nonmissing(col, rows)
    if not present or p.schema[col] != pl.String:
        return
    for name in FORMAT_ORDER:
        bad = p.get(F.InvalidCount(col, _format_rule(name)))
        if bad is None or bad > (1 - FORMAT_SHARE) * present:
            continue
        c = _col(col)
        if bad == 0:
            evidence = f"all {format_value(present, 'count')} values are {name}"
            check = f"invalid_count({c}) = 0: valid format {name}"
        else:
            pct = 100.0 * bad / present
            limit = _nice_ceiling(max(2 * pct, pct + 0.1))
            evidence = f"{_share(bad, present)} ({format_value(bad, 'count')} of {format_value(present, 'count')}) are not {name}"
            check = f"invalid_percent({c}) < {_number(limit)}%: valid format {name}"
        out.lines.append(SuggestedLine("format", col, check, evidence))
        return


def _range(p: _Profile, col: str, dtype: pl.DataType, out: Suggestion) -> None:
    lo_v, hi_v = p.get(F.Aggregate("min", col)), p.get(F.Aggregate("max", col))
    q_lo = p.get(F.Aggregate("quantile", col, QUANTILES[0]))
    q_hi = p.get(F.Aggregate("quantile", col, QUANTILES[1]))
    if None in (lo_v, hi_v, q_lo, q_hi):
        missing = next(
            f
            for f in (F.Aggregate("min", col), F.Aggregate("max", col))
            + tuple(F.Aggregate("quantile", col, q) for q in QUANTILES)
            if p.get(f) is None
        )
        if isinstance(p.values.get(missing), Unavailable):
            out.notes.append(f"range of {col} not profiled: {p.why(missing)}")
        return
    lo_v, hi_v, q_lo, q_hi = (float(v) for v in (lo_v, hi_v, q_lo, q_hi))
    spread = q_hi - q_lo or hi_v - lo_v or abs(q_lo) or 1.0
    low = min(lo_v, q_lo - RANGE_MARGIN * spread)
    high = max(hi_v, q_hi + RANGE_MARGIN * spread)
    if lo_v >= 0 > low:
        low = 0.0  # a column that is never negative stays so
    step = _nice_ceiling(spread) / 10
    low = math.floor(low / step) * step
    high = math.ceil(high / step) * step
    if dtype.is_integer():
        low, high = math.floor(low), math.ceil(high)
    low, high = float(f"{low:.12g}"), float(f"{high:.12g}")
    low, high = min(low, lo_v), max(high, hi_v)  # rounding never cuts observed values
    fmt = lambda v: format_value(v, "value")  # noqa: E731
    evidence = f"observed {fmt(lo_v)} .. {fmt(hi_v)}, 98% within {fmt(q_lo)} .. {fmt(q_hi)}"
    check = f"invalid_count({_col(col)}) = 0: valid range {_number(low)} .. {_number(high)}"
    out.lines.append(SuggestedLine("range", col, check, evidence))


def _freshness(p: _Profile, col: str, now: dt.datetime, out: Suggestion) -> None:
    newest = p.get(F.Aggregate("max", col))
    if newest is None:
        return
    age = seconds_since(newest, now)
    limit_h = max(math.ceil(max(2 * age, age + 3600) / 3600), 1)
    limit = f"{math.ceil(limit_h / 24)}d" if limit_h > 48 else f"{limit_h}h"
    shown = newest.isoformat() if hasattr(newest, "isoformat") else str(newest)
    evidence = f"newest {shown}, {duration(max(age, 0))} before profiling"
    out.lines.append(SuggestedLine("freshness", col, f"freshness({_col(col)}) < {limit}", evidence))


def _spc(
    p: _Profile, schema: dict[str, pl.DataType], keys: set[str], rows: int, out: Suggestion
) -> None:
    out.lines.append(
        SuggestedLine(
            "spc",
            None,
            "spc row_count",
            f"volume: {format_value(rows, 'count')} rows now; judged after 20 production runs",
        )
    )
    measures = [
        c
        for c, d in schema.items()
        if is_numeric(d) and d != pl.Boolean and c not in keys and not _id_like(c)
    ]
    for col in _measures_first(measures, schema)[:MAX_SPC_AVERAGES]:
        mean = p.get(F.Aggregate("mean", col))
        if mean is None:
            continue
        evidence = f"average {format_value(float(mean), 'value')} now"
        out.lines.append(SuggestedLine("spc", col, f"spc avg({_col(col)})", evidence))


def _measures_first(cols: Sequence[str], schema: dict[str, pl.DataType]) -> list[str]:
    """Float columns (amounts, prices) before integer ones (counts, codes)."""
    return sorted(cols, key=lambda c: 0 if is_float(schema[c]) else 1)
