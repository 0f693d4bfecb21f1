"""The store's senders, rep snapshot, settings and notices, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relay.store import SqlStore
from relay.store.model import ORG_SCOPE, Rep

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def test_aliases_are_added_listed_moved_and_removed(store: SqlStore) -> None:
    """An alias is stored lower-cased, re-adding moves it to the new rep, remove forgets it."""
    store.add_sender("Ann.Home@Example.COM", "005000000000001AAA", "ann@acme.example")
    store.add_sender("ann.work@example.com", "005000000000001AAA", "ann@acme.example")
    assert [s.alias for s in store.list_senders()] == [
        "ann.home@example.com",
        "ann.work@example.com",
    ]
    store.add_sender("ann.home@example.com", "005000000000002AAA", "bob@acme.example")
    assert [s.alias for s in store.list_senders("005000000000002AAA")] == ["ann.home@example.com"]
    assert store.remove_sender("ANN.HOME@example.com") is True
    assert store.remove_sender("ann.home@example.com") is False
    assert [s.alias for s in store.list_senders()] == ["ann.work@example.com"]


def test_rep_snapshot_is_replaced_whole_and_records_the_sync(store: SqlStore) -> None:
    """replace_reps swaps the snapshot in one go; synced_at is None until the first sync."""
    assert store.reps_synced_at() is None
    store.replace_reps([Rep("005A", "ann@acme", "Ann@Acme.example", "Ann")], NOW)
    store.replace_reps([Rep("005B", "bob@acme", "bob@acme.example", "Bob")], NOW + timedelta(1))
    assert store.list_reps() == [Rep("005B", "bob@acme", "bob@acme.example", "Bob", True)]
    assert store.reps_synced_at() == NOW + timedelta(1)
    store.replace_reps([], NOW + timedelta(2))
    assert store.list_reps() == []
    assert store.reps_synced_at() == NOW + timedelta(2)


def test_settings_overrides_set_replace_and_clear(store: SqlStore) -> None:
    """An override per (scope, key): setting again replaces it, clear removes only it."""
    store.set_setting(ORG_SCOPE, "body", "none")
    store.set_setting(ORG_SCOPE, "body", "full")
    store.set_setting("005A", "logging", "off")
    assert store.setting_overrides() == {ORG_SCOPE: {"body": "full"}, "005A": {"logging": "off"}}
    assert store.clear_setting("005A", "logging") is True
    assert store.clear_setting("005A", "logging") is False
    assert store.setting_overrides() == {ORG_SCOPE: {"body": "full"}}


def test_at_most_one_notice_per_rep_and_problem_per_day(store: SqlStore) -> None:
    """claim_notice says yes once a day per (rep, problem), independently per problem."""
    day = timedelta(days=1)
    assert store.claim_notice("005A", "e2s_address_missing", NOW, day) is True
    later = NOW + timedelta(hours=23)
    assert store.claim_notice("005A", "e2s_address_missing", later, day) is False
    assert store.claim_notice("005A", "api_disabled", NOW, day) is True
    assert store.claim_notice("005B", "e2s_address_missing", NOW, day) is True
    assert store.claim_notice("005A", "e2s_address_missing", NOW + day, day) is True
    assert store.claim_notice("005A", "e2s_address_missing", NOW + day, day) is False
