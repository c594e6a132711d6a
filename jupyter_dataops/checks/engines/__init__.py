"""Engines: how facts are computed on each kind of data (pandera's meaning/backend split).

What a check *means* lives once in ``checks.catalogue`` as facts it asks for
(``checks.facts``); an engine is one module with one dispatch table from fact type to how it
computes that fact. Every engine offers ``Engine(frame, schema, ctx)``, ``add(facts)``,
``execute() -> {fact: value | Unavailable}`` and ``explain()``; ``base.Engine`` holds what they
share (the walk through the table, the one-row pass and its per-fact fall-back).

* ``streaming``: any polars ``LazyFrame`` (files larger than memory): one fused streaming select;
* ``polars``: a polars ``DataFrame`` in memory: the same, plus bitmaps, group-bys of
  low-cardinality columns and per-thread slices of text work;
* ``batched``: a file scan larger than memory, batch by batch into mergeable states;
* ``narwhals_lazy``: a DuckDB relation, Dask / SQLFrame DataFrame or Ibis table, in its backend;
* ``sql``: a database table, as aggregate SQL (SQLAlchemy Core).

``narwhals_lazy`` and ``sql`` are imported where they are chosen (``planner``), so their
libraries load only when used. A new engine is one more module with its own table.
"""

from __future__ import annotations

from jupyter_dataops.checks.engines.polars import PolarsEngine
from jupyter_dataops.checks.engines.streaming import StreamingEngine

__all__ = ["PolarsEngine", "StreamingEngine"]
