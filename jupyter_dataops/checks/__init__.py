"""The check language, the catalogue of metrics, the planned engine and its results.

Pure: a frame and a spec in, a ``SuiteResult`` out; no database, no kernel.

Names are loaded on first use: a module of this package that needs little (``display``'s
formatting, which ``dataops runs`` and the alerts use) is imported without polars, numpy and
the parser. The catalogue registers ``drift(col)`` when it is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "CATALOGUE",
    "FORMATS",
    "CheckResult",
    "CheckSpec",
    "HistoryProvider",
    "Metric",
    "NothingToMeasure",
    "Suite",
    "SuiteResult",
    "facts",
    "format_value",
    "parse_spec",
    "register",
    "run_checks",
    "to_polars",
    "unit_of",
]

_LAZY = {
    "CATALOGUE": "catalogue",
    "Metric": "catalogue",
    "NothingToMeasure": "catalogue",
    "register": "catalogue",
    "format_value": "display",
    "unit_of": "display",
    "FORMATS": "formats",
    "HistoryProvider": "inputs",
    "to_polars": "inputs",
    "parse_spec": "language",
    "run_checks": "planner",
    "CheckResult": "results",
    "SuiteResult": "results",
    "CheckSpec": "spec",
    "Suite": "spec",
    "facts": None,  # the submodule itself
}

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.checks import facts
    from jupyter_dataops.checks.catalogue import CATALOGUE, Metric, NothingToMeasure, register
    from jupyter_dataops.checks.display import format_value, unit_of
    from jupyter_dataops.checks.formats import FORMATS
    from jupyter_dataops.checks.inputs import HistoryProvider, to_polars
    from jupyter_dataops.checks.language import parse_spec
    from jupyter_dataops.checks.planner import run_checks
    from jupyter_dataops.checks.results import CheckResult, SuiteResult
    from jupyter_dataops.checks.spec import CheckSpec, Suite


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _LAZY[name]
    if module is None:
        return importlib.import_module(f"{__name__}.{name}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # looked up once
    return value
