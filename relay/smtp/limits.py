"""Back-pressure bookkeeping: connection caps and DATA slots. No I/O.

aiosmtpd reads a whole DATA payload into memory, so unbounded concurrency means
unbounded memory. Caps answer with temporary codes instead (421 4.7.0, 451 4.3.2).
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Generic, TypeVar

Connection = TypeVar("Connection")


class Admission(StrEnum):
    ADMITTED = "admitted"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    TOO_MANY_FROM_CLIENT = "too_many_connections_from_client"
    SHUTTING_DOWN = "shutting_down"


class ConnectionLimits(Generic[Connection]):
    """The open connections, total and per client address, and the shutdown flag."""

    def __init__(self, max_total: int, max_per_client: int) -> None:
        self.max_total = max_total
        self.max_per_client = max_per_client
        self.shutting_down = False
        self._open: dict[Connection, str] = {}
        self._per_client: Counter[str] = Counter()

    def admit(self, connection: Connection, client: str) -> Admission:
        if self.shutting_down:
            return Admission.SHUTTING_DOWN
        if len(self._open) >= self.max_total:
            return Admission.TOO_MANY_CONNECTIONS
        if self._per_client[client] >= self.max_per_client:
            return Admission.TOO_MANY_FROM_CLIENT
        self._open[connection] = client
        self._per_client[client] += 1
        return Admission.ADMITTED

    def release(self, connection: Connection) -> None:
        client = self._open.pop(connection, None)
        if client is not None:
            self._per_client[client] -= 1
            if self._per_client[client] <= 0:
                del self._per_client[client]

    @property
    def open(self) -> list[Connection]:
        return list(self._open)


class DataSlots:
    """A non-blocking counting limit: a full house is refused, never queued."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0

    def try_acquire(self) -> bool:
        if self.in_use >= self.capacity:
            return False
        self.in_use += 1
        return True

    def release(self) -> None:
        self.in_use = max(0, self.in_use - 1)
