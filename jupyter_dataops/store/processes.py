"""Processes on this machine: is a runner still alive, and when did it start.

No database here: ``maintenance`` uses these to tell a dead runner from a live one, ``base`` to
record who runs what.
"""

from __future__ import annotations

import functools
import os
import sys

#: how often a runner or a scheduler writes its heartbeat: five missed beats and it is dead
#: (here, not in the runner, so that `dataops status` tells it without importing the runner)
HEARTBEAT_SECONDS = 60.0


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (zombies count as gone)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        try:
            import psutil
        except ImportError:
            return True  # cannot tell: leave it to the staleness window
        return psutil.pid_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def process_started(pid: int) -> float | None:
    """When a process on this machine started (seconds since the epoch), None if unknown.

    With the pid it identifies a runner even after the pid is reused by another process.
    """
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
            return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # psutil missing, no such process, access denied
        return None


@functools.cache
def _boot_time() -> float:
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")
