"""What the warm-kernel clients (``warm``, ``warm_command``) and the template process
(``warm_template``) share: the modules the template preloads, the socket's framing (a 4-byte
length, then JSON) and the setting that turns warm kernels off."""

from __future__ import annotations

import socket
import struct
from collections.abc import Mapping

# Imported once by the template; each is optional (a missing one is simply not preloaded).
# Not pyarrow: importing it starts a thread pool, and a fork must happen while the template has
# one thread (see ``_busy_threads``); a step that needs it imports it itself.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "IPython",
    "IPython.core.interactiveshell",
    # what IPKernelApp.initialize imports (its traits name classes by string)
    "ipykernel.debugger",
    "debugpy.server.api",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "tornado.platform.asyncio",
    "tornado.queues",
    "tornado.locks",
    "polars",
    "narwhals",
    "altair",
    "sqlalchemy",
    # the store's dialects (a driver is imported by the kernel's first connection, never here)
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "jupyter_dataops.magics",
    "jupyter_dataops.checks.planner",  # the package itself loads its names lazily
    "jupyter_dataops.checks.language",
    "jupyter_dataops.spc",
    "jupyter_dataops.store",
    "jupyter_dataops.pipeline.execution.context",
    "jupyter_dataops.pipeline.definition.project",
    # what a `dataops run` forked from the template needs besides (``warm_command``); not
    # papermill: its pyarrow.fs import starts a thread
    "typer",
    "typer.core",
    "pydantic",
    "rich.console",
    "rich.table",
    "nbformat",
    "nbclient",
    "jupyter_dataops.pipeline.observers.attach",
    "jupyter_dataops.pipeline.views.report",
)
_HEADER = struct.Struct("!I")
ENV_WARM = "DATAOPS_WARM_KERNELS"


def warm_off(env: Mapping[str, str]) -> bool:
    """Whether ``DATAOPS_WARM_KERNELS`` turns warm kernels off in ``env``."""
    return env.get(ENV_WARM, "1").strip().lower() in ("0", "false", "no", "off")


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the kernel template closed the connection")
        data += chunk
    return data


__all__ = ["ENV_WARM", "PRELOAD", "_HEADER", "_recv_exact", "warm_off"]
