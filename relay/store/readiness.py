"""The store's readiness check (``/readyz``, ``relay doctor``), mixed into ``SqlStore``:
can a message be committed now?

``check_writable`` writes one message exactly as enqueue does (intake.py), in a
transaction that is always rolled back, and waits for a lock at most
``READINESS_LOCK_WAIT_SECONDS``: a damaged page, a lock held too long, a read-only
database or a hot standby fails the check as it would fail the next email, and the
check itself leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from relay.envelope import Envelope
from relay.errors import StoreUnavailable
from relay.store.errors import store_unavailable
from relay.store.group_commit import PendingWrite
from relay.store.history import utc_now

READINESS_LOCK_WAIT_SECONDS = 2.0
"""Under the 4 s the container's HEALTHCHECK allows (deploy/container/Containerfile)."""


class Readiness:
    """Mixin for SqlStore: needs ``_write_engine`` and intake's ``_pending_write`` and
    ``_write_batch`` (intake.py)."""

    _write_engine: Engine
    _pending_write: Callable[[bytes, Envelope, datetime], PendingWrite]
    _write_batch: Callable[[Connection, Sequence[PendingWrite]], None]

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
