"""A ``dataops`` command run in a process forked from the project's kernel template.

``dataops run --partition DAY`` once a day paid ~2.5 CPU-s of imports in each command (the
store, SQLAlchemy, polars and the checks for the observers, typer, nbformat and jsonschema)
before its first step, though the project's template (``warm_server``) has imported nearly all
of them. ``run_forked`` asks the template to fork a child that runs the command instead: the
child takes this process's arguments, environment, working folder, ``sys.path`` and standard
streams (the terminal, or the caller's pipes), and its exit code becomes this process's.

This process stays the command as the user sees it: Ctrl-C, SIGTERM and SIGHUP sent to it are
passed to the child (which records its steps interrupted as the command itself would), its
runs name it as their runner (pid), and if it is killed the template kills the child and the
child's own processes (their connection hangs up), as killing the command itself would. Where
no template can serve (``DATAOPS_WARM_KERNELS=0``, not Linux, the template cannot start or
fork), ``run_forked`` returns None and the caller runs the command itself, as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from pathlib import Path

from jupyter_dataops.pipeline.execution.warm_protocol import _HEADER, PRELOAD, _recv_exact, warm_off

_START_TIMEOUT = 120.0
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _read(sock: socket.socket) -> dict:
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    return json.loads(_recv_exact(sock, size))


def run_forked(entry: str, argv: list[str], state_dir: Path, *, start: bool = True) -> int | None:
    """Run ``entry`` (``"module:function"``, called with no argument as a console script's
    entry point) with ``argv`` as ``sys.argv``, in a child of the template of the project whose
    state folder is ``state_dir`` (started first if none runs, unless ``start`` is false);
    returns the child's exit code, or None when no child could be started (nothing ran: the
    caller runs the command itself)."""
    from jupyter_dataops.pipeline.execution import warm_server

    if warm_off(os.environ) or not warm_server.supported() or not hasattr(socket, "send_fds"):
        return None
    request = {
        "command": entry,
        "argv": list(argv),
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "path": list(sys.path),
        "runner": os.getpid(),
        "state_dir": str(state_dir),
    }
    try:
        path = warm_server.socket_path(state_dir, warm_server.environment_key(PRELOAD))
        if not start and warm_server.answering(path) is None:
            return None
        warm_server.ensure_server(path, _START_TIMEOUT)
    except OSError:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        body = json.dumps(request).encode()
        socket.send_fds(sock, [_HEADER.pack(len(body))], [0, 1, 2])
        sock.sendall(body)
        answer = _read(sock)
        pid = int(answer["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        sock.close()
        return None  # the template could not take it: nothing started

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(OSError):  # it has just exited: its exit code is on its way
            os.kill(pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        try:
            code = int(_read(sock)["exit"])
        except (OSError, ValueError, KeyError, TypeError):  # the template went away
            code = -signal.SIGKILL
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    return code if code >= 0 else 128 - code  # a signal's death, as a shell reports it


__all__ = ["run_forked"]
