"""The store's erasure part (`relay forget EMAIL`), mixed into ``SqlStore``; not part of
the ``Store`` interface (only ``relay forget`` calls it, on a SqlStore).

Owns no table: it reads and deletes rows of the queue's tables (tables.py), of the
ledger's ``unresolved`` (ledger.py) and of ``senders`` (reps.py).

Deciding *which* messages name an address needs the parser, a higher stage, so that is
``relay.erasure``; this module only reads what it needs and removes what it is told:

- ``scan_messages`` pages through every message with its raw bytes (None once purged);
- ``reasons_containing`` and ``unresolved_containing`` find rows that quote some text;
- ``erase`` deletes messages (their raw bytes and history go with them), unresolved items
  and sender aliases in ONE transaction (bumping the ``queue`` and ``reps`` change
  versions, changes.py), and leaves the delivery ledger alone: its rows
  hold relay keys, Message-IDs (or a hash) and Salesforce ids, no address, and they are
  what keeps a late copy of an erased email from being logged twice
  (docs/delivery-guarantees.md).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select

from relay.store.changes import QUEUE, REPS, bump
from relay.store.ledger import deliveries, delivery_from_row, unresolved, unresolved_from_row
from relay.store.model import Delivery, State, StoredMessage, UnresolvedItem
from relay.store.reps import senders
from relay.store.tables import message_bodies, message_from_row, messages, transitions

SCAN_PAGE = 20
"""Messages read per query while scanning: raw bodies may be 35 MB each."""
ERASE_CHUNK = 500
"""Ids per statement: well under SQLite's bound-parameter limit."""


@dataclass(frozen=True)
class Erased:
    """What ``erase`` removed; ``busy`` were being processed and were left alone."""

    messages: int
    unresolved_items: int
    senders: int
    busy: tuple[str, ...]


class ErasureStore:
    """Mixin for SqlStore: needs ``engine``, ``_write_engine`` and ``_changes_channel``."""

    engine: Engine
    _write_engine: Engine
    _changes_channel: str

    def scan_messages(self, page: int = SCAN_PAGE) -> Iterator[tuple[StoredMessage, bytes | None]]:
        """Every message, oldest id first, with its raw bytes (None: purged). Reads in
        short pages by id, so a long scan holds no transaction open."""
        last = ""
        while True:
            query = (
                select(messages, message_bodies.c.raw)
                .select_from(
                    messages.outerjoin(message_bodies, message_bodies.c.queue_id == messages.c.id)
                )
                .where(messages.c.id > last)
                .order_by(messages.c.id)
                .limit(page)
            )
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
            if not rows:
                return
            for row in rows:
                yield message_from_row(row), None if row.raw is None else bytes(row.raw)
            last = rows[-1].id

    def reasons_containing(self, text: str) -> list[tuple[str, str]]:
        """(queue id, reason) of every recorded reason, now or in a message's history,
        that contains ``text`` (case-insensitively): the caller decides what matches."""
        query = (
            select(transitions.c.queue_id, transitions.c.reason)
            .where(func.lower(transitions.c.reason).contains(text.lower(), autoescape=True))
            .distinct()
        )
        with self.engine.connect() as connection:
            return [(str(row.queue_id), str(row.reason)) for row in connection.execute(query)]

    def unresolved_containing(self, text: str) -> list[UnresolvedItem]:
        """Unresolved items whose sender or subject contains ``text`` (case-insensitively)."""
        needle = text.lower()
        query = select(unresolved).where(
            func.lower(unresolved.c.mail_from).contains(needle, autoescape=True)
            | func.lower(unresolved.c.subject).contains(needle, autoescape=True)
        )
        with self.engine.connect() as connection:
            return [unresolved_from_row(row) for row in connection.execute(query)]

    def unresolved_of(self, queue_ids: Collection[str]) -> list[UnresolvedItem]:
        """The unresolved items these messages made."""
        ids = sorted(queue_ids)
        found: list[UnresolvedItem] = []
        with self.engine.connect() as connection:
            for start in range(0, len(ids), ERASE_CHUNK):
                query = select(unresolved).where(
                    unresolved.c.queue_id.in_(ids[start : start + ERASE_CHUNK])
                )
                found.extend(unresolved_from_row(row) for row in connection.execute(query))
        return found

    def messages_with_message_ids(self, message_ids: Collection[str]) -> dict[str, str]:
        """queue id -> state of every message whose Message-ID is one of these: the other
        copies of one email (a BCC and a journal copy, a retry)."""
        ids = sorted(message_ids)
        found: dict[str, str] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(ids), ERASE_CHUNK):
                query = select(messages.c.id, messages.c.state).where(
                    messages.c.message_id.in_(ids[start : start + ERASE_CHUNK])
                )
                found.update({row.id: row.state for row in connection.execute(query)})
        return found

    def deliveries_for_queue_ids(self, queue_ids: Collection[str]) -> list[Delivery]:
        """The ledger rows written for these messages (the Tasks Relay logged for them)."""
        ids = sorted(queue_ids)
        rows: list[Delivery] = []
        with self.engine.connect() as connection:
            for start in range(0, len(ids), ERASE_CHUNK):
                query = (
                    select(deliveries)
                    .where(deliveries.c.queue_id.in_(ids[start : start + ERASE_CHUNK]))
                    .order_by(deliveries.c.created_at, deliveries.c.relay_key)
                )
                rows.extend(delivery_from_row(row) for row in connection.execute(query))
        return rows

    def erase(
        self, queue_ids: Collection[str], item_ids: Collection[str], aliases: Collection[str]
    ) -> Erased:
        """Delete these messages (raw bytes and history with them), unresolved items and
        sender aliases, in one transaction. A message being processed is left alone and
        returned in ``busy``: its runner holds a lease on it (run the erasure again)."""
        ids = sorted(queue_ids)
        busy: list[str] = []
        erased = 0
        with self._write_engine.begin() as connection:
            for start in range(0, len(ids), ERASE_CHUNK):
                chunk = ids[start : start + ERASE_CHUNK]
                locked = connection.execute(
                    select(messages.c.id, messages.c.state)
                    .where(messages.c.id.in_(chunk))
                    .order_by(messages.c.id)
                    .with_for_update()
                ).all()
                busy.extend(row.id for row in locked if row.state == State.PROCESSING)
                gone = [row.id for row in locked if row.state != State.PROCESSING]
                if not gone:
                    continue
                # Explicit, not only ON DELETE CASCADE: erasure must not depend on a pragma.
                connection.execute(
                    delete(message_bodies).where(message_bodies.c.queue_id.in_(gone))
                )
                connection.execute(delete(transitions).where(transitions.c.queue_id.in_(gone)))
                erased += connection.execute(
                    delete(messages).where(messages.c.id.in_(gone))
                ).rowcount
            items = sorted(item_ids)
            removed_items = 0
            for start in range(0, len(items), ERASE_CHUNK):
                chunk = items[start : start + ERASE_CHUNK]
                removed_items += connection.execute(
                    delete(unresolved).where(unresolved.c.id.in_(chunk))
                ).rowcount
            removed_senders = 0
            if aliases:
                removed_senders = connection.execute(
                    delete(senders).where(senders.c.alias.in_(sorted(aliases)))
                ).rowcount
            # Other processes drop the erased aliases and messages within a second.
            if removed_senders:
                bump(connection, REPS, self._changes_channel)
            if erased:
                bump(connection, QUEUE, self._changes_channel)
        return Erased(erased, removed_items, removed_senders, tuple(busy))
