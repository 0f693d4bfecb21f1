"""The store's reps part: sender aliases, the rep snapshot, sync settings and notices,
mixed into ``SqlStore``.

Owns the tables ``senders``, ``reps``, ``reps_sync``, ``settings`` and ``notices``
(migration 0003) and implements ``RepRecords`` (parts.py). Every write to aliases, reps
or settings bumps the ``reps`` change version in its transaction (changes.py), so every
process re-reads its snapshot within a second; a write that changed nothing (removing an
unknown alias) bumps nothing.

Every method is one short transaction. The SMTP edge never calls these on the event loop:
it reads an in-memory ``relay.reps.directory.SenderDirectory`` refreshed from ``list_reps`` and
``list_senders``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from relay.store.changes import REPS, bump
from relay.store.model import Rep, SenderAlias
from relay.store.parts import RepRecords
from relay.store.tables import UTCDateTime, metadata

senders = Table(
    "senders",
    metadata,
    Column("alias", String(320), primary_key=True),
    Column("user_id", String(18), nullable=False),
    Column("username", Text, nullable=False),
    Column("added_at", UTCDateTime(), nullable=False),
    Index("ix_senders_user_id", "user_id"),
)

reps = Table(
    "reps",
    metadata,
    Column("user_id", String(18), primary_key=True),
    Column("username", Text, nullable=False),
    Column("email", String(320), nullable=False),
    Column("name", Text),
    Column("is_active", Boolean, nullable=False),
    Column("synced_at", UTCDateTime(), nullable=False),
    Column("time_zone", String(40)),  # User.TimeZoneSidKey (revision 0006)
    Index("ix_reps_email", "email"),
)

settings = Table(
    "settings",
    metadata,
    Column("scope", String(18), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

notices = Table(
    "notices",
    metadata,
    Column("user_id", String(18), primary_key=True),
    Column("problem", String(64), primary_key=True),
    Column("last_sent_at", UTCDateTime(), nullable=False),
)

reps_sync = Table(
    "reps_sync",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("synced_at", UTCDateTime(), nullable=False),
    Column("count", Integer, nullable=False),
)

_SYNC_ROW = 1


def normalize_address(address: str) -> str:
    """Addresses compare case-insensitively, as Salesforce compares User.Email (a guess
    for local parts, which RFC 5321 §2.4 leaves case-sensitive; no real server cares)."""
    return address.strip().lower()


class RepStore(RepRecords):
    """Mixin for SqlStore: needs ``engine``, ``_write_engine`` and ``_changes_channel``
    (the PostgreSQL channel change versions are announced on; empty on SQLite)."""

    engine: Engine
    _write_engine: Engine
    _changes_channel: str

    # --- aliases -------------------------------------------------------------------------

    def add_sender(self, alias: str, user_id: str, username: str) -> SenderAlias:
        added = SenderAlias(normalize_address(alias), user_id, username, datetime.now(UTC))
        with self._write_engine.begin() as connection:
            connection.execute(delete(senders).where(senders.c.alias == added.alias))
            connection.execute(
                senders.insert().values(added.to_dict() | {"added_at": added.added_at})
            )
            bump(connection, REPS, self._changes_channel)
        return added

    def remove_sender(self, alias: str) -> bool:
        with self._write_engine.begin() as connection:
            result = connection.execute(
                delete(senders).where(senders.c.alias == normalize_address(alias))
            )
            if result.rowcount:
                bump(connection, REPS, self._changes_channel)
        return bool(result.rowcount)

    def list_senders(self, user_id: str | None = None) -> list[SenderAlias]:
        query = select(senders).order_by(senders.c.alias)
        if user_id is not None:
            query = query.where(senders.c.user_id == user_id)
        with self.engine.connect() as connection:
            return [
                SenderAlias(row.alias, row.user_id, row.username, row.added_at)
                for row in connection.execute(query)
            ]

    # --- the rep snapshot ----------------------------------------------------------------

    def replace_reps(self, new_reps: Sequence[Rep], synced_at: datetime) -> None:
        rows = [
            {
                "user_id": rep.user_id,
                "username": rep.username,
                "email": normalize_address(rep.email),
                "name": rep.name,
                "is_active": rep.is_active,
                "time_zone": rep.time_zone,
                "synced_at": synced_at,
            }
            for rep in new_reps
        ]
        with self._write_engine.begin() as connection:
            connection.execute(delete(reps))
            if rows:
                connection.execute(reps.insert(), rows)
            connection.execute(delete(reps_sync))
            connection.execute(
                reps_sync.insert().values(id=_SYNC_ROW, synced_at=synced_at, count=len(rows))
            )
            # Every sync, even one that found the same reps: ``reps_synced_at`` moved, and
            # the snapshot's "never synced" (fail open, relay/smtp/senders.py) ends with it.
            bump(connection, REPS, self._changes_channel)

    def list_reps(self) -> list[Rep]:
        with self.engine.connect() as connection:
            return [
                Rep(
                    row.user_id,
                    row.username,
                    row.email,
                    row.name,
                    bool(row.is_active),
                    row.time_zone,
                )
                for row in connection.execute(select(reps).order_by(reps.c.username))
            ]

    def reps_synced_at(self) -> datetime | None:
        with self.engine.connect() as connection:
            synced: datetime | None = connection.execute(
                select(reps_sync.c.synced_at).where(reps_sync.c.id == _SYNC_ROW)
            ).scalar_one_or_none()
        return synced

    # --- settings overrides --------------------------------------------------------------

    def setting_overrides(self) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        with self.engine.connect() as connection:
            for row in connection.execute(select(settings).order_by(settings.c.key)):
                found.setdefault(row.scope, {})[row.key] = row.value
        return found

    def set_setting(self, scope: str, key: str, value: str) -> None:
        with self._write_engine.begin() as connection:
            where = (settings.c.scope == scope) & (settings.c.key == key)
            connection.execute(delete(settings).where(where))
            connection.execute(
                settings.insert().values(
                    scope=scope, key=key, value=value, updated_at=datetime.now(UTC)
                )
            )
            bump(connection, REPS, self._changes_channel)

    def clear_setting(self, scope: str, key: str) -> bool:
        with self._write_engine.begin() as connection:
            result = connection.execute(
                delete(settings).where((settings.c.scope == scope) & (settings.c.key == key))
            )
            if result.rowcount:
                bump(connection, REPS, self._changes_channel)
        return bool(result.rowcount)

    # --- notices -------------------------------------------------------------------------

    def claim_notice(
        self, user_id: str, problem: str, now: datetime, min_interval: timedelta
    ) -> bool:
        where = (notices.c.user_id == user_id) & (notices.c.problem == problem)
        try:
            with self._write_engine.begin() as connection:
                # FOR UPDATE: two nodes deciding at once serialise on the row (PostgreSQL);
                # SQLite's BEGIN IMMEDIATE already serialises writers.
                last = connection.execute(
                    select(notices.c.last_sent_at).where(where).with_for_update()
                ).scalar_one_or_none()
                if last is None:
                    connection.execute(
                        notices.insert().values(user_id=user_id, problem=problem, last_sent_at=now)
                    )
                    return True
                if _aware(last) > now - min_interval:
                    return False
                connection.execute(update(notices).where(where).values(last_sent_at=now))
                return True
        except IntegrityError:
            return False  # another node inserted the row first: it sends the notice


def _aware(moment: Any) -> datetime:
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
