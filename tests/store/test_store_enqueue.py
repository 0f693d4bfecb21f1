"""Accepting messages: what enqueue records, durability, and concurrent callers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from ulid import ULID

from relay.envelope import Envelope
from relay.store import SqlStore, State, UnknownMessage, open_store


def test_enqueue_roundtrip_keeps_bytes_envelope_and_headers(
    store: SqlStore, envelope: Envelope
) -> None:
    """The raw bytes come back identical and the envelope and headers are recorded."""
    raw = (
        b"Message-ID:   <abc.123@mail.example.com>  \r\n"
        b"Subject: =?utf-8?q?R=C3=A9union_d=27=C3=A9quipe?=\r\n"
        b"\r\nbody \xff\x00 bytes\r\n"
    )
    received = datetime(2025, 1, 6, 10, 0, 0, 123456, tzinfo=UTC)
    queue_id = store.enqueue(raw, envelope, received)
    message = store.get(queue_id)
    assert message is not None
    assert store.raw(queue_id) == raw
    assert message.state is State.QUEUED
    assert message.envelope == envelope
    assert message.received_at == received
    assert message.message_id == "<abc.123@mail.example.com>"
    assert message.subject == "Réunion d'équipe"
    assert message.size == len(raw)
    assert message.attempts == 0
    assert message.reason is None


def test_queue_ids_are_ulids_sorted_by_arrival(enqueue: Callable[..., str]) -> None:
    """Queue ids parse as ULIDs and sort in the order messages arrived."""
    ids = [enqueue() for _ in range(5)]
    assert [str(ULID.from_str(queue_id)) for queue_id in ids] == ids
    assert sorted(ids) == ids


def test_received_at_is_normalised_to_utc(
    store: SqlStore, make_message: Callable[..., bytes]
) -> None:
    """An aware time in another zone, or a naive one (taken as UTC), is stored as UTC."""
    paris = timezone(timedelta(hours=1))
    aware = store.enqueue(
        make_message(),
        Envelope("", ("log@relay.localhost",)),
        datetime(2025, 1, 6, 11, 0, tzinfo=paris),
    )
    naive = store.enqueue(
        make_message(), Envelope("", ("log@relay.localhost",)), datetime(2025, 1, 6, 10, 0)
    )
    for queue_id in (aware, naive):
        message = store.get(queue_id)
        assert message is not None
        assert message.received_at == datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
        assert message.received_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("raw", "message_id", "subject"),
    [
        (b"no headers at all, just text", None, None),
        (b"\r\n\r\nbody only", None, None),
        (b"Subject: plain\r\n\r\n", None, "plain"),
        (b"Message-ID:\r\n <folded@example.com>\r\n\r\n", "<folded@example.com>", None),
        (b"Subject: =?x-unknown?q?broken?=\r\n\r\n", None, "broken"),
        (b"Subject: caf\xe9 8-bit\r\n\r\n", None, "caf\ufffd 8-bit"),
        (b"Subject: nul\x00inside\r\n\r\n", None, "nulinside"),
        (b"Message-ID: <a@b>\nSubject: bare LF\n\nbody", "<a@b>", "bare LF"),
        (b"\xff\xfe\x00garbage: \x80\r\n\r\n", None, None),
    ],
)
def test_header_extraction_never_fails(
    store: SqlStore, raw: bytes, message_id: str | None, subject: str | None
) -> None:
    """Odd or broken headers are still accepted; Message-ID and Subject are best effort."""
    queue_id = store.enqueue(raw, Envelope("", ("log@relay.localhost",)), datetime.now(UTC))
    message = store.get(queue_id)
    assert message is not None
    assert (message.message_id, message.subject) == (message_id, subject)
    assert store.raw(queue_id) == raw


def test_null_sender_and_many_recipients_roundtrip(
    store: SqlStore, make_message: Callable[..., bytes]
) -> None:
    """The null reverse-path and 100 recipients (RFC 5321 §4.5.3.1.8) are kept in order."""
    rcpts = tuple(f"log+{n}@relay.localhost" for n in range(100))
    queue_id = store.enqueue(make_message(), Envelope("", rcpts, "[::1]:25", ""), datetime.now(UTC))
    message = store.get(queue_id)
    assert message is not None
    assert message.envelope == Envelope("", rcpts, "[::1]:25", "")


def test_messages_survive_reopening(
    store_url: str, make_message: Callable[..., bytes], envelope: Envelope
) -> None:
    """What enqueue returned is there after the store is closed and opened again."""
    first = open_store(store_url)
    raws = [make_message(n) for n in range(3)]
    ids = [first.enqueue(raw, envelope, datetime.now(UTC)) for raw in raws]
    first.close()
    second = open_store(store_url)
    try:
        assert [message.id for message in second.list()] == ids
        assert [second.raw(queue_id) for queue_id in ids] == raws
    finally:
        second.close()


def test_concurrent_enqueue_stores_every_message_once(
    store: SqlStore, make_message: Callable[..., bytes], envelope: Envelope
) -> None:
    """16 threads enqueue at once (group commit): every id is distinct and every body is present."""
    results: dict[str, bytes] = {}
    lock = threading.Lock()

    def worker(thread: int) -> None:
        for n in range(25):
            raw = make_message(thread * 1000 + n)
            queue_id = store.enqueue(raw, envelope, datetime.now(UTC))
            with lock:
                assert queue_id not in results
                results[queue_id] = raw

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 400
    assert {message.id for message in store.list()} == set(results)
    assert store.counts()[State.QUEUED] == 400
    for queue_id in list(results)[::37]:
        assert store.raw(queue_id) == results[queue_id]


def test_list_filters_by_state_orders_by_arrival_and_limits(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """list() returns the given states, oldest first, up to limit."""
    ids = [enqueue() for _ in range(4)]
    store.hold(ids[1], "waiting for a setting")
    assert [m.id for m in store.list()] == ids
    assert [m.id for m in store.list({State.QUEUED})] == [ids[0], ids[2], ids[3]]
    assert [m.id for m in store.list({State.HELD})] == [ids[1]]
    assert [m.id for m in store.list(limit=2)] == ids[:2]
    assert store.list({State.LOGGED}) == []


def test_counts_cover_every_state(store: SqlStore, enqueue: Callable[..., str]) -> None:
    """counts() has a number for every state, zero included."""
    enqueue()
    enqueue()
    store.hold(enqueue(), "check")
    counts = store.counts()
    assert set(counts) == set(State)
    assert counts[State.QUEUED] == 2
    assert counts[State.HELD] == 1
    assert counts[State.LOGGED] == 0


def test_get_and_raw_of_unknown_id(store: SqlStore) -> None:
    """get() gives None and raw() raises UnknownMessage (a KeyError) for an unknown id."""
    assert store.get("01J00000000000000000000000") is None
    with pytest.raises(KeyError) as caught:
        store.raw("01J00000000000000000000000")
    assert isinstance(caught.value, UnknownMessage)
    assert "01J00000000000000000000000" in str(caught.value)
