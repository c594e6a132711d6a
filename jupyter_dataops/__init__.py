"""jupyter-dataops: inline data tests and SPC checks, governed papermill pipelines, run history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_dataops._version import __version__
from jupyter_dataops.errors import (
    DataOpsError,
    DataOpsSyntaxError,
    DataOpsTestFailure,
    PipelineError,
    StoreError,
)

__all__ = [
    "CheckResult",
    "DataOpsError",
    "DataOpsSyntaxError",
    "DataOpsTestFailure",
    "PipelineError",
    "StoreError",
    "SuiteResult",
    "__version__",
    "load_ipython_extension",
    "parse_spec",
    "run_checks",
    "unload_ipython_extension",
]

_LAZY = {
    "run_checks": "jupyter_dataops.checks",
    "parse_spec": "jupyter_dataops.checks",
    "SuiteResult": "jupyter_dataops.checks",
    "CheckResult": "jupyter_dataops.checks",
}

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.checks import CheckResult, SuiteResult, parse_spec, run_checks


def __getattr__(name: str) -> Any:
    # Lazy so that `import jupyter_dataops` (done by the server and the CLI) stays cheap.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jupyter_dataops' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:  # noqa: ANN001
    """``%load_ext jupyter_dataops`` registers ``%%dataops_test`` and the history/chart magics."""
    from jupyter_dataops.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython) -> None:  # noqa: ANN001
    from jupyter_dataops.magics import unload_ipython_extension as _unload

    _unload(ipython)
