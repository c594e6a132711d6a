"""The ``dataops`` command line. Thin: every command calls a function of the rooms.

One module per group of commands (``checks``, ``history``, ``pipeline``, ``service``), all on one Typer
``app`` (``_app``); a new command is a function in the module of its group.
"""

from __future__ import annotations

from jupyter_dataops.cli import checks, history, incidents, pipeline, service, spc  # noqa: F401
from jupyter_dataops.cli._app import app, fail, main

__all__ = ["app", "fail", "main"]
