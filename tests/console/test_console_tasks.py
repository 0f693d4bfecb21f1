"""The Tasks page's edit and snooze over HTTP: a bad date or subject is a message and
changes nothing; a good edit and a snooze change the reminder in the store."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

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
