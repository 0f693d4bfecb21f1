"""The supervisor of `relay serve --workers N`: the edge, N workers, the local org
(docs/design.md §2).

Parse, match and the Salesforce writes cost CPU; in the edge's interpreter they would
take the GIL from the listener. So each runs in a process of its own, started with
``subprocess`` as ``python -m relay <internal command>`` (relay/cli/serve_children.py):

- ``_local-org``: the embedded local org, when no Salesforce credentials are set; first,
  since the others log in to it (its ``running.json`` says how);
- ``_edge``: the SMTP listener and the HTTP endpoints, ``store.recover()`` (once per node
  start, before any worker claims), the retention purge;
- ``_worker``: the delivery runners (deliver, rep sync, held re-check), at a lower CPU
  priority so that accepting comes first during a burst.

Each child writes one JSON line on a pipe it is given (``--ready-fd``) when it is ready
(the edge: where it listens), and asks the kernel to SIGKILL it if the supervisor dies
(PR_SET_PDEATHSIG, prctl(2)), so no child outlives a SIGKILLed supervisor. Children run
in their own process group: a Ctrl-C on the terminal reaches the supervisor only, which
passes it on in order.

Failures: a worker that exits is restarted after a back-off (0.5 s doubling to 30 s;
reset once it ran for a minute), logged as ``worker_exited`` then ``worker_restarted``;
if the edge or the local org exits, the node cannot accept or deliver correctly, so the
supervisor stops the rest and exits 1. SIGTERM (or a first SIGINT) stops the edge and
the workers together, each draining within ``smtp.shutdown_deadline_seconds``, then the
local org; a second SIGINT forces every child out.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.listening import FORCED_EXIT_STATUS
from relay.logs import get_logger

log = get_logger("relay.supervisor")

RESTART_FIRST_SECONDS = 0.5
RESTART_MAX_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0
"""A worker that ran this long before it exited is restarted after the first back-off."""
KILL_GRACE_SECONDS = 5.0
"""Beyond the shutdown deadline, before a child that has not exited gets SIGKILL."""
START_TIMEOUT_SECONDS = 600.0
"""For each start-up step; the edge's ``PRAGMA quick_check`` reads the whole SQLite file."""
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int) -> None:
    """In a child: be SIGKILLed when the supervisor dies, even by SIGKILL (Linux
    prctl(2) PR_SET_PDEATHSIG). If it already died before this call, exit now."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def lower_priority(increment: int = 10) -> None:
    """Workers yield the CPU to the edge during a burst (nice(2)). A sandbox that
    forbids setpriority (systemd's ~@resources) leaves the priority as it is."""
    try:
        os.nice(increment)
    except OSError as error:
        log.warning("worker_priority_unchanged", reason=error.strerror or str(error))


def exit_fields(returncode: int) -> dict[str, Any]:
    """``exit_code`` for a normal exit, ``signal`` (its name) for a killed process."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return {"signal": name}
    return {"exit_code": returncode}


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0
    restart_at: float | None = None
    ready: dict[str, Any] = field(default_factory=dict)
    """What the child's ready line said (the edge: where it listens)."""

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def send(self, number: int) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(number)


class StartFailed(Exception):
    def __init__(self, child: str, status: int) -> None:
        super().__init__(f"{child} exited with status {status} during start-up")
        self.child = child
        self.status = status


@dataclass
class Supervisor:
    """``Supervisor(...).run()`` returns the exit status of `relay serve`."""

    command: Sequence[str]
    """``python -m relay [--config FILE]``: each child's command begins with it."""
    workers: int
    shutdown_deadline_seconds: float
    edge_args: Sequence[str]
    worker_args: Callable[[int], Sequence[str]]
    local_org_args: Sequence[str] | None = None
    on_ready: Callable[[dict[str, Any]], None] | None = None
    failure: str | None = None
    forced: bool = False
    start_failed: bool = False
    """A child exited before it was ready; it said why on stderr."""
    _children: list[Child] = field(default_factory=list)
    _signals: list[int] = field(default_factory=list)
    _stopping: bool = False

    # --- the main loop -----------------------------------------------------------------

    def run(self) -> int:
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        previous_fd = signal.set_wakeup_fd(wake_write.fileno(), warn_on_full_buffer=False)
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
        previous = {number: signal.getsignal(number) for number in handled}
        for number in handled:
            signal.signal(number, self._on_signal)
        self._wake = wake_read
        try:
            return self._run()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            signal.set_wakeup_fd(previous_fd)
            wake_read.close()
            wake_write.close()

    def _on_signal(self, number: int, _frame: object) -> None:
        self._signals.append(number)

    def _run(self) -> int:
        log.info("supervisor_started", pid=os.getpid(), workers=self.workers)
        try:
            if self.local_org_args is not None:
                self._start([Child("local-org", self._argv(self.local_org_args))])
            # The edge first: it recovers the queue before any worker claims from it.
            (edge,) = self._start([Child("edge", self._argv(self.edge_args))])
            # Ready once the workers run too, as the single process is once its runners do.
            self._start(
                [
                    Child(f"worker-{index}", self._argv(self.worker_args(index)))
                    for index in range(self.workers)
                ]
            )
        except StartFailed as failed:
            self.start_failed = True
            self._stop_all()
            log.info("shutdown_complete", forced=self.forced, failure=str(failed))
            return failed.status or 1
        except _StopRequested:
            self._stop_all()
            log.info("shutdown_complete", forced=self.forced, failure=None)
            return FORCED_EXIT_STATUS if self.forced else 0
        if self.on_ready is not None:
            self.on_ready(edge.ready)
        try:
            while True:
                self._wait(self._next_restart_in())
                self._handle_signals()
                self._reap()
                self._restart_due()
        except _StopRequested:
            pass
        self._stop_all()
        log.info("shutdown_complete", forced=self.forced, failure=self.failure)
        if self.forced:
            return FORCED_EXIT_STATUS
        return 1 if self.failure is not None else 0

    def _argv(self, args: Sequence[str]) -> list[str]:
        return [*self.command, *args, "--supervisor-pid", str(os.getpid())]

    # --- children ----------------------------------------------------------------------

    def _spawn(self, child: Child, ready_fd: int | None = None) -> Child:
        argv = child.argv if ready_fd is None else [*child.argv, "--ready-fd", str(ready_fd)]
        child.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            argv,
            stdin=subprocess.DEVNULL,
            pass_fds=() if ready_fd is None else (ready_fd,),
            # Its own process group: the terminal's Ctrl-C reaches the supervisor only,
            # which stops the children in order (docs/design.md §2).
            process_group=0,
        )
        child.started_at = time.monotonic()
        if child not in self._children:
            self._children.append(child)
        return child

    def _start(self, children: Sequence[Child]) -> Sequence[Child]:
        """Spawn children and wait for each one's ready line (JSON on a pipe), handling
        signals meanwhile. A child that exits first fails the start with its status."""
        pending: dict[int, tuple[Child, bytearray]] = {}
        for child in children:
            read_end, write_end = os.pipe()
            try:
                self._spawn(child, ready_fd=write_end)
            finally:
                os.close(write_end)  # the child holds it now: EOF when it exits
            pending[read_end] = (child, bytearray())
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        try:
            while pending:
                if time.monotonic() > deadline:
                    name = next(iter(pending.values()))[0].name
                    raise StartFailed(name, 1)
                readable = self._wait(0.5, extra=list(pending))
                self._handle_signals()
                for fd in readable & set(pending):
                    child, buffer = pending[fd]
                    chunk = os.read(fd, 65536)
                    buffer += chunk
                    if b"\n" in buffer:
                        child.ready = json.loads(bytes(buffer).split(b"\n", 1)[0])
                    elif chunk:
                        continue
                    else:  # exited before it was ready: it said why on stderr
                        assert child.process is not None
                        status = child.process.wait()
                        raise StartFailed(child.name, status if status > 0 else 1)
                    del pending[fd]
                    os.close(fd)
        finally:
            for fd in pending:
                os.close(fd)
        return children

    def _wait(self, timeout: float | None, extra: Sequence[int] = ()) -> set[int]:
        if self._signals:
            timeout = 0
        try:
            readable, _, _ = select.select([self._wake.fileno(), *extra], [], [], timeout)
        except InterruptedError:
            readable = []
        if self._wake.fileno() in readable:
            with contextlib.suppress(BlockingIOError):
                while self._wake.recv(4096):
                    pass
        return set(readable)

    def _handle_signals(self) -> None:
        while self._signals:
            number = self._signals.pop(0)
            if number == signal.SIGCHLD:
                continue  # reaped by the caller
            if not self._stopping:
                self._stopping = True
                reason = signal.Signals(number).name
                log.info("shutdown_started", reason=reason)
                raise _StopRequested  # _stop_all sends SIGTERM to the edge and the workers
            if number == signal.SIGINT:
                self._force()

    def _force(self) -> None:
        if not self.forced:
            self.forced = True
            log.warning("shutdown_forced")
            self._signal_children(signal.SIGINT, but=("local-org",))

    def _signal_children(self, number: int, but: Sequence[str] = ()) -> None:
        for child in self._children:
            if child.name not in but:
                child.send(number)

    def _reap(self) -> None:
        now = time.monotonic()
        for child in self._children:
            if child.process is None or child.process.returncode is not None:
                continue
            status = child.process.poll()
            if status is None:
                continue
            fields = {"pid": child.process.pid, **exit_fields(status)}
            if not child.name.startswith("worker-"):
                self.failure = f"the {child.name} process exited ({_describe(status)})"
                log.error(f"{child.name.replace('-', '_')}_exited", **fields)
                self._stopping = True
                log.info("shutdown_started", reason=self.failure)
                raise _StopRequested
            ran = now - child.started_at
            child.failures = 1 if ran >= HEALTHY_AFTER_SECONDS else child.failures + 1
            delay = min(RESTART_MAX_SECONDS, RESTART_FIRST_SECONDS * 2 ** (child.failures - 1))
            child.restart_at = now + delay
            log.error("worker_exited", worker=child.name, restart_in_seconds=delay, **fields)

    def _next_restart_in(self) -> float:
        due = [child.restart_at for child in self._children if child.restart_at is not None]
        if not due:
            return 1.0  # SIGCHLD wakes us; this is only a safety net
        return max(0.0, min(min(due) - time.monotonic(), 1.0))

    def _restart_due(self) -> None:
        now = time.monotonic()
        for child in self._children:
            if child.restart_at is not None and child.restart_at <= now:
                child.restart_at = None
                child.restarts += 1
                old_pid = child.pid
                self._spawn(child)
                log.info(
                    "worker_restarted",
                    worker=child.name,
                    pid=child.pid,
                    previous_pid=old_pid,
                    restarts=child.restarts,
                )

    # --- stopping ----------------------------------------------------------------------

    def _stop_all(self) -> None:
        """The edge and the workers together, within the deadline; then the local org."""
        self._stopping = True
        for child in self._children:
            child.restart_at = None
        front = [c for c in self._children if c.name != "local-org"]
        if not self.forced:
            for child in front:
                child.send(signal.SIGTERM)  # a second SIGTERM is harmless: stopping is idempotent
        self._wait_for(front, self.shutdown_deadline_seconds + KILL_GRACE_SECONDS)
        org = [c for c in self._children if c.name == "local-org"]
        for child in org:
            child.send(signal.SIGTERM)
        self._wait_for(org, KILL_GRACE_SECONDS * 2)

    def _wait_for(self, children: Sequence[Child], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while any(child.running() for child in children):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._wait(min(left, 0.2))
            for number in list(self._signals):
                self._signals.remove(number)
                if number == signal.SIGINT:
                    self._force()
                    deadline = min(deadline, time.monotonic() + 3.0)
            for child in children:
                if child.process is not None:
                    child.process.poll()
        for child in children:
            if child.running():
                log.error("child_killed", child=child.name, pid=child.pid)
                child.send(signal.SIGKILL)
                assert child.process is not None
                child.process.wait()


class _StopRequested(Exception):
    pass


def _describe(status: int) -> str:
    fields = exit_fields(status)
    return f"signal {fields['signal']}" if "signal" in fields else f"exit code {status}"


def write_ready_line(fd: int | None, document: dict[str, Any]) -> None:
    """In a child: say it is ready, one JSON line on the pipe the supervisor passed
    (none for a restarted worker: nobody waits for it)."""
    if fd is None:
        return
    os.write(fd, json.dumps(document).encode() + b"\n")
    os.close(fd)


def socket_dir_paths(directory: Path, workers: int) -> tuple[Path, list[Path]]:
    from relay.wakeups import EDGE, worker_socket

    return directory / EDGE, [directory / worker_socket(i) for i in range(workers)]
