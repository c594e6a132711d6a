"""The jupyter_server extension: REST routes under ``/dataops/api/`` for the JupyterLab panel.

Enabled by ``jupyter-config/server-config/jupyter_dataops.json`` (installed with the wheel) as the
server extension ``jupyter_dataops.server``; ``jupyter server extension list`` shows it.
"""

from __future__ import annotations

from typing import Any

from jupyter_dataops.server.extension import DataOpsExtension

__all__ = ["DataOpsExtension"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Tell jupyter_server which ExtensionApp this module provides."""
    return [{"module": "jupyter_dataops.server", "app": DataOpsExtension}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt JupyterLab extension lives (used by ``jupyter labextension develop``)."""
    return [{"src": "../labextension", "dest": "jupyter-dataops"}]
