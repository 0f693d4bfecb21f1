"""`relay tasks`: list (today and tomorrow in each rep's zone, --overdue, --due, --all,
--json), add, done, reopen, edit, delete, and their errors; the reminder settings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from relay.cli.main import cli
from relay.reps.reminders import local_date
from relay.store import SqlStore, open_store
from relay.store.model import Rep
from relay.store.values import new_reminder

KIRITIMATI = Rep("005000000000001AAA", "kiri@example.com", "kiri@example.com", "Kiri", True,
                 "Pacific/Kiritimati")  # fmt: skip
PAGO = Rep("005000000000002AAA", "pago@example.com", "pago@example.com", "Pago", True,
           "Pacific/Pago_Pago")  # fmt: skip
ACCOUNT = "001000000000001AAA"
CONTACT = "003000000000001AAA"

Run = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def store(home: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{home / 'relay.db'}")
    opened.replace_reps([KIRITIMATI, PAGO], datetime.now(UTC))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def relay(home: Path, store: SqlStore) -> Run:
    runner = CliRunner()

    def run(*args: str) -> Result:
        env = {"RELAY_HOME": str(home), "RELAY_LOG_FORMAT": "json"}
        return runner.invoke(cli, list(args), env=env, prog_name="relay")

    return run


def listed(relay: Run, *args: str) -> list[dict[str, Any]]:
    result = relay("tasks", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    found: list[dict[str, Any]] = json.loads(result.output)
    return found


def today_of(rep: Rep) -> date:
    return local_date(datetime.now(UTC), rep.time_zone)


def test_add_prints_the_id_and_list_json_has_the_contract_keys(relay: Run) -> None:
    added = relay(
        "tasks", "add", "--user", "kiri@example.com", "Call back about pricing",
        "--due", "tomorrow", "--priority", "high", "--record", ACCOUNT, "--record", CONTACT,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    reminder_id = added.output.strip()
    [item] = listed(relay)
    assert {
        "id", "owner", "subject", "details", "due", "status", "priority", "records",
        "source", "sf_task_id",
    } <= set(item)  # fmt: skip
    assert item["id"] == reminder_id
    assert item["owner"] == "kiri@example.com"
    assert item["subject"] == "Call back about pricing"
    assert item["due"] == (today_of(KIRITIMATI) + timedelta(days=1)).isoformat()
    assert item["status"] == "open"
    assert item["priority"] == "high"
    assert item["records"] == [ACCOUNT, CONTACT]
    assert item["who_id"] == CONTACT
    assert item["what_id"] == ACCOUNT
    assert item["source"] == "manual"
    assert item["sf_task_id"] is None


def test_add_json_prints_the_object(relay: Run) -> None:
    result = relay("tasks", "add", "--user", "pago@example.com", "Send the deck", "--due",
                   "2030-01-02", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["due"] == "2030-01-02"
    assert document["owner"] == "pago@example.com"
    assert document["priority"] == "normal"


def test_the_default_list_is_today_and_tomorrow_in_each_reps_zone(
    relay: Run, store: SqlStore
) -> None:
    # Kiritimati (UTC+14) is always a day (or two) ahead of Pago Pago (UTC-11): a date
    # two days after Pago Pago's today is tomorrow or today on Kiritimati.
    later = today_of(PAGO) + timedelta(days=2)
    store.add_reminders(
        [
            new_reminder(KIRITIMATI.user_id, "kiri: later", later),
            new_reminder(PAGO.user_id, "pago: later", later),
            new_reminder(PAGO.user_id, "pago: today", today_of(PAGO)),
            new_reminder(PAGO.user_id, "pago: yesterday", today_of(PAGO) - timedelta(days=1)),
            new_reminder(
                KIRITIMATI.user_id, "kiri: in a week", today_of(KIRITIMATI) + timedelta(7)
            ),
        ]
    )
    shown = {item["subject"] for item in listed(relay)}
    assert shown == {"kiri: later", "pago: today"}
    overdue = {item["subject"] for item in listed(relay, "--overdue")}
    assert overdue == {"pago: yesterday"}
    assert len(listed(relay, "--all")) == 5
    on_day = {item["subject"] for item in listed(relay, "--due", later.isoformat())}
    assert on_day == {"kiri: later", "pago: later"}
    mine = {item["subject"] for item in listed(relay, "--user", "pago@example.com", "--all")}
    assert mine == {"pago: later", "pago: today", "pago: yesterday"}


def test_done_reopen_edit_delete(relay: Run) -> None:
    reminder_id = relay("tasks", "add", "--user", "pago@example.com", "Quote",
                        "--due", "2030-05-06").output.strip()  # fmt: skip
    assert relay("tasks", "done", reminder_id).exit_code == 0
    [item] = listed(relay, "--all")
    assert item["status"] == "complete"
    assert relay("tasks", "reopen", reminder_id).exit_code == 0
    edited = relay("tasks", "edit", reminder_id, "--subject", "Quote v2", "--due", "2030-05-08",
                   "--priority", "high", "--details", "with the discount", "--json")  # fmt: skip
    assert edited.exit_code == 0, edited.output
    document = json.loads(edited.output)
    assert (document["subject"], document["due"], document["priority"], document["details"]) == (
        "Quote v2", "2030-05-08", "high", "with the discount",
    )  # fmt: skip
    assert document["status"] == "open"
    assert relay("tasks", "delete", reminder_id).exit_code == 0
    assert listed(relay, "--all") == []
    again = relay("tasks", "delete", reminder_id)
    assert again.exit_code == 1
    assert f"no reminder {reminder_id}" in again.output


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("tasks", "done", "01NOSUCHREMINDER0000000000"), 1, "no reminder"),
        (("tasks", "reopen", "01NOSUCHREMINDER0000000000"), 1, "no reminder"),
        (("tasks", "edit", "01NOSUCHREMINDER0000000000", "--subject", "x"), 1, "no reminder"),
        (("tasks", "add", "--user", "pago@example.com", "x", "--due", "2030-02-30"), 2, "--due"),
        (("tasks", "add", "--user", "pago@example.com", "x", "--due", "someday"), 2, "--due"),
        (
            ("tasks", "add", "--user", "pago@example.com", "x", "--due", "1d", "--priority", "low"),
            2,
            "low",
        ),
        (
            ("tasks", "add", "--user", "pago@example.com", "x", "--due", "1d", "--record", "nope"),
            2,
            "not a Salesforce id",
        ),
        (("tasks", "list", "--due", "tomorrow"), 2, "YYYY-MM-DD"),
        (("tasks", "list", "--all", "--overdue"), 2, "cannot be combined"),
    ],
)
def test_errors_are_clear(relay: Run, args: tuple[str, ...], code: int, says: str) -> None:
    result = relay(*args)
    assert result.exit_code == code, result.output
    assert says in result.output


def test_an_unknown_user_is_refused(relay: Run) -> None:
    # No org is configured: the rep cannot be found by a sync either.
    result = relay("tasks", "add", "--user", "nobody@example.com", "x", "--due", "1d")
    assert result.exit_code == 1
    assert result.output.startswith("relay: ")
    assert listed(relay, "--all") == []


def test_hostile_subjects_are_shown_as_text(relay: Run, store: SqlStore) -> None:
    store.add_reminders(
        [new_reminder(PAGO.user_id, "[/] [link=http://x]y\x1b]8;;", today_of(PAGO))]
    )
    result = relay("tasks", "list", "--user", "pago@example.com")
    assert result.exit_code == 0, result.output
    assert "[/]" in result.output
    assert "\x1b" not in result.output


def test_settings_task_sync_and_digest(relay: Run) -> None:
    refused = relay("settings", "set", "task_sync", "sometimes")
    assert refused.exit_code == 2
    assert "allowed: off, on" in refused.output
    assert relay("settings", "set", "--user", "pago@example.com", "digest", "off").exit_code == 0
    shown = json.loads(relay("settings", "show", "--user", "pago@example.com", "--json").output)
    assert shown["settings"]["digest"] == "off"
    assert shown["settings"]["task_sync"] == "off"
    assert relay("settings", "set", "--user", "pago@example.com", "task_sync", "on").exit_code == 0
    shown = json.loads(relay("settings", "show", "--user", "pago@example.com", "--json").output)
    assert shown["settings"]["task_sync"] == "on"
    bad = relay("settings", "set", "digest", "weekly")
    assert bad.exit_code == 2
    assert "on, off" in bad.output
