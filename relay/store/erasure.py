"""The store's erasure part (`relay forget EMAIL`), mixed into ``SqlStore``; not part of
the ``Store`` interface (only ``relay forget`` calls it, on a SqlStore).

Owns no table: it reads and deletes rows of the queue's tables (tables.py), of the
ledger's ``unresolved`` (ledger.py), of ``senders`` (reps.py), and, for a rep, of their
``reminders`` (reminders.py, the sync's columns and the Tasks it imported with them),
their ``task_sync_reps`` row (task_sync.py) and the ``console_audit`` rows about them
(console_reads.py).

Deciding *which* messages name an address needs the parser, a higher stage, so that is
``relay.erasure``; this module only reads what it needs and removes what it is told:

- ``scan_messages`` pages through every message with its raw bytes (None once purged);
- ``reasons_containing`` and ``unresolved_containing`` find rows that quote some text;
- ``scan_audit`` pages through the console's audit list (the caller decides which rows
  are about the address);
- ``erase`` deletes messages (their raw bytes and history go with them), unresolved items,
  sender aliases and a rep's reminders, sync state and audit rows in ONE transaction
  (bumping the ``queue``, ``reps`` and ``tasks`` change versions, changes.py), and leaves
  the delivery ledger alone: its rows
  hold relay keys, Message-IDs (or a hash) and Salesforce ids, no address, and they are
  what keeps a late copy of an erased email from being logged twice
  (docs/delivery-guarantees.md).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, Table, delete, func, select, update

from relay.store.changes import QUEUE, REPS, TASKS, bump
from relay.store.console_reads import AuditEntry, console_audit
from relay.store.ledger import deliveries, delivery_from_row, unresolved, unresolved_from_row
from relay.store.model import Delivery, State, StoredMessage, UnresolvedItem
from relay.store.reminders import reminder_from_row, reminders
from relay.store.reps import senders
from relay.store.tables import message_bodies, message_from_row, messages, transitions
from relay.store.task_sync import task_sync_reps
from relay.store.values import Reminder

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
    reminders: int = 0
    sync_reps: int = 0
    audit_rows: int = 0
    reminders_redacted: int = 0


@dataclass(frozen=True)
class RepData:
    """What to delete of a rep's own data: reminder ids, ``task_sync_reps`` user ids and
    ``console_audit`` row ids; and other reps' reminders to rewrite without the address
    (id -> (subject, details))."""

    reminders: Collection[str] = ()
    sync_reps: Collection[str] = ()
    audit_rows: Collection[str] = ()
    redactions: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)


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

    def reminders_containing(self, text: str) -> list[Reminder]:
        """Every reminder (deleted ones too) whose subject or details contain ``text``
        (case-insensitively): a reminder made from an email says who it was with."""
        needle = text.lower()
        query = select(reminders).where(
            func.lower(reminders.c.subject).contains(needle, autoescape=True)
            | func.lower(reminders.c.details).contains(needle, autoescape=True)
        )
        with self.engine.connect() as connection:
            return [reminder_from_row(row) for row in connection.execute(query)]

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

    def reminders_of(self, owner_ids: Collection[str]) -> list[Reminder]:
        """Every reminder these reps own, deleted ones too (a soft delete keeps the row)."""
        owners = sorted(owner_ids)
        found: list[Reminder] = []
        with self.engine.connect() as connection:
            for start in range(0, len(owners), ERASE_CHUNK):
                query = (
                    select(reminders)
                    .where(reminders.c.owner_id.in_(owners[start : start + ERASE_CHUNK]))
                    .order_by(reminders.c.id)
                )
                found.extend(reminder_from_row(row) for row in connection.execute(query))
        return found

    def scan_audit(self, page: int = 500) -> Iterator[AuditEntry]:
        """Every row of the console's audit list, oldest first, in short pages."""
        last = ""
        while True:
            query = (
                select(console_audit).where(console_audit.c.id > last)
                .order_by(console_audit.c.id).limit(page)
            )  # fmt: skip
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
            if not rows:
                return
            for row in rows:
                yield AuditEntry(row.id, row.at, row.user_id, row.username, row.action,
                                 row.target, row.detail or {})  # fmt: skip
            last = rows[-1].id

    def erase(
        self,
        queue_ids: Collection[str],
        item_ids: Collection[str],
        aliases: Collection[str],
        rep_data: RepData | None = None,
    ) -> Erased:
        """Delete these messages (raw bytes and history with them), unresolved items,
        sender aliases and a rep's own data, in one transaction. A message being processed
        is left alone and returned in ``busy``: its runner holds a lease on it (run the
        erasure again).

        A rep's reminders are deleted outright, not soft-deleted: a soft delete is what
        the Task sync pushes to Salesforce, and Relay does not delete CRM data. The sync
        skips a Task whose Relay key names a reminder that is gone (relay/tasksync)."""
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
            rep_data = rep_data or RepData()
            removed_reminders = _delete_in(connection, reminders, "id", rep_data.reminders)
            removed_sync = _delete_in(connection, task_sync_reps, "user_id", rep_data.sync_reps)
            removed_audit = _delete_in(connection, console_audit, "id", rep_data.audit_rows)
            # Another rep's reminder that names the address ("Email with: ...") stays the
            # rep's; only the address goes. updated_at moves, so the Task sync carries the
            # rewritten text to a synced Task too (relay/tasksync).
            now = datetime.now(UTC)
            redacted = 0
            for reminder_id, (subject, details) in sorted(rep_data.redactions.items()):
                redacted += connection.execute(
                    update(reminders)
                    .where(reminders.c.id == reminder_id)
                    .values(subject=subject, details=details, updated_at=now)
                ).rowcount
            # Other processes drop the erased aliases, messages and reminders within a
            # second.
            if removed_senders:
                bump(connection, REPS, self._changes_channel)
            if erased:
                bump(connection, QUEUE, self._changes_channel)
            if removed_reminders or redacted:
                bump(connection, TASKS, self._changes_channel)
        return Erased(
            erased, removed_items, removed_senders, tuple(busy),
            reminders=removed_reminders, sync_reps=removed_sync, audit_rows=removed_audit,
            reminders_redacted=redacted,
        )  # fmt: skip


def _delete_in(connection: Connection, table: Table, column: str, ids: Collection[str]) -> int:
    removed = 0
    ordered = sorted(ids)
    for start in range(0, len(ordered), ERASE_CHUNK):
        chunk = ordered[start : start + ERASE_CHUNK]
        removed += connection.execute(delete(table).where(table.c[column].in_(chunk))).rowcount
    return removed
