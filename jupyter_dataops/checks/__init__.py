"""The check language, the catalogue of metrics, the planned engine and its results.

Pure: a frame and a spec in, a ``SuiteResult`` out; no database, no kernel.
"""

from __future__ import annotations

from jupyter_dataops.checks import drift as _drift  # noqa: F401 - registers drift(col)
from jupyter_dataops.checks import facts
from jupyter_dataops.checks.catalogue import CATALOGUE, Metric, NothingToMeasure, register
from jupyter_dataops.checks.display import format_value, unit_of
from jupyter_dataops.checks.formats import FORMATS
from jupyter_dataops.checks.inputs import HistoryProvider, to_polars
from jupyter_dataops.checks.language import parse_spec
from jupyter_dataops.checks.planner import run_checks
from jupyter_dataops.checks.results import CheckResult, SuiteResult
from jupyter_dataops.checks.spec import CheckSpec, Suite

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
