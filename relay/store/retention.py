"""The store's retention part: purge the raw bytes of finished messages, keep everything
exactly-once needs. Mixed into ``SqlStore``; not part of the ``Store`` interface (only the
retention runner and ``relay queue purge`` call it, on a SqlStore).

Owns no table: it deletes ``message_bodies`` rows and records each purge as a
``transitions`` row (history.py), both tables of the queue (tables.py).

A message's raw bytes (``message_bodies``) are what Relay holds of a customer's email.
Once the message reached an outcome nobody still needs the bytes for, they are purged:
by the retention runner ``retention_days`` after that outcome (relay/runners/retention.py),
or at once by ``relay queue purge --older-than DAYS``. What stays:

- the message row (envelope, Message-ID, subject, outcome and reason) and its history,
  so ``relay queue list|show`` still account for every message Relay accepted;
- the delivery ledger (``deliveries``): the relay keys of the Tasks written, so a late
  copy of the same email is still recognised and never logged twice
  (docs/delivery-guarantees.md).

No column records a purge: a message row without a body row *is* a purged message (the
two are only ever written together, in the enqueue transaction). The purge itself is
one transition row from the state to the same state, whose reason starts with
``PURGE_REASON_PREFIX`` and whose time is the purge's; that is what
``relay queue show`` reports.

Which states are purged (``RETENTION_STATES``): ``logged``, ``rejected`` and
``quarantined``, the outcomes no person and no retry is waiting on. ``queued``,
``processing``, ``deferred`` and ``held`` are still on their way, and ``unresolved``
waits for a person (who may retry it once the record exists), so retention never
touches them; an admin may still purge ``unresolved`` on purpose (``--state``).

A purged message cannot be queued again (``retry``): there is nothing left to process.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, exists, func, select

from relay.errors import RelayError
from relay.store.errors import UnknownMessage
from relay.store.history import log_change, transition_row
from relay.store.model import FINAL_STATES, State
from relay.store.tables import message_bodies, messages, transitions

RETENTION_STATES = frozenset({State.LOGGED, State.REJECTED, State.QUARANTINED})
"""What the retention runner purges (and `relay queue purge` by default)."""

PURGEABLE_STATES = FINAL_STATES
"""What `relay queue purge --state` accepts: outcomes only, never work in progress."""

PURGE_REASON_PREFIX = "raw bytes purged"

PURGE_BATCH = 500
"""Messages per purge transaction: short transactions, so the SMTP edge's group commit
and the runners never wait long for the write lock (SQLite has one)."""


def purge_reason(how: str) -> str:
    """The transition reason recorded for a purge, e.g. ``under retention (30 days)``."""
    return f"{PURGE_REASON_PREFIX} {how}"


@dataclass(frozen=True)
class PurgeNote:
    """When and why a message's raw bytes were purged."""

    at: datetime
    reason: str

    def describe(self) -> str:
        return f"{self.reason} on {self.at.strftime('%Y-%m-%d %H:%M:%S')} UTC"


@dataclass(frozen=True)
class PurgeCount:
    """How many messages (and raw bytes) a purge removed, or would remove."""

    messages: int = 0
    bytes: int = 0
    by_state: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: PurgeCount) -> PurgeCount:
        states = dict(self.by_state)
        for state, count in other.by_state.items():
            states[state] = states.get(state, 0) + count
        return PurgeCount(self.messages + other.messages, self.bytes + other.bytes, states)

    def to_dict(self) -> dict[str, object]:
        return {"messages": self.messages, "bytes": self.bytes, "by_state": self.by_state}


class RawPurged(RelayError):
    """The message exists, but its raw bytes were purged (retention or an admin)."""

    def __init__(self, queue_id: str, note: PurgeNote | None, operation: str | None = None) -> None:
        when = note.describe() if note is not None else "raw bytes purged"
        what = f"cannot {operation} message {queue_id}" if operation else f"message {queue_id}"
        super().__init__(
            f"{what}: {when}; its record, history and delivery ledger are kept, but there "
            "is no email left to show or process"
        )
        self.queue_id = queue_id
        self.note = note


class RetentionStore:
    """Mixin for SqlStore: needs ``engine`` and ``_write_engine``."""

    engine: Engine
    _write_engine: Engine

    def purge_raw(
        self,
        *,
        before: datetime,
        now: datetime,
        how: str,
        states: Collection[State] = RETENTION_STATES,
        limit: int = PURGE_BATCH,
    ) -> PurgeCount:
        """Purge the raw bytes of up to ``limit`` messages in ``states`` whose outcome is
        older than ``before`` (their ``updated_at``: when they reached it), in one
        transaction; returns what was purged (0 messages: nothing is left to do).

        The rows are locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write
        lock serialises writers), so an admin's concurrent ``retry`` either comes first
        (the message is queued and no longer matches) or sees the purge and is refused.
        """
        wanted = _state_values(states)
        due = (
            messages.c.id == message_bodies.c.queue_id,
            messages.c.state.in_(wanted),
            messages.c.updated_at < before,
        )
        # Driven from the bodies (EXISTS, in key order): the stored bodies are the recent
        # ones, while purged rows pile up in ``messages`` for ever. A join from
        # ``messages`` would walk every purged row again in each batch.
        candidates = (
            select(message_bodies.c.queue_id)
            .where(exists().where(*due))
            .order_by(message_bodies.c.queue_id)
            .limit(limit)
        )
        reason = purge_reason(how)
        with self._write_engine.begin() as connection:
            ids = list(connection.scalars(candidates))
            if not ids:
                return PurgeCount()
            locked = (
                select(messages.c.id, messages.c.state, messages.c.size)
                .where(messages.c.id.in_(ids), exists().where(*due))
                .order_by(messages.c.id)
                .with_for_update(skip_locked=True)
            )
            rows = connection.execute(locked).all()
            if not rows:
                return PurgeCount()
            ids = [row.id for row in rows]
            connection.execute(delete(message_bodies).where(message_bodies.c.queue_id.in_(ids)))
            connection.execute(
                transitions.insert(),
                [
                    transition_row(row.id, now, State(row.state), State(row.state), reason)
                    for row in rows
                ],
            )
        for row in rows:
            log_change(row.id, State(row.state), State(row.state), reason)
        by_state: dict[str, int] = {}
        for row in rows:
            by_state[row.state] = by_state.get(row.state, 0) + 1
        return PurgeCount(len(rows), sum(int(row.size) for row in rows), by_state)

    def purgeable(
        self, *, before: datetime, states: Collection[State] = RETENTION_STATES
    ) -> PurgeCount:
        """What ``purge_raw`` would purge, counted without changing anything (--dry-run)."""
        query = (
            select(messages.c.state, func.count(), func.coalesce(func.sum(messages.c.size), 0))
            .select_from(messages.join(message_bodies, message_bodies.c.queue_id == messages.c.id))
            .where(messages.c.state.in_(_state_values(states)), messages.c.updated_at < before)
            .group_by(messages.c.state)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        by_state = {str(state): int(count) for state, count, _ in rows}
        return PurgeCount(sum(by_state.values()), sum(int(size) for _, _, size in rows), by_state)

    def purge_note(self, queue_id: str) -> PurgeNote | None:
        """When and why this message's raw bytes were purged; None if they are stored
        (or the message is unknown)."""
        with self.engine.connect() as connection:
            return _purge_note(connection, queue_id)

    def _missing_body(self, queue_id: str) -> RelayError:
        """The error for a body that is not there: purged, or no such message."""
        with self.engine.connect() as connection:
            known = connection.execute(
                select(messages.c.id).where(messages.c.id == queue_id)
            ).first()
            if known is None:
                return UnknownMessage(queue_id)
            return RawPurged(queue_id, _purge_note(connection, queue_id))

    @staticmethod
    def _require_body(connection: Connection, queue_id: str, operation: str) -> None:
        """Refuse to queue a purged message again: no runner could process it."""
        query = select(message_bodies.c.queue_id).where(message_bodies.c.queue_id == queue_id)
        if connection.execute(query).first() is None:
            raise RawPurged(queue_id, _purge_note(connection, queue_id), operation)


def _purge_note(connection: Connection, queue_id: str) -> PurgeNote | None:
    has_body = connection.execute(
        select(message_bodies.c.queue_id).where(message_bodies.c.queue_id == queue_id)
    ).first()
    if has_body is not None:
        return None
    query = (
        select(transitions.c.at, transitions.c.reason)
        .where(
            transitions.c.queue_id == queue_id,
            transitions.c.reason.startswith(PURGE_REASON_PREFIX, autoescape=True),
        )
        .order_by(transitions.c.id.desc())
        .limit(1)
    )
    row = connection.execute(query).first()
    return None if row is None else PurgeNote(at=row.at, reason=str(row.reason))


def _state_values(states: Collection[State]) -> list[str]:
    return sorted(State(state).value for state in states)
