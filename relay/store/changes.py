"""Change versions: how every process of every node learns within a second that the
reps or the queue were changed by someone else (docs/design.md §3, "Change versions").

Owns the table ``change_versions`` (migration 0005; the ``tasks`` row, 0006): one row
per topic with a counter.
Every store write that changes a topic bumps its counter IN THE SAME TRANSACTION
(``bump``), so a reader that sees the new version also sees the change, and a rolled-back
write bumps nothing. On PostgreSQL the bump also runs ``pg_notify`` on the store's
changes channel (delivered only at commit,
https://www.postgresql.org/docs/current/sql-notify.html), which wakes
``SqlStore.wait_for_change`` on every node; on SQLite the waiters read the version every
``SQLITE_POLL_SECONDS`` (one primary-key read of a three-row table).

Topics:

- ``reps``: what the shared rep snapshot is built from (relay/reps/snapshot.py): sender
  aliases (`relay senders add|remove`, ``relay forget``), the reps sync (the reps and,
  derived from them, the personal-address tokens) and settings overrides
  (`relay settings set|clear`).
- ``queue``: what a person does to messages: ``retry``, ``hold``, ``release``,
  ``delete`` and ``relay forget``.
- ``tasks``: reminders (relay/store/reminders.py, migration 0006): every one created from
  an email or with `relay tasks`, edited, completed, reopened or deleted (the later
  Task sync and the digest watch it). Bumped only when a reminder changed, so a batch
  without reminder addresses bumps nothing.

The runners' own writes (enqueue, claim, finish, defer, recover, lease renewals) do not
bump: every one of them would then update the same row, which on PostgreSQL serialises
all claimers of all nodes on that row's lock and undoes ``SKIP LOCKED``; they have their
own wake-up already (``wait_for_work``, relay/store/wakeup.py).

``ChangeFeedStore``, mixed into ``SqlStore``, is the ``ChangeFeed`` part (parts.py):
``change_versions`` and ``wait_for_change``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from sqlalchemy import BigInteger, Column, Connection, Engine, String, Table, func, select, update

from relay.store.errors import unavailable_on_failure
from relay.store.parts import ChangeFeed
from relay.store.tables import metadata
from relay.store.values import ChangeVersions
from relay.store.wakeup import PostgresListener, WorkSignal

REPS = "reps"
QUEUE = "queue"
TASKS = "tasks"
TOPICS = (REPS, QUEUE, TASKS)

SQLITE_POLL_SECONDS = 0.25
"""How often a waiter on SQLite reads the versions: well inside the one second in which
every process must see a change, at the cost of one tiny read per waiter."""

POSTGRES_POLL_SECONDS = 5.0
"""On PostgreSQL a waiter is woken by NOTIFY; it also reads the versions this often, in
case the listening connection died without an error (a silent network drop)."""

change_versions = Table(
    "change_versions",
    metadata,
    Column("topic", String(16), primary_key=True),
    Column("version", BigInteger, nullable=False),
)


def bump(connection: Connection, topic: str, channel: str = "") -> None:
    """Count one change of ``topic`` in the caller's transaction; with a ``channel``
    (PostgreSQL), also NOTIFY it with the topic as payload, sent only if it commits."""
    if topic not in TOPICS:
        raise ValueError(f"unknown change topic {topic!r} (one of {', '.join(TOPICS)})")
    connection.execute(
        update(change_versions)
        .where(change_versions.c.topic == topic)
        .values(version=change_versions.c.version + 1)
    )
    if channel:
        connection.execute(select(func.pg_notify(channel, topic)))


def read_versions(connection: Connection) -> ChangeVersions:
    """The current versions, in one read of the table's primary key."""
    found = {str(topic): int(version) for topic, version in connection.execute(_READ)}
    return ChangeVersions(
        reps=found.get(REPS, 0), queue=found.get(QUEUE, 0), tasks=found.get(TASKS, 0)
    )


def moved(current: ChangeVersions, since: ChangeVersions, topics: Collection[str] | None) -> bool:
    """True if any of ``topics`` (all if None) differs between the two versions. Compared
    for inequality, not order: a store restored from a backup may count from lower."""
    wanted = TOPICS if topics is None else tuple(topics)
    unknown = sorted(set(wanted) - set(TOPICS))
    if unknown:
        raise ValueError(f"unknown change topic {unknown[0]!r} (one of {', '.join(TOPICS)})")
    return any(getattr(current, topic) != getattr(since, topic) for topic in wanted)


_READ = select(change_versions.c.topic, change_versions.c.version).where(
    change_versions.c.topic.in_(TOPICS)
)


class ChangeFeedStore(ChangeFeed):
    """Mixin for SqlStore: needs ``engine``, ``_postgres``, ``_changes`` (the changes
    channel's signal) and ``_listening`` (the store's one LISTEN connection,
    sql_store.py)."""

    engine: Engine
    _postgres: bool
    _changes: WorkSignal
    _listening: Callable[[], PostgresListener]

    @unavailable_on_failure
    def change_versions(self) -> ChangeVersions:
        """The current change versions: one read of a three-row table's primary key."""
        with self.engine.connect() as connection:
            return read_versions(connection)

    def wait_for_change(
        self,
        since: ChangeVersions,
        timeout: float,
        topics: Collection[str] | None = None,
    ) -> ChangeVersions:
        """Block until a version of ``topics`` (all if None) differs from ``since``, or
        ``timeout`` seconds pass; return the current versions either way (compare them
        with ``since`` to tell). Returns at once if they already differ, so a change
        between reading the versions and waiting is never lost.

        PostgreSQL: woken by the changes channel's NOTIFY (one listener connection per
        store, shared with ``wait_for_work``), with a read every POSTGRES_POLL_SECONDS in
        case the listener lost its connection silently. SQLite: one read every
        SQLITE_POLL_SECONDS, which sees commits of every process on the file. Raises
        StoreUnavailable if the store cannot be read.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        poll = SQLITE_POLL_SECONDS
        if self._postgres:
            poll = POSTGRES_POLL_SECONDS
            # Once LISTEN is active, a change committed after the next read wakes us.
            self._listening().listening.wait(max(timeout, 0.0))
        while True:
            generation = self._changes.generation
            current = self.change_versions()
            remaining = deadline - time.monotonic()
            if moved(current, since, topics) or remaining <= 0:
                return current
            self._changes.wait_after(generation, min(remaining, poll))
