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

The interpreter options this process was started with reach the command too (``interpreter``):
those a running interpreter can take are applied in the child (``-W`` and PYTHONWARNINGS as
the warnings filters a fresh interpreter makes of them, ``-X faulthandler``, ``-B``, ``-u``
and the streams' encodings, ``-X int_max_str_digits``, ``-X pycache_prefix``); for any other
that differs from the template's (``-X importtime``, ``-X dev``, ``-X utf8``,
``-X tracemalloc``, ``-O``, ``-I``, ``-E``, ``-S``, ``-s``, ``-v``, ``-b``, an allocator or
a hash seed set in the environment, an unknown ``-X``) the template refuses to fork
(``mismatch``) and the command runs in this process, so nothing asked for is dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_dataops.pipeline.execution.warm_protocol import _HEADER, PRELOAD, _recv_exact, warm_off

_START_TIMEOUT = 120.0
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: ``sys.flags`` a forked command takes from its caller (``-B``, ``int_max_str_digits``), that
#: mean nothing to it (``-q``: the interactive banner) or are compared otherwise (the hash seed)
_APPLIED_FLAGS = frozenset(
    {"dont_write_bytecode", "int_max_str_digits", "quiet", "hash_randomization"}
)
#: ``-X`` options applied in the forked child; any other (``importtime``, ``dev``, ``utf8``,
#: ``tracemalloc``: every allocation since the start, the imports' too) must be the template's
_APPLIED_X = frozenset({"faulthandler", "int_max_str_digits", "pycache_prefix"})


def interpreter() -> dict[str, Any]:
    """What this interpreter was started with: ``fixed``, what only a new interpreter can have
    (flags, ``-X`` options, settings read once at start), which a forked child must share with
    the template; ``applied``, what the child takes from its caller (``_take_interpreter``)."""
    import faulthandler
    import locale

    env: Mapping[str, str] = {} if sys.flags.ignore_environment else os.environ
    seed = env.get("PYTHONHASHSEED") or None
    getencoding = getattr(locale, "getencoding", None)  # Python 3.11+
    fixed = {
        "flags": {
            name: getattr(sys.flags, name)
            for name in type(sys.flags).__match_args__
            if name not in _APPLIED_FLAGS
        },
        "-X": {k: v for k, v in sys._xoptions.items() if k not in _APPLIED_X},
        "importtime": bool(sys._xoptions.get("importtime") or env.get("PYTHONPROFILEIMPORTTIME")),
        "tracemalloc": _tracing(),
        "hash seed": None if seed == "random" else seed,
        "allocator": [env.get("PYTHONMALLOC"), env.get("PYTHONMALLOCSTATS")],
        "file names": [sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()],
        "locale": getencoding() if getencoding else locale.getpreferredencoding(False),
    }
    applied = {
        "warnoptions": list(sys.warnoptions),
        "-X": dict(sys._xoptions),  # what a Python it starts is given (``subprocess``'s flags)
        "faulthandler": faulthandler.is_enabled(),
        "dont_write_bytecode": sys.dont_write_bytecode,
        "int_max_str_digits": getattr(sys, "get_int_max_str_digits", lambda: None)(),
        "pycache_prefix": sys.pycache_prefix,
        "streams": [_stream(name) for name in ("stdin", "stdout", "stderr")],
    }
    return {"fixed": fixed, "applied": applied}


def _tracing() -> int:
    """tracemalloc's frames per traceback, 0 when it does not trace (not imported: 0)."""
    tracemalloc = sys.modules.get("tracemalloc")
    if tracemalloc is None:
        import _tracemalloc as tracemalloc  # the C module: no Python import to pay

    return tracemalloc.get_traceback_limit() if tracemalloc.is_tracing() else 0


def _stream(name: str) -> dict[str, Any] | None:
    """How ``sys.<name>`` was made (encoding, errors, line buffering, ``-u``), or None."""
    stream = getattr(sys, name, None)
    if stream is None or not isinstance(getattr(stream, "encoding", None), str):
        return None
    return {
        "encoding": stream.encoding,
        "errors": getattr(stream, "errors", None),
        "line_buffering": bool(getattr(stream, "line_buffering", False)),
        "write_through": bool(getattr(stream, "write_through", False)),
    }


def mismatch(theirs: dict[str, Any] | None) -> str | None:
    """Why a command started with ``theirs`` (``interpreter()`` of its caller) cannot run in a
    child of this interpreter (what differs), or None when it can."""
    if not isinstance(theirs, dict) or not isinstance(theirs.get("fixed"), dict):
        return "the caller did not say how its interpreter was started"
    import warnings

    options = (theirs.get("applied") or {}).get("warnoptions") or []
    if options != sys.warnoptions and not hasattr(warnings, "_processoptions"):
        return "this Python cannot apply -W options to a running interpreter"
    mine = json.loads(json.dumps(interpreter()["fixed"]))  # as the caller's came: through JSON
    differ = sorted(
        k for k in mine.keys() | theirs["fixed"].keys() if mine.get(k) != theirs["fixed"].get(k)
    )
    return f"the interpreter was started otherwise ({', '.join(differ)})" if differ else None


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
        "interpreter": interpreter(),
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
        if "refused" in answer:  # started otherwise (``mismatch``): run it here, as asked
            sock.close()
            return None
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


__all__ = ["interpreter", "mismatch", "run_forked"]
