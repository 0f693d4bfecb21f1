"""What the web console reads (and its audit list), on indexes of migration 0009, never a
scan of the queue: every list is a keyset page (``id`` below a cursor, newest first).

- ``recent_messages``: a rep's emails, by the envelope senders that are theirs
  (``messages (mail_from, id)``);
- ``messages_in_state``: the admin's queue by state (``messages (state, id)``);
- the records each email was logged to come from the erasure part's
  ``deliveries_for_queue_ids`` (on ``deliveries (queue_id)``);
- ``unresolved_for_owner``: a rep's unresolved emails (``unresolved (owner_id, state,
  created_at)``);
- ``record_audit`` / ``audit_entries``: who changed what on a console page (the table
  ``console_audit``; the same change is also a ``console_change`` log event).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Engine, String, Table, Text, select
from ulid import ULID

from relay.store.errors import unavailable_on_failure
from relay.store.ledger import unresolved, unresolved_from_row
from relay.store.model import State, StoredMessage, UnresolvedItem
from relay.store.tables import UTCDateTime, message_from_row, messages, metadata

console_audit = Table(
    "console_audit",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("user_id", String(18), nullable=False),
    Column("username", Text, nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", Text),
    Column("detail", JSON, nullable=False),
)


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: datetime
    user_id: str
    username: str
    action: str
    target: str | None
    detail: Mapping[str, Any]


class ConsoleReadsStore:
    """Mixin for SqlStore: needs ``engine`` and ``_write_engine``."""

    engine: Engine
    _write_engine: Engine

    @unavailable_on_failure
    def recent_messages(
        self, senders: Collection[str], limit: int, before: str | None = None
    ) -> Sequence[StoredMessage]:
        query = select(messages).where(messages.c.mail_from.in_(sorted(set(senders))))
        if before:
            query = query.where(messages.c.id < before)
        query = query.order_by(messages.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [message_from_row(row) for row in connection.execute(query)]

    @unavailable_on_failure
    def messages_in_state(
        self, state: State, limit: int, before: str | None = None
    ) -> Sequence[StoredMessage]:
        query = select(messages).where(messages.c.state == State(state).value)
        if before:
            query = query.where(messages.c.id < before)
        query = query.order_by(messages.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [message_from_row(row) for row in connection.execute(query)]

    @unavailable_on_failure
    def unresolved_for_owner(self, owner_id: str, limit: int) -> list[UnresolvedItem]:
        query = (
            select(unresolved)
            .where((unresolved.c.owner_id == owner_id) & (unresolved.c.state == "open"))
            .order_by(unresolved.c.created_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [unresolved_from_row(row) for row in connection.execute(query)]

    @unavailable_on_failure
    def record_audit(
        self,
        user_id: str,
        username: str,
        action: str,
        target: str | None,
        detail: Mapping[str, Any],
    ) -> None:
        with self._write_engine.begin() as connection:
            connection.execute(
                console_audit.insert().values(
                    id=str(ULID()), at=datetime.now(UTC), user_id=user_id, username=username,
                    action=action, target=target, detail=dict(detail),
                )
            )  # fmt: skip

    @unavailable_on_failure
    def audit_entries(self, limit: int, before: str | None = None) -> list[AuditEntry]:
        query = select(console_audit)
        if before:
            query = query.where(console_audit.c.id < before)
        query = query.order_by(console_audit.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [
                AuditEntry(row.id, row.at, row.user_id, row.username, row.action, row.target,
                           row.detail or {})
                for row in connection.execute(query)
            ]  # fmt: skip
