"""The bodies claim reads ahead for raw(): same bytes, and never outliving the message."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from relay.store import SqlStore, State, UnknownMessage
from relay.store.body_cache import BodyCache
from relay.store.model import Outcome


def test_raw_after_claim_is_the_stored_body_every_time(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """raw() of a claimed message returns the enqueued bytes, on the first and later reads."""
    queue_id = enqueue(subject="Prefetched")
    [claimed] = store.claim(5, "w", 60)
    first, second = store.raw(claimed.id), store.raw(claimed.id)
    assert first == second
    assert b"Subject: Prefetched" in first
    assert claimed.id == queue_id


def test_finished_then_deleted_message_has_no_raw(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """A body read ahead but never used is dropped at finish: raw() after delete fails."""
    queue_id = enqueue()
    store.claim(5, "w", 60)
    store.finish_many([Outcome(queue_id, State.LOGGED, None)])
    store.delete(queue_id)
    with pytest.raises(UnknownMessage):
        store.raw(queue_id)


def test_body_cache_holds_at_most_its_budget() -> None:
    """Bodies beyond the byte budget are not kept (raw() reads those from the store)."""
    cache = BodyCache(budget=10)
    cache.put_all({"a": b"12345678", "b": b"1234"})
    assert cache.room() == 2
    assert cache.take("b") is None
    assert cache.take("a") == b"12345678"
    assert cache.take("a") is None
    assert cache.room() == 10
