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

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import polars as pl

from jupyter_dataops.checks import conditions
from jupyter_dataops.checks import facts as F
from jupyter_dataops.checks.dtypes import missing_expr
from jupyter_dataops.checks.engines import batch_states as BS
from jupyter_dataops.checks.engines import streaming as S
from jupyter_dataops.checks.engines.base import Engine, first_line
from jupyter_dataops.checks.engines.batch_states import (
    Count,
    Distinct,
    Extreme,
    Moments,
    Quantile,
    State,
    TopValues,
    Total,
)
from jupyter_dataops.checks.facts import Fact, Unavailable
from jupyter_dataops.errors import DataOpsError

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.checks.inputs import CheckInputs

#: rows per batch read from the file
BATCH_ROWS = 1_000_000
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
    return Count([conditions.to_polars(fact.condition, e.schema).sum()])


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


class BatchedEngine(Engine):
    """Facts over a lazy frame read batch by batch; ``execute()`` returns fact -> value."""

    name: ClassVar[str] = "batched"
    TABLE: ClassVar[Mapping[type, Callable[[BatchedEngine, Any], State]]] = BATCHED
    elsewhere: ClassVar[str] = "run this check on a frame that fits in memory"

    def __init__(
        self,
        frame: pl.LazyFrame,
        schema: Mapping[str, pl.DataType],
        ctx: CheckInputs,
        batch_rows: int | None = None,
    ) -> None:
        super().__init__(ctx)
        self.frame = frame
        self.schema = schema
        self.batch_rows = batch_rows or BATCH_ROWS
        self.states: dict[Fact, State] = {}
        self._scratch: Path | None = None
        self._dup_base = 0
        self.columns: list[str] = []

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
        self.states.update(self.build_each())
        cols: dict[str, None] = {}
        for fact in self.states:
            cols.update(dict.fromkeys(c for c in fact.columns if c in self.schema))
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
        (None when there are more than ``BS.SET_MAX_VALUES``)."""
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
            if hi - lo + 1 <= BS.BITMAP_MAX_BYTES // 2:
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
        for k in range(BS.PARTITIONS):
            (folder / str(k)).mkdir()
        for i, batch in enumerate(self.batches(key)):
            counts = batch.filter(keyed).group_by(key).agg(pl.len().alias("_n"))
            counts = counts.with_columns(
                (pl.struct(key).hash(seed=7) % BS.PARTITIONS).alias("_dataops_part")
            )
            for (k,), chunk in counts.group_by("_dataops_part"):
                chunk.drop("_dataops_part").write_ipc(folder / str(k) / f"{i}.arrow")
        found: list[pl.DataFrame] = []
        n = 0
        for k in range(BS.PARTITIONS):
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
            if n > BS.SET_MAX_VALUES:
                return None
            found.append(d)
        self.steps.append(f"duplicates of ({', '.join(key)}): counts spilled to disk")
        if found:
            return pl.concat(found)
        return pl.DataFrame(schema={c: self.schema[c] for c in key})

    def state_bytes(self) -> int:
        """The largest size the states reached (the memory the engine holds beyond a batch)."""
        return sum(getattr(s, "peak", 0) or s.size() for s in self.states.values())
