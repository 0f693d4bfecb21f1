"""The store on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

``SqlStore`` is its parts together, each a mixin in a module of its own that imports
only the modules below it, never this one (tests/store/test_store_imports.py):

- the queue (``MessageQueue`` in parts.py, over ``messages``, ``message_bodies`` and
  ``transitions``, tables.py): accepting a message (intake.py), reading messages
  (queue_reads.py), the runners' claims, leases, recovery and wake-ups (claims.py), one
  message's checked state changes, a runner's or a person's (state_changes.py), and the
  readiness check (readiness.py);
- the change versions (``ChangeFeed``, changes.py);
- the ledger (ledger.py), the rep records (reps.py), the reminders (reminders.py),
  retention (retention.py), erasure (erasure.py) and the imports (imports.py).

This module owns what the parts share: the engines, the wake-up signals and channels
with the one LISTEN connection that serves them (wakeup.py), the body cache the claims
fill (body_cache.py), and ``close``.

Differences between the backends stay small and explicit: claiming (claims.py:
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) and wakeups
(PostgreSQL uses LISTEN/NOTIFY across nodes, for new work and for change versions,
wakeup.py and changes.py; on SQLite change versions are polled).

Times are taken from this process's clock (``utc_now``, history.py); nodes sharing
PostgreSQL need NTP.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from sqlalchemy import Engine, func, select

from relay.store.body_cache import BodyCache
from relay.store.changes import ChangeFeedStore
from relay.store.claims import LEASE_CHUNK, Claims
from relay.store.console_reads import ConsoleReadsStore
from relay.store.engine import write_engine
from relay.store.erasure import ErasureStore
from relay.store.errors import unavailable_on_failure
from relay.store.history import utc_now
from relay.store.imports import ImportStore
from relay.store.intake import Intake, WriteFault
from relay.store.leases import this_host
from relay.store.ledger import DeliveryLedger
from relay.store.model import Outcome, Reminder, Store, UnresolvedItem
from relay.store.queue_reads import QueueReads
from relay.store.readiness import READINESS_LOCK_WAIT_SECONDS, Readiness
from relay.store.reminders import ReminderStore
from relay.store.reps import RepStore
from relay.store.retention import RetentionStore
from relay.store.state_changes import StateChanges
from relay.store.task_sync import TaskSyncStore
from relay.store.wakeup import CHANGES_PREFIX, PostgresListener, WorkSignal, channel_name

__all__ = [
    "LEASE_CHUNK",
    "READINESS_LOCK_WAIT_SECONDS",
    "SqlStore",
    "WriteFault",
    "utc_now",
]


class SqlStore(
    Intake,
    QueueReads,
    Claims,
    StateChanges,
    Readiness,
    ChangeFeedStore,
    DeliveryLedger,
    RepStore,
    ReminderStore,
    RetentionStore,
    ErasureStore,
    ConsoleReadsStore,
    TaskSyncStore,
    ImportStore,
    Store,
):
    """The durable queue. Build it with ``relay.store.open_store(url)``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write_engine = write_engine(engine)
        self._postgres = engine.dialect.name == "postgresql"
        self._channel = ""
        self._changes_channel = ""
        if self._postgres:
            with engine.connect() as connection:
                schema = str(connection.scalar(select(func.current_schema())))
            self._channel = channel_name(schema)
            self._changes_channel = channel_name(schema, CHANGES_PREFIX)
        self._signal = WorkSignal()
        self._changes = WorkSignal()
        self._host = this_host()
        self._bodies = BodyCache()
        self._listener: PostgresListener | None = None
        self._listener_lock = threading.Lock()
        self.write_fault: WriteFault | None = None
        """Tests only: called first in every enqueue batch and in check_writable, inside
        the write transaction. Raising there (e.g. ``OSError(errno.ENOSPC, ...)``) fails
        the transaction the way a real disk error does: the callers get StoreUnavailable
        and nothing is stored."""
        self._start_intake()

    @unavailable_on_failure
    def finish_many(
        self,
        outcomes: Sequence[Outcome],
        *,
        written: Mapping[str, str] | None = None,
        unresolved_items: Sequence[UnresolvedItem] = (),
        worker: str | None = None,
        reminders: Sequence[Reminder] = (),
    ) -> None:
        # The ledger records the batch; the bodies its claim prefetched are done with.
        self._bodies.forget(outcome.queue_id for outcome in outcomes)
        super().finish_many(
            outcomes,
            written=written,
            unresolved_items=unresolved_items,
            worker=worker,
            reminders=reminders,
        )

    def close(self) -> None:
        self._writer.close()
        if self._listener is not None:
            self._listener.close()
        self.engine.dispose()

    def _listening(self) -> PostgresListener:
        """The store's one LISTEN connection (both channels), started on first use."""
        with self._listener_lock:
            if self._listener is None:
                url = self.engine.url.render_as_string(hide_password=False)
                self._listener = PostgresListener(
                    url, {self._channel: self._signal, self._changes_channel: self._changes}
                )
            return self._listener
