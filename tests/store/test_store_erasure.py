"""Erasure (`relay forget`): every stored email naming an address goes, with its
unresolved items and sender aliases, and for a rep their reminders, Task-sync state and
console audit rows; the ledger stays (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from relay.envelope import Envelope
from relay.erasure import AddressPattern, address_hash, forget, plan_erasure
from relay.runners.retention import purge_older_than
from relay.store import SqlStore, State
from relay.store.model import Delivery, Outcome, Rep, new_unresolved
from relay.store.task_sync import CycleWrites, SyncRep
from relay.store.values import new_reminder

HANK = "hank@globex.example"
REP = Envelope("rep@example.com", ("log@relay.localhost",), "127.0.0.1:4000", "mx.example.com")


def _raw(headers: str, body: str = "Hello\r\n") -> bytes:
    return (headers.replace("\n", "\r\n") + "\r\n" + body).encode()


def _enqueue(store: SqlStore, raw: bytes, envelope: Envelope = REP) -> str:
    return store.enqueue(raw, envelope, datetime.now(UTC))


def _forwarded_in_base64() -> bytes:
    """A forward whose original (naming Hank) is a base64 text part: invisible to a
    byte search, found by the parser as the matcher saw it."""
    original = "---------- Forwarded message ---------\r\nFrom: Hank <HANK@globex.example>\r\n"
    original += (
        "Date: Mon, 6 Jan 2025 10:00:00 +0000\r\nSubject: Order\r\nTo: rep@example.com\r\n\r\nhi"
    )
    encoded = base64.encodebytes(original.encode()).decode().replace("\n", "\r\n")
    return _raw(
        "Message-ID: <fwd@x>\nFrom: Rep <rep@example.com>\nTo: log@relay.localhost\n"
        "Subject: Fwd: Order\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n",
        encoded,
    )


def test_forget_removes_everything_naming_the_address_and_keeps_the_ledger(
    store: SqlStore,
) -> None:
    """Envelope, To/Cc headers, a base64 forward, a reason: all found and removed with
    their history and unresolved items; aliases too; the ledger rows and the Task ids stay
    known; a message about someone else (jimbob@) is untouched."""
    in_to = _enqueue(store, _raw(f"Message-ID: <a@x>\nFrom: rep@example.com\nTo: {HANK}\n"))
    in_cc = _enqueue(
        store,
        _raw(
            "Message-ID: <b@x>\nFrom: rep@example.com\nTo: a@b.example\nCc: Hank@Globex.Example\n"
        ),
    )
    from_hank = _enqueue(
        store,
        _raw("Message-ID: <c@x>\nFrom: x@y.example\nTo: rep@example.com\n"),
        Envelope(HANK, ("log@relay.localhost",), "127.0.0.1:4000", "mx.globex.example"),
    )
    forwarded = _enqueue(store, _forwarded_in_base64())
    other = _enqueue(
        store,
        _raw(
            "Message-ID: <d@x>\nFrom: rep@example.com\nTo: jimbob@globex.example\n",
            f"see {HANK}.au\r\n",
        ),
    )
    by_reason = _enqueue(store, _raw("Message-ID: <e@x>\nFrom: rep@example.com\nTo: z@z.example\n"))
    assert len(store.claim(10, "test", 60)) == 6
    store.record_intents(
        [
            Delivery("k-a", "a@x", "003H", ("003H", "006H"), in_to, "005R"),
            Delivery("k-b", "b@x", "003H", ("003H",), in_cc, "005R"),
        ]
    )
    item = new_unresolved(
        queue_id=from_hank, message_key="c@x", relay_key="k-c", task_id="00T3",
        owner_id="005R", subject="Hi", mail_from=HANK, reason="no match",
    )  # fmt: skip
    store.finish_many(
        [
            Outcome(in_to, State.LOGGED, "logged"),
            Outcome(in_cc, State.LOGGED, "logged"),
            Outcome(from_hank, State.UNRESOLVED, "no record"),
            Outcome(forwarded, State.LOGGED, "logged"),
            Outcome(other, State.LOGGED, "logged"),
            Outcome(by_reason, State.HELD, f"unknown sender {HANK}"),
        ],
        written={"k-a": "00T1", "k-b": "00T2"},
        unresolved_items=[item],
    )
    store.add_sender(HANK.upper(), "005H", "hank@globex.example.user")
    store.add_sender("jimbob@globex.example", "005J", "jim")

    plan = plan_erasure(store, HANK)
    assert set(plan.messages) == {in_to, in_cc, from_hank, forwarded, by_reason}
    assert [i.id for i in plan.unresolved_items] == [item.id]
    assert plan.aliases == (HANK,)
    assert plan.tasks() == [
        {"task_id": "00T1", "records": ["003H", "006H"], "queue_id": in_to},
        {"task_id": "00T2", "records": ["003H"], "queue_id": in_cc},
        {"task_id": "00T3", "records": [], "queue_id": from_hank},
    ]

    with capture_logs() as logs:
        erased = forget(store, plan)
    assert (erased.messages, erased.unresolved_items, erased.senders) == (5, 1, 1)
    assert erased.busy == ()
    assert [m.id for m in store.list()] == [other]
    for queue_id in plan.messages:
        assert store.transitions(queue_id) == []
    assert store.list_unresolved(None) == []
    assert [a.alias for a in store.list_senders()] == ["jimbob@globex.example"]
    ledger = store.deliveries_for_keys(["k-a", "k-b"])
    assert {key: row.task_id for key, row in ledger.items()} == {"k-a": "00T1", "k-b": "00T2"}
    (event,) = [e for e in logs if e["event"] == "address_forgotten"]
    assert event["address_hash"] == address_hash(HANK)
    assert HANK not in repr(logs).lower()
    assert plan_erasure(store, HANK).empty


def test_a_message_being_processed_is_left_and_reported(store: SqlStore) -> None:
    """A runner's lease is respected: the message stays and is returned as busy."""
    queue_id = _enqueue(store, _raw(f"Message-ID: <p@x>\nFrom: {HANK}\nTo: rep@example.com\n"))
    store.claim(1, "test", 60)
    erased = forget(store, plan_erasure(store, HANK))
    assert (erased.messages, erased.busy) == (0, (queue_id,))
    assert store.get(queue_id) is not None


def test_a_purged_message_is_found_by_what_its_row_still_holds(store: SqlStore) -> None:
    """After retention purged the bytes, the envelope still identifies the message."""
    queue_id = _enqueue(
        store,
        _raw("Message-ID: <q@x>\nFrom: x@y.example\nTo: rep@example.com\n"),
        Envelope(HANK, ("log@relay.localhost",), "127.0.0.1:4000", "mx.globex.example"),
    )
    store.claim(1, "test", 60)
    store.finish(queue_id, State.LOGGED, "logged")
    purge_older_than(store, 0, how="by a test", now=datetime.now(UTC) + timedelta(days=1))
    plan = plan_erasure(store, HANK)
    assert plan.messages == {queue_id: "logged"}
    assert forget(store, plan).messages == 1
    assert store.get(queue_id) is None


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"To: {HANK}", True),
        (f"<{HANK.upper()}>", True),
        (f"ends a sentence: {HANK}.", True),
        (f"jim{HANK}", False),
        (f"{HANK}.au", False),
        (f"x.{HANK}", False),
        (f"{HANK}-x", False),
    ],
)
def test_the_address_is_matched_as_a_whole_address(text: str, found: bool) -> None:
    """A longer address that contains it is someone else."""
    pattern = AddressPattern(HANK)
    assert pattern.in_text(text) is found
    assert pattern.in_bytes(text.encode()) is found


def test_a_purged_copy_goes_with_a_stored_copy_and_its_task_is_reported(
    store: SqlStore,
) -> None:
    """Two copies of one email (same Message-ID): the first was logged and purged, the
    second was a duplicate with no ledger rows of its own. Forget finds both through the
    stored copy and reports the Task through the email's key."""
    raw = _raw(f"Message-ID: <same@x>\nFrom: rep@example.com\nTo: {HANK}\n")
    first = _enqueue(store, raw)
    store.claim(1, "test", 60)
    store.record_intents([Delivery("k-same", "same@x", "003H", ("003H",), first)])
    store.finish_many([Outcome(first, State.LOGGED, "logged")], written={"k-same": "00T7"})
    purge_older_than(store, 0, how="by a test", now=datetime.now(UTC) + timedelta(days=1))
    second = _enqueue(store, raw)
    store.claim(1, "test", 60)
    store.finish(second, State.LOGGED, "already logged")

    plan = plan_erasure(store, HANK)
    assert set(plan.messages) == {first, second}
    assert plan.tasks() == [{"task_id": "00T7", "records": ["003H"], "queue_id": first}]


CARMEN = "carmen@acme.example"
CARMEN_ID, OTHER_ID, ADMIN_ID = "005C00000000001AAA", "005O00000000001AAA", "005A00000000001AAA"


def test_forgetting_a_rep_removes_their_reminders_sync_state_and_audit_rows(
    store: SqlStore,
) -> None:
    """A rep's address: their reminders (a synced one and one the sync imported, deleted
    ones too), their Task-sync state and the console audit rows by them, about them, about
    their reminders or naming them go, in one transaction that bumps ``tasks``; another
    rep's, and audit rows about neither, stay. Synced Task ids are reported, not deleted."""
    store.replace_reps(
        [Rep(CARMEN_ID, "carmen@acme.example.prod", CARMEN, "Carmen"),
         Rep(OTHER_ID, "olga@acme.example", "olga@acme.example", "Olga")],
        datetime.now(UTC),
    )  # fmt: skip
    due = date(2026, 12, 18)
    pushed = replace(new_reminder(CARMEN_ID, "Call Hank", due), sf_task_id="00T000000000001AAA")
    imported = replace(new_reminder(CARMEN_ID, "From Salesforce", due), source="salesforce",
                       sf_task_id="00T000000000002AAA", synced_copy='{"subject": "x"}')  # fmt: skip
    gone = new_reminder(CARMEN_ID, "Deleted already", due)
    olgas = new_reminder(OTHER_ID, "Olga's own", due)
    store.add_reminders([pushed, imported, gone, olgas])
    store.delete_reminder(gone.id)
    store.apply_task_sync(
        CycleWrites(reps=[SyncRep(CARMEN_ID, True, enabled_at=datetime.now(UTC)),
                          SyncRep(OTHER_ID, True, enabled_at=datetime.now(UTC))])
    )  # fmt: skip
    store.record_audit(CARMEN_ID, "carmen@acme.example.prod", "task_added", pushed.id, {})
    store.record_audit(ADMIN_ID, "admin@acme.example", "settings_set", CARMEN_ID,
                       {"settings": {"task_sync": "on"}})  # fmt: skip
    store.record_audit(ADMIN_ID, "admin@acme.example", "task_done", gone.id, {})
    store.record_audit(ADMIN_ID, "admin@acme.example", "sender_added", "c.reyes@home.example",
                       {"rep": "carmen@acme.example.prod"})  # fmt: skip
    store.record_audit(ADMIN_ID, "admin@acme.example", "queue_release", "01QUEUEID", {})
    store.record_audit(OTHER_ID, "olga@acme.example", "task_added", olgas.id, {})
    versions = store.change_versions()

    plan = plan_erasure(store, CARMEN)
    assert plan.reps == (CARMEN_ID,)
    assert {r.id for r in plan.reminders} == {pushed.id, imported.id, gone.id}
    assert plan.sync_reps == (CARMEN_ID,)
    assert len(plan.audit_rows) == 4
    assert plan.reminder_tasks() == [
        {"task_id": "00T000000000001AAA", "reminder_id": pushed.id},
        {"task_id": "00T000000000002AAA", "reminder_id": imported.id},
    ]
    erased = forget(store, plan)
    assert (erased.reminders, erased.sync_reps, erased.audit_rows) == (3, 1, 4)
    assert [r.id for r in store.reminders_of([CARMEN_ID, OTHER_ID])] == [olgas.id]
    assert set(store.task_sync_reps()) == {OTHER_ID}
    left = [(e.user_id, e.action) for e in store.audit_entries(50)]
    assert sorted(left) == [(ADMIN_ID, "queue_release"), (OTHER_ID, "task_added")]
    assert store.change_versions().tasks > versions.tasks
    assert plan_erasure(store, CARMEN).empty


def test_an_audit_row_naming_any_address_goes_with_it(store: SqlStore) -> None:
    """Not a rep: an admin added Hank's address as an acceptable address; that row names
    him, so `relay forget` removes it (and nothing of the reps)."""
    store.record_audit(ADMIN_ID, "admin@acme.example", "sender_added", HANK.upper(),
                       {"rep": "carmen@acme.example.prod"})  # fmt: skip
    store.record_audit(ADMIN_ID, "admin@acme.example", "sender_added", "jimbob@globex.example",
                       {"rep": "carmen@acme.example.prod"})  # fmt: skip
    plan = plan_erasure(store, HANK)
    assert (plan.reps, plan.reminders, len(plan.audit_rows)) == ((), (), 1)
    assert not plan.empty
    assert forget(store, plan).audit_rows == 1
    assert [e.target for e in store.audit_entries(10)] == ["jimbob@globex.example"]
