"""The store on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

``SqlStore`` is the queue part (``MessageQueue`` in parts.py: enqueue, claim, finish,
admin) over the tables ``messages``, ``message_bodies`` and ``transitions``
(tables.py), with the other parts mixed in: the ledger (ledger.py), the rep records
(reps.py), retention (retention.py) and erasure (erasure.py). Those mixins import only
the modules below them, never this one.

Differences between the backends stay small and explicit:

- claiming: PostgreSQL locks due rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` so nodes
  never wait on each other; on SQLite the same statement runs inside ``BEGIN IMMEDIATE``
  (``with_for_update`` renders nothing there), which serialises claimers.
- ``recover()`` at start-up: on SQLite one node owns the file, so every ``processing``
  message is left over from a crash and is requeued. On PostgreSQL other nodes may be
  working, so only messages whose lease has expired are requeued. On both, ``claim`` also
  takes over messages whose lease expired (a node died mid-work).
- wakeups: PostgreSQL uses LISTEN/NOTIFY across nodes (see wakeup.py).

Times are taken from this process's clock; nodes sharing PostgreSQL need NTP.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, update
from sqlalchemy.engine import Row
from ulid import ULID

from relay.envelope import Envelope
from relay.errors import StoreUnavailable
from relay.logs import one_write
from relay.store.body_cache import BodyCache
from relay.store.bulk import BulkInsert
from relay.store.engine import write_engine
from relay.store.erasure import ErasureStore
from relay.store.errors import UnknownMessage, store_unavailable, unavailable_on_failure
from relay.store.group_commit import GroupCommitWriter, PendingWrite
from relay.store.headers import clean_text, summarize_headers
from relay.store.history import log_change, store_log, transition_row
from relay.store.ledger import DeliveryLedger
from relay.store.lifecycle import FINISH_STATES, check_transition
from relay.store.model import Outcome, State, Store, StoredMessage, Transition, UnresolvedItem
from relay.store.reps import RepStore
from relay.store.retention import RetentionStore
from relay.store.tables import message_bodies, message_from_row, messages, transitions
from relay.store.wakeup import PostgresListener, WorkSignal, channel_name

WriteFault = Callable[[Connection], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqlStore(DeliveryLedger, RepStore, RetentionStore, ErasureStore, Store):
    """The durable queue. Build it with ``relay.store.open_store(url)``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write_engine = write_engine(engine)
        self._postgres = engine.dialect.name == "postgresql"
        self._channel = ""
        if self._postgres:
            with engine.connect() as connection:
                self._channel = channel_name(str(connection.scalar(select(func.current_schema()))))
        self._signal = WorkSignal()
        self._bodies = BodyCache()
        self._listener: PostgresListener | None = None
        self._listener_lock = threading.Lock()
        self.write_fault: WriteFault | None = None
        """Tests only: called first in every enqueue batch and in check_writable, inside
        the write transaction. Raising there (e.g. ``OSError(errno.ENOSPC, ...)``) fails
        the transaction the way a real disk error does: the callers get StoreUnavailable
        and nothing is stored."""
        self._inserts = {
            table.name: BulkInsert(engine.dialect, table, columns)
            for table, columns in (
                (messages, [column.name for column in messages.columns]),
                (message_bodies, ["queue_id", "raw"]),
                (transitions, ["queue_id", "at", "from_state", "to_state", "reason"]),
            )
        }
        self._writer = GroupCommitWriter(
            self._write_engine,
            self._write_batch,
            self._undo,
            on_commit=self._committed,
            wrap_error=_unavailable,
        )

    # --- accepting -----------------------------------------------------------------------

    def enqueue(self, raw: bytes, envelope: Envelope, received_at: datetime) -> str:
        return self.enqueue_nowait(raw, envelope, received_at).result()

    def enqueue_nowait(
        self,
        raw: bytes,
        envelope: Envelope,
        received_at: datetime,
        log_fields: Mapping[str, Any] | None = None,
    ) -> Future[str]:
        """The group-commit writer's own Future: no thread waits for the commit."""
        return self._writer.submit_nowait(
            self._pending_write(raw, envelope, received_at, log_fields)
        )

    def _pending_write(
        self,
        raw: bytes,
        envelope: Envelope,
        received_at: datetime,
        log_fields: Mapping[str, Any] | None = None,
    ) -> PendingWrite:
        """The rows of one new message, as enqueue and the readiness check write them."""
        queue_id = str(ULID())
        now = utc_now()
        received = received_at.replace(tzinfo=UTC) if received_at.tzinfo is None else received_at
        summary = summarize_headers(raw)
        mail_from = clean_text(envelope.mail_from)
        peer = clean_text(envelope.peer)
        helo = clean_text(envelope.helo)
        message_row = {
            "id": queue_id,
            "state": State.QUEUED.value,
            "received_at": received,
            "mail_from": mail_from,
            "rcpt_tos": [clean_text(rcpt) for rcpt in envelope.rcpt_tos],
            "peer": peer,
            "helo": helo,
            "message_id": summary.message_id,
            "subject": summary.subject,
            "size": len(raw),
            "attempts": 0,
            "reason": None,
            "not_before": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
            "auth": clean_text(envelope.auth),
        }
        return PendingWrite(
            queue_id=queue_id,
            size=len(raw),
            rows={
                messages.name: [message_row],
                message_bodies.name: [{"queue_id": queue_id, "raw": raw}],
                transitions.name: [transition_row(queue_id, now, None, State.QUEUED, None)],
            },
            log_fields={
                "size": len(raw),
                "mail_from": mail_from,
                "rcpt_count": len(envelope.rcpt_tos),
                "message_id": summary.message_id,
                "peer": peer,
                "helo": helo,
                **(log_fields or {}),
            },
        )

    def _committed(self, batch: Sequence[PendingWrite]) -> None:
        """On the writer thread, after the commit and before any caller hears of it."""
        self._signal.notify()
        log = store_log()
        with one_write():  # one write for the batch's lines, not one syscall per message
            for pending in batch:
                log.info("message_queued", queue_id=pending.queue_id, **pending.log_fields)

    def _write_batch(self, connection: Connection, batch: Sequence[PendingWrite]) -> None:
        if self.write_fault is not None:
            self.write_fault(connection)
        driver: Any = connection.connection.driver_connection
        # psycopg pipeline mode: the three INSERTs and the NOTIFY go out in one round
        # trip instead of four (https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html).
        pipeline = driver.pipeline() if self._postgres else contextlib.nullcontext()
        with pipeline:
            for table in (messages, message_bodies, transitions):
                rows = [row for pending in batch for row in pending.rows[table.name]]
                self._inserts[table.name].run(connection, rows)
            if self._postgres:
                with driver.cursor() as cursor:
                    cursor.execute("SELECT pg_notify(%s, '')", (self._channel,))

    def _undo(self, connection: Connection, queue_ids: Sequence[str]) -> None:
        connection.execute(delete(messages).where(messages.c.id.in_(queue_ids)))

    # --- reading -------------------------------------------------------------------------

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

    # --- runners -------------------------------------------------------------------------

    @unavailable_on_failure
    def claim(self, limit: int, worker: str, lease_seconds: float) -> Sequence[StoredMessage]:
        now = utc_now()
        due = and_(
            # The explicit IN lets both planners use ix_messages_state_not_before and skip
            # the (many) finished messages.
            messages.c.state.in_([State.QUEUED, State.DEFERRED, State.PROCESSING]),
            or_(
                messages.c.state == State.QUEUED,
                and_(messages.c.state == State.DEFERRED, messages.c.not_before <= now),
                and_(messages.c.state == State.PROCESSING, messages.c.lease_expires_at < now),
            ),
        )
        query = (select(messages).where(due).order_by(messages.c.id).limit(limit)).with_for_update(
            skip_locked=True
        )
        with self._write_engine.begin() as connection:
            rows = connection.execute(query).all()
            if not rows:
                return []
            connection.execute(
                update(messages)
                .where(messages.c.id.in_([row.id for row in rows]))
                .values(
                    state=State.PROCESSING.value,
                    attempts=messages.c.attempts + 1,
                    lease_owner=worker,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    updated_at=now,
                )
            )
            connection.execute(
                transitions.insert(),
                [
                    transition_row(row.id, now, State(row.state), State.PROCESSING, _why(row))
                    for row in rows
                ],
            )
            bodies = self._prefetch_bodies(connection, rows)
        self._bodies.put_all(bodies)
        claimed = []
        for row in rows:
            message = replace(
                message_from_row(row),
                state=State.PROCESSING,
                attempts=row.attempts + 1,
                updated_at=now,
            )
            claimed.append(message)
            store_log().info(
                "message_claimed",
                queue_id=row.id,
                worker=worker,
                attempts=message.attempts,
                **{"from": row.state},
            )
        return claimed

    def finish(self, queue_id: str, state: State, reason: str | None = None) -> None:
        if State(state) not in FINISH_STATES:
            names = ", ".join(sorted(s.value for s in FINISH_STATES))
            raise ValueError(f"finish records an outcome ({names}), not {state}")
        self._change(queue_id, "finish", State(state), reason)

    @unavailable_on_failure
    def finish_many(
        self,
        outcomes: Sequence[Outcome],
        *,
        written: Mapping[str, str] | None = None,
        unresolved_items: Sequence[UnresolvedItem] = (),
    ) -> None:
        self._bodies.forget(outcome.queue_id for outcome in outcomes)
        super().finish_many(outcomes, written=written, unresolved_items=unresolved_items)

    def defer(self, queue_id: str, not_before: datetime, reason: str) -> None:
        self._change(queue_id, "defer", State.DEFERRED, reason, not_before=not_before)

    @unavailable_on_failure
    def recover(self) -> int:
        now = utc_now()
        stale = messages.c.state == State.PROCESSING
        if self._postgres:
            stale = and_(stale, messages.c.lease_expires_at < now)
        query = select(messages.c.id, messages.c.lease_owner).where(stale)
        with self._write_engine.begin() as connection:
            rows = connection.execute(query.with_for_update(skip_locked=True)).all()
            if not rows:
                return 0
            reason = "recovered at start-up: processing was interrupted"
            connection.execute(
                update(messages)
                .where(messages.c.id.in_([row.id for row in rows]))
                .values(state=State.QUEUED.value, reason=reason, updated_at=now, **_NO_LEASE)
            )
            connection.execute(
                transitions.insert(),
                [
                    transition_row(row.id, now, State.PROCESSING, State.QUEUED, reason)
                    for row in rows
                ],
            )
            self._notify_nodes(connection)
        self._signal.notify()
        for row in rows:
            log_change(row.id, State.PROCESSING, State.QUEUED, reason, owner=row.lease_owner)
        return len(rows)

    def wait_for_work(self, timeout: float) -> None:
        started = time.monotonic()
        if self._postgres:
            with self._listener_lock:
                if self._listener is None:
                    url = self.engine.url.render_as_string(hide_password=False)
                    self._listener = PostgresListener(url, self._channel, self._signal)
            # The first wait returns once LISTEN is active, so no NOTIFY after it is lost.
            self._listener.listening.wait(timeout)
        self._signal.wait(timeout - (time.monotonic() - started))

    def notify_work(self) -> None:
        self._signal.notify()

    # --- admin ---------------------------------------------------------------------------

    def retry(self, queue_id: str) -> None:
        self._change(queue_id, "retry", State.QUEUED, "retry requested")

    def hold(self, queue_id: str, reason: str) -> None:
        self._change(queue_id, "hold", State.HELD, reason)

    def release(self, queue_id: str) -> None:
        self._change(queue_id, "release", State.QUEUED, "released")

    @unavailable_on_failure
    def delete(self, queue_id: str) -> None:
        self._bodies.forget([queue_id])
        with self._write_engine.begin() as connection:
            current = self._locked_state(connection, queue_id)
            check_transition(queue_id, "delete", current)
            # message_bodies and transitions go with it (ON DELETE CASCADE).
            connection.execute(delete(messages).where(messages.c.id == queue_id))
        store_log().info("message_deleted", queue_id=queue_id, **{"from": current.value})

    def check_writable(self) -> None:
        """Write one message as enqueue does, then roll it back.

        The same INSERTs as a new message, so they walk the same B-tree pages: a damaged
        page, a lock, a read-only database or a hot standby fails here as it fails the
        next email. The lock is waited for READINESS_LOCK_WAIT_SECONDS at most, not the
        store's busy timeout, so that ``/readyz`` answers within a probe's time limit.
        """
        probe = self._pending_write(b"", Envelope("", (), "readiness check", ""), utc_now())
        try:
            with self._write_engine.connect() as connection, _rolled_back(connection):
                self._write_batch(connection, [probe])  # calls write_fault first
        except StoreUnavailable:
            raise
        except Exception as error:
            raise store_unavailable(error) from error

    def close(self) -> None:
        self._writer.close()
        if self._listener is not None:
            self._listener.close()
        self.engine.dispose()

    # --- helpers -------------------------------------------------------------------------

    @unavailable_on_failure
    def _change(
        self, queue_id: str, operation: str, to_state: State, reason: str | None, **values: Any
    ) -> None:
        """One checked state change: update, transition row and NOTIFY in one transaction."""
        self._bodies.forget([queue_id])
        now = utc_now()
        with self._write_engine.begin() as connection:
            current = self._locked_state(connection, queue_id)
            check_transition(queue_id, operation, current)
            if to_state is State.QUEUED:
                self._require_body(connection, queue_id, operation)
            fields = {"not_before": None, **_NO_LEASE, **values}
            connection.execute(
                update(messages)
                .where(messages.c.id == queue_id)
                .values(state=to_state.value, reason=reason, updated_at=now, **fields)
            )
            connection.execute(
                transitions.insert().values(
                    transition_row(queue_id, now, current, to_state, reason)
                )
            )
            if to_state is State.QUEUED:
                self._notify_nodes(connection)
        if to_state is State.QUEUED:
            self._signal.notify()
        log_change(queue_id, current, to_state, reason)

    def _prefetch_bodies(
        self, connection: Connection, rows: Sequence[Row[Any]]
    ) -> dict[str, bytes]:
        """The claimed messages' bodies, oldest first, as many as the cache has room for
        (one SELECT for the batch instead of one ``raw()`` query per message)."""
        room, ids = self._bodies.room(), []
        for row in rows:
            if row.size > room:
                break
            room -= row.size
            ids.append(row.id)
        if not ids:
            return {}
        query = select(message_bodies.c.queue_id, message_bodies.c.raw).where(
            message_bodies.c.queue_id.in_(ids)
        )
        return {queue_id: bytes(raw) for queue_id, raw in connection.execute(query)}

    def _locked_state(self, connection: Connection, queue_id: str) -> State:
        query = select(messages.c.state).where(messages.c.id == queue_id).with_for_update()
        state = connection.execute(query).scalar_one_or_none()
        if state is None:
            raise UnknownMessage(queue_id)
        return State(state)

    def _notify_nodes(self, connection: Connection) -> None:
        if self._postgres:
            connection.execute(select(func.pg_notify(self._channel, "")))


_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}

READINESS_LOCK_WAIT_SECONDS = 2.0
"""Under the 4 s the container's HEALTHCHECK allows (deploy/container/Containerfile)."""


@contextlib.contextmanager
def _rolled_back(connection: Connection) -> Iterator[None]:
    """A transaction that is always rolled back, and waits for locks at most
    READINESS_LOCK_WAIT_SECONDS; the connection's own wait is restored afterwards."""
    wait_ms = int(READINESS_LOCK_WAIT_SECONDS * 1000)
    sqlite = connection.dialect.name == "sqlite"
    driver: Any = connection.connection.driver_connection
    usual = 0
    if sqlite:  # set before BEGIN IMMEDIATE, which is where SQLite waits for the lock
        usual = int(driver.execute("PRAGMA busy_timeout").fetchone()[0])
        driver.execute(f"PRAGMA busy_timeout = {min(wait_ms, usual)}")
    try:
        transaction = connection.begin()
        try:
            if not sqlite:  # https://www.postgresql.org/docs/current/runtime-config-client.html
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")
            yield
        finally:
            transaction.rollback()
    finally:
        if sqlite:
            driver.execute(f"PRAGMA busy_timeout = {usual}")


def _unavailable(error: BaseException) -> BaseException:
    """What an enqueue caller receives when its batch failed (the edge answers 451)."""
    if isinstance(error, StoreUnavailable) or not isinstance(error, Exception):
        return error
    wrapped = store_unavailable(error)
    wrapped.__cause__ = error
    return wrapped


def _why(row: Row[Any]) -> str | None:
    if row.state == State.PROCESSING:
        return f"lease of {row.lease_owner} expired"
    return None
