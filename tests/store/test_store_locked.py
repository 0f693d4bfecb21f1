"""A SQLite store whose write lock another connection holds: every runner call fails as
StoreUnavailable naming the lock, and the readiness write gives up within its own limit.

The lock is real: ``BEGIN IMMEDIATE`` from a second sqlite3 connection, as an admin's
``sqlite3 relay.db`` session takes it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.envelope import Envelope
from relay.errors import StoreUnavailable
from relay.store import SqlStore, State, open_store
from relay.store.model import Outcome
from relay.store.sql_store import READINESS_LOCK_WAIT_SECONDS


@contextmanager
def write_lock(database: Path) -> Iterator[None]:
    admin = sqlite3.connect(database, isolation_level=None)
    admin.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        admin.execute("ROLLBACK")
        admin.close()


@pytest.fixture
def locked_store(tmp_path: Path) -> Iterator[SqlStore]:
    """A store with a 0.2 s busy timeout (the ``timeout`` URL parameter)."""
    store = open_store(f"sqlite:///{tmp_path / 'relay.db'}?timeout=0.2")
    yield store
    store.close()


def test_runner_calls_under_a_held_lock_raise_store_unavailable(
    locked_store: SqlStore,
    tmp_path: Path,
    make_message: Callable[..., bytes],
    envelope: Envelope,
) -> None:
    """claim, finish_many and defer raise StoreUnavailable naming the lock, not a raw error."""
    queue_id = locked_store.enqueue(make_message(), envelope, datetime.now(UTC))
    claimed = locked_store.claim(1, "test", 60)
    assert [m.id for m in claimed] == [queue_id]
    later = datetime.now(UTC) + timedelta(minutes=1)
    with write_lock(tmp_path / "relay.db"):
        calls: list[Callable[[], object]] = [
            lambda: locked_store.claim(1, "test", 60),
            lambda: locked_store.finish_many([Outcome(queue_id, State.LOGGED, "logged")]),
            lambda: locked_store.defer(queue_id, later, "later"),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable, match="database is locked"):
                call()
    locked_store.finish_many([Outcome(queue_id, State.LOGGED, "logged")])
    message = locked_store.get(queue_id)
    assert message is not None
    assert message.state is State.LOGGED


def test_readiness_write_waits_for_a_lock_only_briefly(tmp_path: Path) -> None:
    """With the usual 30 s busy timeout, check_writable gives up after about 2 s."""
    store = open_store(f"sqlite:///{tmp_path / 'relay.db'}")
    try:
        with write_lock(tmp_path / "relay.db"):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="database is locked"):
                store.check_writable()
            waited = time.monotonic() - started
        assert READINESS_LOCK_WAIT_SECONDS - 0.5 < waited < READINESS_LOCK_WAIT_SECONDS + 3
        store.check_writable()  # the connection's own 30 s wait is back, and it works
        assert store.list() == [], "the readiness write is rolled back"
    finally:
        store.close()


def test_a_bad_timeout_in_the_url_is_refused(tmp_path: Path) -> None:
    """``?timeout=`` must be seconds; anything else is a clear ValueError."""
    with pytest.raises(ValueError, match="not a number of seconds"):
        open_store(f"sqlite:///{tmp_path / 'relay.db'}?timeout=soon")
