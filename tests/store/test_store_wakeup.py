"""wait_for_work: idle runners wake when work arrives, and otherwise time out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from relay.envelope import Envelope
from relay.store import SqlStore, open_store


def test_wait_times_out_without_work(store: SqlStore) -> None:
    """With nothing arriving, wait_for_work returns after about the timeout."""
    store.wait_for_work(0)  # consume the signal of anything before this test
    started = time.monotonic()
    store.wait_for_work(0.3)
    assert time.monotonic() - started >= 0.25  # bench/deadlines.py times the wait


def test_enqueue_in_this_process_wakes_a_waiter(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """A runner thread waiting for work returns soon after another thread enqueues."""
    store.wait_for_work(0)
    woke_after: list[float] = []

    def runner() -> None:
        started = time.monotonic()
        store.wait_for_work(10)
        woke_after.append(time.monotonic() - started)

    thread = threading.Thread(target=runner)
    thread.start()
    time.sleep(0.2)
    enqueue()
    thread.join(timeout=10)
    assert woke_after
    assert woke_after[0] < 5


def test_work_that_arrived_before_the_wait_returns_at_once(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """A notification between a failed claim and the wait is not lost."""
    store.wait_for_work(0)
    enqueue()
    started = time.monotonic()
    store.wait_for_work(10)
    assert time.monotonic() - started < 1


def test_postgres_notify_wakes_another_node(
    postgres_schema_url: str, make_message: Callable[..., bytes], envelope: Envelope
) -> None:
    """On PostgreSQL, an enqueue on one node wakes a runner waiting on another (LISTEN/NOTIFY)."""
    waiter, sender = open_store(postgres_schema_url), open_store(postgres_schema_url)
    try:
        waiter.wait_for_work(0.5)  # starts the listener; it signals once when connected
        waiter.wait_for_work(0.5)
        woke_after: list[float] = []

        def runner() -> None:
            started = time.monotonic()
            waiter.wait_for_work(10)
            woke_after.append(time.monotonic() - started)

        thread = threading.Thread(target=runner)
        thread.start()
        time.sleep(0.3)
        sender.enqueue(make_message(), envelope, datetime.now(UTC))
        thread.join(timeout=15)
        assert woke_after
        assert woke_after[0] < 5
    finally:
        waiter.close()
        sender.close()
