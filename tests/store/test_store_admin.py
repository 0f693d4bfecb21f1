"""Admin operations (retry, hold, release, delete), their errors, history and log events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from relay.store import InvalidTransition, SqlStore, State, UnknownMessage

UNKNOWN = "01J0000000000000000000ZZZZ"


def test_retry_requeues_a_deferred_message_now(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """retry() puts a deferred message back to queued and clears not_before."""
    queue_id = enqueue()
    store.claim(1, "w", 60)
    store.defer(queue_id, datetime.now(UTC) + timedelta(hours=1), "503")
    store.retry(queue_id)
    message = store.get(queue_id)
    assert message is not None
    assert (message.state, message.not_before) == (State.QUEUED, None)
    assert [m.id for m in store.claim(1, "w", 60)] == [queue_id]


@pytest.mark.parametrize("final", [State.LOGGED, State.QUARANTINED, State.UNRESOLVED])
def test_retry_reopens_a_finished_message(
    store: SqlStore, enqueue: Callable[..., str], final: State
) -> None:
    """An admin can send a finished message through the pipeline again."""
    queue_id = enqueue()
    store.claim(1, "w", 60)
    store.finish(queue_id, final, "first pass")
    store.retry(queue_id)
    message = store.get(queue_id)
    assert message is not None
    assert message.state is State.QUEUED


def test_hold_then_release(store: SqlStore, enqueue: Callable[..., str]) -> None:
    """A held message is not claimed; release() makes it claimable again."""
    queue_id = enqueue()
    store.hold(queue_id, "org without API access")
    assert store.claim(5, "w", 60) == []
    store.release(queue_id)
    [claimed] = store.claim(5, "w", 60)
    assert claimed.id == queue_id


def test_delete_removes_message_body_and_history(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """delete() removes the message, its raw bytes and its transitions for good."""
    queue_id, other = enqueue(), enqueue()
    store.delete(queue_id)
    assert store.get(queue_id) is None
    assert store.transitions(queue_id) == []
    with pytest.raises(UnknownMessage):
        store.raw(queue_id)
    assert [m.id for m in store.list()] == [other]
    assert store.raw(other)


@pytest.mark.parametrize(
    "operation",
    [
        lambda s: s.retry(UNKNOWN),
        lambda s: s.hold(UNKNOWN, "x"),
        lambda s: s.release(UNKNOWN),
        lambda s: s.delete(UNKNOWN),
        lambda s: s.finish(UNKNOWN, State.LOGGED),
        lambda s: s.defer(UNKNOWN, datetime.now(UTC), "x"),
    ],
    ids=["retry", "hold", "release", "delete", "finish", "defer"],
)
def test_unknown_id_raises_a_readable_key_error(
    store: SqlStore, operation: Callable[[SqlStore], None]
) -> None:
    """Every operation on an unknown id raises UnknownMessage naming the id."""
    with pytest.raises(UnknownMessage) as caught:
        operation(store)
    assert isinstance(caught.value, KeyError)
    assert str(caught.value).startswith(f"no message with queue id '{UNKNOWN}'")


def test_invalid_transitions_are_refused_and_change_nothing(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """release of a non-held message, hold of a held one, admin ops on processing: refused."""
    queued, processing = enqueue(), enqueue()
    store.claim(1, "w", 60)  # takes `queued`, the oldest
    queued, processing = processing, queued
    cases = [
        (lambda: store.release(queued), "cannot release"),
        (lambda: store.retry(processing), "cannot retry"),
        (lambda: store.delete(processing), "cannot delete"),
        (lambda: store.defer(queued, datetime.now(UTC), "x"), "cannot defer"),
    ]
    for call, message in cases:
        with pytest.raises(InvalidTransition, match=message):
            call()
    store.hold(queued, "first")
    with pytest.raises(InvalidTransition, match="it is held"):
        store.hold(queued, "second")
    store.claim(1, "w", 60)
    store.finish(processing, State.LOGGED)
    with pytest.raises(InvalidTransition, match=r"cannot hold message .*: it is logged"):
        store.hold(processing, "late")
    states = {m.id: m.state for m in store.list()}
    assert states == {queued: State.HELD, processing: State.LOGGED}


def test_transitions_record_the_whole_history(store: SqlStore, enqueue: Callable[..., str]) -> None:
    """Each state change is one transition row, in order, with its reason."""
    queue_id = enqueue()
    store.claim(1, "w", 60)
    store.defer(queue_id, datetime.now(UTC) - timedelta(seconds=1), "503 from Salesforce")
    store.claim(1, "w", 60)
    store.hold(queue_id, "missing setting")
    store.release(queue_id)
    history = [(t.from_state, t.to_state, t.reason) for t in store.transitions(queue_id)]
    assert history == [
        (None, State.QUEUED, None),
        (State.QUEUED, State.PROCESSING, None),
        (State.PROCESSING, State.DEFERRED, "503 from Salesforce"),
        (State.DEFERRED, State.PROCESSING, None),
        (State.PROCESSING, State.HELD, "missing setting"),
        (State.HELD, State.QUEUED, "released"),
    ]
    times = [t.at for t in store.transitions(queue_id)]
    assert times == sorted(times)
    assert all(t.tzinfo is not None for t in times)


def test_every_state_change_logs_one_event_with_the_queue_id(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """message_queued, message_claimed and message_state_changed carry queue_id, from, to."""
    with capture_logs() as logs:
        queue_id = enqueue()
        store.claim(1, "node/1", 60)
        store.finish(queue_id, State.UNRESOLVED, "no matching record")
        store.retry(queue_id)
        store.delete(queue_id)
    events = [(e["event"], e.get("from"), e.get("to")) for e in logs]
    assert events == [
        ("message_queued", None, None),
        ("message_claimed", "queued", None),
        ("message_state_changed", "processing", "unresolved"),
        ("message_state_changed", "unresolved", "queued"),
        ("message_deleted", "queued", None),
    ]
    assert all(e["queue_id"] == queue_id for e in logs)
    assert logs[2]["reason"] == "no matching record"
    assert "raw" not in logs[0]
