"""The runners' view of the store: failing or not, since when, and why.

A store that fails for a runner (a lock an admin's ``sqlite3`` session holds past the
busy timeout, PostgreSQL restarting, a full disk) is a temporary condition: the runner
waits and tries again, the SMTP edge keeps answering (451 4.3.0 for what it cannot
commit, RFC 5321 §4.2.5), and ``/readyz`` says not ready with the reason, so a load
balancer sends mail elsewhere meanwhile (docs/operations.md, "Health endpoints").

One ``StoreOutage`` per daemon, shared by every runner (threads) and the health server.
Each runner is its own *source*: its outage starts at its first failure and ends at its
next successful store call. Each start and each end is logged once
(``store_unavailable``, ``store_available``), not once per retry.

With worker processes (docs/design.md §2) the runners are not in the edge's process: a
worker's ``StoreOutage`` calls ``on_change`` with its current reason after each change,
the worker sends it to the edge (relay/wakeups.py), and the edge's ``StoreOutage`` keeps
it with ``report_remote`` so that ``/readyz`` still names it (logged by the worker only).

The wait between tries is a bounded exponential backoff with jitter ("Exponential
Backoff And Jitter", AWS Architecture Blog, 2015): nodes and runners that failed
together do not all come back in the same instant.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from structlog.stdlib import BoundLogger

from relay.logs import get_logger

FIRST_WAIT_SECONDS = 0.5
MAX_WAIT_SECONDS = 30.0


def backoff_seconds(failures: int, rand: Callable[[], float] = random.random) -> float:
    """The wait after ``failures`` failures in a row (1 or more): doubling from
    FIRST_WAIT_SECONDS up to MAX_WAIT_SECONDS, the upper half of it at random."""
    ceiling = min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2.0 ** min(max(failures, 1) - 1, 16))
    return ceiling / 2 + rand() * ceiling / 2


@dataclass
class _Episode:
    reason: str
    since: float
    failures: int = 1


class StoreOutage:
    """Thread-safe; ``failed`` and ``succeeded`` are called by the runners."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str | None], None] | None = None,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._episodes: dict[str, _Episode] = {}
        self._remote: dict[str, str] = {}
        self._on_change = on_change

    def failed(self, source: str, reason: str) -> float:
        """Record a failed store call of ``source``; returns how long it should wait."""
        with self._lock:
            episode = self._episodes.get(source)
            if episode is None:
                self._episodes[source] = episode = _Episode(reason, self._clock())
                first = True
            else:
                episode.failures += 1
                episode.reason = reason
                first = False
            failures = episode.failures
        wait = backoff_seconds(failures)
        if self._on_change is not None:
            self._on_change(self.reason())
        if first:
            _log().warning(
                "store_unavailable",
                runner=source,
                reason=reason,
                action="retrying with backoff; SMTP keeps answering, /readyz says not ready",
            )
        return wait

    def succeeded(self, source: str) -> None:
        """Record a successful store call of ``source`` (ends its outage, if any)."""
        if source not in self._episodes:  # the common case, without taking the lock
            return
        with self._lock:
            episode = self._episodes.pop(source, None)
        if episode is not None and self._on_change is not None:
            self._on_change(self.reason())
        if episode is not None:
            _log().info(
                "store_available",
                runner=source,
                failures=episode.failures,
                seconds=round(self._clock() - episode.since, 1),
            )

    def retry_wait(self, source: str) -> float | None:
        """How long ``source`` should wait before its next try (None: it is not failing)."""
        with self._lock:
            episode = self._episodes.get(source)
            failures = None if episode is None else episode.failures
        return None if failures is None else backoff_seconds(failures)

    def report_remote(self, process: str, reason: str | None) -> None:
        """What another process's outage is now (``on_change`` of its ``StoreOutage``)."""
        with self._lock:
            if reason is None:
                self._remote.pop(process, None)
            else:
                self._remote[process] = reason

    def reason(self) -> str | None:
        """Why the store is failing for a runner now (None: it is not)."""
        with self._lock:
            remote = next(iter(self._remote.values()), None)
            if not self._episodes:
                return remote
            source, episode = min(self._episodes.items(), key=lambda item: item[1].since)
        return f"{source}: {episode.reason}"


def _log() -> BoundLogger:
    # Fetched per event: a logger cached under one structlog configuration ignores later
    # ones (structlog.testing.capture_logs in tests).
    return get_logger("relay.store_outage")
