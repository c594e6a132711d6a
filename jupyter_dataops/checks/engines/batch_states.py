"""Mergeable per-batch states of the batched engine (``engines/batched.py``), and their limits.

The limits are module attributes read at use time, so tests can shrink them. ``engine`` arguments
are the ``BatchedEngine`` (typed Any: batched.py imports this module, not the reverse).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from jupyter_dataops.checks.dtypes import missing_expr, present
from jupyter_dataops.checks.facts import Unavailable

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

    def __init__(self, engine: Any, key: tuple[str, ...]) -> None:
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

    def __init__(self, engine: Any, col: str, q: float) -> None:
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

    def __init__(self, engine: Any, col: str, limit: int) -> None:
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
