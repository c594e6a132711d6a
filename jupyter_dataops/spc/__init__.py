"""Statistical process control: control charts, run rules, EWMA, CUSUM and capability.

Chart type names (``CHART_TYPES``, ``RULE_CHARTS``, ``SIZED_CHARTS``) and rule-set names
(``RULE_SETS``, ``DEFAULT_RULES``) live here, once; everything else asks this package.

Pure numerics with qcc 2.7's conventions (formulas in docs/spc.md); imports nothing from the
store, the pipeline or the front doors. Charts render offline in JupyterLab through
``chart_mimebundle`` / ``display_chart`` (vega-lite 5 bundle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import rules
from .capability import Capability, capability
from .charts import (
    CHART_TYPES,
    CHARTS,
    DEFAULT_RULES,
    RULE_CHARTS,
    SIZED_CHARTS,
    ControlChart,
    control_chart,
)
from .cusum import CusumResult, cusum
from .ewma import EwmaResult, ewma
from .rules import RULE_SETS

if TYPE_CHECKING:  # pragma: no cover
    from .picture import VEGALITE_V5_MIMETYPE, OfflineChart, chart_mimebundle, display_chart

# The pictures need altair, whose import (with jsonschema) costs seconds: load it on first use, so
# a production step that only judges numbers never pays for it.
_PICTURE_NAMES = ("VEGALITE_V5_MIMETYPE", "OfflineChart", "chart_mimebundle", "display_chart")


def __getattr__(name: str) -> Any:
    if name in _PICTURE_NAMES:
        from . import picture

        return getattr(picture, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CHARTS",
    "CHART_TYPES",
    "DEFAULT_RULES",
    "RULE_CHARTS",
    "RULE_SETS",
    "SIZED_CHARTS",
    "VEGALITE_V5_MIMETYPE",
    "Capability",
    "ControlChart",
    "CusumResult",
    "EwmaResult",
    "OfflineChart",
    "capability",
    "chart_mimebundle",
    "control_chart",
    "cusum",
    "display_chart",
    "ewma",
    "rules",
]
