"""The kernel template process of ``warm``: imports once, then forks a kernel per request.

Run as ``python -m jupyter_dataops.pipeline.execution.warm SOCKET [--idle SECONDS]``. It
imports ``warm.PRELOAD``, warms up what every kernel's first ``%%dataops_test`` would redo,
freezes what it imported (``gc.freeze``) and, with a single thread, forks: each child resets
what the template changed and runs ``IPKernelApp`` on the step's connection file, in the step's
folder and environment, writing to the step's log - or, asked by ``warm_command``, becomes a
``dataops`` command on the client's streams. The template reaps each child and reports its exit
code to the client that asked for it; a client that hangs up first has its child killed.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from jupyter_dataops.pipeline.execution.warm_protocol import _HEADER, PRELOAD, _recv_exact

# Threads the template may have when it forks: polars starts its spill-cleaner thread at import
# (it sleeps, holds no lock the child needs, and polars in the child starts its own).
_IDLE_THREADS = ("polars-ooc-clea",)


def _busy_threads() -> list[str]:
    """Names of the template's threads other than the main one and the known idle ones."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    names = []
    for task in tasks:
        if int(task) == os.getpid():
            continue
        try:
            with open(f"/proc/self/task/{task}/comm") as fh:
                name = fh.read().strip()
        except OSError:
            continue
        if name not in _IDLE_THREADS:
            names.append(name)
    return names


def _warm_up() -> None:
    """What every step's first ``%%dataops_test`` would do again, done once before forking:
    pure Python work on in-memory objects (no connection opened, no thread started)."""
    with contextlib.suppress(Exception):
        from sqlalchemy.orm import configure_mappers

        configure_mappers()  # the store's ORM mappers (~35 ms in each kernel otherwise)
    with contextlib.suppress(Exception):
        from jupyter_dataops import plugins

        # read the installed packages' entry points once (the registries look theirs up in
        # this cache; each kernel still loads and reports its plug-ins itself)
        plugins.installed_entry_points("jupyter_dataops.check")


def _become_kernel(request: dict[str, Any], fds: list[int], closing: list[Any]) -> NoReturn:
    """In the forked child: reset what the template changed, then run the kernel. Never returns."""
    _child(lambda: _kernel_main(request, fds), closing, signal.SIGKILL)


def _kernel_main(request: dict[str, Any], fds: list[int]) -> int:
    """The kernel, in the child (``_become_kernel``): its exit code."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in (devnull, *fds):
        os.close(fd)
    env = request["env"]
    env["JPY_PARENT_PID"] = str(os.getppid())  # ipykernel's parent poller watches us
    os.environ.clear()
    os.environ.update(env)
    cwd = request.get("cwd") or os.getcwd()
    os.chdir(cwd)
    sys.path[0] = cwd  # as `python -m ipykernel_launcher` started in cwd would have it
    # (parent_handle's default was read from the template's environment at import)
    sys.argv = [
        "ipykernel_launcher",
        *request["argv"],
        f"--IPKernelApp.parent_handle={os.getppid()}",
    ]
    _as_if_new()
    from ipykernel import kernelapp

    return _exit_code(kernelapp.launch_new_instance)


def _child(main: Callable[[], int], closing: list[Any], death: signal.Signals) -> NoReturn:
    """A forked child's life: the template's sockets closed and its signal handlers undone, a
    process group of its own (the template kills it and its workers if the client goes), the
    ``death`` signal when the template dies (a kernel is killed; a command gets SIGTERM and
    records its steps interrupted); then ``main`` (its exit code), the exit functions, and out:
    whatever it raises, it never falls back into the template's server loop."""
    code = 1
    try:
        for thing in closing:
            thing.close()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        if sys.platform.startswith("linux"):
            import ctypes

            ctypes.CDLL(None).prctl(1, death)  # PR_SET_PDEATHSIG
        code = main()
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - the child must never fall back into the server loop
        import traceback

        traceback.print_exc()
    finally:
        _leave(code)


def _as_if_new() -> None:
    """In a forked child: what a fresh interpreter has anew (the collector on, import caches,
    random seeds); the template's objects stay frozen (never scanned: never copied)."""
    import gc
    import random

    gc.enable()
    importlib.invalidate_caches()
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()


def _exit_code(call: Callable[[], object]) -> int:
    """Call ``call`` as a program's main: its exit code (0, or its ``SystemExit``'s)."""
    try:
        call()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def _leave(code: int) -> NoReturn:
    """A forked child's end: its streams flushed, then out without the template's exit work."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _become_command(request: dict[str, Any], fds: list[int], closing: list[Any]) -> NoReturn:
    """In the forked child: become the client's command (``warm_command.run_forked``): its
    streams, environment, folder, ``sys.path`` and arguments, then call its entry point
    (``module:function`` of this package). Never returns; exits with the command's code."""
    _child(lambda: _command_main(request, fds), closing, signal.SIGTERM)


def _command_main(request: dict[str, Any], fds: list[int]) -> int:
    """The command, in the child (``_become_command``): its exit code."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    os.chdir(request["cwd"])
    sys.path[:] = request["path"]
    sys.argv = list(request["argv"])
    applied = (request.get("interpreter") or {}).get("applied") or {}
    _fresh_streams(applied.get("streams") or [None, None, None])
    _take_interpreter(applied)
    _as_if_new()
    from jupyter_dataops.pipeline.execution import warm_server
    from jupyter_dataops.store import base

    base.RUNNER_PID = int(request["runner"])  # the command's runs name the client
    warm_server.forked_for = Path(request["state_dir"])  # its kernels fork from here too
    module, _, name = str(request["command"]).partition(":")
    if not module.startswith("jupyter_dataops."):
        raise ValueError(f"not a command of this package: {request['command']!r}")
    entry = getattr(importlib.import_module(module), name)
    try:
        code = _exit_code(entry)
    except KeyboardInterrupt:
        code = 130
    with contextlib.suppress(Exception):
        threading._shutdown()  # type: ignore[attr-defined] - as the interpreter's exit does
    return code


def _fresh_streams(caller: list[dict[str, Any] | None]) -> None:
    """``sys.stdin``/``stdout``/``stderr`` made anew on fds 0-2 (the template's were made for
    its /dev/null) as the caller's were made (encoding, errors, line buffering, unbuffered with
    ``-u``); when the caller's are not known, as an interpreter's start makes them."""
    import io

    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        old = getattr(sys, name)
        made = caller[fd] or {
            "encoding": getattr(old, "encoding", None) or "utf-8",
            "errors": "backslashreplace" if fd == 2 else getattr(old, "errors", None),
            "line_buffering": fd == 2 or os.isatty(fd),
            "write_through": fd != 0 and unbuffered,
        }
        raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
        # -u: no buffer under the text layer, as CPython makes its unbuffered streams
        binary = raw if fd == 0 or made["write_through"] else io.BufferedWriter(raw)
        stream = io.TextIOWrapper(
            binary,  # type: ignore[arg-type]
            encoding=made["encoding"],
            errors=made["errors"],
            line_buffering=made["line_buffering"],
            write_through=fd != 0 and made["write_through"],
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


# the template's warnings filters as its start made them, and how many of them came from its
# own -W options (PYTHONWARNINGS): ``_take_interpreter`` replaces them with the caller's
_STARTUP_WARNINGS: list[Any] = []


def _startup_warnings() -> tuple[list[Any], int]:
    """The warnings filters as this interpreter's start made them (no import has added any
    yet), and how many of them its own -W options made (in front of the defaults)."""
    import warnings

    startup = list(warnings.filters)
    process = getattr(warnings, "_processoptions", None)
    if not sys.warnoptions or process is None:
        return startup, 0
    made = warnings.filters
    warnings.filters = []
    try:
        process(sys.warnoptions)  # an invalid option is said on the template's /dev/null
        own = len(warnings.filters)
    finally:
        warnings.filters = made
        warnings._filters_mutated()  # type: ignore[attr-defined]
    return startup, own


def _take_interpreter(applied: dict[str, Any]) -> None:
    """In a forked command: what its caller's interpreter was started with and a running one
    can take (``warm_command.interpreter``): -W, -X faulthandler, -B, -X int_max_str_digits,
    -X pycache_prefix, and ``sys._xoptions`` (a Python it starts gets them). (The streams:
    ``_fresh_streams``.)"""
    import faulthandler

    if "warnoptions" in applied:
        _take_warnoptions(list(applied["warnoptions"]))
    if applied.get("faulthandler"):
        faulthandler.enable(file=sys.stderr, all_threads=True)
    elif faulthandler.is_enabled():
        faulthandler.disable()
    if "dont_write_bytecode" in applied:
        sys.dont_write_bytecode = bool(applied["dont_write_bytecode"])
    if applied.get("int_max_str_digits") is not None and hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(int(applied["int_max_str_digits"]))
    if "pycache_prefix" in applied:
        sys.pycache_prefix = applied["pycache_prefix"]
    if isinstance(applied.get("-X"), dict):  # the others are the template's (``mismatch``)
        sys._xoptions.clear()
        sys._xoptions.update(applied["-X"])


def _take_warnoptions(options: list[str]) -> None:
    """The caller's -W options (and PYTHONWARNINGS) as a fresh interpreter takes them at start:
    the template's startup filters become the defaults after the caller's options; the filters
    that imports added since stay in front of them, as they would in the caller. (An invalid
    option was said by the caller at its start: not again.)"""
    import io
    import warnings

    if not _STARTUP_WARNINGS:
        return
    startup, own = _STARTUP_WARNINGS
    process = getattr(warnings, "_processoptions", None)
    if options == sys.warnoptions or process is None:
        return
    filters = warnings.filters
    n = len(startup)
    at = next(
        (i for i in range(len(filters) - n, -1, -1) if filters[i : i + n] == startup),
        None,  # someone reset them: the caller's options go in front, as they would now
    )
    warnings.filters = list(startup[own:])  # the defaults
    with contextlib.redirect_stderr(io.StringIO()):
        process(options)
    block = warnings.filters
    warnings.filters = filters
    if at is None:
        filters[:0] = block[: len(block) - (n - own)]
    else:
        filters[at : at + n] = block
    warnings._filters_mutated()  # type: ignore[attr-defined]
    sys.warnoptions[:] = options


def serve(path: str, idle: float | None = None) -> None:
    """Import, then fork kernels on request until the owner (our parent: its stdin closes) is
    gone - or, a project's shared template (``idle`` given), until idle that long."""
    import gc
    import selectors

    # As CPython's gc docs advise for fork without exec: no collection in the template (no
    # freed holes in its pages), and what it imported frozen before the forks, so a kernel's
    # collections never write to (and copy) the template's pages of long-lived objects.
    gc.disable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _STARTUP_WARNINGS.extend(_startup_warnings())
    owner = os.getppid()
    # polars' allocator (jemalloc) would start background threads at import; the children's
    # environment is the step's own, but this setting is read once, here, when polars loads.
    os.environ["_RJEM_MALLOC_CONF"] = "background_thread:false"
    # numpy (imported by the checks) starts OpenBLAS worker threads at import unless told one
    # thread: the forked kernels then do BLAS on one thread (step work is frames, not matrices).
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001, S112 - an optional library: the kernel imports it itself
            continue
    _warm_up()
    gc.freeze()
    if _busy_threads():  # a library started a thread: forking now could deadlock a child
        sys.exit(3)
    # polars warns in a forked child when its thread pool ran before the fork; the template
    # never runs polars work (checked above: no pool thread), so the warning cannot apply.
    import warnings

    warnings.filterwarnings("ignore", message=".*fork.*", module="polars")

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    if idle is None:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(64)
    else:
        from jupyter_dataops.pipeline.execution import warm_server

        server, inode = warm_server.bind(path)
    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ, "accept")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    if idle is None:
        sel.register(sys.stdin, selectors.EVENT_READ, "owner")
    last_use = time.monotonic()
    kernels: dict[int, socket.socket] = {}  # pid -> the connection that asked for it

    def reap() -> None:
        while kernels:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = kernels.pop(pid, None)
            if conn is None:
                continue
            body = json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode()
            with contextlib.suppress(OSError):
                conn.sendall(_HEADER.pack(len(body)) + body)
            with contextlib.suppress(KeyError, ValueError):
                sel.unregister(conn)
            conn.close()

    def serve_request(conn: socket.socket) -> None:
        msg, fds, _flags, _addr = socket.recv_fds(conn, _HEADER.size, 3)
        request = None
        if len(msg) == _HEADER.size and len(fds) in (2, 3):
            (size,) = _HEADER.unpack(msg)
            request = json.loads(_recv_exact(conn, size))
        # a kernel: stdout and stderr; a command: stdin, stdout and stderr
        refused = None
        if request is not None and "command" in request:
            from jupyter_dataops.pipeline.execution.warm_command import mismatch

            refused = mismatch(request.get("interpreter"))  # the client runs it itself
        if request is None or len(fds) != (3 if "command" in request else 2) or refused:
            for fd in fds:
                os.close(fd)
            if refused:
                body = json.dumps({"refused": refused}).encode()
                conn.sendall(_HEADER.pack(len(body)) + body)
            conn.close()
            return
        become = _become_command if "command" in request else _become_kernel
        others = [server, *kernels.values()]
        pid = os.fork()
        if pid == 0:
            os.close(wake_r)
            os.close(wake_w)
            become(request, fds, [conn, *others])
        for fd in fds:
            os.close(fd)
        kernels[pid] = conn
        sel.register(conn, selectors.EVENT_READ, "kernel")
        body = json.dumps({"pid": pid}).encode()
        conn.sendall(_HEADER.pack(len(body)) + body)

    def shared_done() -> bool:
        """A shared template stops once idle ``idle`` s, or when its socket is not its own."""
        if kernels:
            return False
        return time.monotonic() - last_use > idle or not warm_server.still_ours(path, inode)

    try:
        while not stop and (os.getppid() == owner if idle is None else not shared_done()):
            for key, _ in sel.select(timeout=1.0):
                if key.data == "accept":
                    conn, _ = server.accept()
                    last_use = time.monotonic()
                    if idle is not None and warm_server.peer(conn)[1] != os.getuid():
                        conn.close()  # another user's process: never serve it
                        continue
                    try:
                        serve_request(conn)
                    except (OSError, ValueError) as exc:
                        print(f"warm kernel request failed: {exc}", file=sys.stderr)
                        conn.close()
                elif key.data == "wake":
                    os.read(wake_r, 512)
                elif key.data == "owner":
                    if not os.read(sys.stdin.fileno(), 512):
                        stop.append(1)
                else:  # a client hung up before its kernel exited: stop that kernel
                    conn = key.fileobj
                    if not conn.recv(1):  # type: ignore[union-attr]
                        sel.unregister(conn)
                        for pid, c in list(kernels.items()):
                            if c is conn:
                                _killpg(pid)
            reap()
            if kernels:
                last_use = time.monotonic()
    finally:
        for pid in list(kernels):
            _killpg(pid)
        deadline = time.monotonic() + 5
        while kernels and time.monotonic() < deadline:
            reap()
            time.sleep(0.02)
        if idle is None or warm_server.still_ours(path, inode):
            with contextlib.suppress(OSError):
                os.unlink(path)


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
