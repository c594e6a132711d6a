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

Engines are a registry (``engines``, entry-point group ``jupyter_dataops.engine``). Each says
which inputs it takes (``accepts(data, table)``, asked highest ``priority`` first) and builds
itself over one (``for_input``); ``choose`` is all the planner asks. ``narwhals_lazy`` and
``sql`` are registered by path and imported only when no engine already loaded takes the input,
so their libraries load only when used. A new engine is one more module with its own table and
one ``engines.register`` line.
"""

from __future__ import annotations

from typing import Any

from jupyter_dataops.checks.engines.base import Engine
from jupyter_dataops.checks.engines.polars import PolarsEngine
from jupyter_dataops.checks.engines.streaming import StreamingEngine
from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.plugins import Registry

ENTRY_POINT_GROUP = "jupyter_dataops.engine"

engines = Registry("check engine", ENTRY_POINT_GROUP, base=Engine)


def _first_taker(candidates: dict[str, Any], data: Any, table: str | None) -> type[Engine] | None:
    ranked = sorted(candidates.values(), key=lambda cls: -cls.priority)
    return next((cls for cls in ranked if cls.accepts(data, table)), None)


def choose(data: Any, table: str | None = None) -> type[Engine]:
    """The engine class for ``data``: the highest-priority engine that ``accepts`` it. Engines
    already imported are asked first; the others are imported only when none of those takes
    it. Nothing takes it: the polars engine tries a conversion (its error says what to pass),
    unless ``table`` was given, which only a database engine takes."""
    cls = _first_taker(engines.loaded(), data, table)
    if cls is None:
        cls = _first_taker(dict(engines.items()), data, table)
    if cls is not None:
        return cls
    if table is not None:
        raise DataOpsError(
            f"table={table!r} is for a database (a SQLAlchemy URL, Engine or Connection), not "
            f"for data of type {type(data).__name__}"
        )
    return engines["polars"]


engines.register("polars", PolarsEngine)
engines.register("streaming", StreamingEngine)
engines.register("batched", "jupyter_dataops.checks.engines.batched:BatchedEngine")
engines.register("narwhals", "jupyter_dataops.checks.engines.narwhals_lazy:NarwhalsEngine")
engines.register("sql", "jupyter_dataops.checks.engines.sql:SqlEngine")

__all__ = ["ENTRY_POINT_GROUP", "Engine", "PolarsEngine", "StreamingEngine", "choose", "engines"]
