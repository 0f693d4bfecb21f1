"""The store's queue reads: one message, its raw bytes, its history, a listing and the
counts per state, mixed into ``SqlStore``.

Reads only (``messages``, ``message_bodies``, ``transitions``, tables.py), on the read
engine (a plain ``BEGIN`` on SQLite, not the writers' ``BEGIN IMMEDIATE``, engine.py).
``raw`` first takes the body a claim prefetched into the body cache (claims.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from sqlalchemy import Engine, func, select

from relay.errors import RelayError
from relay.store.body_cache import BodyCache
from relay.store.errors import unavailable_on_failure
from relay.store.model import State, StoredMessage, Transition
from relay.store.tables import message_bodies, message_from_row, messages, transitions


class QueueReads:
    """Mixin for SqlStore: needs ``engine``, ``_bodies`` and ``_missing_body``
    (retention.py: why a message has no raw bytes)."""

    engine: Engine
    _bodies: BodyCache
    _missing_body: Callable[[str], RelayError]

    @unavailable_on_failure
    def get(self, queue_id: str) -> StoredMessage | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(messages).where(messages.c.id == queue_id)).first()
        return None if row is None else message_from_row(row)

    @unavailable_on_failure
    def raw(self, queue_id: str) -> bytes:
        cached = self._bodies.take(queue_id)
        if cached is not None:
            return cached
        query = select(message_bodies.c.raw).where(message_bodies.c.queue_id == queue_id)
        with self.engine.connect() as connection:
            raw = connection.execute(query).scalar_one_or_none()
        if raw is None:
            raise self._missing_body(queue_id)  # purged under retention, or unknown
        return bytes(raw)

    @unavailable_on_failure
    def list(
        self, states: Collection[State] | None = None, limit: int | None = None
    ) -> Sequence[StoredMessage]:
        query = select(messages).order_by(messages.c.received_at, messages.c.id)
        if states is not None:
            query = query.where(messages.c.state.in_([State(s).value for s in states]))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            return [message_from_row(row) for row in connection.execute(query)]

    @unavailable_on_failure
    def counts(self) -> dict[State, int]:
        query = select(messages.c.state, func.count()).group_by(messages.c.state)
        with self.engine.connect() as connection:
            found = {State(state): int(count) for state, count in connection.execute(query)}
        return {state: found.get(state, 0) for state in State}

    def transitions(self, queue_id: str) -> Sequence[Transition]:
        query = (
            select(transitions).where(transitions.c.queue_id == queue_id).order_by(transitions.c.id)
        )
        with self.engine.connect() as connection:
            return [
                Transition(
                    at=row.at,
                    from_state=None if row.from_state is None else State(row.from_state),
                    to_state=State(row.to_state),
                    reason=row.reason,
                )
                for row in connection.execute(query)
            ]
