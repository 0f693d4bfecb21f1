"""Wake-ups between the processes of one node: the edge tells idle workers that work was
committed, and workers tell the edge that the reps changed (docs/design.md §2).

A ``WorkSignal`` (relay/store/wakeup.py) wakes runners in the process that queued the
work, and on PostgreSQL LISTEN/NOTIFY reaches every process. On SQLite nothing crosses
the process boundary, so the supervisor gives each process a UNIX datagram socket in a
private directory (``Wakeups``):

- ``Poker(paths).poke()`` sends one empty datagram to each socket, never blocking: a
  full socket buffer already holds a wake-up, and a socket that is gone (a worker being
  restarted) has nobody to wake;
- ``Listener(path, on_wake)`` receives them on a daemon thread and calls ``on_wake``
  once per burst (the datagrams waiting are drained first, so a thousand commits while
  the worker was busy make one wake-up, not a thousand).

A datagram with a payload is a message instead (``Poker.send``, ``Listener``'s
``on_message``): a worker's store outage, for the edge's ``/readyz``
(relay/store_outage.py), and its metrics, for the edge's ``/metrics`` (relay/metrics.py).

A datagram, not a pipe: each worker can be restarted on its own and bind its socket
again, and the edge needs no file descriptor of each generation of each worker.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

EDGE = "edge.sock"
MAX_PAYLOAD = 65536


def worker_socket(index: int) -> str:
    return f"worker-{index}.sock"


class Poker:
    """The sending side: one datagram to each socket, never blocking, never raising."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self._paths = [os.fsencode(path) for path in paths]
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def poke(self) -> None:
        self.send(b"")

    def send(self, payload: bytes) -> None:
        for path in self._paths:
            # EAGAIN: the receiver's buffer is full, so a wake-up is already waiting.
            # ENOENT/ECONNREFUSED: the receiver is not running (restarting); it claims
            # at start anyway.
            with contextlib.suppress(OSError):
                self._socket.sendto(payload, path)

    def close(self) -> None:
        self._socket.close()


class Listener:
    """The receiving side: binds ``path`` and calls ``on_wake`` from a daemon thread."""

    def __init__(
        self,
        path: Path,
        on_wake: Callable[[], None],
        on_message: Callable[[bytes], None] | None = None,
    ) -> None:
        self.path = path
        self._on_wake = on_wake
        self._on_message = on_message
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by the previous generation of this process
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(os.fsencode(path))
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="relay-wakeups", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            try:
                woken = self._received(self._socket.recv(MAX_PAYLOAD))
                while True:  # the rest of the burst
                    try:
                        payload = self._socket.recv(MAX_PAYLOAD, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    woken = self._received(payload) or woken
            except OSError as error:
                if self._closed or error.errno == errno.EBADF:
                    return
                continue
            if woken and not self._closed:
                self._on_wake()

    def _received(self, payload: bytes) -> bool:
        """True for a wake-up; a payload goes to ``on_message``."""
        if not payload:
            return True
        if self._on_message is not None and not self._closed:
            self._on_message(payload)
        return False

    def close(self) -> None:
        self._closed = True
        # A datagram to ourselves wakes the thread blocked in recv(); then the socket goes.
        poker = Poker([self.path])
        poker.poke()
        poker.close()
        self._thread.join(timeout=2)
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
