"""The console's reads and audit list (relay/store/console_reads.py) on SQLite and
PostgreSQL: a rep's emails and the queue by state, newest first in keyset pages; the
ledger by queue id; a rep's open unresolved items; the audit rows newest first."""

from __future__ import annotations

from datetime import UTC, datetime

from relay.envelope import Envelope
from relay.store import SqlStore
from relay.store.model import State
from relay.store.values import Delivery, new_unresolved

REP, OTHER = "005000000000001AAA", "005000000000002AAA"


def _send(store: SqlStore, sender: str, n: int) -> str:
    envelope = Envelope(mail_from=sender, rcpt_tos=("log@relay.localhost",), peer="127.0.0.1:1",
                        helo="mx.example.com")  # fmt: skip
    raw = f"Subject: mail {n}\r\nMessage-ID: <{n}@x>\r\n\r\nbody".encode()
    return store.enqueue(raw, envelope, datetime.now(UTC))


def test_a_reps_messages_newest_first_in_pages(store: SqlStore) -> None:
    mine = [_send(store, "rep@example.com", n) for n in range(5)]
    _send(store, "someone@else.example", 99)
    first = store.recent_messages(["rep@example.com", "alias@example.com"], 3)
    assert [m.id for m in first] == mine[::-1][:3]
    rest = store.recent_messages(["rep@example.com"], 3, before=first[-1].id)
    assert [m.id for m in rest] == mine[::-1][3:]


def test_the_queue_by_state_in_pages(store: SqlStore) -> None:
    ids = [_send(store, "rep@example.com", n) for n in range(4)]
    for queue_id in ids[:3]:
        store.hold(queue_id, "waiting")
    held = store.messages_in_state(State.HELD, 2)
    assert [m.id for m in held] == [ids[2], ids[1]]
    assert [m.id for m in store.messages_in_state(State.HELD, 2, before=ids[1])] == [ids[0]]
    assert [m.id for m in store.messages_in_state(State.QUEUED, 10)] == [ids[3]]


def test_deliveries_and_unresolved_of_a_rep(store: SqlStore) -> None:
    queue_id = _send(store, "rep@example.com", 1)
    delivery = Delivery("rk1", "mk1", "0035g0000000001AAA", ("0035g0000000001AAA",), queue_id,
                        owner_id=REP, task_id="00T5g0000000001AAA", state="written")  # fmt: skip
    store.record_delivery(delivery)
    assert [d.relay_key for d in store.deliveries_for_queue_ids([queue_id, "none"])] == ["rk1"]
    assert store.deliveries_for_queue_ids([]) == []
    item = new_unresolved(
        queue_id=queue_id, message_key="mk2", relay_key="rk2", task_id="00T1",
        owner_id=REP, subject="s", mail_from="x@y.example", reason="none",
    )  # fmt: skip
    others = new_unresolved(
        queue_id=queue_id, message_key="mk3", relay_key="rk3", task_id="00T2",
        owner_id=OTHER, subject="s", mail_from="x@y.example", reason="none",
    )  # fmt: skip
    store.finish_many([], unresolved_items=[item, others])
    assert [i.id for i in store.unresolved_for_owner(REP, 10)] == [item.id]
    store.resolve_unresolved(item.id, "discarded")
    assert store.unresolved_for_owner(REP, 10) == []


def test_the_audit_list_newest_first(store: SqlStore) -> None:
    store.record_audit(REP, "rep@example.com", "settings_set", REP, {"body": "none"})
    store.record_audit(OTHER, "admin@example.com", "queue_release", "01ABC", {})
    entries = store.audit_entries(10)
    assert [(e.username, e.action) for e in entries] == [
        ("admin@example.com", "queue_release"),
        ("rep@example.com", "settings_set"),
    ]
    assert entries[1].detail == {"body": "none"}
    assert [e.action for e in store.audit_entries(10, before=entries[0].id)] == ["settings_set"]
