"""The SQL engine: a suite as aggregate queries *inside* a database (SQLAlchemy Core).

``run_checks("postgresql://...", spec, table="orders")`` (or a SQLAlchemy ``Engine`` /
``Connection``) never downloads the table: every fact is one aggregate column of a single
``SELECT ... FROM table`` (a multi-column distinct or a reference lookup is a scalar subquery of
that same statement), and a failing row-level check fetches its offending rows with ``LIMIT``.

Tested on PostgreSQL, SQLite and MySQL/MariaDB (``DIALECTS``; a real server of each in CI), and
honest where a dialect lacks something (the fact is ``Unavailable`` and its checks report
``error`` saying so):

* missing is NULL, or NaN in a float column where the dialect stores NaN (PostgreSQL);
  aggregates and distinct counts skip both, as the polars engines do;
* ``valid regex`` / ``valid format`` use the dialect's regex operator (PostgreSQL ``~``,
  MySQL/MariaDB ``REGEXP`` made case-sensitive with ``(?-i)``; SQLite through the Python
  ``re.search`` function SQLAlchemy's pysqlite driver installs);
* ``median``/``percentile`` use ``percentile_cont`` (PostgreSQL); SQLite and MySQL/MariaDB have no
  exact percentile aggregate and report ``error``;
* ``stddev`` uses ``stddev_samp``, or a two-pass sum of squared deviations where the dialect has
  no such function (SQLite);
* on any other dialect the checks above report ``error`` naming the dialect and the tested ones
  (counts, min/max/avg/sum, distinct, valid values/range, conditions and references are plain
  SQL and run);
* on MySQL/MariaDB text compares by the column's collation, case-insensitive by default:
  ``valid values`` and distinct counts of text then ignore case (polars does not);
* ``failed_rows(CONDITION)`` is the check language's condition (``checks.conditions``),
  transpiled to the dialect by sqlglot: the same rows as on every other backend;
* ``reference_missing_count(col) = 0: in other.col`` looks the values up in the table ``other``
  of the same database, or in a frame called ``other`` passed in ``namespace`` (at most
  ``MAX_INLINE_VALUES`` distinct values, sent as an ``IN`` list).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from jupyter_dataops.checks import conditions
from jupyter_dataops.checks import facts as F
from jupyter_dataops.checks.dtypes import as_datetime, coerce_values, is_float
from jupyter_dataops.checks.engines.base import Engine, first_line
from jupyter_dataops.checks.facts import Fact, Unavailable
from jupyter_dataops.checks.formats import FORMAT_PATTERNS
from jupyter_dataops.errors import DataOpsError

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.checks.inputs import CheckInputs

#: a reference frame from Python is sent as an IN list of at most this many values
MAX_INLINE_VALUES = 10_000
#: the dialects the engine is tested on (a real database each in CI); on any other dialect the
#: checks that need a dialect's own SQL (regex, format, length, stddev, percentile) say so
DIALECTS = ("postgresql", "sqlite", "mysql", "mariadb")
SUPPORTED = "postgresql, sqlite, mysql/mariadb"
#: dialects without an exact percentile function (as an aggregate)
NO_PERCENTILE = ("sqlite", "mysql", "mariadb")

#: one fact -> (SQL column expressions, how to turn their values into the fact's value)
Compiled = tuple[list[sa.ColumnElement], Callable[[list], Any]]
Builder = Callable[["SqlEngine", Any], Compiled]


def _one(vs: list) -> Any:
    from decimal import Decimal

    v = vs[0]
    return float(v) if isinstance(v, Decimal) else v


def _int(vs: list) -> int:
    return int(vs[0] or 0)


class SqlSource:
    """A table of a database: the SQLAlchemy engine, the reflected table, its polars schema."""

    def __init__(self, bind: Any, table: str) -> None:
        if isinstance(bind, str):
            try:
                # no pool: the connections close when the run ends
                bind = sa.create_engine(bind, poolclass=sa.pool.NullPool)
            except Exception as exc:
                raise DataOpsError(
                    f"cannot open database URL {_safe_url(bind)}: {first_line(exc)}. Use a "
                    "SQLAlchemy URL such as postgresql+psycopg://user:pw@host/db or "
                    "sqlite:///path/to/file.db"
                ) from exc
        self.bind: sa.Engine | sa.Connection = bind
        self.engine: sa.Engine = bind.engine if isinstance(bind, sa.Connection) else bind
        self.dialect = self.engine.dialect.name
        schema, _, name = table.rpartition(".")
        try:
            self.table = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=bind)
        except sa.exc.NoSuchTableError:
            names = sa.inspect(self.engine).get_table_names(schema=schema or None)
            raise DataOpsError(
                f"no table {table!r} in {_safe_url(str(self.engine.url))}"
                + (f" (tables: {', '.join(sorted(names)[:12])})" if names else " (no tables)")
            ) from None
        except Exception as exc:
            raise DataOpsError(
                f"cannot read table {table!r} from {_safe_url(str(self.engine.url))}: "
                f"{first_line(exc)}"
            ) from exc
        self.name = table
        self.schema: dict[str, pl.DataType] = {
            c.name: polars_dtype(c.type) for c in self.table.columns
        }

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """The caller's connection as is (its transaction sees its own tables), else a new one."""
        if isinstance(self.bind, sa.Connection):
            yield self.bind
        else:
            with self.bind.connect() as conn:
                yield conn


def _safe_url(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database URL>"


def polars_dtype(t: sa.types.TypeEngine) -> pl.DataType:
    """The polars dtype a SQL column type means to the catalogue (dtype problems, schema lines)."""
    if isinstance(t, sa.Boolean):
        return pl.Boolean()
    if isinstance(t, mysql.TINYINT) and t.display_width == 1:
        return pl.Boolean()  # MySQL's BOOLEAN is TINYINT(1)
    if isinstance(t, sa.SmallInteger):
        return pl.Int16()
    if isinstance(t, sa.Integer):
        return pl.Int64()
    if isinstance(t, sa.Float):  # before Numeric: Float is a Numeric
        return pl.Float64()
    if isinstance(t, sa.Numeric):
        if t.scale is not None and t.precision is not None:
            return pl.Decimal(t.precision, t.scale)
        return pl.Float64()
    if isinstance(t, sa.DateTime):
        return pl.Datetime("us", "UTC" if t.timezone else None)
    if isinstance(t, sa.Date):
        return pl.Date()
    if isinstance(t, (sa.String, sa.Enum)):
        return pl.String()
    if isinstance(t, sa.LargeBinary):
        return pl.Binary()
    return pl.Object()


class SqlEngine(Engine):
    """Facts over one database table, as aggregate SQL; ``execute()`` returns fact -> value."""

    name: ClassVar[str] = "sql"
    TABLE: ClassVar[Mapping[type, Builder]]
    priority: ClassVar[int] = 30

    @classmethod
    def accepts(cls, data: Any, table: str | None) -> bool:
        """A SQLAlchemy URL (text), ``Engine`` or ``Connection``."""
        return isinstance(data, str) or type(data).__module__.split(".")[0] == "sqlalchemy"

    @classmethod
    def for_input(cls, data: Any, table: str | None, ctx: CheckInputs) -> SqlEngine:
        if isinstance(data, str) and "://" not in data:
            raise DataOpsError(
                f"{data!r} is not a database URL: pass a SQLAlchemy URL such as "
                "postgresql+psycopg://user@host/db or sqlite:///file.db (with table=), or a frame"
            )
        if not table:
            raise DataOpsError(
                "checking a database needs the table: run_checks(url, spec, table='orders') "
                "(dataops check URL --table orders SPEC)"
            )
        return cls(SqlSource(data, table), ctx)

    def __init__(self, source: SqlSource, ctx: CheckInputs) -> None:
        super().__init__(ctx)
        self.source = source
        self.table = source.table
        self.schema = source.schema
        self.dialect = source.dialect

    @property
    def who(self) -> str:
        return f"the {self.dialect} database engine"

    # ---- dialect pieces

    def col(self, name: str) -> sa.ColumnElement:
        return self.table.c[name]

    def nan(self, c: sa.ColumnElement, name: str) -> sa.ColumnElement | None:
        """True where a float value is NaN, or None where the dialect stores no NaN."""
        if not is_float(self.schema[name]):
            return None
        if self.dialect == "postgresql":
            return c == sa.cast(sa.literal("NaN"), sa.Float)
        return None

    def missing(self, name: str, c: sa.ColumnElement | None = None) -> sa.ColumnElement:
        c = self.col(name) if c is None else c
        nan = self.nan(c, name)
        return c.is_(None) if nan is None else sa.or_(c.is_(None), nan)

    def clean(self, name: str, c: sa.ColumnElement | None = None) -> sa.ColumnElement:
        """The column with NaN read as NULL (aggregates then skip both)."""
        c = self.col(name) if c is None else c
        nan = self.nan(c, name)
        if self.schema[name] == pl.Boolean:
            c = sa.cast(c, sa.Integer)
        return c if nan is None else sa.case((nan, sa.null()), else_=c)

    def tested(self, check: str) -> None:
        """Raise unless the dialect is one the engine is tested on (``check`` needs its SQL)."""
        if self.dialect not in DIALECTS:
            raise DataOpsError(
                f"{check} is not supported on dialect {self.dialect!r}: supported are "
                f"{SUPPORTED} (run this check on a polars frame)"
            )

    def regex(self, c: sa.ColumnElement, pattern: str, check: str) -> sa.ColumnElement:
        self.tested(check)
        if self.dialect in ("mysql", "mariadb"):
            # REGEXP follows the column's collation, case-insensitive by default: match case as
            # polars does
            pattern = "(?-i)" + pattern
        return c.regexp_match(pattern)

    def valid(self, name: str, rule: Any, c: sa.ColumnElement | None = None) -> sa.ColumnElement:
        """True where a non-missing value meets ``rule`` (the meaning of ``dtypes.valid_expr``)."""
        c = self.col(name) if c is None else c
        dtype = self.schema[name]
        if rule.kind == "values":
            return c.in_(coerce_values(rule, dtype))
        if rule.kind == "regex":
            return self.regex(c, rule.pattern, "valid regex")
        if rule.kind == "format":
            ok = self.regex(c, FORMAT_PATTERNS[rule.pattern], "valid format")
            return sa.and_(ok, self._date_exists(c)) if rule.pattern == "date" else ok
        lo, hi = rule.low.value, rule.high.value
        if rule.kind == "length":
            self.tested("valid length")
            # SQLite's length() counts characters; MySQL's counts bytes
            n = sa.func.length(c) if self.dialect == "sqlite" else sa.func.char_length(c)
            return sa.and_(n >= lo, n <= hi)
        if isinstance(dtype, pl.Datetime):
            lo, hi = (as_datetime(v, dtype) for v in (lo, hi))
        return sa.and_(c >= lo, c <= hi)

    def _date_exists(self, c: sa.ColumnElement) -> sa.ColumnElement:
        """For text already shaped YYYY-MM-DD: the date exists (month 1-12, day in month)."""
        y = sa.cast(sa.func.substr(c, 1, 4), sa.Integer)
        m = sa.cast(sa.func.substr(c, 6, 2), sa.Integer)
        d = sa.cast(sa.func.substr(c, 9, 2), sa.Integer)
        leap = sa.or_(sa.and_(y % 4 == 0, y % 100 != 0), y % 400 == 0)
        days = sa.case(
            (m == 2, sa.case((leap, 29), else_=28)),
            (m.in_([4, 6, 9, 11]), 30),
            else_=31,
        )
        ok = sa.and_(m >= 1, m <= 12, d >= 1, d <= days)
        # the casts run only on shaped text (CASE evaluates the branch it takes)
        shaped = self.regex(c, FORMAT_PATTERNS["date"], "valid format")
        return sa.case((shaped, sa.case((ok, True), else_=False)), else_=False)

    def condition(self, fact: F.ConditionCount) -> sa.ColumnElement:
        """The condition in this database's SQL (sqlglot's transpiler, ``checks.conditions``),
        NaN read as NULL where the database stores NaN."""
        nans = tuple(n for n in self.schema if self.nan(self.col(n), n) is not None)
        sql = conditions.to_sql(fact.condition, self.schema, self.dialect, nans)
        return sa.literal_column(f"({sql})")

    # ---- execution

    def execute(self) -> dict[Fact, Any]:
        def row_of(cols: list[sa.ColumnElement]) -> Sequence[Any]:
            with self.source.connect() as conn:
                return conn.execute(sa.select(*cols).select_from(self.table)).one()

        self.one_row(
            self.build_each(),
            label=lambda e, name: e.label(name),
            row_of=row_of,
            failed=lambda exc: Unavailable(
                f"the {self.dialect} database could not compute it: {first_line(exc)}"
            ),
            step=lambda parts, facts: (
                f"{self.dialect}: one aggregate query of {parts} columns for {facts} facts "
                f"on table {self.source.name}"
            ),
            retry_step="the query failed: each fact queried alone to find the culprit",
        )
        return self.values

    # ---- offending rows

    def offending(self, facts: Sequence[Fact]) -> tuple[sa.FromClause, sa.ColumnElement] | None:
        """The rows a row-level check's first fact counts: (from, predicate), or None."""
        for fact in facts:
            make = OFFENDING.get(type(fact))
            if make is not None:
                return make(self, fact)
        return None

    def failing_rows(
        self, facts: Sequence[Fact], limit: int
    ) -> tuple[pl.DataFrame | None, int | None]:
        try:
            found = self.offending(facts)
            if found is None:
                return None, None
            source, pred = found
            with self.source.connect() as conn:
                total = conn.execute(
                    sa.select(sa.func.count()).select_from(source).where(pred)
                ).scalar_one()
                rows = conn.execute(sa.select(source).where(pred).limit(limit))
                sample = pl.DataFrame(
                    [tuple(r) for r in rows], schema=list(rows.keys()), orient="row"
                )
            return sample, int(total)
        except Exception:
            return None, None


# ---- the dispatch table: fact type -> aggregate columns ------------------------------------


def rows(e: SqlEngine, fact: F.RowCount) -> Compiled:
    return [sa.func.count()], _int


def nulls(e: SqlEngine, fact: F.NullCount) -> Compiled:
    return [sa.func.count(sa.case((e.missing(fact.column), 1)))], _int


def nans(e: SqlEngine, fact: F.NanCount) -> Compiled:
    nan = e.nan(e.col(fact.column), fact.column)
    if nan is None:
        return [sa.literal(0)], _int
    return [sa.func.count(sa.case((nan, 1)))], _int


def aggregate(e: SqlEngine, fact: F.Aggregate) -> Compiled:
    c = e.clean(fact.column)
    dtype = e.schema[fact.column]
    to_int = dtype.is_integer() or dtype == pl.Boolean
    if fact.fn in ("min", "max"):
        return [getattr(sa.func, fact.fn)(c)], (
            lambda vs: int(vs[0]) if dtype == pl.Boolean and vs[0] is not None else _one(vs)
        )
    if fact.fn == "mean":
        return [sa.func.avg(c)], _float
    if fact.fn == "sum":
        return [sa.func.sum(c)], (
            lambda vs: None if vs[0] is None else (int(vs[0]) if to_int else float(vs[0]))
        )
    if fact.fn == "std":
        e.tested("stddev")
        if e.dialect != "sqlite":
            return [sa.func.stddev_samp(c)], _float
        # no stddev function (SQLite): sum of squared deviations from the mean, two passes
        mean = sa.select(sa.func.avg(e.clean(fact.column))).select_from(e.table).scalar_subquery()
        dev = sa.cast(c, sa.Float) - mean
        return [sa.func.sum(dev * dev), sa.func.count(c)], _sample_std
    if fact.fn in ("median", "quantile"):
        q = 0.5 if fact.fn == "median" else float(fact.q)  # type: ignore[arg-type]
        name = "median" if fact.fn == "median" else "percentile"
        e.tested(name)
        if e.dialect in NO_PERCENTILE:
            raise DataOpsError(
                f"the {e.dialect} database has no exact percentile function: {name} cannot run "
                "there (run this check on a polars frame or in PostgreSQL)"
            )
        return [sa.func.percentile_cont(q).within_group(c)], _float
    raise DataOpsError(f"the sql engine has no aggregate {fact.fn!r}")


def _float(vs: list) -> float | None:
    return None if vs[0] is None else float(vs[0])


def _sample_std(vs: list) -> float | None:
    ss, n = vs
    if ss is None or n is None or n < 2:
        return None
    return math.sqrt(max(float(ss), 0.0) / (int(n) - 1))


def keyed_rows(e: SqlEngine, fact: F.KeyedRowCount) -> Compiled:
    keyed = sa.and_(*[sa.not_(e.missing(c)) for c in fact.key])
    return [sa.func.count(sa.case((keyed, 1)))], _int


def distinct(e: SqlEngine, fact: F.DistinctCount) -> Compiled:
    if len(fact.key) == 1:
        return [sa.func.count(sa.distinct(e.clean(fact.key[0])))], _int
    keyed = sa.and_(*[sa.not_(e.missing(c)) for c in fact.key])
    keys = sa.select(*[e.col(c) for c in fact.key]).where(keyed).distinct().subquery()
    return [sa.select(sa.func.count()).select_from(keys).scalar_subquery()], _int


def invalid(e: SqlEngine, fact: F.InvalidCount) -> Compiled:
    bad = sa.and_(sa.not_(e.missing(fact.column)), sa.not_(e.valid(fact.column, fact.rule)))
    return [sa.func.count(sa.case((bad, 1)))], _int


def condition(e: SqlEngine, fact: F.ConditionCount) -> Compiled:
    return [sa.func.count(sa.case((e.condition(fact), 1)))], _int


def _reference(e: SqlEngine, fact: F.ReferenceMissingCount) -> sa.ColumnElement:
    """True where the column's value is absent from the reference (non-missing values only)."""
    c = e.col(fact.column)
    ns = e.ctx.namespace
    if ns is not None and fact.frame in ns:
        values = e.ctx.reference_values(fact.frame, fact.ref_column)
        if values.len() > MAX_INLINE_VALUES:
            raise DataOpsError(
                f"{fact.frame}.{fact.ref_column} has {values.len()} distinct values, more than "
                f"the {MAX_INLINE_VALUES} sent to the database as a list: put {fact.frame} in "
                "the same database as a table and refer to it by its name"
            )
        return sa.and_(sa.not_(e.missing(fact.column)), c.not_in(values.to_list()))
    try:
        ref = sa.Table(fact.frame, sa.MetaData(), autoload_with=e.source.bind, schema=None)
        rc = ref.c[fact.ref_column]
    except Exception:
        raise DataOpsError(
            f"no table {fact.frame!r} with a column {fact.ref_column!r} in the database, and no "
            f"frame named {fact.frame!r} in the namespace: create that table, or pass "
            f"namespace={{{fact.frame!r}: ...}}"
        ) from None
    present = sa.select(rc).where(rc.is_not(None))
    return sa.and_(sa.not_(e.missing(fact.column)), c.not_in(present))


def reference_missing(e: SqlEngine, fact: F.ReferenceMissingCount) -> Compiled:
    return [sa.func.count(sa.case((_reference(e, fact), 1)))], _int


SQL: dict[type, Builder] = {
    F.RowCount: rows,
    F.NullCount: nulls,
    F.NanCount: nans,
    F.Aggregate: aggregate,
    F.KeyedRowCount: keyed_rows,
    F.DistinctCount: distinct,
    F.InvalidCount: invalid,
    F.ConditionCount: condition,
    F.ReferenceMissingCount: reference_missing,
}
SqlEngine.TABLE = SQL


# ---- offending rows: fact type -> (from, predicate) ----------------------------------------


def _off_missing(e: SqlEngine, fact: F.NullCount):
    return e.table, e.missing(fact.column)


def _off_duplicates(e: SqlEngine, fact: F.DistinctCount):
    keyed = sa.and_(*[sa.not_(e.missing(c)) for c in fact.key])
    cols = [e.col(c) for c in fact.key]
    dup = sa.select(*cols).where(keyed).group_by(*cols).having(sa.func.count() > 1)
    key = cols[0] if len(cols) == 1 else sa.tuple_(*cols)
    return e.table, sa.and_(keyed, key.in_(dup))


def _off_invalid(e: SqlEngine, fact: F.InvalidCount):
    return e.table, sa.and_(
        sa.not_(e.missing(fact.column)), sa.not_(e.valid(fact.column, fact.rule))
    )


def _off_condition(e: SqlEngine, fact: F.ConditionCount):
    return e.table, e.condition(fact)


def _off_reference(e: SqlEngine, fact: F.ReferenceMissingCount):
    return e.table, _reference(e, fact)


OFFENDING: dict[type, Callable[[SqlEngine, Any], tuple[sa.FromClause, sa.ColumnElement]]] = {
    F.NullCount: _off_missing,
    F.DistinctCount: _off_duplicates,
    F.InvalidCount: _off_invalid,
    F.ConditionCount: _off_condition,
    F.ReferenceMissingCount: _off_reference,
}
