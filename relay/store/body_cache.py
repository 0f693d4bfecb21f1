"""Raw bodies read with the claim, so a runner's per-message ``raw()`` needs no query.

The runners read each claimed message's body once, one ``raw()`` call per message. On
PostgreSQL each call was a pool checkout (a pre-ping round trip), a SELECT and the
reset's ROLLBACK: three round trips and SQLAlchemy's per-statement work per message,
measured with bench/scale.py (docs/benchmarks.md). ``claim`` now reads the batch's
bodies in its own transaction, into this cache, up to a byte budget; ``raw()`` takes a
body out once.

Bodies never change after enqueue (message_bodies is insert-only), so a cached body is
the stored one. Entries leave when read, when their message is finished or changed,
and the budget bounds what a failed batch can leave behind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

PREFETCH_BYTES = 16 * 1024 * 1024
"""At most this many body bytes held at once (a batch of 200 typical emails is ~1 MB)."""


class BodyCache:
    """Queue id -> raw body, thread-safe, at most ``budget`` bytes in total."""

    def __init__(self, budget: int = PREFETCH_BYTES) -> None:
        self._budget = budget
        self._bodies: dict[str, bytes] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def room(self) -> int:
        """Bytes still free: what the next claim may prefetch."""
        with self._lock:
            return max(self._budget - self._bytes, 0)

    def put_all(self, bodies: Mapping[str, bytes]) -> None:
        with self._lock:
            for queue_id, raw in bodies.items():
                if self._bytes + len(raw) > self._budget:
                    continue  # over budget: raw() reads it from the store instead
                self._bytes -= len(self._bodies.pop(queue_id, b""))
                self._bodies[queue_id] = raw
                self._bytes += len(raw)

    def take(self, queue_id: str) -> bytes | None:
        """The cached body, removed (a second read goes to the store), or None."""
        with self._lock:
            raw = self._bodies.pop(queue_id, None)
            if raw is not None:
                self._bytes -= len(raw)
            return raw

    def forget(self, queue_ids: Iterable[str]) -> None:
        with self._lock:
            for queue_id in queue_ids:
                self._bytes -= len(self._bodies.pop(queue_id, b""))
