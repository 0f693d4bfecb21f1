"""The delivery ledger and unresolved items, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relay.envelope import Envelope
from relay.store import InvalidTransition, SqlStore, State
from relay.store.model import WRITTEN, Delivery, Outcome, new_unresolved

ENVELOPE = Envelope(mail_from="rep@example.com", rcpt_tos=("log@relay.localhost",))


def _claimed(store: SqlStore, count: int) -> list[str]:
    for n in range(count):
        store.enqueue(f"Message-ID: <{n}@x>\r\n\r\nbody".encode(), ENVELOPE, datetime.now(UTC))
    return [m.id for m in store.claim(count, "test", 60)]


def test_finish_many_records_every_outcome_in_one_call(store: SqlStore) -> None:
    """Logged, held and deferred outcomes land together, with their reasons."""
    logged, held, deferred = _claimed(store, 3)
    later = datetime.now(UTC) + timedelta(minutes=5)
    store.finish_many(
        [
            Outcome(logged, State.LOGGED, "logged to 1 record(s)"),
            Outcome(held, State.HELD, "sender unknown"),
            Outcome(deferred, State.DEFERRED, "503", later),
        ]
    )
    states = {m.id: (m.state, m.reason) for m in store.list()}
    assert states[logged] == (State.LOGGED, "logged to 1 record(s)")
    assert states[held] == (State.HELD, "sender unknown")
    assert states[deferred] == (State.DEFERRED, "503")
    assert store.get(deferred).not_before is not None  # type: ignore[union-attr]


def test_finish_many_is_all_or_nothing(store: SqlStore) -> None:
    """A message no longer processing fails the whole call; nothing is recorded."""
    first, second = _claimed(store, 2)
    store.finish_many([Outcome(second, State.LOGGED, "done")])
    with pytest.raises(InvalidTransition):
        store.finish_many(
            [Outcome(first, State.LOGGED, "done"), Outcome(second, State.LOGGED, "again")]
        )
    assert store.get(first).state is State.PROCESSING  # type: ignore[union-attr]


def test_intents_then_written_feed_dedup_and_threads(store: SqlStore) -> None:
    """Intents are kept once; written rows give known_threads their records."""
    (queue_id,) = _claimed(store, 1)
    intent = Delivery("k1", "m1@x", "006A", ("003A", "006A"), queue_id, "005R")
    store.record_intents([intent, Delivery("k2", "m1@x", "00QB", ("00QB",), queue_id)])
    store.record_intents([intent])  # a second attempt adds nothing
    assert {d.state for d in store.deliveries_for_keys(["k1", "k2"]).values()} == {"intent"}
    assert store.known_threads(["m1@x"]) == {}
    store.finish_many([Outcome(queue_id, State.LOGGED, "ok")], written={"k1": "00T1"})
    rows = store.deliveries_for_keys(["k1", "k2", "k3"])
    assert rows["k1"].state == WRITTEN
    assert rows["k1"].task_id == "00T1"
    assert rows["k2"].state == "intent"
    assert "k3" not in rows
    assert store.known_threads(["m1@x", "other@x"]) == {"m1@x": ("003A", "006A")}
    assert len(store.deliveries_for_messages(["m1@x"])) == 2


def test_unresolved_items_list_assign_discard(store: SqlStore) -> None:
    """Items are added once per Task key, listed while open, and closed by assign/discard."""
    first, second = _claimed(store, 2)
    items = [
        new_unresolved(
            queue_id=q,
            message_key=f"{q}@x",
            relay_key=f"key-{q}",
            task_id="00T" + q[-3:],
            owner_id="005R",
            subject="Hi",
            mail_from="rep@example.com",
            reason="matched no record",
        )
        for q in (first, second)
    ]
    store.finish_many(
        [Outcome(first, State.UNRESOLVED, "u"), Outcome(second, State.UNRESOLVED, "u")],
        unresolved_items=items,
    )
    store.mark_written({})
    assert [i.queue_id for i in store.list_unresolved()] == [first, second]
    store.resolve_unresolved(items[0].id, "assigned", "003A")
    store.resolve_unresolved(items[1].id, "discarded")
    assert store.list_unresolved() == []
    closed = {i.id: i for i in store.list_unresolved(None)}
    assert closed[items[0].id].assigned_record == "003A"
    assert closed[items[1].id].state == "discarded"
    with pytest.raises(KeyError):
        store.resolve_unresolved("nope", "discarded")


def test_two_nodes_recording_the_same_intents_at_once_both_succeed(store_url: str) -> None:
    """Two stores on one database record the same keys together: no error, one row each."""
    import threading

    from relay.store import open_store

    nodes = [open_store(store_url), open_store(store_url)]
    intents = [
        Delivery(f"key-{n}", f"m{n}@example.com", None, (f"003{n:012d}AAA",), f"Q{n}")
        for n in range(50)
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def node(store: SqlStore) -> None:
        barrier.wait()
        try:
            for _ in range(5):
                store.record_intents(intents)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=node, args=(n,)) for n in nodes]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        found = nodes[0].deliveries_for_keys([d.relay_key for d in intents])
        assert sorted(found) == sorted(d.relay_key for d in intents)
    finally:
        for opened in nodes:
            opened.close()
