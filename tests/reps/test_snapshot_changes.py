"""The rep snapshot follows the store's ``reps`` change version, on both backends: each
kind of change (alias, setting, rep sync) makes it stale, one re-read makes it current,
and a change during the read is not lost (docs/design.md §2)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from relay.config import Config
from relay.reps.snapshot import RepSnapshot
from relay.store import SqlStore
from relay.store.model import Rep

ALICE = Rep("0055g0000000002AAA", "alice@acme-widgets.example", "alice@acme-widgets.example")
BOB = Rep("0055g0000000003AAA", "bob@acme-widgets.example", "bob@acme-widgets.example")


def test_each_change_makes_the_snapshot_stale_until_read(store: SqlStore, tmp_path: Path) -> None:
    store.replace_reps([ALICE], datetime.now(UTC))
    snapshot = RepSnapshot.from_store(Config(home=tmp_path), store)
    assert snapshot.is_current(store)
    assert not snapshot.refresh_if_changed(store)

    store.add_sender("alice.home@example.org", ALICE.user_id, ALICE.username)
    assert not snapshot.is_current(store)
    assert snapshot.directory.rep_for("alice.home@example.org") is None
    assert snapshot.refresh_if_changed(store)
    assert snapshot.directory.rep_for("alice.home@example.org") == ALICE
    assert snapshot.is_current(store)

    store.set_setting(ALICE.user_id, "logging", "email_to_salesforce")
    assert snapshot.refresh_if_changed(store)
    assert snapshot.settings(ALICE.user_id).logging == "email_to_salesforce"

    store.replace_reps([ALICE, BOB], datetime.now(UTC))
    assert snapshot.refresh_if_changed(store)
    assert snapshot.directory.rep_for(BOB.email) == BOB


def test_a_change_during_the_read_leaves_it_stale(store: SqlStore, tmp_path: Path) -> None:
    """The version is read before the data: a change committed between the two is seen
    as a change at the next check, never swallowed."""
    store.replace_reps([ALICE], datetime.now(UTC))
    snapshot = RepSnapshot.from_store(Config(home=tmp_path), store)
    list_senders = store.list_senders

    def racing_list_senders():  # type: ignore[no-untyped-def]
        store.add_sender("late@example.org", ALICE.user_id, ALICE.username)
        return list_senders()

    store.add_sender("first@example.org", ALICE.user_id, ALICE.username)
    store.list_senders = racing_list_senders  # type: ignore[method-assign]
    try:
        assert snapshot.refresh_if_changed(store)
    finally:
        store.list_senders = list_senders  # type: ignore[method-assign]
    assert not snapshot.is_current(store)
    assert snapshot.refresh_if_changed(store)
    assert snapshot.directory.rep_for("late@example.org") == ALICE
