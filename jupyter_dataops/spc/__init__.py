"""Statistical process control: control charts, run rules, EWMA, CUSUM and capability.

Pure numerics with qcc 2.7's conventions (see the README's SPC section); imports nothing from the store,
the pipeline or the front doors. Charts render offline in JupyterLab through
``chart_mimebundle`` / ``display_chart`` (vega-lite 5 bundle).
"""

from __future__ import annotations

from . import rules
from .capability import Capability, capability
from .charts import CHARTS, ControlChart, control_chart
from .cusum import CusumResult, cusum
from .ewma import EwmaResult, ewma
from .picture import VEGALITE_V5_MIMETYPE, OfflineChart, chart_mimebundle, display_chart

__all__ = [
    "CHARTS",
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
