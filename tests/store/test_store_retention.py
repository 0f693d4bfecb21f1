"""Retention: raw bytes of finished messages are purged after the window; the message
row, its history and the delivery ledger stay (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from relay.runners.retention import RetentionRunner, purge_older_than
from relay.store import SqlStore, State, UnknownMessage, open_store
from relay.store.model import WRITTEN, Delivery, Outcome
from relay.store.retention import PURGE_REASON_PREFIX, RawPurged

DAY = timedelta(days=1)


def _finished(store: SqlStore, enqueue: Callable[..., str], *states: State) -> list[str]:
    """One message per state, each taken through claim and finish (or admin ops)."""
    ids = [enqueue(subject=f"m{n}") for n in range(len(states))]
    claimed = {m.id for m in store.claim(len(ids), "test", 60)}
    assert claimed == set(ids)
    for queue_id, state in zip(ids, states, strict=True):
        if state is State.DEFERRED:
            store.defer(queue_id, datetime.now(UTC) + DAY, "503")
        else:
            store.finish(queue_id, state, f"done: {state.value}")
    return ids


def test_runner_purges_only_final_messages_past_the_window(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """Logged, rejected and quarantined lose their raw bytes after 30 days; unresolved,
    held and deferred keep theirs; every row and state stays."""
    purged_states = (State.LOGGED, State.REJECTED, State.QUARANTINED)
    kept_states = (State.UNRESOLVED, State.HELD, State.DEFERRED)
    ids = _finished(store, enqueue, *purged_states, *kept_states)
    runner = RetentionRunner(store, days=30)
    now = datetime.now(UTC)

    assert runner.purge_once(now=now + 29 * DAY).messages == 0
    assert all(store.raw(queue_id) for queue_id in ids)

    done = runner.purge_once(now=now + 31 * DAY)
    assert done.messages == 3
    assert done.by_state == {"logged": 1, "quarantined": 1, "rejected": 1}
    assert done.bytes == sum(store.get(q).size for q in ids[:3])  # type: ignore[union-attr]
    for queue_id, state in zip(ids, purged_states + kept_states, strict=True):
        message = store.get(queue_id)
        assert message is not None
        assert message.state is state
        if state in purged_states:
            with pytest.raises(RawPurged, match="purged under retention \\(30 days\\) on "):
                store.raw(queue_id)
            last = store.transitions(queue_id)[-1]
            assert (last.from_state, last.to_state) == (state, state)
            assert last.reason is not None
            assert last.reason.startswith(PURGE_REASON_PREFIX)
            assert store.purge_note(queue_id) is not None
        else:
            assert store.raw(queue_id).startswith(b"Message-ID:")
            assert store.purge_note(queue_id) is None
    assert runner.purge_once(now=now + 60 * DAY).messages == 0  # nothing twice


def test_purge_keeps_the_delivery_ledger(store: SqlStore, enqueue: Callable[..., str]) -> None:
    """After the purge, the ledger still knows the Task: a late copy is recognised as
    already written (the dedup check) and replies still find their thread."""
    queue_id = enqueue(subject="Renewal")
    store.claim(1, "test", 60)
    delivery = Delivery("key-1", "renewal@mail.example.com", "003A", ("003A", "006B"), queue_id)
    store.record_intents([delivery])
    store.finish_many([Outcome(queue_id, State.LOGGED, "logged")], written={"key-1": "00T1"})

    done = purge_older_than(store, 0, how="by a test", now=datetime.now(UTC) + DAY)
    assert done.messages == 1
    with pytest.raises(RawPurged):
        store.raw(queue_id)
    row = store.deliveries_for_keys(["key-1"])["key-1"]
    assert (row.state, row.task_id, row.queue_id) == (WRITTEN, "00T1", queue_id)
    assert store.known_threads(["renewal@mail.example.com"]) == {
        "renewal@mail.example.com": ("003A", "006B")
    }


def test_retry_of_a_purged_message_is_refused(store: SqlStore, enqueue: Callable[..., str]) -> None:
    """Nothing is left to process: retry says the bytes were purged and when."""
    (queue_id,) = _finished(store, enqueue, State.LOGGED)
    purge_older_than(store, 0, how="by a test", now=datetime.now(UTC) + DAY)
    with pytest.raises(RawPurged, match=f"cannot retry message {queue_id}: raw bytes purged"):
        store.retry(queue_id)
    assert store.get(queue_id).state is State.LOGGED  # type: ignore[union-attr]
    assert store.claim(10, "test", 60) == []


def test_unknown_message_is_still_unknown(store: SqlStore) -> None:
    """raw() of an id that never existed is UnknownMessage, not a purge."""
    with pytest.raises(UnknownMessage):
        store.raw("01J00000000000000000000000")


def test_admin_purge_chooses_states_and_dry_run_changes_nothing(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """--state unresolved purges only those; a dry run counts and keeps every byte."""
    logged, unresolved = _finished(store, enqueue, State.LOGGED, State.UNRESOLVED)
    later = datetime.now(UTC) + DAY
    counted = purge_older_than(
        store, 0, states={State.UNRESOLVED}, how="by a test", now=later, dry_run=True
    )
    assert (counted.messages, counted.by_state) == (1, {"unresolved": 1})
    assert store.raw(unresolved)
    assert store.raw(logged)
    done = purge_older_than(store, 0, states={State.UNRESOLVED}, how="by a test", now=later)
    assert done.by_state == {"unresolved": 1}
    with pytest.raises(RawPurged):
        store.raw(unresolved)
    assert store.raw(logged)


def test_purge_runs_in_bounded_batches(store: SqlStore, enqueue: Callable[..., str]) -> None:
    """One transaction purges at most a batch; a pass repeats until none is left."""
    ids = _finished(store, enqueue, *[State.LOGGED] * 5)
    runner = RetentionRunner(store, days=1, batch=2)
    later = datetime.now(UTC) + 2 * DAY
    assert runner.purge_batch(now=later).messages == 2
    assert runner.purge_once(now=later).messages == 3
    assert all(store.purge_note(q) is not None for q in ids)


def test_the_runner_loop_purges_at_start_and_stops_when_asked(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """The daemon's loop: a pass at start-up (in batches), then it waits; stop ends it."""
    ids = _finished(store, enqueue, State.LOGGED, State.LOGGED, State.HELD)
    clock = lambda: datetime.now(UTC) + 40 * DAY  # noqa: E731

    async def scenario() -> None:
        stopping = asyncio.Event()
        runner = RetentionRunner(store, days=30, batch=1, clock=clock)
        task = asyncio.create_task(runner.run(stopping))
        for _ in range(200):
            if all(store.purge_note(q) for q in ids[:2]):
                break
            await asyncio.sleep(0.05)
        stopping.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert all(store.purge_note(q) is not None for q in ids[:2])
    assert store.raw(ids[2])  # held: a person still needs it


def test_zero_days_keeps_raw_bytes_forever(store: SqlStore, enqueue: Callable[..., str]) -> None:
    """retention_days = 0: the runner purges nothing and only waits for the stop."""
    (queue_id,) = _finished(store, enqueue, State.LOGGED)
    clock = lambda: datetime.now(UTC) + 4000 * DAY  # noqa: E731

    async def scenario() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(RetentionRunner(store, days=0, clock=clock).run(stopping))
        await asyncio.sleep(0.2)
        assert not task.done()
        stopping.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert store.raw(queue_id)


def test_two_nodes_purging_at_once_purge_each_message_once(
    store: SqlStore, store_url: str, enqueue: Callable[..., str]
) -> None:
    """Two stores on one database (two nodes) purge together: every message is purged
    exactly once, with one history entry, and the counts add up."""
    ids = _finished(store, enqueue, *[State.LOGGED] * 40)
    later = datetime.now(UTC) + DAY
    other = open_store(store_url)
    try:
        with ThreadPoolExecutor(2) as pool:
            runs = [
                pool.submit(purge_older_than, node, 0, how="by a test", now=later, batch=3)
                for node in (store, other)
            ]
            total = sum(run.result().messages for run in runs)
    finally:
        other.close()
    assert total == 40
    for queue_id in ids:
        purges = [
            t for t in store.transitions(queue_id) if t.reason == "raw bytes purged by a test"
        ]
        assert len(purges) == 1
