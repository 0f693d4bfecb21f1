"""When writes fail: StoreUnavailable with a readable reason, and nothing half-stored.

The SMTP edge answers 451 4.3.0 on StoreUnavailable, and RFC 5321 §4.2.5 says a message
answered 4xx after DATA must not be processed later: so a failed enqueue leaves no trace.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, text

from relay.envelope import Envelope
from relay.errors import StoreUnavailable, TemporaryError
from relay.store import SqlStore, open_store


def disk_full(_connection: Connection) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_enospc_becomes_store_unavailable_and_nothing_is_stored(
    store: SqlStore, make_message: Callable[..., bytes], envelope: Envelope
) -> None:
    """An injected ENOSPC fails enqueue with StoreUnavailable; the message does not exist."""
    store.write_fault = disk_full
    with pytest.raises(StoreUnavailable, match="ENOSPC") as caught:
        store.enqueue(make_message(), envelope, datetime.now(UTC))
    assert isinstance(caught.value, TemporaryError)
    assert store.list() == []
    assert sum(store.counts().values()) == 0
    store.write_fault = None
    queue_id = store.enqueue(make_message(), envelope, datetime.now(UTC))
    assert [m.id for m in store.list()] == [queue_id]


def test_a_failed_batch_fails_every_caller_in_it(
    store: SqlStore, make_message: Callable[..., bytes], envelope: Envelope
) -> None:
    """Callers that shared a failed group commit all get StoreUnavailable; none is stored."""
    calls = 0

    def slow_then_failing(_connection: Connection) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            time.sleep(0.5)  # the other callers queue up behind this batch meanwhile
        else:
            raise OSError(errno.EIO, "Input/output error")

    store.write_fault = slow_then_failing
    outcomes: dict[int, str | BaseException] = {}

    def caller(n: int) -> None:
        try:
            outcomes[n] = store.enqueue(make_message(n), envelope, datetime.now(UTC))
        except StoreUnavailable as error:
            outcomes[n] = error

    first = threading.Thread(target=caller, args=(0,))
    first.start()
    time.sleep(0.1)
    others = [threading.Thread(target=caller, args=(n,)) for n in range(1, 9)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join()
    assert calls == 2  # exactly two batches: the slow one, then all eight others together
    assert isinstance(outcomes[0], str)
    assert all(isinstance(outcomes[n], StoreUnavailable) for n in range(1, 9))
    assert [m.id for m in store.list()] == [outcomes[0]]


def test_commit_with_unknown_outcome_is_undone(
    store: SqlStore, make_message: Callable[..., bytes], envelope: Envelope
) -> None:
    """If COMMIT lands but reports an error (connection lost), the rows are deleted again."""

    def commit_then_fail(connection: Any) -> None:
        connection.connection.dbapi_connection.cursor().execute("COMMIT")
        raise ConnectionResetError("connection lost while committing")

    event.listen(store.engine, "commit", commit_then_fail)
    try:
        with pytest.raises(StoreUnavailable, match="connection lost"):
            store.enqueue(make_message(), envelope, datetime.now(UTC))
    finally:
        event.remove(store.engine, "commit", commit_then_fail)
    assert store.list() == []


def test_real_sqlite_disk_full(
    tmp_path: Path, make_message: Callable[..., bytes], envelope: Envelope
) -> None:
    """SQLite's own "database or disk is full" (SQLITE_FULL) becomes StoreUnavailable."""
    store = open_store(f"sqlite:///{tmp_path / 'relay.db'}")
    try:

        def cap_database_size(connection: Connection) -> None:
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
            connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")

        store.write_fault = cap_database_size
        with pytest.raises(StoreUnavailable, match="database or disk is full"):
            store.enqueue(make_message(size=64 * 1024), envelope, datetime.now(UTC))
        assert store.list() == []
    finally:
        store.close()


def test_check_writable(store: SqlStore) -> None:
    """check_writable() passes on a healthy store and raises StoreUnavailable on a fault."""
    store.check_writable()
    store.write_fault = disk_full
    with pytest.raises(StoreUnavailable, match="ENOSPC"):
        store.check_writable()


def test_check_writable_on_a_read_only_postgres_session(postgres_schema_url: str) -> None:
    """A database that refuses writes (hot standby, read-only) fails check_writable."""
    store = open_store(postgres_schema_url)
    try:
        event.listen(
            store.engine,
            "begin",
            lambda conn: conn.exec_driver_sql("SET TRANSACTION READ ONLY"),
        )
        with pytest.raises(StoreUnavailable, match="read-only"):
            store.check_writable()
    finally:
        store.close()


def test_enqueue_after_close_is_refused(
    store_url: str, make_message: Callable[..., bytes], envelope: Envelope
) -> None:
    """A closed store refuses enqueue with StoreUnavailable instead of hanging."""
    store = open_store(store_url)
    store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.enqueue(make_message(), envelope, datetime.now(UTC))


def test_open_store_errors_are_readable(tmp_path: Path) -> None:
    """Bad URLs are ValueError; unreachable databases and unusable paths StoreUnavailable."""
    with pytest.raises(ValueError, match="not a store URL"):
        open_store("mysql://localhost/relay")
    with pytest.raises(ValueError, match="file path"):
        open_store("sqlite:///:memory:")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailable, match="cannot open the store"):
        open_store(f"sqlite:///{blocker / 'relay.db'}")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreUnavailable, match="cannot open the store"):
        open_store(f"postgresql://relay@127.0.0.1:{port}/relay?connect_timeout=2")


def test_sqlite_pragmas_make_commits_durable(tmp_path: Path) -> None:
    """SQLite runs in WAL with synchronous=FULL and foreign keys on; parent dirs are made."""
    store = open_store(f"sqlite:///{tmp_path / 'new' / 'home' / 'relay.db'}")
    try:
        with store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert connection.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() >= 5000
    finally:
        store.close()
