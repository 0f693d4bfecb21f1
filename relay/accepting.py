"""Accepting comes first: while the SMTP edge is taking a burst of mail, the node's
delivery workers step back, so the edge gets the CPU (docs/design.md §2, "Accepting
comes first").

Accepted mail is durable, so delivering it a second or two later costs nothing, while
an edge that starves answers slowly and makes the senders' servers queue and retry.
Lowering the workers' CPU priority (nice 10) is not enough on a small node: the
workers' Salesforce calls wake the local org, and every runnable thread still takes
its time slice (measured in docs/benchmarks.md, "Process model").

- The edge counts what it queues in a ``RateGauge``: a few numbers in a small file in
  the node's private wake-up directory, mapped into memory (mmap(2)), so counting costs
  a memory write, not a system call, per message.
- Each worker reads the same file (``RateGauge.open``) and asks ``YieldPolicy`` how long
  to wait before its next claim. Only a *burst* counts (at least ``min_rate`` messages
  a second): a lone email is still claimed at once. From the moment a worker sees the
  burst, it delivers one batch every ``max_yield_seconds``, so delivery is slowed, never
  stopped.

The gauge is local to the node on purpose: the CPU being shared is the node's. Reads
are not atomic with writes; a torn read can make one wait too long or too short by one
check (at most ``check_seconds``), never lose or hold back mail for longer.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GAUGE_FILE = "accepting"
# Counting window (the rate is a sliding estimate over one window: ``RateGauge.rate``).
WINDOW_SECONDS = 0.1
# started (CLOCK_MONOTONIC, the same clock in every process of the host), count in the
# current window, count in the previous window.
_LAYOUT = struct.Struct("=ddd")


@dataclass(frozen=True)
class YieldPolicy:
    min_rate: float = 100.0
    """Messages per second that make a burst (0: never yield)."""
    max_yield_seconds: float = 2.0
    """While a burst lasts, deliver at least once per this many seconds."""
    check_seconds: float = 0.25
    """How often a yielding worker looks again."""

    def wait(self, rate: float, now: float, since: float | None) -> tuple[float, float | None]:
        """Seconds to wait before claiming (0: claim now), and since when the worker
        has been stepping back (None: it is not), to pass to the next call.

        The clock starts when the worker first sees the burst, not at its last batch:
        a burst that begins after a quiet spell is not met with a batch at once."""
        if self.min_rate <= 0 or rate < self.min_rate:
            return 0.0, None
        since = now if since is None else since
        due = since + self.max_yield_seconds - now
        if due <= 0:
            return 0.0, None  # one batch now; the next check starts a new wait
        return min(due, self.check_seconds), since


class RateGauge:
    """Messages queued per second by this node's edge, shared through a mapped file."""

    def __init__(self, mapped: mmap.mmap) -> None:
        self._map = mapped
        self._lock = threading.Lock()  # the edge counts from its commit threads

    @classmethod
    def create(cls, directory: Path) -> RateGauge:
        """The edge's side: a fresh, zeroed gauge."""
        path = directory / GAUGE_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(_LAYOUT.size))
            return cls(mmap.mmap(fd, _LAYOUT.size))
        finally:
            os.close(fd)

    @classmethod
    def open(cls, directory: Path) -> RateGauge | None:
        """A worker's side; None until the edge has created it (a worker then does not
        yield, which is what happens when no edge is accepting)."""
        try:
            fd = os.open(directory / GAUGE_FILE, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            return cls(mmap.mmap(fd, _LAYOUT.size, prot=mmap.PROT_READ))
        except ValueError:  # shorter than the layout: the edge is still creating it
            return None
        finally:
            os.close(fd)

    def count(self, messages: int = 1, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            started, current, previous = _LAYOUT.unpack_from(self._map)
            elapsed = now - started
            if elapsed >= 2 * WINDOW_SECONDS:
                started, current, previous = now, 0.0, 0.0
            elif elapsed >= WINDOW_SECONDS:
                started, current, previous = started + WINDOW_SECONDS, 0.0, current
            _LAYOUT.pack_into(self._map, 0, started, current + messages, previous)

    def rate(self, now: float | None = None) -> float:
        """Messages per second over the last window (0 when quiet): the sliding-window
        estimate, the current window's count plus the previous one's share of the time
        that still overlaps the last ``WINDOW_SECONDS``."""
        now = time.monotonic() if now is None else now
        started, current, previous = (float(n) for n in _LAYOUT.unpack_from(self._map))
        elapsed = now - started
        if elapsed >= 2 * WINDOW_SECONDS or elapsed < 0:
            return 0.0
        if elapsed >= WINDOW_SECONDS:  # the current window has ended: it is the previous
            previous, current, elapsed = current, 0.0, elapsed - WINDOW_SECONDS
        overlap = (WINDOW_SECONDS - elapsed) / WINDOW_SECONDS
        return (current + previous * overlap) / WINDOW_SECONDS

    def close(self) -> None:
        self._map.close()
