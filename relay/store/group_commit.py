"""Group commit: one writer thread commits many concurrent enqueues in one transaction.

A durable commit costs one fsync (SQLite, ``synchronous=FULL``) or one WAL flush
(PostgreSQL), whatever the number of rows. The SMTP edge enqueues from many threads at
once, so a single writer takes everything waiting, writes it in one transaction and then
completes each caller's Future (the technique of PostgreSQL's ``commit_delay`` and of
Postfix's single queue manager). Each caller hears only after the commit that holds
its message: ``submit`` blocks for it; ``submit_nowait`` returns the Future at once, so
an asyncio caller can await it without a thread of its own.

If the batch fails, every caller in it gets the error and the transaction is rolled back,
so none of those messages exists afterwards (a 4xx after DATA must never be processed,
RFC 5321 §4.2.5). If the failure happens during COMMIT itself (the outcome is unknown,
for example the PostgreSQL connection dropped), the batch's rows are deleted again in a
new transaction, best effort, and the failure is logged.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from relay.logs import get_logger

MAX_BATCH_MESSAGES = 512
MAX_BATCH_BYTES = 64 * 1024 * 1024
COMMIT_DELAY_SECONDS = 0.001
"""How long the writer waits for stragglers of the previous batch (8 SMTP threads on the
dev VM: 1,800 msg/s without it, 2,100-2,300 with 1 ms; a single client never waits)."""


@dataclass(eq=False)
class PendingWrite:
    """One caller's rows, and the Future the writer completes after the commit.

    The Future's result is ``queue_id``; ``log_fields`` is what ``on_commit`` may log.
    """

    queue_id: str
    size: int
    rows: dict[str, list[dict[str, Any]]]  # table name -> rows to insert
    log_fields: dict[str, Any] = field(default_factory=dict)
    done: Future[str] = field(default_factory=Future)


WriteBatch = Callable[[Connection, Sequence[PendingWrite]], None]
DeleteBatch = Callable[[Connection, Sequence[str]], None]
BatchCommitted = Callable[[Sequence[PendingWrite]], None]
WrapError = Callable[[BaseException], BaseException]


def _same_error(error: BaseException) -> BaseException:
    return error


class GroupCommitWriter:
    """Owns the writer thread. ``submit`` blocks until the caller's batch committed.

    ``on_commit`` runs on the writer thread after each durable commit, before any caller
    hears of it (the store logs and wakes runners there); ``wrap_error`` turns a batch's
    failure into what each caller receives.
    """

    def __init__(
        self,
        engine: Engine,
        write: WriteBatch,
        undo: DeleteBatch,
        on_commit: BatchCommitted | None = None,
        wrap_error: WrapError = _same_error,
    ) -> None:
        self._engine = engine
        self._write = write
        self._undo = undo
        self._on_commit = on_commit
        self._wrap_error = wrap_error
        self._queue: queue.SimpleQueue[PendingWrite | None] = queue.SimpleQueue()
        self._closed = False
        self._connection: Connection | None = None  # owned by the writer thread
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="relay-store-writer", daemon=True)
        self._thread.start()

    def submit(self, pending: PendingWrite) -> str:
        """Return after the commit that includes ``pending``; raise what the batch raised."""
        return self.submit_nowait(pending).result()

    def submit_nowait(self, pending: PendingWrite) -> Future[str]:
        """Queue ``pending`` and return its Future: the queue id once the batch committed.

        No thread blocks for the caller: the writer completes the Future (from its own
        thread) after the commit, or sets the batch's error on it.
        """
        with self._lock:
            if self._closed:
                pending.done.set_exception(self._wrap_error(RuntimeError("the store is closed")))
                return pending.done
            self._queue.put(pending)
        return pending.done

    def close(self) -> None:
        """Commit what is already submitted, then stop the writer thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        expected = 1
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch, size = [first], first.size
            deadline = time.monotonic() + COMMIT_DELAY_SECONDS
            while len(batch) < MAX_BATCH_MESSAGES and size < MAX_BATCH_BYTES:
                # Linger (like PostgreSQL's commit_delay) only while callers of the last
                # batch may still be on their way back; a lone client never waits.
                remaining = deadline - time.monotonic() if len(batch) < expected else 0.0
                try:
                    item = (
                        self._queue.get(timeout=remaining)
                        if remaining > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
                size += item.size
            expected = len(batch)
            self._commit(batch)
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()

    def _commit(self, batch: Sequence[PendingWrite]) -> None:
        committing = False
        try:
            # The writer keeps one connection between batches (no pool checkout, reset
            # and pre-ping per batch); after any failure it starts over with a new one.
            if self._connection is None:
                self._connection = self._engine.connect()
            connection = self._connection
            transaction = connection.begin()
            try:
                self._write(connection, batch)
                committing = True
                transaction.commit()
            finally:
                if transaction.is_active:
                    transaction.rollback()
        except BaseException as error:  # every caller must hear about it, whatever it is
            self._drop_connection()
            if committing:
                self._undo_uncertain_commit(batch)
            get_logger("relay.store").error(
                "enqueue_batch_failed", messages=len(batch), error=repr(error)
            )
            for pending in batch:  # one exception each: every caller raises its own
                pending.done.set_exception(self._wrap_error(error))
            if not isinstance(error, Exception):
                raise
            return
        if self._on_commit is not None:
            try:
                self._on_commit(batch)
            except Exception as error:  # committed is committed: a log failure changes nothing
                get_logger("relay.store").error("enqueue_after_commit_failed", error=repr(error))
        for pending in batch:
            pending.done.set_result(pending.queue_id)

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # already broken: nothing more to release
                connection.invalidate()  # never reuse a connection that just failed
                connection.close()

    def _undo_uncertain_commit(self, batch: Sequence[PendingWrite]) -> None:
        ids = [pending.queue_id for pending in batch]
        try:
            with self._engine.begin() as connection:
                self._undo(connection, ids)
        except Exception as error:
            # The commit may have landed and we could not remove it: say so loudly, with
            # the ids, so an admin can `relay queue delete` them.
            get_logger("relay.store").error("enqueue_undo_failed", queue_ids=ids, error=repr(error))
