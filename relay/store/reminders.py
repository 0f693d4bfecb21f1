"""The store's reminders part: a rep's follow-ups, mixed into ``SqlStore``.

Owns the tables ``reminders`` (migration 0006, which documents its columns) and
``reminder_digests`` (0007: one row per rep and day, claimed before a digest is sent), and
implements ``ReminderRecords`` (parts.py). Every write that changes a reminder bumps the
``tasks`` change version in its transaction (changes.py). Reminders from email are
inserted by ``finish_many`` (ledger.py) in the transaction that records the email's
outcome, through ``insert_reminders`` here: a retried or duplicated email meets the
unique ``(source_key, owner_id)`` index and adds nothing (docs/design.md §9).

A deleted reminder keeps its row (``deleted_at``), so the Task sync can later tell
Salesforce; every read but ``get_reminder(..., deleted=True)`` leaves it out.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Index,
    String,
    Table,
    Text,
    delete,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row

from relay.store.changes import TASKS, bump
from relay.store.parts import ReminderRecords
from relay.store.tables import UTCDateTime, metadata
from relay.store.values import COMPLETE, OPEN, Reminder

reminders = Table(
    "reminders",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("owner_id", String(18), nullable=False),
    Column("subject", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("priority", String(8), nullable=False),
    Column("status", String(8), nullable=False),
    Column("who_id", String(18)),
    Column("what_id", String(18)),
    Column("records", JSON, nullable=False),
    Column("source", String(16), nullable=False),
    Column("source_key", String(64)),
    Column("queue_id", String(26)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime()),
    Column("deleted_at", UTCDateTime()),
    Column("sf_task_id", String(18)),
    Column("synced_hash", String(64)),
    Column("synced_at", UTCDateTime()),
    Column("synced_copy", JSON),
    Column("sync_eligible", Boolean, nullable=False, default=False),
    Index("ix_reminders_owner_due", "owner_id", "status", "due_date"),
    Index("ux_reminders_source", "source_key", "owner_id", unique=True),
    Index("ux_reminders_sf_task", "sf_task_id", unique=True),
)

reminder_digests = Table(
    "reminder_digests",
    metadata,
    Column("user_id", String(18), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("claimed_at", UTCDateTime(), nullable=False),
)

EDITABLE = frozenset({"subject", "details", "due", "priority"})
"""What `relay tasks edit` may change."""


class UnknownReminder(KeyError):
    """No reminder (or a deleted one) has this id."""


def reminder_row(item: Reminder) -> dict[str, Any]:
    return {
        "id": item.id,
        "owner_id": item.owner_id,
        "subject": item.subject,
        "details": item.details,
        "due_date": item.due,
        "priority": item.priority,
        "status": item.status,
        "who_id": item.who_id,
        "what_id": item.what_id,
        "records": list(item.records),
        "source": item.source,
        "source_key": item.source_key,
        "queue_id": item.queue_id,
        "created_at": item.created_at or datetime.now(UTC),
        "updated_at": item.updated_at or datetime.now(UTC),
        "completed_at": item.completed_at,
        "deleted_at": item.deleted_at,
        "sf_task_id": item.sf_task_id,
        "synced_hash": item.synced_hash,
        "synced_at": item.synced_at,
        "synced_copy": item.synced_copy,
        "sync_eligible": item.sync_eligible,
    }


def reminder_from_row(row: Row[Any]) -> Reminder:
    due = row.due_date
    if isinstance(due, datetime):  # a DATE read back through a driver that widens it
        due = due.date()
    return Reminder(
        id=row.id,
        owner_id=row.owner_id,
        subject=row.subject,
        due=due,
        details=row.details,
        priority=row.priority,
        status=row.status,
        who_id=row.who_id,
        what_id=row.what_id,
        records=tuple(row.records or ()),
        source=row.source,
        source_key=row.source_key,
        queue_id=row.queue_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        completed_at=row.completed_at,
        deleted_at=row.deleted_at,
        sf_task_id=row.sf_task_id,
        synced_hash=row.synced_hash,
        synced_at=row.synced_at,
        synced_copy=row.synced_copy,
        sync_eligible=bool(row.sync_eligible),
    )


def insert_reminders(connection: Connection, items: Sequence[Reminder], channel: str = "") -> int:
    """Insert, in the caller's transaction, the reminders whose ``(source_key,
    owner_id)`` is new; return how many were. ``ON CONFLICT DO NOTHING`` decides in the
    database, so two nodes finishing copies of one email at once add one reminder."""
    if not items:
        return 0
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(reminders).on_conflict_do_nothing(
        index_elements=[reminders.c.source_key, reminders.c.owner_id]
    )
    # RETURNING names the rows inserted (rowcount is -1 for a many-row insert on
    # PostgreSQL); a conflicting row returns nothing.
    rows = [reminder_row(item) for item in items]
    added = len(connection.execute(statement.returning(reminders.c.id), rows).all())
    if added:
        bump(connection, TASKS, channel)
    return added


class ReminderStore(ReminderRecords):
    """Mixin for SqlStore: needs ``engine``, ``_write_engine``, ``_postgres`` and
    ``_changes_channel``."""

    engine: Engine
    _write_engine: Engine
    _postgres: bool
    _changes_channel: str

    def add_reminders(self, items: Sequence[Reminder]) -> int:
        with self._write_engine.begin() as connection:
            return insert_reminders(connection, items, self._changes_channel)

    def get_reminder(self, reminder_id: str, *, deleted: bool = False) -> Reminder | None:
        query = select(reminders).where(reminders.c.id == reminder_id)
        if not deleted:
            query = query.where(reminders.c.deleted_at.is_(None))
        with self.engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        return None if row is None else reminder_from_row(row)

    def list_reminders(
        self,
        owner_ids: Collection[str] | None = None,
        *,
        status: str | None = None,
        due_from: date | None = None,
        due_to: date | None = None,
    ) -> list[Reminder]:
        query = select(reminders).where(reminders.c.deleted_at.is_(None))
        if owner_ids is not None:
            query = query.where(reminders.c.owner_id.in_(list(owner_ids)))
        if status is not None:
            query = query.where(reminders.c.status == status)
        if due_from is not None:
            query = query.where(reminders.c.due_date >= due_from)
        if due_to is not None:
            query = query.where(reminders.c.due_date <= due_to)
        query = query.order_by(reminders.c.due_date, reminders.c.id)
        with self.engine.connect() as connection:
            return [reminder_from_row(row) for row in connection.execute(query)]

    def edit_reminder(self, reminder_id: str, **changes: Any) -> Reminder:
        unknown = set(changes) - EDITABLE - {"status"}
        if unknown:
            raise ValueError(f"cannot edit {', '.join(sorted(unknown))}")
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            ("due_date" if key == "due" else key): value for key, value in changes.items()
        }
        if "status" in values:
            if values["status"] not in (OPEN, COMPLETE):
                raise ValueError(f"status must be {OPEN} or {COMPLETE}")
            values["completed_at"] = now if values["status"] == COMPLETE else None
        values["updated_at"] = now
        where = (reminders.c.id == reminder_id) & reminders.c.deleted_at.is_(None)
        with self._write_engine.begin() as connection:
            if not connection.execute(update(reminders).where(where).values(**values)).rowcount:
                raise UnknownReminder(reminder_id)
            bump(connection, TASKS, self._changes_channel)
            row = connection.execute(select(reminders).where(where)).one()
        return reminder_from_row(row)

    def claim_digest(self, user_id: str, day: date, now: datetime) -> bool:
        insert = postgresql.insert if self._postgres else sqlite.insert
        statement = (
            insert(reminder_digests)
            .values(user_id=user_id, day=day, claimed_at=now)
            .on_conflict_do_nothing(
                index_elements=[reminder_digests.c.user_id, reminder_digests.c.day]
            )
            .returning(reminder_digests.c.user_id)
        )
        with self._write_engine.begin() as connection:
            return connection.execute(statement).first() is not None

    def release_digest(self, user_id: str, day: date) -> None:
        where = (reminder_digests.c.user_id == user_id) & (reminder_digests.c.day == day)
        with self._write_engine.begin() as connection:
            connection.execute(delete(reminder_digests).where(where))

    def delete_reminder(self, reminder_id: str) -> None:
        now = datetime.now(UTC)
        where = (reminders.c.id == reminder_id) & reminders.c.deleted_at.is_(None)
        with self._write_engine.begin() as connection:
            changed = connection.execute(
                update(reminders).where(where).values(deleted_at=now, updated_at=now)
            ).rowcount
            if not changed:
                raise UnknownReminder(reminder_id)
            bump(connection, TASKS, self._changes_channel)
