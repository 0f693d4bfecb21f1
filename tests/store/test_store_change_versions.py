"""Change versions (relay/store/changes.py): every write of a topic bumps it in its own
transaction, and ``wait_for_change`` wakes other store objects and other processes within
a second (docs/design.md §3)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from relay.store import SqlStore, State, open_store
from relay.store.model import ChangeVersions, Rep

WAKE_WITHIN = 1.0
"""The promise: a change reaches every process of every node within a second."""


def bumped(store: SqlStore, write: Callable[[], object]) -> ChangeVersions:
    """How much ``write`` moved each version."""
    before = store.change_versions()
    write()
    after = store.change_versions()
    return ChangeVersions(reps=after.reps - before.reps, queue=after.queue - before.queue)


DAY = timedelta(days=1)
REP = Rep("005000000000001", "rita@example.com", "rita@example.com", "Rita")


def test_versions_start_at_zero_and_read_cheaply(store: SqlStore) -> None:
    assert store.change_versions() == ChangeVersions(reps=0, queue=0)


def test_every_rep_record_write_bumps_reps(store: SqlStore) -> None:
    """Aliases, the reps sync and settings: what the rep snapshot is built from."""
    reps_only = ChangeVersions(reps=1, queue=0)
    now = datetime.now(UTC)
    assert bumped(store, lambda: store.add_sender("Rita@Home.example", REP.user_id, "r")) == (
        reps_only
    )
    assert bumped(store, lambda: store.remove_sender("rita@home.example")) == reps_only
    assert bumped(store, lambda: store.replace_reps([REP], now)) == reps_only
    assert bumped(store, lambda: store.replace_reps([REP], now)) == reps_only  # synced_at
    assert bumped(store, lambda: store.set_setting("org", "logging", "off")) == reps_only
    assert bumped(store, lambda: store.clear_setting("org", "logging")) == reps_only


def test_writes_that_change_nothing_bump_nothing(store: SqlStore) -> None:
    nothing = ChangeVersions(reps=0, queue=0)
    assert bumped(store, lambda: store.remove_sender("nobody@example.com")) == nothing
    assert bumped(store, lambda: store.clear_setting("org", "logging")) == nothing
    now = datetime.now(UTC)
    assert bumped(store, lambda: store.claim_notice(REP.user_id, "p", now, DAY)) == nothing


def test_every_admin_queue_operation_bumps_queue(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """retry, hold, release and delete; the runners' own writes do not bump (they would
    serialise every claimer on one row)."""
    queue_only = ChangeVersions(reps=0, queue=1)
    nothing = ChangeVersions(reps=0, queue=0)
    queue_id = ""

    def enqueue_one() -> None:
        nonlocal queue_id
        queue_id = enqueue()

    assert bumped(store, enqueue_one) == nothing
    assert bumped(store, lambda: store.claim(1, "w", 60)) == nothing
    assert bumped(store, lambda: store.renew_leases([queue_id], "w", 60)) == nothing
    assert bumped(store, lambda: store.hold(queue_id, "a person looks at it")) == queue_only
    assert bumped(store, lambda: store.release(queue_id)) == queue_only
    store.claim(1, "w", 60)
    assert bumped(store, lambda: store.finish(queue_id, State.LOGGED)) == nothing
    assert bumped(store, lambda: store.retry(queue_id)) == queue_only
    store.claim(1, "w", 60)
    assert bumped(store, lambda: store.recover()) == nothing  # a live lease: untouched
    store.finish(queue_id, State.REJECTED)
    assert bumped(store, lambda: store.delete(queue_id)) == queue_only


def test_erasure_bumps_what_it_removed(store: SqlStore, enqueue: Callable[..., str]) -> None:
    """`relay forget`: the erased messages and aliases, each topic once; nothing left to
    erase, no bump."""
    queue_id = enqueue()
    store.add_sender("rita@home.example", REP.user_id, "r")
    erase = lambda: store.erase([queue_id], [], ["rita@home.example"])  # noqa: E731
    assert bumped(store, erase) == ChangeVersions(reps=1, queue=1)
    assert bumped(store, erase) == ChangeVersions(reps=0, queue=0)


@contextmanager
def commit_fails_after_bump(store: SqlStore) -> Iterator[None]:
    """Fail the commit of any transaction that bumped a version, as a full disk or a lost
    connection fails it: whatever else that transaction wrote must vanish with the bump,
    and the bump with it."""

    def after_execute(connection: Any, statement: Any, *_args: Any) -> None:
        if "change_versions" in str(statement) and "UPDATE" in str(statement).upper():
            connection.info["bumped"] = True

    def commit(connection: Any) -> None:
        if connection.info.pop("bumped", False):
            raise OSError(28, "No space left on device")

    def rollback(connection: Any) -> None:
        connection.info.pop("bumped", None)

    engine = store.engine
    event.listen(engine, "after_execute", after_execute)
    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)
    try:
        yield
    finally:
        event.remove(engine, "after_execute", after_execute)
        event.remove(engine, "commit", commit)
        event.remove(engine, "rollback", rollback)


def test_a_rolled_back_write_bumps_nothing_and_a_bump_is_never_without_its_write(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """The bump is in the write's own transaction: a write whose commit fails leaves
    both its change and the version as they were (and a version never moves for a
    change that is not there)."""
    queue_id = enqueue()
    before = store.change_versions()
    with commit_fails_after_bump(store):
        with pytest.raises(Exception, match="No space left"):
            store.add_sender("rita@home.example", REP.user_id, "r")
        with pytest.raises(Exception, match="No space left"):
            store.set_setting("org", "logging", "off")
        with pytest.raises(Exception, match="No space left"):
            store.hold(queue_id, "a person looks at it")
    assert store.change_versions() == before
    assert store.list_senders() == []
    assert store.setting_overrides() == {}
    message = store.get(queue_id)
    assert message is not None
    assert message.state is State.QUEUED
    # The fault is gone: the same writes now commit, each with its bump.
    store.add_sender("rita@home.example", REP.user_id, "r")
    store.hold(queue_id, "a person looks at it")
    assert store.change_versions() == ChangeVersions(before.reps + 1, before.queue + 1)


def test_wait_for_change_times_out_and_returns_at_once_when_already_moved(
    store: SqlStore,
) -> None:
    seen = store.change_versions()
    started = time.monotonic()
    assert store.wait_for_change(seen, 0.4) == seen
    assert 0.35 <= time.monotonic() - started < 3
    store.set_setting("org", "logging", "off")
    started = time.monotonic()
    moved = store.wait_for_change(seen, 10)
    assert moved.reps == seen.reps + 1
    assert time.monotonic() - started < WAKE_WITHIN


def test_wait_for_change_can_ignore_other_topics(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """A reps waiter is not woken for a queue change (and returns the versions read)."""
    queue_id = enqueue()
    seen = store.change_versions()
    store.hold(queue_id, "a person looks at it")
    started = time.monotonic()
    current = store.wait_for_change(seen, 0.6, topics=["reps"])
    assert time.monotonic() - started >= 0.55
    assert (current.reps, current.queue) == (seen.reps, seen.queue + 1)
    assert store.wait_for_change(seen, 10, topics=["queue"]) == current
    with pytest.raises(ValueError, match="unknown change topic"):
        store.wait_for_change(seen, 0, topics=["repz"])


def waits_in_thread(waiter: SqlStore, topics: list[str]) -> tuple[threading.Thread, list[float]]:
    """Start a thread waiting for a change from the current versions; it records the
    time.monotonic() at which it woke, and the versions."""
    seen = waiter.change_versions()
    woke: list[Any] = []
    ready = threading.Event()

    def wait() -> None:
        ready.set()
        current = waiter.wait_for_change(seen, 15, topics=topics)
        woke.extend([time.monotonic(), current != seen])

    thread = threading.Thread(target=wait)
    thread.start()
    ready.wait(5)
    return thread, woke


@pytest.mark.parametrize(
    ("topic", "change"),
    [
        ("reps", lambda s, _q: s.add_sender("rita@home.example", REP.user_id, "r")),
        ("reps", lambda s, _q: s.set_setting(REP.user_id, "logging", "off")),
        ("reps", lambda s, _q: s.replace_reps([REP], datetime.now(UTC))),
        ("queue", lambda s, q: s.hold(q, "a person looks at it")),
    ],
    ids=["alias", "setting", "reps-sync", "hold"],
)
def test_a_change_wakes_a_waiter_on_another_store_object_within_a_second(
    store_url: str,
    topic: str,
    change: Callable[[SqlStore, str], object],
    make_message: Callable[..., bytes],
    envelope: Any,
) -> None:
    """Two store objects, two engines and pools (two processes' worth of connections):
    a write on one wakes a waiter on the other, through NOTIFY on PostgreSQL and the
    version poll on SQLite."""
    waiter, writer = open_store(store_url), open_store(store_url)
    try:
        queue_id = writer.enqueue(make_message(), envelope, datetime.now(UTC))
        waiter.wait_for_change(waiter.change_versions(), 0.3)  # listener up, if any
        thread, woke = waits_in_thread(waiter, [topic])
        time.sleep(0.5)  # the waiter is asleep in its wait, not reading
        change(writer, queue_id)
        committed = time.monotonic()
        thread.join(timeout=20)
        assert woke, "the waiter never returned"
        assert woke[1], "the waiter returned without a change"
        assert woke[0] - committed < WAKE_WITHIN
    finally:
        waiter.close()
        writer.close()


WAITER_SCRIPT = """
import json, sys, time
from relay.store import open_store
store = open_store(sys.argv[1])
seen = store.change_versions()
print(json.dumps({"ready": True}), flush=True)
current = store.wait_for_change(seen, float(sys.argv[2]), topics=["reps"])
print(json.dumps({"woke_at": time.time(), "moved": current != seen}), flush=True)
store.close()
"""


def test_a_change_wakes_a_waiter_in_another_process_within_a_second(store_url: str) -> None:
    """A real second process (as a delivery worker beside the CLI): the CLI's alias
    reaches it within a second."""
    writer = open_store(store_url)
    command = [sys.executable, "-c", WAITER_SCRIPT, store_url, "20"]
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as waiter:
            try:
                assert waiter.stdout is not None
                assert json.loads(waiter.stdout.readline()) == {"ready": True}
                time.sleep(0.6)  # the waiter's listener (PostgreSQL), first poll behind it
                writer.add_sender("rita@home.example", REP.user_id, "r")
                committed = time.time()
                woke = json.loads(waiter.stdout.readline())
                assert woke["moved"] is True
                assert woke["woke_at"] - committed < WAKE_WITHIN
                assert waiter.wait(timeout=20) == 0
            finally:
                if waiter.poll() is None:
                    waiter.kill()
    finally:
        writer.close()
