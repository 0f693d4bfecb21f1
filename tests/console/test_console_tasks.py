"""The Tasks page over HTTP: edit and snooze (a bad date or subject is a message and
changes nothing; a good edit and a snooze change the reminder in the store), the Task
sync card on /settings (saved at once, audited, the first-sync rules stated) and the
sync state on /tasks read from the engine's stored state."""

from __future__ import annotations

import html
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from relay.console.pages_settings import FIRST_SYNC_RULES
from relay.salesforce.classify import classify_response
from relay.store import open_store
from relay.store.task_sync import CycleWrites, SyncRep, SyncState
from relay.tasksync.wording import describe, error_kind
from tests.console.console_helpers import ALICE, REP_PASSWORD, sign_in
from tests.support.localorg import RunningOrg
from tests.support.serve import RelayServe


def _reminder(relay: RelayServe, reminder_id: str) -> dict[str, Any]:
    listed = json.loads(relay.cli("tasks", "list", "--user", ALICE, "--all", "--json").stdout)
    found: dict[str, Any] = next(t for t in listed if t["id"] == reminder_id)
    return found


def test_edit_and_snooze(console_relay: RelayServe, console_org: RunningOrg) -> None:
    added = console_relay.cli("tasks", "add", "--user", ALICE, "Send the deck", "--due",
                              "2030-01-10")  # fmt: skip
    assert added.returncode == 0, added.stderr
    reminder_id = added.stdout.strip()
    alice = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    edit = f"/tasks/{reminder_id}/edit"
    assert alice.get(edit).status_code == 200

    for form, message in (
        ({"subject": "Send the deck", "due": "2030-02-30", "priority": "normal"}, "not a date"),
        ({"subject": "", "due": "2030-02-01", "priority": "normal"}, "Give a subject"),
        ({"subject": "Send the deck", "due": "2030-02-01", "priority": "urgent"}, "Priority"),
    ):
        assert alice.post(edit, form).status_code == 302
        assert message in alice.get(edit).text
        assert _reminder(console_relay, reminder_id)["due"] == "2030-01-10"

    changed = {"subject": "Send the new deck", "due": "2030-02-01", "priority": "high",
               "details": "v2"}  # fmt: skip
    assert alice.post(edit, changed).status_code == 302
    stored = _reminder(console_relay, reminder_id)
    assert (stored["subject"], stored["due"], stored["priority"], stored["details"]) == (
        "Send the new deck", "2030-02-01", "high", "v2",
    )  # fmt: skip

    assert alice.post(f"/tasks/{reminder_id}/snooze", {"days": "7"}).status_code == 302
    assert _reminder(console_relay, reminder_id)["due"] == str(date(2030, 2, 8))
    assert alice.post(f"/tasks/{reminder_id}/snooze", {"days": "365"}).status_code == 302
    assert _reminder(console_relay, reminder_id)["due"] == str(date(2030, 2, 1) + timedelta(7))


def test_the_task_sync_card_saves_at_once_and_is_audited(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    """ "Sync" on the card: stored for the rep, the ``reps`` change version bumped in the
    same transaction (every process applies it at once), one audit row, and the page
    states the first-sync rules."""
    alice = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    user_id = console_org.seeded.sample.users[ALICE]
    page = alice.get("/settings").text
    for rule in FIRST_SYNC_RULES:
        assert html.escape(rule, quote=False) in page
    store = open_store(console_relay.store_url)
    try:
        before = store.change_versions()
        saved = alice.post("/settings/task-sync", {"task_sync": "on"})
        assert saved.status_code == 302
        assert store.setting_overrides()[user_id]["task_sync"] == "on"
        assert store.change_versions().reps > before.reps
        entries = [e for e in store.audit_entries(20) if e.user_id == user_id]
        assert (entries[0].action, entries[0].detail) == (
            "settings_set", {"settings": {"task_sync": "on"}},
        )  # fmt: skip
        assert "Task sync is on: the next cycle" in alice.get("/settings").text
        # Out of range: a message, and nothing changes.
        versions = store.change_versions()
        assert alice.post("/settings/task-sync", {"task_sync": "both"}).status_code == 302
        assert store.setting_overrides()[user_id]["task_sync"] == "on"
        assert store.change_versions() == versions
    finally:
        console_relay.cli("settings", "set", "--user", ALICE, "task_sync", "off")
        store.close()


def test_the_tasks_page_shows_the_sync_engines_stored_state(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    """Off, then on and waiting, then the engine's last cycle and its error in the sync's
    own words (never the email pipeline's "quarantined … relay queue retry")."""
    alice = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    user_id = console_org.seeded.sample.users[ALICE]
    assert "none: the sync is off" in _sync_card(alice.get("/tasks").text)
    store = open_store(console_relay.store_url)
    try:
        store.set_setting(user_id, "task_sync", "on")
        assert "waiting for the first cycle" in _sync_card(alice.get("/tasks").text)
        cycle_at = datetime(2026, 12, 6, 9, 30, 5, tzinfo=UTC)
        error = classify_response(
            400, [{"errorCode": "MALFORMED_QUERY", "message": "unexpected token: 'Relay'"}]
        )
        store.apply_task_sync(
            CycleWrites(
                reps=[SyncRep(user_id, True, enabled_at=cycle_at, imported_at=cycle_at)],
                state=SyncState(
                    last_cycle_at=cycle_at, error_kind=error_kind(error), error=describe(error)
                ),
            )
        )
        card = _sync_card(alice.get("/tasks").text)
        assert "2026-12-06 09:30:05 UTC" in card
        assert "MALFORMED_QUERY: unexpected token" in card
        assert "The sync needs a fix" in card
        assert "quarantined" not in card
        assert "relay queue" not in card
    finally:
        store.set_setting(user_id, "task_sync", "off")
        store.record_task_sync_state(SyncState())
        store.close()


def _sync_card(page: str) -> str:
    start = page.index('id="sync-state"')
    return html.unescape(page[start : page.index("</section>", start)])
