"""Governed production: the pipeline file, promotion, the papermill runner and its executors.

Names are imported lazily so that ``from jupyter_dataops.pipeline.execution import context`` (done by the
magic in every kernel) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "Pipeline",
    "PromotionRefused",
    "StepSpec",
    "load_pipeline",
    "promote",
    "run_pipeline",
    "test_notebook",
]

_LAZY = {
    "Pipeline": "jupyter_dataops.pipeline.definition.model",
    "StepSpec": "jupyter_dataops.pipeline.definition.model",
    "load_pipeline": "jupyter_dataops.pipeline.definition.spec",
    "run_pipeline": "jupyter_dataops.pipeline.execution.runner",
    "promote": "jupyter_dataops.pipeline.execution.promote",
    "test_notebook": "jupyter_dataops.pipeline.execution.promote",
    "PromotionRefused": "jupyter_dataops.pipeline.execution.promote",
}

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_dataops.pipeline.definition.model import Pipeline, StepSpec
    from jupyter_dataops.pipeline.definition.spec import load_pipeline
    from jupyter_dataops.pipeline.execution.promote import PromotionRefused, promote, test_notebook
    from jupyter_dataops.pipeline.execution.runner import run_pipeline


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jupyter_dataops.pipeline' has no attribute {name!r}")
