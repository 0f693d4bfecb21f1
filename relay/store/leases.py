"""Leases: which claimed messages a starting process may take back at once.

A claim gives the worker a lease (``pipeline.lease_seconds``, 30 s) that the worker
renews while its batch runs (``SqlStore.renew_leases``); a message whose lease ran out is
claimable by anyone. That bounds what a dead node costs, but a process that restarts on
the same host should not wait out the lease of the process it replaces: ``recover()``
also takes back the leases of owners this host can prove dead. This module is that
proof, with no I/O but ``/proc`` and ``kill(pid, 0)``.

Worker ids are ``HOST:PID:NAME`` (relay/runners/base.py). An owner is proved gone when
its HOST is this host and its PID

- is no running process (``kill(pid, 0)`` fails with ESRCH, or ``/proc`` shows a zombie:
  a killed child that its parent has not reaped yet), or
- is a running process that started after the lease was taken: the PID was reused by a
  newer process (in a container the daemon is PID 1 after every restart).

This needs host names to be unique among the nodes sharing a store, as the worker ids
already do. Owners of other hosts, and ids of another shape, are only ever taken back
when their lease expires.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

START_TIME_SLACK = timedelta(seconds=2)
"""Boot time in /proc/stat is whole seconds: a process counts as newer than a lease only
if it started this much after the claim, so a live owner is never taken for a new one."""


def this_host() -> str:
    return socket.gethostname()


def owner_pid(worker: str | None, host: str) -> int | None:
    """The PID in a worker id ``HOST:PID:...`` if HOST is ``host``, else None."""
    owner_host, _, rest = (worker or "").partition(":")
    pid = rest.partition(":")[0]
    if owner_host != host or not pid.isdigit():
        return None
    return int(pid)


def owner_gone(worker: str | None, claimed_at: datetime, host: str) -> bool:
    """True if ``worker`` is a process of ``host`` (this host) that no longer holds the
    lease it took at ``claimed_at``: dead, a zombie, or its PID reused since."""
    pid = owner_pid(worker, host)
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's process
    fields = _proc_stat(pid)
    if fields is None:
        return False  # no /proc (not Linux): a live PID is taken to be the owner
    if fields[0] in ("Z", "X"):  # proc(5) field 3, the state: zombie, dead
        return True
    started = _started_at(fields)
    return started is not None and started > claimed_at + START_TIME_SLACK


def _proc_stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (the state) on; None if /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            # The command name (field 2) is in parentheses and may hold spaces.
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return fields or None


def _started_at(fields: list[str]) -> datetime | None:
    """When the process started: proc(5) field 22, clock ticks after boot, plus
    /proc/stat ``btime``, the boot in seconds since the epoch."""
    try:
        ticks = int(fields[19])  # field 22; fields[0] is field 3
        with open("/proc/stat", encoding="ascii", errors="replace") as system:
            boot = next(int(line.split()[1]) for line in system if line.startswith("btime "))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)
