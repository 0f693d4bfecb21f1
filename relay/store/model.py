"""Values and the interface of the store. Implementations: SQLite (default), PostgreSQL.

States (DESIGN.md §2)::

    queued ──claim──> processing ──finish──> logged | unresolved | held | quarantined | rejected
       ^                  │
       └──── deferred <───┘ (defer: not before a time)      recover(): processing -> queued

``held`` waits for a person; ``release`` puts it back to ``queued``. Every change is
recorded as a Transition with its reason and logged as one event with the queue id.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from relay.envelope import Envelope


class State(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DEFERRED = "deferred"
    LOGGED = "logged"
    UNRESOLVED = "unresolved"
    HELD = "held"
    QUARANTINED = "quarantined"
    REJECTED = "rejected"


FINAL_STATES = frozenset({State.LOGGED, State.UNRESOLVED, State.QUARANTINED, State.REJECTED})
"""States a message leaves only by an explicit admin command (retry, delete)."""


@dataclass(frozen=True)
class StoredMessage:
    """One accepted message as the queue sees it (without its raw bytes)."""

    id: str
    state: State
    received_at: datetime
    envelope: Envelope
    message_id: str | None
    subject: str | None
    size: int
    attempts: int
    reason: str | None
    not_before: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class Transition:
    """One recorded state change of a message."""

    at: datetime
    from_state: State | None
    to_state: State
    reason: str | None


class Store(abc.ABC):
    """The one interface both store backends implement.

    Methods are synchronous and thread-safe; the SMTP edge and the runners call them from
    worker threads, never on the event loop. ``enqueue`` returns only after the message
    is durably committed: its return is what lets the SMTP edge answer 250.
    """

    @abc.abstractmethod
    def enqueue(self, raw: bytes, envelope: Envelope, received_at: datetime) -> str:
        """Commit raw bytes + envelope durably and return the new queue id (state queued)."""

    @abc.abstractmethod
    def get(self, queue_id: str) -> StoredMessage | None: ...

    @abc.abstractmethod
    def raw(self, queue_id: str) -> bytes:
        """The raw bytes exactly as received. KeyError if unknown."""

    @abc.abstractmethod
    def list(
        self, states: Collection[State] | None = None, limit: int | None = None
    ) -> Sequence[StoredMessage]:
        """Messages in the given states (all if None), oldest first."""

    @abc.abstractmethod
    def counts(self) -> dict[State, int]:
        """Number of messages per state (for /metrics and `relay doctor`)."""

    @abc.abstractmethod
    def transitions(self, queue_id: str) -> Sequence[Transition]: ...

    @abc.abstractmethod
    def claim(self, limit: int, worker: str, lease_seconds: float) -> Sequence[StoredMessage]:
        """Move up to ``limit`` due messages (queued, or deferred past not_before) to
        processing under a lease, and return them; attempts is incremented."""

    @abc.abstractmethod
    def finish(self, queue_id: str, state: State, reason: str | None = None) -> None:
        """Record the outcome of processing (logged/unresolved/held/quarantined/rejected)."""

    @abc.abstractmethod
    def defer(self, queue_id: str, not_before: datetime, reason: str) -> None:
        """Processing failed transiently; retry not before ``not_before``."""

    @abc.abstractmethod
    def recover(self) -> int:
        """At start-up: requeue messages left in processing (or with an expired lease).
        Returns how many were requeued."""

    @abc.abstractmethod
    def retry(self, queue_id: str) -> None:
        """Admin: requeue now (any state but processing)."""

    @abc.abstractmethod
    def hold(self, queue_id: str, reason: str) -> None:
        """Admin or runner: hold for a person."""

    @abc.abstractmethod
    def release(self, queue_id: str) -> None:
        """Admin: a held message goes back to queued."""

    @abc.abstractmethod
    def delete(self, queue_id: str) -> None:
        """Admin: remove a message and its history for good."""

    @abc.abstractmethod
    def check_writable(self) -> None:
        """Raise StoreUnavailable if a write cannot be committed now (/readyz)."""

    def wait_for_work(self, timeout: float) -> None:
        """Block until work may be due (a message was queued, retried, released or
        recovered) or ``timeout`` seconds pass; return at once if work arrived since this
        thread's previous wait. Runners call it when ``claim`` returned nothing. Spurious
        returns are allowed: always claim again after it. The default just sleeps."""
        time.sleep(max(timeout, 0.0))

    @abc.abstractmethod
    def close(self) -> None: ...
