"""The import's state in the store (relay/store/imports.py) and the queue's lanes
(relay/store/claims.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta

from relay.envelope import Envelope
from relay.importing.run import imported_envelope
from relay.store import SqlStore
from relay.store.claims import IMPORT_CLAIM_LIMIT, IMPORTED_LANE, LIVE_LANE
from relay.store.imports import (
    DONE,
    GONE,
    RUNNING,
    STALE_AFTER,
    STOPPED,
    ImportedMessage,
    shown_state,
)
from relay.store.leases import this_host
from relay.store.model import State
from tests.importing.mail_files import message

LIVE = Envelope("alice@acme-widgets.example", ("log@relay.example",), auth="none")


def start(store: SqlStore, source: str = "/mail/takeout.mbox") -> str:
    return store.start_import(
        source, "Alice@Acme-Widgets.example", {"only_matched": True}, "h:1:import"
    ).id


def imported(store: SqlStore, import_id: str, first: int, n: int, cursor: str) -> list[str]:
    user = "alice@acme-widgets.example"
    items = [
        ImportedMessage(message(i), imported_envelope(import_id, user, message(i)))
        for i in range(first, first + n)
    ]
    return store.enqueue_imported(
        import_id, items, cursor, {"read": first + n, "queued": first + n}
    )


def test_the_same_source_and_rep_find_the_same_import_and_its_cursor(store: SqlStore) -> None:
    import_id = start(store)
    imported(store, import_id, 0, 3, "cursor-3")
    store.end_import(import_id, "stopped", {"read": 3, "queued": 3})
    again = store.start_import("/mail/takeout.mbox", "alice@acme-widgets.example", {}, "h:2:import")
    assert again.id == import_id
    assert (again.cursor, again.state, again.counts["read"]) == ("cursor-3", RUNNING, 3)
    other = start(store, "/mail/other.mbox")
    assert other != import_id
    assert [r.id for r in store.list_imports()] == [import_id, other]


def test_messages_and_cursor_are_stored_together(store: SqlStore) -> None:
    import_id = start(store)
    ids = imported(store, import_id, 0, 4, "after-4")
    record = store.get_import(import_id)
    assert record is not None
    assert record.cursor == "after-4"
    stored = [store.get(queue_id) for queue_id in ids]
    assert all(m is not None and m.import_id == import_id for m in stored)
    assert stored[0] is not None
    assert stored[0].envelope.auth == "import:alice@acme-widgets.example"
    assert store.raw(ids[0]) == message(0)
    assert store.import_outcomes(import_id).pending == 4


def test_claims_take_live_mail_first_and_imported_mail_in_small_batches(
    store: SqlStore,
) -> None:
    import_id = start(store)
    imported_ids = imported(store, import_id, 0, IMPORT_CLAIM_LIMIT + 10, "c")
    live = store.enqueue(message(999, tag="live"), LIVE, datetime.now(UTC))
    # The live message is the newest, yet it is claimed first, alone.
    assert [m.id for m in store.claim(200, "h:1:deliver", 30)] == [live]
    batch = store.claim(200, "h:1:deliver", 30)
    assert len(batch) == IMPORT_CLAIM_LIMIT
    assert [m.id for m in batch] == imported_ids[:IMPORT_CLAIM_LIMIT]
    # A live message that arrives while imported mail waits is taken before the rest.
    later = store.enqueue(message(1000, tag="live"), LIVE, datetime.now(UTC))
    assert [m.id for m in store.claim(200, "h:1:deliver", 30)] == [later]
    assert len(store.claim(200, "h:1:deliver", 30)) == 10


def test_outcomes_are_counted_from_the_queue(store: SqlStore) -> None:
    import_id = start(store)
    ids = imported(store, import_id, 0, 6, "c")
    store.claim(200, "h:1:deliver", 30)
    store.finish(ids[0], State.LOGGED, "logged to 1 record(s) in 1 Task(s)")
    store.finish(ids[1], State.LOGGED, "already logged: a copy of this email was logged before")
    store.finish(ids[2], State.REJECTED, "matched no record; unmatched policy is drop")
    store.finish(ids[3], State.HELD, "unknown sender")
    store.finish(ids[4], State.UNRESOLVED, "matched no record")
    counts = store.import_outcomes(import_id)
    assert (counts.logged, counts.duplicate, counts.skipped, counts.failed) == (1, 1, 1, 1)
    assert (counts.unresolved, counts.pending) == (1, 1)
    store.end_import(import_id, DONE)
    record = store.get_import(import_id)
    assert record is not None
    assert record.state == DONE
    assert record.finished_at is not None


def test_the_lane_runners_claims(store: SqlStore) -> None:
    """The live runner takes live mail only; the import runner imported mail only, and
    nothing while any live mail is due."""
    import_id = start(store)
    imported_ids = imported(store, import_id, 0, 3, "c")
    live = store.enqueue(message(999, tag="live"), LIVE, datetime.now(UTC))
    assert store.claim(200, "h:1:deliver-import", 30, IMPORTED_LANE) == []
    assert [m.id for m in store.claim(200, "h:1:deliver", 30, LIVE_LANE)] == [live]
    assert store.claim(200, "h:1:deliver", 30, LIVE_LANE) == []
    taken = store.claim(200, "h:1:deliver-import", 30, IMPORTED_LANE)
    assert [m.id for m in taken] == imported_ids


def test_pending_counts_the_imports_undelivered_messages(store: SqlStore) -> None:
    """What the import lane compares with the bulk threshold before gathering
    (relay/runners/import_lane.py): queued, processing and deferred messages of the
    named imports, not their finished ones, not other imports', not live mail."""
    first, second = start(store, "/mail/a.mbox"), start(store, "/mail/b.mbox")
    ids = imported(store, first, 0, 5, "c")
    imported(store, second, 100, 3, "c")
    store.enqueue(message(999, tag="live"), LIVE, datetime.now(UTC))
    assert store.import_pending([first]) == 5
    assert len(store.claim(1, "h:1:deliver", 30, LIVE_LANE)) == 1  # the lane waits for it
    claimed = [m.id for m in store.claim(2, "h:1:deliver-import", 30, IMPORTED_LANE)]
    store.finish(claimed[0], State.LOGGED, "logged to 1 record(s) in 1 Task(s)")
    store.defer(claimed[1], datetime.now(UTC), "Salesforce was unavailable")
    assert claimed == ids[:2]
    assert store.import_pending([first]) == 4  # 3 queued, 1 deferred
    assert store.import_pending([first, second]) == 7
    assert store.import_pending([]) == 0


def test_a_running_import_whose_heartbeat_stopped_is_shown_stopped(store: SqlStore) -> None:
    """Another host's import (its PID cannot be checked here): running while its
    heartbeat is fresh, stopped once it is older than STALE_AFTER; a heartbeat from
    the owner brings it back, one from anyone else does not."""
    owner = "elsewhere.invalid:4242:import"
    record = store.start_import("/mail/far.mbox", "alice@acme-widgets.example", {}, owner)
    beat = record.heartbeat_at
    assert beat is not None
    assert shown_state(record, beat + timedelta(seconds=5)) == (RUNNING, None)
    late = beat + STALE_AFTER + timedelta(seconds=1)
    assert shown_state(record, late) == (STOPPED, GONE)
    (listed,) = [s for s in store.import_summaries() if s["id"] == record.id]
    assert (listed["state"], listed["note"]) == (RUNNING, None)
    assert not store.beat_import(record.id, "h:1:import")
    assert store.beat_import(record.id, owner)
    again = store.get_import(record.id)
    assert again is not None
    assert again.heartbeat_at is not None
    assert again.heartbeat_at > beat
    store.end_import(record.id, STOPPED)
    assert not store.beat_import(record.id, owner)  # ended: nothing to keep alive


def test_a_running_import_of_a_dead_process_on_this_host_is_shown_stopped(
    store: SqlStore,
) -> None:
    """The owner is a process of this host that has exited: stopped at once, without
    waiting for the heartbeat to go stale."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = f"{this_host()}:{dead.pid}:import"
    record = store.start_import("/mail/dead.mbox", "alice@acme-widgets.example", {}, owner)
    (listed,) = store.import_summaries(["ALICE@acme-widgets.example"])
    assert (listed["id"], listed["state"], listed["note"]) == (record.id, STOPPED, GONE)
    mine = f"{this_host()}:{os.getpid()}:import"
    alive = store.start_import("/mail/alive.mbox", "bob@acme-widgets.example", {}, mine)
    assert shown_state(alive) == (RUNNING, None)
    assert [s["id"] for s in store.import_summaries(["bob@acme-widgets.example"])] == [alive.id]
