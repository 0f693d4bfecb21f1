"""The store's intake part: accepting a message, mixed into ``SqlStore``.

``enqueue`` writes a new message's three rows (``messages``, ``message_bodies`` and its
first ``transitions`` row, tables.py) and returns only after the commit, which is what
lets the SMTP edge answer 250 (docs/design.md §1). Concurrent callers share one
transaction through the group-commit writer (group_commit.py); this module is the glue:
the rows of one message (``_pending_write``), how a batch is written (``_write_batch``,
also used by the readiness check, readiness.py), undone, and announced once committed
(the idle runners are woken, one ``message_queued`` event per message).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete
from ulid import ULID

from relay.envelope import Envelope
from relay.errors import StoreUnavailable
from relay.logs import one_write
from relay.store.bulk import BulkInsert
from relay.store.errors import store_unavailable
from relay.store.group_commit import GroupCommitWriter, PendingWrite
from relay.store.headers import clean_text, summarize_headers
from relay.store.history import store_log, transition_row, utc_now
from relay.store.model import State
from relay.store.tables import LIVE, message_bodies, messages, transitions
from relay.store.wakeup import WorkSignal

WriteFault = Callable[[Connection], None]


class Intake:
    """Mixin for SqlStore: needs ``_write_engine``, ``_postgres``, ``_channel``,
    ``_signal`` and ``write_fault``; ``_start_intake`` builds the rest."""

    _write_engine: Engine
    _postgres: bool
    _channel: str
    _signal: WorkSignal
    write_fault: WriteFault | None
    _inserts: dict[str, BulkInsert]
    _writer: GroupCommitWriter

    def _start_intake(self) -> None:
        """Prepare the three INSERTs and start the group-commit writer thread."""
        self._inserts = {
            table.name: BulkInsert(self._write_engine.dialect, table, columns)
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
            "lane": LIVE,
            "import_id": None,
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


def _unavailable(error: BaseException) -> BaseException:
    """What an enqueue caller receives when its batch failed (the edge answers 451)."""
    if isinstance(error, StoreUnavailable) or not isinstance(error, Exception):
        return error
    wrapped = store_unavailable(error)
    wrapped.__cause__ = error
    return wrapped
