"""A process tree read from /proc (proc(5)), for tests of `relay serve` as a supervisor
of processes (docs/design.md §2): which children it has, their roles, nice values, and
whether they still run."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

ROLES = {"_edge": "edge", "_worker": "worker", "_local-org": "local-org"}
"""The hidden command each child of `relay serve` runs (relay/cli/serve_children.py),
and its role."""


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (the 3rd field onwards)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return raw.decode(errors="replace").split("\0")


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def nice(pid: int) -> int:
    """The process's nice value (proc(5): the 19th field of /proc/PID/stat)."""
    fields = _stat(pid)
    assert fields is not None, f"no process {pid}"
    return int(fields[16])


def children_of(pid: int) -> list[int]:
    """The live (not zombie) processes whose parent is ``pid``, by pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return sorted(found)


def role_of(pid: int) -> str | None:
    """``edge``, ``worker`` or ``local-org`` for a child of `relay serve`, else None."""
    arguments = cmdline(pid)
    return next((ROLES[a] for a in arguments if a in ROLES), None)


Identity = tuple[int, int]
"""A process as (pid, start time in clock ticks since boot): a pid alone may be given to
another program once the process is gone."""


def identity(pid: int) -> Identity | None:
    """``pid`` with its start time (proc(5): the 22nd field of /proc/PID/stat)."""
    fields = _stat(pid)
    return None if fields is None else (pid, int(fields[19]))


def identities(pids: list[int]) -> list[Identity]:
    return [found for found in map(identity, pids) if found is not None]


def running(process: Identity) -> bool:
    """The same process still runs (the pid was not reused since)."""
    return alive(process[0]) and identity(process[0]) == process


def sigkill_all(processes: list[Identity]) -> None:
    """SIGKILL each of ``processes`` that still runs, and only those."""
    for process in processes:
        if running(process):
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(process[0], signal.SIGKILL)
