"""The store's Task-sync part (relay/tasksync/, docs/design.md §9), mixed into
``SqlStore``.

Owns the tables ``task_sync_reps`` and ``task_sync_state`` (migration 0008, which
documents their columns) and the sync columns of ``reminders``. Like retention and
erasure it is not part of ``Store``: only the sync engine and `relay doctor` use it, on a
SqlStore.

Every cycle's writes go in ONE transaction (``apply_task_sync``): the reminders it
imports, updates, deletes or restores, the poll's cursor and the reps' states, so a crash
leaves either all of a cycle or none of it (the Tasks it wrote are found again by their
external id, relay/tasksync/engine.py). An update only lands on a reminder that nobody
changed since the cycle read it (``updated_at`` unchanged); a reminder edited meanwhile
is left for the next cycle, which merges that edit too. An import meets the unique index
on ``sf_task_id``: a Task is imported once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    String,
    Table,
    Text,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from relay.store.changes import TASKS, bump
from relay.store.reminders import reminder_from_row, reminder_row, reminders
from relay.store.reps import settings
from relay.store.tables import UTCDateTime, metadata
from relay.store.values import Reminder

DELETED = "deleted"
"""``reminders.synced_hash`` once a deletion reached both sides."""

STATE_ROW = "tasks"

task_sync_reps = Table(
    "task_sync_reps",
    metadata,
    Column("user_id", String(18), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("enabled_at", UTCDateTime()),
    Column("disabled_at", UTCDateTime()),
    Column("imported_at", UTCDateTime()),
    Column("polled_mark", UTCDateTime()),
)

task_sync_state = Table(
    "task_sync_state",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("cursor_modstamp", UTCDateTime()),
    Column("cursor_id", String(18)),
    Column("last_cycle_at", UTCDateTime()),
    Column("last_calls", Integer),
    Column("last_changes", Integer),
    Column("error_kind", String(32)),
    Column("error", Text),
    Column("paused_until", UTCDateTime()),
)


@dataclass(frozen=True)
class SyncRep:
    """One rep's sync state. ``enabled_at``: when this spell of ``task_sync = on`` began
    (Relay's clock); ``imported_at``: when the first import ran (None: not yet);
    ``polled_mark``: the poll's mark (Salesforce's clock) the last time this rep was in
    the poll, where the catch-up after a pause starts."""

    user_id: str
    enabled: bool
    enabled_at: datetime | None = None
    disabled_at: datetime | None = None
    imported_at: datetime | None = None
    polled_mark: datetime | None = None


@dataclass(frozen=True)
class SyncState:
    """The poll's cursor and what `relay doctor` shows."""

    cursor_modstamp: datetime | None = None
    cursor_id: str | None = None
    last_cycle_at: datetime | None = None
    last_calls: int | None = None
    last_changes: int | None = None
    error_kind: str | None = None
    error: str | None = None
    paused_until: datetime | None = None


@dataclass
class ReminderWrite:
    """One reminder's new values, applied only if its ``updated_at`` is still
    ``expected_updated_at``."""

    reminder_id: str
    expected_updated_at: datetime | None
    values: dict[str, Any]


@dataclass(frozen=True)
class CycleStamp:
    """A quiet cycle's time and API calls: all it records (``state`` stays as it is)."""

    at: datetime
    calls: int


@dataclass
class CycleWrites:
    """Everything one cycle writes, in one transaction."""

    imports: list[Reminder] = field(default_factory=list)
    updates: list[ReminderWrite] = field(default_factory=list)
    reps: list[SyncRep] = field(default_factory=list)
    state: SyncState | None = None
    stamp: CycleStamp | None = None

    @property
    def empty(self) -> bool:
        return not (self.imports or self.updates or self.reps or self.state or self.stamp)


class TaskSyncStore:
    """Mixin for SqlStore: needs ``engine``, ``_write_engine``, ``_postgres`` and
    ``_changes_channel``."""

    engine: Engine
    _write_engine: Engine
    _postgres: bool
    _changes_channel: str

    def task_sync_reps(self) -> dict[str, SyncRep]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(task_sync_reps)).all()
        return {row.user_id: SyncRep(**row._mapping) for row in rows}

    def task_sync_set_at(self) -> dict[str, datetime]:
        """When each scope's ``task_sync`` override was stored (scope ``org`` or a User
        id): the moment a rep's sync was turned on."""
        query = select(settings.c.scope, settings.c.updated_at).where(settings.c.key == "task_sync")
        with self.engine.connect() as connection:
            return {str(scope): at for scope, at in connection.execute(query)}

    def task_sync_rep(self, user_id: str) -> SyncRep | None:
        """One rep's sync state (the console's Tasks page)."""
        query = select(task_sync_reps).where(task_sync_reps.c.user_id == user_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        return None if row is None else SyncRep(**row._mapping)

    def task_sync_state(self) -> SyncState:
        query = select(task_sync_state).where(task_sync_state.c.name == STATE_ROW)
        with self.engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        if row is None:
            return SyncState()
        values = dict(row._mapping)
        values.pop("name")
        return SyncState(**values)

    def reminders_for_tasks(self, task_ids: Collection[str]) -> dict[str, Reminder]:
        """The reminders (deleted ones too) paired with these Task ids."""
        found: dict[str, Reminder] = {}
        ids = list(dict.fromkeys(task_ids))
        with self.engine.connect() as connection:
            for start in range(0, len(ids), 500):
                query = select(reminders).where(
                    reminders.c.sf_task_id.in_(ids[start : start + 500])
                )
                for row in connection.execute(query):
                    found[row.sf_task_id] = reminder_from_row(row)
        return found

    def reminders_by_ids(self, reminder_ids: Collection[str]) -> dict[str, Reminder]:
        """Reminders (deleted ones too) by id."""
        found: dict[str, Reminder] = {}
        ids = list(dict.fromkeys(reminder_ids))
        with self.engine.connect() as connection:
            for start in range(0, len(ids), 500):
                query = select(reminders).where(reminders.c.id.in_(ids[start : start + 500]))
                for row in connection.execute(query):
                    found[row.id] = reminder_from_row(row)
        return found

    def unsynced_reminders(self, owner_ids: Collection[str]) -> list[Reminder]:
        """The reminders of these reps changed in Relay since the sync last saw them
        (never seen, or ``updated_at`` past ``synced_at``); a deleted one only if it has a
        Task to delete."""
        owners = list(owner_ids)
        if not owners:
            return []
        changed = or_(
            reminders.c.synced_at.is_(None), reminders.c.updated_at > reminders.c.synced_at
        )
        live_or_paired = or_(
            reminders.c.deleted_at.is_(None),
            and_(
                reminders.c.sf_task_id.is_not(None),
                or_(reminders.c.synced_hash.is_(None), reminders.c.synced_hash != DELETED),
            ),
        )
        found: list[Reminder] = []
        with self.engine.connect() as connection:
            for start in range(0, len(owners), 500):
                query = (
                    select(reminders)
                    .where(reminders.c.owner_id.in_(owners[start : start + 500]))
                    .where(changed)
                    .where(live_or_paired)
                    .order_by(reminders.c.id)
                )
                found.extend(reminder_from_row(row) for row in connection.execute(query))
        return found

    def apply_task_sync(self, writes: CycleWrites) -> tuple[int, int]:
        """Apply one cycle's writes in one transaction; (imported, updated) counts."""
        if writes.empty:
            return 0, 0
        insert = postgresql.insert if self._postgres else sqlite.insert
        imported = updated = 0
        with self._write_engine.begin() as connection:
            if writes.imports:
                statement = insert(reminders).on_conflict_do_nothing(
                    index_elements=[reminders.c.sf_task_id]
                )
                rows = [reminder_row(item) for item in writes.imports]
                imported = len(connection.execute(statement.returning(reminders.c.id), rows).all())
            for write in writes.updates:
                where = reminders.c.id == write.reminder_id
                if write.expected_updated_at is not None:
                    where = and_(where, reminders.c.updated_at == write.expected_updated_at)
                change = update(reminders).where(where).values(**write.values)
                updated += connection.execute(change).rowcount
            for rep in writes.reps:
                values = dict(rep.__dict__)
                upsert = insert(task_sync_reps).values(**values)
                connection.execute(
                    upsert.on_conflict_do_update(
                        index_elements=[task_sync_reps.c.user_id],
                        set_={k: v for k, v in values.items() if k != "user_id"},
                    )
                )
            if writes.state is not None:
                values = dict(writes.state.__dict__)
                upsert = insert(task_sync_state).values(name=STATE_ROW, **values)
                connection.execute(
                    upsert.on_conflict_do_update(
                        index_elements=[task_sync_state.c.name], set_=values
                    )
                )
            elif writes.stamp is not None:
                values = {"last_cycle_at": writes.stamp.at, "last_calls": writes.stamp.calls,
                          "last_changes": 0}  # fmt: skip
                upsert = insert(task_sync_state).values(name=STATE_ROW, **values)
                connection.execute(
                    upsert.on_conflict_do_update(
                        index_elements=[task_sync_state.c.name], set_=values
                    )
                )
            if imported or updated:
                bump(connection, TASKS, self._changes_channel)
        return imported, updated

    def record_task_sync_state(self, state: SyncState) -> None:
        self.apply_task_sync(CycleWrites(state=state))
