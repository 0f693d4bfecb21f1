"""Runners' side of the queue: claim, leases, finish, defer and recover."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from relay.store import InvalidTransition, SqlStore, State, open_store


def test_claim_moves_oldest_due_messages_to_processing(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """claim() takes up to limit messages, oldest first, and counts an attempt."""
    ids = [enqueue() for _ in range(3)]
    claimed = store.claim(2, "node-a/1", lease_seconds=60)
    assert [m.id for m in claimed] == ids[:2]
    assert all(m.state is State.PROCESSING and m.attempts == 1 for m in claimed)
    stored = store.get(ids[0])
    assert stored is not None
    assert (stored.state, stored.attempts) == (State.PROCESSING, 1)
    assert [m.id for m in store.claim(10, "node-a/1", 60)] == [ids[2]]
    assert store.claim(10, "node-a/1", 60) == []


def test_claimers_in_threads_never_share_a_message(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """8 threads claim concurrently: each message is claimed exactly once."""
    ids = {enqueue() for _ in range(60)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(worker: str) -> None:
        while batch := store.claim(3, worker, 60):
            with lock:
                claimed.extend(m.id for m in batch)

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)


def test_two_store_instances_never_share_a_message(
    store_url: str, store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """Two stores on one database (two nodes) claim disjoint sets covering everything."""
    ids = {enqueue() for _ in range(40)}
    other = open_store(store_url)
    results: dict[str, list[str]] = {"a": [], "b": []}

    def claimer(name: str, instance: SqlStore) -> None:
        while batch := instance.claim(2, name, 60):
            results[name].extend(m.id for m in batch)

    try:
        threads = [
            threading.Thread(target=claimer, args=("a", store)),
            threading.Thread(target=claimer, args=("b", other)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
    assert not set(results["a"]) & set(results["b"])
    assert set(results["a"]) | set(results["b"]) == ids


def test_finish_records_each_outcome(store: SqlStore, enqueue: Callable[..., str]) -> None:
    """finish() stores every final outcome with its reason."""
    outcomes = [State.LOGGED, State.UNRESOLVED, State.HELD, State.QUARANTINED, State.REJECTED]
    ids = [enqueue() for _ in outcomes]
    store.claim(len(ids), "w", 60)
    for queue_id, outcome in zip(ids, outcomes, strict=True):
        store.finish(queue_id, outcome, f"because {outcome}")
    for queue_id, outcome in zip(ids, outcomes, strict=True):
        message = store.get(queue_id)
        assert message is not None
        assert (message.state, message.reason) == (outcome, f"because {outcome}")


def test_finish_rejects_non_outcomes_and_unclaimed_messages(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """finish() needs a processing message and an outcome state."""
    queue_id = enqueue()
    with pytest.raises(InvalidTransition, match="cannot finish"):
        store.finish(queue_id, State.LOGGED)
    store.claim(1, "w", 60)
    with pytest.raises(ValueError, match="outcome"):
        store.finish(queue_id, State.QUEUED)
    store.finish(queue_id, State.LOGGED)
    with pytest.raises(InvalidTransition):
        store.finish(queue_id, State.LOGGED)


def test_deferred_message_is_claimed_only_after_not_before(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """A deferred message waits until not_before, then is claimed again (attempt 2)."""
    queue_id = enqueue()
    store.claim(1, "w", 60)
    not_before = datetime.now(UTC) + timedelta(seconds=0.6)
    store.defer(queue_id, not_before, "Salesforce 503")
    message = store.get(queue_id)
    assert message is not None
    assert (message.state, message.reason) == (State.DEFERRED, "Salesforce 503")
    assert message.not_before is not None
    assert abs(message.not_before - not_before) < timedelta(milliseconds=1)
    assert store.claim(1, "w", 60) == []
    time.sleep(0.7)
    [again] = store.claim(1, "w", 60)
    assert (again.id, again.attempts) == (queue_id, 2)


def test_expired_lease_is_taken_over_by_another_worker(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """If a node dies mid-work, its message is claimable once the lease ends
    (docs/design.md §2)."""
    queue_id = enqueue()
    store.claim(1, "dead-node", lease_seconds=0.3)
    assert store.claim(1, "live-node", 60) == []
    time.sleep(0.4)
    [taken] = store.claim(1, "live-node", 60)
    assert (taken.id, taken.attempts) == (queue_id, 2)
    history = store.transitions(queue_id)
    assert history[-1].from_state is State.PROCESSING
    assert history[-1].reason == "lease of dead-node expired"


def test_recover_takes_expired_leases_and_leaves_live_ones(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """The same rule on both backends: a live lease may be a sibling process's
    (tests/store/test_store_leases.py has the owners this host can prove dead)."""
    expired, live = enqueue(), enqueue()
    store.claim(1, "w", lease_seconds=0.3)
    store.claim(1, "w", lease_seconds=600)  # before the first lease ends: takes `live`
    time.sleep(0.4)
    recovered = store.recover()
    states = {queue_id: store.get(queue_id).state for queue_id in (expired, live)}  # type: ignore[union-attr]
    assert recovered == 1
    assert states == {expired: State.QUEUED, live: State.PROCESSING}
    message = store.get(expired)
    assert message is not None
    assert message.reason is not None
    assert "recovered" in message.reason
    assert store.recover() == 0  # nothing left to recover on either backend


def test_hold_by_a_runner_while_processing(store: SqlStore, enqueue: Callable[..., str]) -> None:
    """A runner may hold the message it claimed, with the reason for a person."""
    queue_id = enqueue()
    store.claim(1, "w", 60)
    store.hold(queue_id, "no Email-to-Salesforce address for rep@example.com")
    message = store.get(queue_id)
    assert message is not None
    assert message.state is State.HELD
    assert message.reason == "no Email-to-Salesforce address for rep@example.com"
    assert store.claim(1, "w", 60) == []
