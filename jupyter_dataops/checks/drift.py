"""Drift: ``drift(col) < 0.2: psi against last`` -- a distribution change as a check like any
other, and (its value being recorded as a metric) an SPC series.

A column's *profile* is what drift compares, computed by the engine from facts in the suite's
one pass (so any backend that computes them works):

* a number: its ``PROFILE_LEVELS`` quantiles (0%, 5%, ..., 100%, linear interpolation), read as
  a CDF interpolated between them (``"type": "numeric"``);
* text, booleans and integers with at most ``MAX_VALUES`` distinct values: the count of each
  value (``"type": "values"``).

Statistics, both between 0 and (PSI) no upper bound / (KS) 1:

* ``psi``: population stability index over the reference's decile bins for a number, or over
  the values (plus one bin for values the reference never had); a share of 0 counts as
  ``EPSILON`` so a new or vanished bin gives a large but finite index. Rule of thumb: < 0.1 no
  shift, 0.1..0.2 moderate, > 0.2 a shift;
* ``ks``: the largest distance between the two CDFs (Kolmogorov-Smirnov statistic); numbers and
  integer values only.

The reference is ``last`` -- the profile the previous successful production run of this step
stored for the column (``HistoryProvider.profile(column)``; a first run stores its profile and
is not judged) -- or a frame in the namespace, profiled exactly in memory. With quantile
profiles the statistics are within about 0.01 of their exact values for continuous data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from jupyter_dataops.checks import facts as F
from jupyter_dataops.checks.catalogue import (
    Metric,
    NothingToMeasure,
    NotJudged,
    _missing_column,
    _need,
    register,
)
from jupyter_dataops.checks.dtypes import is_float, is_numeric, is_stringlike
from jupyter_dataops.checks.facts import Fact
from jupyter_dataops.checks.inputs import missing_history, to_polars
from jupyter_dataops.errors import DataOpsError

#: quantile levels of a numeric profile: 0%, 5%, ..., 100%
PROFILE_LEVELS = tuple(i / 20 for i in range(21))
#: columns with at most this many distinct values are profiled value by value
MAX_VALUES = 50
#: the share a bin with no values counts as in the PSI (avoids log(0))
EPSILON = 1e-4
#: the reference's decile edges (indexes into PROFILE_LEVELS) that bin a number for the PSI
DECILES = tuple(range(2, 20, 2))


# profiles -----------------------------------------------------------------------------------


def _valued(dtype: pl.DataType) -> bool:
    """Profiled value by value when few: text, booleans, integers."""
    return is_stringlike(dtype) or dtype == pl.Boolean or dtype.is_integer()


def profile_facts(column: str, dtype: pl.DataType) -> list[Fact]:
    """The facts a profile of ``column`` is made of."""
    out: list[Fact] = [F.RowCount(), F.NullCount(column)]
    if _valued(dtype):
        out.append(F.TopValues(column, MAX_VALUES + 1))
    if is_numeric(dtype) and dtype != pl.Boolean:
        out += [F.Aggregate("quantile", column, q) for q in PROFILE_LEVELS]
    return out


def profile_from_facts(column: str, dtype: pl.DataType, values: dict[Fact, Any]) -> dict:
    """A column's profile (see the module) from computed facts."""
    n = int(values[F.RowCount()]) - int(values[F.NullCount(column)])
    if n == 0:
        raise NothingToMeasure(f"nothing to measure: {column!r} has no values")
    if _valued(dtype):
        top = values[F.TopValues(column, MAX_VALUES + 1)]
        if len(top) <= MAX_VALUES:
            return _values_profile(column, [(r["value"], int(r["count"])) for r in top], n)
    if not is_numeric(dtype) or dtype == pl.Boolean:
        raise NothingToMeasure(
            f"drift: {column!r} has more than {MAX_VALUES} distinct values and is no number: "
            "its distribution has no profile (check its categories with valid values instead)"
        )
    qs = [float(values[F.Aggregate("quantile", column, q)]) for q in PROFILE_LEVELS]
    return {"column": column, "type": "numeric", "n": n, "quantiles": qs}


def _values_profile(column: str, pairs: list[tuple[Any, int]], n: int) -> dict:
    return {
        "column": column,
        "type": "values",
        "n": n,
        "values": [[_plain(v), c] for v, c in pairs],
    }


def _plain(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)


def profile_of_frame(frame: Any, column: str, name: str = "the reference") -> dict:
    """The exact profile of ``frame[column]`` (a reference frame, in memory)."""
    df = to_polars(frame)
    if isinstance(df, pl.LazyFrame):
        df = df.select(column).collect() if column in df.collect_schema() else df.head(0).collect()
    if column not in df.columns:
        raise DataOpsError(f"drift against {name}: {_missing_column(column, df.schema)}")
    s = df[column]
    if is_float(s.dtype):
        s = s.fill_nan(None)
    s = s.drop_nulls()
    if s.len() == 0:
        raise DataOpsError(f"drift against {name}: {column!r} has no values there")
    if _valued(s.dtype):
        counts = s.value_counts(sort=True, name="_n")
        if counts.height <= MAX_VALUES:
            pairs = list(zip(counts[column].to_list(), counts["_n"].to_list(), strict=True))
            return _values_profile(column, pairs, s.len())
    if not is_numeric(s.dtype) or s.dtype == pl.Boolean:
        raise DataOpsError(
            f"drift against {name}: {column!r} has more than {MAX_VALUES} distinct values "
            "and is no number"
        )
    qs = [float(s.quantile(q, interpolation="linear")) for q in PROFILE_LEVELS]  # type: ignore[arg-type]
    return {"column": column, "type": "numeric", "n": s.len(), "quantiles": qs}


# the statistics -----------------------------------------------------------------------------


def _quantiles(profile: dict) -> np.ndarray:
    """A profile's quantiles at ``PROFILE_LEVELS`` (computed from the counts of a values
    profile of numbers)."""
    if profile["type"] == "numeric":
        return np.asarray(profile["quantiles"], dtype=float)
    pairs = sorted((float(v), c) for v, c in profile["values"])
    xs = np.array([v for v, _ in pairs])
    cum = np.cumsum([c for _, c in pairs])
    n = cum[-1]
    out = []
    for p in PROFILE_LEVELS:
        h = (n - 1) * p
        lo, hi = math.floor(h), math.ceil(h)
        a = xs[np.searchsorted(cum, lo, side="right")]
        b = xs[np.searchsorted(cum, hi, side="right")]
        out.append(a + (b - a) * (h - lo))
    return np.asarray(out)


def cdf(qs: np.ndarray, x: float) -> float:
    """The CDF at ``x`` of a distribution given by its quantiles at ``PROFILE_LEVELS``: linear
    between them, right-continuous where several are equal (a tie is a jump)."""
    levels = PROFILE_LEVELS
    if x < qs[0]:
        return 0.0
    if x >= qs[-1]:
        return 1.0
    j = int(np.searchsorted(qs, x, side="right")) - 1  # qs[j] <= x < qs[j + 1]
    lo, hi = qs[j], qs[j + 1]
    return levels[j] + (levels[j + 1] - levels[j]) * (x - lo) / (hi - lo)


def _numeric_pair(ref: dict, cur: dict) -> bool:
    return ref["type"] == "numeric" or cur["type"] == "numeric"


def _value_shares(profile: dict) -> dict[Any, float]:
    n = profile["n"]
    shares = {_key(v): c / n for v, c in profile["values"]}
    listed = sum(c for _, c in profile["values"])
    if listed < n:  # values beyond the listed ones (not expected: MAX_VALUES bounds them)
        shares[_OTHER] = (n - listed) / n
    return shares


_OTHER = ("other",)


def _key(v: Any) -> Any:
    """Values compare as numbers when they are numbers (1 and 1.0 are the same value)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    return float(v)


def _psi_term(c: float, r: float) -> float:
    c, r = max(c, EPSILON), max(r, EPSILON)
    return (c - r) * math.log(c / r)


def psi(ref: dict, cur: dict) -> float:
    """Population stability index of ``cur`` against ``ref`` (two profiles)."""
    if _numeric_pair(ref, cur):
        rq, cq = _quantiles(ref), _quantiles(cur)
        edges = sorted({float(rq[i]) for i in DECILES})
        r_cdf = [0.0, *(cdf(rq, e) for e in edges), 1.0]
        c_cdf = [0.0, *(cdf(cq, e) for e in edges), 1.0]
        return sum(
            _psi_term(c_cdf[i + 1] - c_cdf[i], r_cdf[i + 1] - r_cdf[i])
            for i in range(len(r_cdf) - 1)
        )
    r, c = _value_shares(ref), _value_shares(cur)
    unseen = sum(share for v, share in c.items() if v not in r)
    total = sum(_psi_term(c.get(v, 0.0), share) for v, share in r.items())
    if unseen:
        total += _psi_term(unseen, 0.0)
    return total


def ks(ref: dict, cur: dict) -> float:
    """Kolmogorov-Smirnov statistic: the largest distance between the two CDFs."""
    if not _numeric_pair(ref, cur):
        if not all(_is_number(v) for p in (ref, cur) for v, _ in p["values"]):
            raise NothingToMeasure(
                "ks compares numbers; this column holds text: use psi for categories"
            )
        return _ks_values(ref, cur)
    rq, cq = _quantiles(ref), _quantiles(cur)
    points = np.union1d(rq, cq)
    best = 0.0
    for x in points:
        below = np.nextafter(x, -np.inf)
        best = max(best, abs(cdf(rq, x) - cdf(cq, x)), abs(cdf(rq, below) - cdf(cq, below)))
    return float(best)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _ks_values(ref: dict, cur: dict) -> float:
    """Exact KS of two value-count profiles of numbers: the ECDFs at every value."""
    r = {float(v): c / ref["n"] for v, c in ref["values"]}
    c = {float(v): k / cur["n"] for v, k in cur["values"]}
    fr = fc = best = 0.0
    for x in sorted(set(r) | set(c)):
        fr += r.get(x, 0.0)
        fc += c.get(x, 0.0)
        best = max(best, abs(fr - fc))
    return best


STATISTICS = {"psi": psi, "ks": ks}


# the metric ---------------------------------------------------------------------------------


@register
class Drift(Metric):
    name = "drift"
    unit = "value"
    config = "drift"
    example = "drift(amount) < 0.2: psi against last"
    summary = (
        "distribution change of a column: psi (population stability index) or ks "
        "(Kolmogorov-Smirnov) against the last production run or a reference frame"
    )

    def dtype_problem(self, schema):
        col = self.args[0]
        dtype = schema[col]
        ok = is_numeric(dtype) or is_stringlike(dtype)
        return _need("drift", col, dtype, ok)

    def facts(self, schema):
        self.dtype = schema[self.args[0]]
        return profile_facts(self.args[0], self.dtype)

    def kept(self, facts):
        return profile_from_facts(self.args[0], self.dtype, facts)

    def observe(self, facts, ctx):
        col = self.args[0]
        opts = self.spec.drift
        assert opts is not None
        current = profile_from_facts(col, self.dtype, facts)
        reference = self.reference(ctx)
        # the message names what it compared with (the planner appends ``note``)
        against = self.spec.drift.against  # type: ignore[union-attr]
        self.note = f"compared with {reference.get('reference') or 'frame ' + against}"
        if reference["type"] != current["type"] and not (
            _numeric_pair(reference, current)
            and all(
                p["type"] == "numeric" or all(_is_number(v) for v, _ in p["values"])
                for p in (reference, current)
            )
        ):
            raise NothingToMeasure(
                f"drift: {col!r} was profiled as {reference['type']} in the reference and as "
                f"{current['type']} now: they cannot be compared"
            )
        return float(STATISTICS[opts.method](reference, current))

    def reference(self, ctx: Any) -> dict:
        col = self.args[0]
        against = self.spec.drift.against  # type: ignore[union-attr]
        if against != "last":
            ns = ctx.namespace
            if ns is None or against not in ns:
                raise NothingToMeasure(
                    f"no frame named {against!r} to compare with: define {against} (a polars, "
                    f"pandas or pyarrow table) before this check, or write 'against last'"
                )
            try:
                return profile_of_frame(ns[against], col, against)
            except DataOpsError as exc:
                raise NothingToMeasure(str(exc)) from None
        lookup = getattr(ctx.history, "profile", None)
        stored = lookup(col) if lookup is not None else None
        if stored is None:
            missing = missing_history(ctx.history)
            where = (
                f"no earlier successful production run of this step stored a profile of {col!r}"
                if lookup is not None
                else f"{missing or 'no production history'} (against last reads the previous "
                "successful production run of this step)"
            )
            raise NotJudged(f"not judged: {where}; this run's profile is the next reference")
        return stored
