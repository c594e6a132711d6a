"""Warm kernels: a preloaded template process forks a fresh kernel for each step.

Starting a python kernel costs about 2 CPU-s per step (the interpreter, ipykernel, IPython,
polars, altair, the first ``%%dataops_test``); the data work is milliseconds. The template
imports all of that once and, for every step, forks a child that becomes the step's kernel: a
new process (nothing shared between steps) that is already warm.

It plugs in through jupyter_client's own extension point: ``WarmProvisioner`` is the kernel
provisioner that ``execute._WatchedKernelManager`` hands papermill/nbclient. The child chdirs to
the step's folder, takes the step's environment (``RunContext.env()``), writes to the step's
log (the launcher's stdout/stderr, passed over the socket) and runs ``IPKernelApp`` with the
connection file. Where forking is not possible (not POSIX, ``DATAOPS_WARM_KERNELS=0``, a kernel
spec other than this interpreter's python3, or a template that could not start) kernels start
plainly, and one log line says so.

The template lives as long as the process that runs steps (started lazily on the first step,
stopped at exit or when that process dies); it imports only, so no thread pool runs when it
forks.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

log = logging.getLogger(__name__)

ENV_WARM = "DATAOPS_WARM_KERNELS"
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
    "jupyter_dataops.checks",
    "jupyter_dataops.spc",
    "jupyter_dataops.store",
    "jupyter_dataops.pipeline.execution.context",
    "jupyter_dataops.pipeline.definition.project",
)
_START_TIMEOUT = 120.0
_HEADER = struct.Struct("!I")


# -- the client: in the process that runs steps ----------------------------------------------


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the kernel template closed the connection")
        data += chunk
    return data


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


class Template:
    """The handle on one template process: its socket path, and the process if we started it."""

    def __init__(self) -> None:
        self.path = os.path.join(tempfile.gettempdir(), f"dataops-warm-{uuid.uuid4().hex[:12]}")
        self.owner = os.getpid()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_dataops.pipeline.execution.warm", self.path],
            stdin=subprocess.PIPE,  # closed by our exit: the template then stops
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,  # Ctrl-C at the terminal is the runner's, not the template's
        )
        self.pid = self.process.pid
        self.failed: str | None = None

    def connect(self, timeout: float = _START_TIMEOUT) -> socket.socket:
        """A connection to the template, waiting while it imports; raises OSError if it died."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
                return sock
            except OSError:
                sock.close()
                if not _alive(self.pid):
                    raise OSError("the kernel template exited while starting") from None
                if time.monotonic() > deadline:
                    raise OSError(f"the kernel template did not start in {timeout:g} s") from None
                time.sleep(0.02)

    def fork_kernel(self, cmd: list[str], env: dict[str, str], cwd: str | None) -> ForkedKernel:
        """Ask the template for a kernel running ``cmd``'s connection file; our stdout/stderr
        (the step's log while a step runs) become the kernel's."""
        sock = self.connect()
        try:
            body = json.dumps({"argv": cmd[3:], "env": env, "cwd": cwd}).encode()
            socket.send_fds(sock, [_HEADER.pack(len(body))], [1, 2])
            sock.sendall(body)
            (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
            answer = json.loads(_recv_exact(sock, size))
        except (OSError, ValueError) as exc:
            sock.close()
            raise OSError(f"the kernel template did not fork a kernel: {exc}") from exc
        if "error" in answer:
            sock.close()
            raise OSError(f"the kernel template could not fork a kernel: {answer['error']}")
        return ForkedKernel(sock, int(answer["pid"]))

    def stop(self) -> None:
        if self.owner != os.getpid():
            return
        proc = self.process
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.terminate()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


class SharedTemplate(Template):
    """The project's template (``warm_server``): started by some command, outliving it."""

    def __init__(self, state_dir: Path) -> None:
        from jupyter_dataops.pipeline.execution import warm_server

        self.path = warm_server.socket_path(state_dir, warm_server.environment_key(PRELOAD))
        self.pid = warm_server.ensure_server(self.path, _START_TIMEOUT)
        self.owner = os.getpid()
        self.process = None
        self.failed = None

    def stop(self) -> None:
        """Nothing: it serves the next command, and exits by itself when idle."""


class ForkedKernel:
    """A forked kernel, shaped like the ``Popen`` that ``LocalProvisioner`` drives.

    It is not our child: the template reaps it and tells us its exit code over the socket; we
    signal it by pid (never after we learnt it exited, so a reused pid is never hit).
    """

    stdin = stdout = stderr = None

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock, self.pid = sock, pid
        self.returncode: int | None = None

    def _read(self, block: bool) -> int | None:
        if self.returncode is not None:
            return self.returncode
        self.sock.setblocking(block)
        try:
            (size,) = _HEADER.unpack(_recv_exact(self.sock, _HEADER.size))
            self.sock.setblocking(True)
            self.returncode = int(json.loads(_recv_exact(self.sock, size))["exit"])
        except BlockingIOError:
            return None
        except (OSError, ValueError):  # the template went away: it killed its children
            self.returncode = -signal.SIGKILL
        self.sock.close()
        return self.returncode

    def poll(self) -> int | None:
        return self._read(block=False)

    def wait(self, timeout: float | None = None) -> int:
        if timeout is not None:
            deadline = time.monotonic() + timeout
            while self.poll() is None:
                if time.monotonic() > deadline:
                    raise subprocess.TimeoutExpired(str(self.pid), timeout)
                time.sleep(0.02)
        return self._read(block=True)  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


_lock = threading.Lock()
_template: Template | None = None
_said: set[str] = set()
_project: Path | None = None  # set: this process's template is its project's shared one


def use_project_server(state_dir: str | os.PathLike[str] | None) -> None:
    """Take kernels from the project's shared template (``warm_server``) rather than one of
    this process's own, so that one command after another pays the template's imports once
    (``dataops run``); None: this process's own again. Where it cannot be shared, this
    process starts its own as usual."""
    from jupyter_dataops.pipeline.execution import warm_server

    global _project, _template
    with _lock:
        if isinstance(_template, SharedTemplate):
            _template = None
        _project = Path(state_dir) if state_dir and warm_server.supported() else None


def _say_once(why: str) -> None:
    if why not in _said:
        _said.add(why)
        log.warning("warm kernels off: %s; kernels start plainly", why)


def _is_this_python(program: str, path: str | None) -> bool:
    """Whether ``program`` (as a kernel spec names it, e.g. ``python``) is this interpreter."""
    import shutil

    found = shutil.which(program, path=path)
    if not found:
        return False
    here, there = os.path.abspath(sys.executable), os.path.abspath(found)
    same_env = os.path.dirname(here) == os.path.dirname(there)
    return same_env and os.path.realpath(here) == os.path.realpath(there)


def why_not_warm(cmd: list[str], env: dict[str, str] | None = None) -> str | None:
    """Why a kernel launched with ``cmd`` cannot be forked from the template (None: it can)."""
    env = os.environ if env is None else env
    if env.get(ENV_WARM, "1").strip().lower() in ("0", "false", "no", "off"):
        return f"{ENV_WARM}=0"
    if os.name != "posix" or not hasattr(os, "fork") or not hasattr(socket, "send_fds"):
        return "this platform cannot fork"
    if (
        len(cmd) < 5
        or not all(arg.startswith("--") for arg in cmd[5:])  # traitlets options only
        or cmd[1:4] != ["-m", "ipykernel_launcher", "-f"]
        or not _is_this_python(cmd[0], env.get("PATH"))
    ):
        return f"the kernel {' '.join(cmd[:3])} is not this interpreter's python3"
    return None


def template() -> Template | None:
    """The template of this process (started now if need be), or None when it cannot run."""
    global _template
    with _lock:
        current = _template
        if current is not None and current.failed is None:
            if current.process is None:  # the project's shared template
                if not _alive(current.pid):
                    current = None  # it exited (idle, or replaced): find or start it again
            elif current.owner == os.getpid() and current.process.poll() is not None:
                current.failed = (
                    "a preloaded library started a thread in the kernel template"
                    if current.process.returncode == 3
                    else f"the kernel template exited (code {current.process.returncode})"
                )
            elif current.owner != os.getpid() and not _alive(current.pid):
                current = None  # a forked worker whose parent's template is gone: start ours
        if current is None:
            try:
                try:
                    current = SharedTemplate(_project) if _project else Template()
                except OSError as exc:  # no shared one: this process's own, as usual
                    log.info("the project's kernel template is not available (%s)", exc)
                    current = Template()
                _template = current
                atexit.register(current.stop)
            except OSError as exc:
                _say_once(f"the kernel template could not start ({exc})")
                return None
        if current.failed:
            _say_once(current.failed)
            return None
        return current


def prestart() -> None:
    """Start the template now (without waiting), so processes forked later share it."""
    if why_not_warm([sys.executable, "-m", "ipykernel_launcher", "-f", "x"]) is None:
        template()


def shutdown() -> None:
    """Stop this process's template (also done at exit)."""
    global _template
    with _lock:
        current, _template = _template, None
    if current is not None:
        current.stop()


class WarmProvisioner(LocalProvisioner):
    """``LocalProvisioner`` whose kernel is forked from the warm template when it can be."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        env = dict(kwargs.get("env") or os.environ)
        why = why_not_warm(cmd, env)
        tmpl = None if why else template()
        if why:
            _say_once(why)
        if tmpl is None:
            return await super().launch_kernel(cmd, **kwargs)
        # papermill chdirs this process to the notebook's folder; a Popen'd kernel inherits it
        cwd = str(kwargs.get("cwd") or os.getcwd())
        try:
            kernel = tmpl.fork_kernel(cmd, env, cwd)
        except OSError as exc:
            with _lock:
                tmpl.failed = str(exc)
            _say_once(str(exc))
            return await super().launch_kernel(cmd, **kwargs)
        self.process = kernel
        self.pid = self.pgid = kernel.pid  # the child leads its own session
        self.cwd = cwd
        return self.connection_info

    async def kill(self, restart: bool = False) -> None:
        """Kill the kernel and wait (at most a second) until it is gone: the kernel manager
        then finds it dead at its first look instead of sleeping its 0.1 s poll interval
        (each step's kernel is killed once papermill has the notebook)."""
        process = self.process
        await super().kill(restart=restart)
        deadline = time.monotonic() + 1.0
        while process is not None and process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.005)


# -- the template: a process that imports once and forks kernels ------------------------------


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


def _become_kernel(request: dict[str, Any], fds: list[int], closing: list[Any]) -> None:
    """In the forked child: reset what the template changed, then run the kernel. Never returns."""
    code = 1
    try:
        for thing in closing:
            thing.close()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        if sys.platform.startswith("linux"):  # die with the template
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)
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
        import gc
        import importlib
        import random

        gc.enable()  # the template's objects stay frozen (never scanned: never copied)
        importlib.invalidate_caches()
        random.seed()
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        from ipykernel import kernelapp

        try:
            kernelapp.launch_new_instance()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - the child must never fall back into the server loop
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _serve(path: str, idle: float | None = None) -> None:
    """Import, then fork kernels on request until the owner (our parent: its stdin closes) is
    gone - or, a project's shared template (``idle`` given), until idle that long."""
    import gc
    import selectors

    # As CPython's gc docs advise for fork without exec: no collection in the template (no
    # freed holes in its pages), and what it imported frozen before the forks, so a kernel's
    # collections never write to (and copy) the template's pages of long-lived objects.
    gc.disable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
        msg, fds, _flags, _addr = socket.recv_fds(conn, _HEADER.size, 2)
        if len(msg) < _HEADER.size or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        (size,) = _HEADER.unpack(msg)
        request = json.loads(_recv_exact(conn, size))
        others = [server, *kernels.values()]
        pid = os.fork()
        if pid == 0:
            os.close(wake_r)
            os.close(wake_w)
            _become_kernel(request, fds, [conn, *others])
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


if __name__ == "__main__":
    _serve(sys.argv[1], float(sys.argv[3]) if sys.argv[2:3] == ["--idle"] else None)
