"""CPU for the scale bench: a fixed CPU share per relay node, and CPU seconds per role.

Why a share per node: scaling out means each node brings its own CPU. On the 2-core
development machine the SMTP client, the local org, PostgreSQL and every node share the
same two cores, so a second unrestricted node mostly takes CPU from the first (measured:
2 nodes / 1 node = 1.3 when the machine is saturated). Giving every node the same fixed
share, as a container's ``--cpus`` does, models nodes of one size on hosts of their own,
and leaves the rest of the machine to PostgreSQL and the apparatus. The share is a CFS
bandwidth quota (cgroup v1 ``cpu.cfs_quota_us`` or v2 ``cpu.max``; kernel
Documentation/scheduler/sched-bwc.rst); making a cgroup needs root.

Why CPU seconds per role: they tell which process bounds a run. They are read from
/proc/PID/stat (utime + stime, every thread) before and after the measured window.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

_CGROUP_V1_CPU = Path("/sys/fs/cgroup/cpu")
_CGROUP_V2 = Path("/sys/fs/cgroup")
_PERIOD_US = 100_000
_TICKS = os.sysconf("SC_CLK_TCK")


class CpuLimitUnavailable(RuntimeError):
    pass


class CpuGroup:
    """One cgroup with a CPU quota; ``add`` moves a process (all its threads) into it."""

    def __init__(self, path: Path, version: int) -> None:
        self.path = path
        self.version = version

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))


def _make_group(cpus: float) -> CpuGroup:
    quota = int(cpus * _PERIOD_US)
    name = f"relay-bench-{uuid.uuid4().hex[:8]}"
    try:
        if (_CGROUP_V1_CPU / "cpu.cfs_quota_us").exists():
            path = _CGROUP_V1_CPU / name
            path.mkdir()
            (path / "cpu.cfs_period_us").write_text(str(_PERIOD_US))
            (path / "cpu.cfs_quota_us").write_text(str(quota))
            return CpuGroup(path, 1)
        if "cpu" in (_CGROUP_V2 / "cgroup.controllers").read_text().split():
            path = _CGROUP_V2 / name
            path.mkdir()
            (path / "cpu.max").write_text(f"{quota} {_PERIOD_US}")
            return CpuGroup(path, 2)
    except OSError as error:
        raise CpuLimitUnavailable(f"cannot make a cgroup with a CPU quota: {error}") from error
    raise CpuLimitUnavailable("no cgroup CPU controller (neither v1 cpu nor v2 cpu.max)")


@contextmanager
def cpu_groups(count: int, cpus: float) -> Iterator[list[CpuGroup]]:
    """``count`` cgroups of ``cpus`` CPUs each, removed on exit (once their processes
    have ended, which the caller arranges by stopping them inside the block)."""
    groups: list[CpuGroup] = []
    try:
        for _ in range(count):
            groups.append(_make_group(cpus))
        yield groups
    finally:
        for group in groups:
            # OSError: a process is still in it (the kernel keeps the group; harmless).
            with suppress(OSError):
                group.path.rmdir()


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` (fields 14 and 15 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def tree_cpu_seconds(pid: int) -> float:
    """``process_cpu_seconds`` of ``pid`` and of its live descendants: `relay serve` is a
    supervisor whose edge, workers and local org are child processes (docs/design.md §2).
    A child that exited during the window is not counted (nor reaped: it is not ours)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += process_cpu_seconds(current)
        todo.extend(parents.get(current, []))
    return total


def postgres_pids() -> list[int]:
    """The local PostgreSQL server's processes (postmaster, backends, WAL writer, ...)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith("postgres"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU seconds per role between ``start`` and ``stop``. A role names a function that
    lists its pids, asked at both ends so that processes born meanwhile (PostgreSQL
    backends) count from zero."""

    def __init__(self, roles: Mapping[str, Callable[[], Iterable[int]]]) -> None:
        self.roles = dict(roles)
        self._before: dict[int, float] = {}

    def start(self) -> None:
        self._before = {
            pid: process_cpu_seconds(pid) for pids in self.roles.values() for pid in pids()
        }

    def stop(self) -> dict[str, float]:
        return {
            role: sum(process_cpu_seconds(pid) - self._before.get(pid, 0.0) for pid in pids())
            for role, pids in self.roles.items()
        }
