"""The batched engine: a suite over a file larger than memory, in bounded memory.

The needed columns are read batch by batch (``LazyFrame.collect_batches``); each fact keeps a
small *mergeable state* that every batch updates, so memory holds one batch plus the states,
whatever the file's length:

* counts (rows, missing, invalid, conditions, references): summed;
* ``min``/``max``: merged; ``sum``: added; ``avg``/``stddev``: count, mean and the sum of
  squared deviations, merged exactly (Chan et al.);
* distinct counts: a bitmap over the range of a dense integer column (one byte per possible
  value, up to ``BITMAP_MAX_BYTES``); otherwise the set of distinct values while it stays under
  ``SET_MAX_VALUES``, then a spill to disk hash-partitioned into ``PARTITIONS`` files whose
  distinct values are counted one partition at a time;
* ``median``/``percentile``: exact, by selection: the main pass gives the count and range, a
  pass over that one column counts the values per bucket of the range to find the bucket of
  the wanted rank, until that bucket holds at most ``GATHER_MAX_VALUES`` values, which are
  then read and sorted.

``explain()`` says which state each fact used and how large the states grew.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import polars as pl

from jupyter_dataops.checks import facts as F
from jupyter_dataops.checks.dtypes import missing_expr, present
from jupyter_dataops.checks.engines import streaming as S
from jupyter_dataops.checks.engines.streaming import first_line, message_of
from jupyter_dataops.checks.facts import Fact, Unavailable
from jupyter_dataops.errors import DataOpsError

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.checks.inputs import RunContext

#: rows per batch read from the file
BATCH_ROWS = 1_000_000
#: a dense integer column's distinct values are counted with a bitmap up to this many bytes
BITMAP_MAX_BYTES = 512 * 1024 * 1024
#: distinct values kept in memory before they spill to disk
SET_MAX_VALUES = 2_000_000
#: spill files a distinct count is hash-partitioned into
PARTITIONS = 64
#: a quantile's bucket is read and sorted once it holds at most this many values
GATHER_MAX_VALUES = 2_000_000
#: buckets of one quantile refinement pass
BUCKETS = 1 << 16


class State:
    """A fact's mergeable state: expressions evaluated on every batch, or a batch hook."""

    def exprs(self) -> list[pl.Expr]:
        return []

    def update(self, parts: list, batch: pl.DataFrame) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError

    def size(self) -> int:
        """Bytes the state holds in memory (for ``explain()`` and the memory tests)."""
        return 64


class Count(State):
    def __init__(self, exprs: list[pl.Expr]) -> None:
        self._exprs = exprs
        self.total = 0

    def exprs(self) -> list[pl.Expr]:
        return self._exprs

    def update(self, parts: list, batch: pl.DataFrame) -> None:
        self.total += sum(int(p or 0) for p in parts)

    def result(self) -> int:
        return self.total


class BatchCount(State):
    """A count that needs the batch itself (a condition reading NaN as null)."""

    def __init__(self, count: Callable[[pl.DataFrame], int]) -> None:
        self.count = count
        self.total = 0

    def update(self, parts: list, batch: pl.DataFrame) -> None:
        self.total += int(self.count(batch) or 0)

    def result(self) -> int:
        return self.total


class Extreme(State):
    def __init__(self, col: str, dtype: pl.DataType, fn: str) -> None:
        c = present(col, dtype)
        c = c.cast(pl.Int64) if dtype == pl.Boolean else c
        self.expr = c.min() if fn == "min" else c.max()
        self.pick = min if fn == "min" else max
        self.value: Any = None

    def exprs(self) -> list[pl.Expr]:
        return [self.expr]

    def update(self, parts: list, batch: pl.DataFrame) -> None:
        v = parts[0]
        if v is not None:
            self.value = v if self.value is None else self.pick(self.value, v)

    def result(self) -> Any:
        return self.value


class Total(State):
    def __init__(self, col: str, dtype: pl.DataType) -> None:
        c = present(col, dtype)
        self.integral = dtype.is_integer() or dtype == pl.Boolean
        self.expr = (c.cast(pl.Int64) if dtype == pl.Boolean else c).sum()
        self.value: Any = 0

    def exprs(self) -> list[pl.Expr]:
        return [self.expr]

    def update(self, parts: list, batch: pl.DataFrame) -> None:
        self.value += parts[0] or 0

    def result(self) -> Any:
        return int(self.value) if self.integral else float(self.value)


class Moments(State):
    """Count, mean and sum of squared deviations, merged batch by batch (exact to rounding)."""

    def __init__(self, col: str, dtype: pl.DataType, fn: str) -> None:
        c = present(col, dtype).cast(pl.Float64)
        self._exprs = [c.count(), c.mean(), c.var(ddof=0)]
        self.fn = fn
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def exprs(self) -> list[pl.Expr]:
        return self._exprs

    def update(self, parts: list, batch: pl.DataFrame) -> None:
        nb, mb, vb = parts
        if not nb:
            return
        m2b = (vb or 0.0) * nb
        n = self.n + nb
        delta = mb - self.mean
        self.mean += delta * nb / n
        self.m2 += m2b + delta * delta * self.n * nb / n
        self.n = n

    def result(self) -> float | None:
        if self.fn == "mean":
            return self.mean if self.n else None
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else None


class Distinct(State):
    """Exact distinct count: bitmap (dense integers), in-memory set, or hash-partitioned spill."""

    def __init__(self, engine: BatchedEngine, key: tuple[str, ...]) -> None:
        self.engine = engine
        self.key = list(key)
        schema = engine.schema
        self.keyed = pl.all_horizontal([~missing_expr(c, schema[c]) for c in key])
        self.integer = len(key) == 1 and schema[key[0]].is_integer()
        self.route = "bitmap" if self.integer else "set"
        self.bitmap: np.ndarray | None = None
        self.base = 0
        self.values: pl.DataFrame | None = None
        self.spill_dir: Path | None = None
        self.spilled = 0
        self.peak = 0

    def update(self, parts: list, batch: pl.DataFrame) -> None:
        if self.route == "bitmap":
            s = batch[self.key[0]]
            s = s.drop_nulls() if s.null_count() else s
            if s.len() and not self._mark(s):
                self._leave_bitmap()
        if self.route == "bitmap":
            return
        keys = batch.select(self.key).filter(self.keyed)
        if keys.height == 0:
            return
        if self.route == "set":
            uniq = keys.unique()
            self.values = uniq if self.values is None else pl.concat([self.values, uniq]).unique()
            self.peak = max(self.peak, self.size())
            if self.values.height > SET_MAX_VALUES:
                self._spill(self.values)
                self.values = None
                self.route = "spill"
        elif self.route == "spill":
            self._spill(keys.unique())

    def _mark(self, s: pl.Series) -> bool:
        """Set the bits of a batch's values; False when the range outgrows the bitmap budget."""
        lo, hi = int(s.min()), int(s.max())  # type: ignore[arg-type]
        if self.bitmap is None:
            # non-negative keys index the bitmap directly (no subtraction pass per batch)
            self.base, top = (0 if lo >= 0 and hi < BITMAP_MAX_BYTES // 2 else lo), hi
        else:
            top = max(hi, self.base + len(self.bitmap) - 1)
        new_base = min(lo, self.base)
        if top - new_base + 1 > BITMAP_MAX_BYTES:
            return False
        if self.bitmap is None or new_base < self.base or top >= self.base + len(self.bitmap):
            grown = np.zeros(top - new_base + 1, dtype=np.bool_)
            if self.bitmap is not None:
                grown[self.base - new_base : self.base - new_base + len(self.bitmap)] = self.bitmap
            self.bitmap, self.base = grown, new_base
        arr = s.to_numpy()
        if self.base == 0 and arr.dtype.kind in "iu":
            self.bitmap[arr] = True
        else:
            self.bitmap[arr.astype(np.int64) - self.base] = True  # int64: small types overflow
        self.peak = max(self.peak, self.size())
        return True

    def _leave_bitmap(self) -> None:
        """The range is too wide for a bitmap: its values go to the set (or the spill)."""
        if self.bitmap is not None:
            seen = np.flatnonzero(self.bitmap) + self.base
            self.values = pl.DataFrame({self.key[0]: seen}).cast(
                {self.key[0]: self.engine.schema[self.key[0]]}
            )
            self.bitmap = None
        self.route = "set"
        if self.values is not None and self.values.height > SET_MAX_VALUES:
            self._spill(self.values)
            self.values = None
            self.route = "spill"

    def _spill(self, keys: pl.DataFrame) -> None:
        if self.spill_dir is None:
            self.spill_dir = self.engine.scratch() / f"distinct_{id(self)}"
            for k in range(PARTITIONS):
                (self.spill_dir / str(k)).mkdir(parents=True)
        part = keys.with_columns(
            (pl.struct(self.key).hash(seed=7) % PARTITIONS).alias("_dataops_part")
        )
        for (k,), chunk in part.group_by("_dataops_part"):
            chunk.drop("_dataops_part").write_ipc(self.spill_dir / str(k) / f"{self.spilled}.arrow")
        self.spilled += 1

    def result(self) -> int:
        if self.route == "bitmap":
            return int(np.count_nonzero(self.bitmap)) if self.bitmap is not None else 0
        if self.route == "set":
            return self.values.height if self.values is not None else 0
        total = 0
        assert self.spill_dir is not None
        for k in range(PARTITIONS):
            files = sorted((self.spill_dir / str(k)).glob("*.arrow"))
            if files:
                total += pl.scan_ipc(files).unique().select(pl.len()).collect().item()
        return total

    def size(self) -> int:
        if self.bitmap is not None:
            return int(self.bitmap.nbytes)
        if self.values is not None:
            return int(self.values.estimated_size())
        return 64


class Quantile(State):
    """Exact quantile with linear interpolation, by selection over extra passes of one column."""

    def __init__(self, engine: BatchedEngine, col: str, q: float) -> None:
        self.engine = engine
        self.col = col
        self.q = q
        self.c = present(col, engine.schema[col]).cast(pl.Float64)
        self.n, self.lo, self.hi = 0, math.inf, -math.inf
        self.passes = 0

    def exprs(self) -> list[pl.Expr]:
        return [self.c.count(), self.c.min(), self.c.max()]

    def update(self, parts: list, batch: pl.DataFrame) -> None:
        n, lo, hi = parts
        if n:
            self.n += n
            self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)

    def result(self) -> float | None:
        if self.n == 0:
            return None
        pos = self.q * (self.n - 1)
        k0 = math.floor(pos)
        k1 = min(k0 + 1, self.n - 1)
        v0 = self._kth(k0)
        if pos == k0:
            return v0
        v1 = self._kth(k1)
        return v0 + (pos - k0) * (v1 - v0)

    def _values(self, lo: float, hi: float) -> Iterator[np.ndarray]:
        """The column's non-missing values within [lo, hi], batch by batch (one more pass)."""
        self.passes += 1
        c = pl.col("_v")
        for batch in self.engine.batches([self.col]):
            v = batch.select(self.c.alias("_v")).filter(c.is_not_null() & c.is_between(lo, hi))
            yield v["_v"].to_numpy()

    def _kth(self, k: int) -> float:
        """The k-th smallest value (0-based) of the non-missing values."""
        lo, hi, below = self.lo, self.hi, 0
        inside = self.n
        while True:
            if lo == hi:
                return lo
            if inside <= GATHER_MAX_VALUES:
                values = np.sort(np.concatenate(list(self._values(lo, hi)) or [np.empty(0)]))
                return float(values[k - below])
            counts = np.zeros(BUCKETS, dtype=np.int64)
            mins = np.full(BUCKETS, np.inf)
            maxs = np.full(BUCKETS, -np.inf)
            scale = BUCKETS / (hi - lo)
            for v in self._values(lo, hi):
                b = np.minimum(((v - lo) * scale).astype(np.int64), BUCKETS - 1)
                counts += np.bincount(b, minlength=BUCKETS)
                np.minimum.at(mins, b, v)
                np.maximum.at(maxs, b, v)
            cum = np.cumsum(counts)
            i = int(np.searchsorted(cum, k - below, side="right"))
            below += int(cum[i - 1]) if i else 0
            inside = int(counts[i])
            lo, hi = float(mins[i]), float(maxs[i])  # the bucket's own values: exact bounds


class TopValues(State):
    """Counts of every value, merged batch by batch; Unavailable past ``SET_MAX_VALUES`` values
    (the most frequent need them all)."""

    def __init__(self, engine: BatchedEngine, col: str, limit: int) -> None:
        self.col, self.limit = col, limit
        self.keep = ~missing_expr(col, engine.schema[col])
        self.counts: pl.DataFrame | None = None
        self.too_many = False

    def update(self, parts: list, batch: pl.DataFrame) -> None:
        if self.too_many:
            return
        vc = batch.filter(self.keep).group_by(self.col).agg(pl.len().alias("count"))
        merged = vc if self.counts is None else pl.concat([self.counts, vc])
        self.counts = merged.group_by(self.col).agg(pl.col("count").sum())
        if self.counts.height > SET_MAX_VALUES:
            self.too_many, self.counts = True, None

    def result(self) -> Any:
        if self.too_many:
            return Unavailable(
                f"{self.col} has more than {SET_MAX_VALUES} distinct values: its most frequent "
                "values are not counted on a file larger than memory"
            )
        if self.counts is None:
            return []
        top = self.counts.sort("count", descending=True).head(self.limit)
        return top.rename({self.col: "value"}).select("value", "count").to_dicts()

    def size(self) -> int:
        return int(self.counts.estimated_size()) if self.counts is not None else 64


# ---- the dispatch table: fact type -> state ------------------------------------------------


def _count(builder: Callable) -> Callable[[BatchedEngine, Any], State]:
    """A count fact with the streaming engine's per-batch expression, summed over batches."""
    return lambda e, fact: Count(builder(e, fact))


def aggregate(e: BatchedEngine, fact: F.Aggregate) -> State:
    dtype = e.schema[fact.column]
    if fact.fn in ("min", "max"):
        return Extreme(fact.column, dtype, fact.fn)
    if fact.fn == "sum":
        return Total(fact.column, dtype)
    if fact.fn in ("mean", "std"):
        return Moments(fact.column, dtype, fact.fn)
    if fact.fn in ("median", "quantile"):
        return Quantile(e, fact.column, 0.5 if fact.fn == "median" else float(fact.q))  # type: ignore[arg-type]
    raise DataOpsError(f"the batched engine has no aggregate {fact.fn!r}")


def condition(e: BatchedEngine, fact: F.ConditionCount) -> State:
    expr = pl.sql_expr(fact.condition)
    floats = S.nan_as_null(expr, e.schema)
    if floats:  # NaN is missing, as everywhere else
        return BatchCount(lambda b: b.with_columns(floats).select(expr.sum()).item())
    return Count([expr.sum()])


BATCHED: dict[type, Callable[[BatchedEngine, Any], State]] = {
    F.RowCount: _count(S.rows),
    F.NullCount: _count(S.nulls),
    F.NanCount: _count(S.nans),
    F.KeyedRowCount: _count(S.keyed_rows),
    F.InvalidCount: _count(S.invalid),
    F.ReferenceMissingCount: _count(S.reference_missing),
    F.Aggregate: aggregate,
    F.DistinctCount: lambda e, fact: Distinct(e, fact.key),
    F.ConditionCount: condition,
    F.TopValues: lambda e, fact: TopValues(e, fact.column, fact.limit),
}


class BatchedEngine:
    """Facts over a lazy frame read batch by batch; ``execute()`` returns fact -> value."""

    name: ClassVar[str] = "batched"
    TABLE: ClassVar[Mapping[type, Callable[[BatchedEngine, Any], State]]] = BATCHED

    def __init__(
        self,
        frame: pl.LazyFrame,
        schema: Mapping[str, pl.DataType],
        ctx: RunContext,
        batch_rows: int | None = None,
    ) -> None:
        self.frame = frame
        self.schema = schema
        self.ctx = ctx
        self.batch_rows = batch_rows or BATCH_ROWS
        self.facts: list[Fact] = []
        self.values: dict[Fact, Any] = {}
        self.states: dict[Fact, State] = {}
        self.steps: list[str] = []
        self._scratch: Path | None = None
        self._dup_base = 0
        self.columns: list[str] = []

    def add(self, facts: Sequence[Fact]) -> None:
        for f in facts:
            if f not in self.facts:
                self.facts.append(f)

    def explain(self) -> str:
        return "\n".join(self.steps)

    def scratch(self) -> Path:
        """A temporary folder for spills, removed when ``execute()`` ends."""
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="dataops-batched-"))
        return self._scratch

    def batches(self, columns: Sequence[str]) -> Iterator[pl.DataFrame]:
        lf = self.frame.select([pl.col(c) for c in columns]) if columns else self.frame
        if not columns:  # row counts only: read the narrowest column
            lf = self.frame.select(pl.first())
        yield from lf.collect_batches(chunk_size=self.batch_rows)

    def execute(self) -> dict[Fact, Any]:
        cols: dict[str, None] = {}
        for fact in self.facts:
            if fact in self.values:
                continue
            make = self.TABLE.get(type(fact))
            try:
                if make is None:
                    raise DataOpsError(
                        f"the batched engine cannot compute {type(fact).__name__}: run this "
                        "check on a frame that fits in memory"
                    )
                self.states[fact] = make(self, fact)
                cols.update(dict.fromkeys(c for c in fact.columns if c in self.schema))
            except Exception as exc:
                self.values[fact] = Unavailable(message_of(exc))
        self.columns = list(cols)
        try:
            self._run()
        finally:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None
        return self.values

    def _run(self) -> None:
        named, owners = [], []
        for fact, state in self.states.items():
            for e in state.exprs():
                named.append(e.alias(f"_{len(named)}"))
                owners.append(fact)
        hooks = [f for f, s in self.states.items() if not s.exprs()]
        n_batches = 0
        try:
            for batch in self.batches(self.columns):
                n_batches += 1
                parts: dict[Fact, list] = {f: [] for f in self.states}
                if named:
                    row = batch.select(named).row(0)
                    for fact, v in zip(owners, row, strict=True):
                        parts[fact].append(v)
                for fact, state in self.states.items():
                    if parts[fact] or fact in hooks:
                        state.update(parts[fact], batch)
        except Exception as exc:
            for fact in self.states:
                self.values[fact] = Unavailable(f"reading the data failed: {first_line(exc)}")
            return
        self.steps.append(
            f"batched: {n_batches} batch(es) of up to {self.batch_rows} rows, "
            f"{len(self.columns)} column(s), {len(named)} expressions per batch"
        )
        for fact, state in self.states.items():
            try:
                self.values[fact] = state.result()
            except Exception as exc:
                self.values[fact] = Unavailable(first_line(exc))
            if isinstance(state, Distinct):
                self.steps.append(
                    f"distinct ({', '.join(state.key)}): {state.route}, peak state "
                    f"{state.peak} bytes"
                )
            if isinstance(state, Quantile):
                self.steps.append(
                    f"{state.col}: exact quantile {state.q} by selection, "
                    f"{state.passes} extra pass(es)"
                )

    # ---- offending rows

    def failing_rows(
        self, facts: Sequence[Fact], limit: int
    ) -> tuple[pl.DataFrame | None, int | None] | None:
        """Rows sharing a duplicated key, found in two more passes with bounded memory; None for
        other checks (their polars filter streams in bounded memory already)."""
        fact = next((f for f in facts if isinstance(f, F.DistinctCount)), None)
        if fact is None:
            return None
        try:
            dup = self._duplicate_keys(list(fact.key))
        except Exception as exc:
            dup = None
            self.steps.append(f"duplicates of ({', '.join(fact.key)}): {first_line(exc)}")
        if dup is None:
            self.steps.append(
                f"duplicates of ({', '.join(fact.key)}): too many duplicated keys to list the "
                "offending rows in bounded memory; the count stands"
            )
            return None, None
        total, parts = 0, []
        keyed = pl.all_horizontal([~missing_expr(c, self.schema[c]) for c in fact.key])
        for batch in self.batches(list(self.schema)):
            if isinstance(dup, np.ndarray):
                col = batch[fact.key[0]]
                ids = col.fill_null(self._dup_base).to_numpy().astype(np.int64) - self._dup_base
                hit = dup[np.clip(ids, 0, len(dup) - 1)] & col.is_not_null().to_numpy()
                hits = batch.filter(pl.Series(hit))
            else:
                hits = batch.filter(keyed).join(dup, on=list(fact.key), how="semi")
            total += hits.height
            if sum(h.height for h in parts) < limit:
                parts.append(hits.head(limit))
        sample = pl.concat(parts).head(limit) if parts else self.frame.head(0).collect()
        return sample, total

    def _duplicate_keys(self, key: list[str]) -> np.ndarray | pl.DataFrame | None:
        """The duplicated keys: a bitmap over a dense integer key's range, else a frame of them
        (None when there are more than ``SET_MAX_VALUES``)."""
        keyed = pl.all_horizontal([~missing_expr(c, self.schema[c]) for c in key])
        if len(key) == 1 and self.schema[key[0]].is_integer():
            lo = hi = None
            for batch in self.batches(key):
                s = batch[key[0]].drop_nulls()
                if s.len():
                    lo = int(s.min()) if lo is None else min(lo, int(s.min()))  # type: ignore[arg-type]
                    hi = int(s.max()) if hi is None else max(hi, int(s.max()))  # type: ignore[arg-type]
            if lo is None or hi is None:
                return np.zeros(1, dtype=np.bool_)
            if hi - lo + 1 <= BITMAP_MAX_BYTES // 2:
                seen = np.zeros(hi - lo + 1, dtype=np.bool_)
                dup = np.zeros(hi - lo + 1, dtype=np.bool_)
                for batch in self.batches(key):
                    s = batch[key[0]].drop_nulls()
                    arr = s.to_numpy().astype(np.int64) - lo
                    dup[arr[seen[arr]]] = True  # seen in an earlier batch
                    dup[arr[s.is_duplicated().to_numpy()]] = True  # twice in this batch
                    seen[arr] = True
                self._dup_base = lo
                self.steps.append(f"duplicates of {key[0]}: two bitmaps over its range")
                return dup
        # any key: counts per key spilled hash-partitioned, then summed one partition at a time
        with tempfile.TemporaryDirectory(prefix="dataops-duplicates-") as tmp:
            return self._spilled_duplicates(key, keyed, Path(tmp))

    def _spilled_duplicates(
        self, key: list[str], keyed: pl.Expr, folder: Path
    ) -> pl.DataFrame | None:
        for k in range(PARTITIONS):
            (folder / str(k)).mkdir()
        for i, batch in enumerate(self.batches(key)):
            counts = batch.filter(keyed).group_by(key).agg(pl.len().alias("_n"))
            counts = counts.with_columns(
                (pl.struct(key).hash(seed=7) % PARTITIONS).alias("_dataops_part")
            )
            for (k,), chunk in counts.group_by("_dataops_part"):
                chunk.drop("_dataops_part").write_ipc(folder / str(k) / f"{i}.arrow")
        found: list[pl.DataFrame] = []
        n = 0
        for k in range(PARTITIONS):
            files = sorted((folder / str(k)).glob("*.arrow"))
            if not files:
                continue
            d = (
                pl.scan_ipc(files)
                .group_by(key)
                .agg(pl.col("_n").sum())
                .filter(pl.col("_n") > 1)
                .select(key)
                .collect()
            )
            n += d.height
            if n > SET_MAX_VALUES:
                return None
            found.append(d)
        self.steps.append(f"duplicates of ({', '.join(key)}): counts spilled to disk")
        if found:
            return pl.concat(found)
        return pl.DataFrame(schema={c: self.schema[c] for c in key})

    def state_bytes(self) -> int:
        """The largest size the states reached (the memory the engine holds beyond a batch)."""
        return sum(getattr(s, "peak", 0) or s.size() for s in self.states.values())
