"""`relay queue purge` and `relay forget` through the real console script, on SQLite
(RELAY_HOME) and on PostgreSQL (a config file naming the store)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from relay.envelope import Envelope
from relay.erasure import address_hash
from relay.store import SqlStore, State, open_store
from relay.store.model import Delivery, Outcome, Rep
from relay.store.task_sync import CycleWrites, SyncRep
from relay.store.values import new_reminder

RunRelay = Callable[..., subprocess.CompletedProcess[str]]
HANK = "hank@globex.example"
REP = Envelope("rep@example.com", ("log@relay.localhost",), "127.0.0.1:4000", "mx.example.com")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, queue_store: SqlStore, run_relay: RunRelay, tmp_path: Path
) -> Iterator[tuple[SqlStore, RunRelay]]:
    """The store the CLI will open, and a runner for the CLI: RELAY_HOME's SQLite, or a
    PostgreSQL schema named by a config file."""
    if request.param == "sqlite":
        yield queue_store, run_relay
        return
    url: str = request.getfixturevalue("postgres_schema_url")
    config = tmp_path / "relay.toml"
    config.write_text(f"store_url = {json.dumps(url)}\n", encoding="utf-8")
    store = open_store(url)

    def run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result: subprocess.CompletedProcess[str] = run_relay(
            "--config", str(config), *args, **kwargs
        )
        return result

    try:
        yield store, run
    finally:
        store.close()


def _message(store: SqlStore, subject: str, to: str = "buyer@customer.example") -> str:
    raw = (
        f"Message-ID: <{subject}@mail.example.com>\r\nFrom: Rep <rep@example.com>\r\n"
        f"To: {to}\r\nSubject: {subject}\r\n\r\nHello\r\n"
    ).encode()
    return store.enqueue(raw, REP, datetime.now(UTC))


def _finish(
    store: SqlStore, *outcomes: tuple[str, State], written: dict[str, str] | None = None
) -> None:
    store.claim(len(outcomes), "test", 60)
    store.finish_many([Outcome(q, s, f"done: {s.value}") for q, s in outcomes], written=written)


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_purge_removes_raw_bytes_of_finished_messages_and_show_says_so(
    backend: tuple[SqlStore, RunRelay],
) -> None:
    """--older-than 0 purges logged (not held); show --raw says purged and when, exit 1;
    show --json keeps the row and history; retry is refused with the same reason."""
    store, relay = backend
    logged, held = _message(store, "Logged"), _message(store, "Held")
    _finish(store, (logged, State.LOGGED), (held, State.HELD))

    document = _json(relay("queue", "purge", "--older-than", "0", "--json"))
    assert document["dry_run"] is False
    assert document["messages"] == 1
    assert document["by_state"] == {"logged": 1}
    assert document["bytes"] == store.get(logged).size  # type: ignore[union-attr]
    assert store.raw(held)

    raw = relay("queue", "show", logged, "--raw")
    assert raw.returncode == 1
    assert raw.stdout == ""
    assert "raw bytes purged by relay queue purge --older-than 0 on " in raw.stderr
    assert "Traceback" not in raw.stderr

    shown = _json(relay("queue", "show", logged, "--json"))
    assert shown["state"] == "logged"
    assert shown["subject"] == "Logged"
    assert shown["raw_purged"]["reason"] == "raw bytes purged by relay queue purge --older-than 0"
    assert shown["transitions"][-1]["reason"] == shown["raw_purged"]["reason"]

    human = relay("queue", "show", logged)
    assert human.returncode == 0, human.stderr
    assert "raw bytes purged by relay queue purge --older-than 0 on" in human.stdout

    retry = relay("queue", "retry", logged)
    assert retry.returncode == 1
    assert f"cannot retry message {logged}: raw bytes purged" in retry.stderr
    assert store.get(logged).state is State.LOGGED  # type: ignore[union-attr]


def test_purge_dry_run_and_window_change_nothing(backend: tuple[SqlStore, RunRelay]) -> None:
    """--dry-run counts without purging; a window not yet passed purges nothing."""
    store, relay = backend
    logged = _message(store, "Recent")
    _finish(store, (logged, State.LOGGED))
    dry = _json(relay("queue", "purge", "--older-than", "0", "--dry-run", "--json"))
    assert (dry["dry_run"], dry["messages"]) == (True, 1)
    assert _json(relay("queue", "purge", "--older-than", "30", "--json"))["messages"] == 0
    assert store.raw(logged)
    human = relay("queue", "purge", "--older-than", "0", "--dry-run")
    assert human.returncode == 0
    assert "would purge the raw bytes of 1 message(s)" in human.stdout
    assert store.raw(logged)


def test_purge_refuses_states_still_in_progress(run_relay: RunRelay) -> None:
    """Held, queued or deferred messages are never purged: a usage error (exit 2)."""
    for state in ("held", "queued", "deferred", "processing"):
        result = run_relay("queue", "purge", "--older-than", "0", "--state", state)
        assert result.returncode == 2, state
    assert run_relay("queue", "purge").returncode == 2  # --older-than is required


def test_forget_removes_the_address_and_prints_the_task_ids(
    backend: tuple[SqlStore, RunRelay],
) -> None:
    """forget EMAIL: the emails naming it go, the ledger's Task ids are printed for the
    admin, the log line carries a hash only; --dry-run before it changed nothing."""
    store, relay = backend
    about_hank, unrelated = _message(store, "Rollout", to=HANK), _message(store, "Other")
    store.claim(2, "test", 60)
    store.record_intents(
        [Delivery("k1", "Rollout@mail.example.com", "003H", ("003H", "006H"), about_hank)]
    )
    store.finish_many(
        [Outcome(about_hank, State.LOGGED, "logged"), Outcome(unrelated, State.LOGGED, "logged")],
        written={"k1": "00T000000000001AAA"},
    )

    dry = _json(relay("forget", HANK, "--dry-run", "--json"))
    assert dry["dry_run"] is True
    assert dry["queue_ids"] == [about_hank]
    assert store.raw(about_hank)

    result = relay("forget", HANK.upper(), "--json")
    document = _json(result)
    assert document["address"] == HANK
    assert document["address_hash"] == address_hash(HANK)
    assert (document["messages"], document["by_state"]) == (1, {"logged": 1})
    assert document["ledger_rows_kept"] == 1
    assert document["tasks"] == [
        {"task_id": "00T000000000001AAA", "records": ["003H", "006H"], "queue_id": about_hank}
    ]
    assert store.get(about_hank) is None
    assert store.get(unrelated) is not None
    assert store.deliveries_for_keys(["k1"])["k1"].task_id == "00T000000000001AAA"
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    (event,) = [e for e in events if e["event"] == "address_forgotten"]
    assert event["address_hash"] == address_hash(HANK)
    assert HANK not in result.stderr.lower()

    again = relay("forget", HANK)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"nothing stored for {HANK}"


def test_forget_human_output_names_the_tasks(queue_store: SqlStore, run_relay: RunRelay) -> None:
    """The human output lists each Task id with its records, for Salesforce."""
    queue_id = _message(queue_store, "Quote", to=HANK)
    queue_store.claim(1, "test", 60)
    queue_store.record_intents(
        [Delivery("k9", "Quote@mail.example.com", "003H", ("003H",), queue_id)]
    )
    queue_store.finish_many([Outcome(queue_id, State.LOGGED, "ok")], written={"k9": "00T9"})
    result = run_relay("forget", HANK)
    assert result.returncode == 0, result.stderr
    assert f"{HANK}: removed 1 message(s) (logged: 1)" in result.stdout
    assert "Task 00T9  on 003H" in result.stdout
    assert "Relay does not delete CRM data" in result.stdout


def test_forget_a_rep_removes_their_reminders_and_warns_while_their_sync_is_on(
    queue_store: SqlStore, run_relay: RunRelay
) -> None:
    """A rep's address: the JSON counts their reminders, Task-sync state and audit rows
    and lists the synced Task ids (kept in Salesforce); with ``task_sync`` still on,
    stderr says the next cycle would import their last 24 hours again."""
    carmen, carmen_id = "carmen@acme.example", "005C00000000001AAA"
    queue_store.replace_reps([Rep(carmen_id, carmen, carmen, "Carmen")], datetime.now(UTC))
    reminder = replace(
        new_reminder(carmen_id, "Call Hank", date(2026, 12, 18)), sf_task_id="00T000000000007AAA"
    )
    queue_store.add_reminders([reminder])
    queue_store.apply_task_sync(CycleWrites(reps=[SyncRep(carmen_id, True)]))
    queue_store.record_audit(carmen_id, carmen, "task_added", reminder.id, {})
    queue_store.set_setting(carmen_id, "task_sync", "on")
    result = run_relay("forget", carmen, "--json")
    document = _json(result)
    assert (document["reminders"], document["task_sync_reps"], document["audit_rows"]) == (
        1, 1, 1,
    )  # fmt: skip
    assert document["reminder_tasks"] == [
        {"task_id": "00T000000000007AAA", "reminder_id": reminder.id}
    ]
    assert "task_sync is still on" in result.stderr
    assert queue_store.list_reminders([carmen_id]) == []
    queue_store.set_setting(carmen_id, "task_sync", "off")
    assert "task_sync is still on" not in run_relay("forget", carmen).stderr


def test_forget_a_contact_rewrites_other_reps_reminders_without_the_address(
    queue_store: SqlStore, run_relay: RunRelay
) -> None:
    """A reminder made from an email says who it was with ("Email with: hank@..."): it
    stays its rep's, but forgetting the contact takes the address out of its subject and
    details (updated, so the Task sync carries the change), and a dry run rewrites
    nothing. A longer address that contains it is left alone."""
    carmen, carmen_id = "carmen@acme.example", "005C00000000001AAA"
    queue_store.replace_reps([Rep(carmen_id, carmen, carmen, "Carmen")], datetime.now(UTC))
    naming = replace(
        new_reminder(carmen_id, "Follow up: pricing for Hank@Globex.example", date(2026, 12, 18)),
        details="Email with: hank@globex.example, joe.hank@globex.example.au\nSubject: Pricing",
    )
    other = new_reminder(carmen_id, "Call Ann", date(2026, 12, 18))
    queue_store.add_reminders([naming, other])
    before = queue_store.get_reminder(naming.id)
    assert before is not None

    dry = _json(run_relay("forget", "hank@globex.example", "--dry-run", "--json"))
    assert dry["reminders_redacted"] == 1
    assert queue_store.get_reminder(naming.id) == before

    document = _json(run_relay("forget", "hank@globex.example", "--json"))
    assert (document["reminders_redacted"], document["reminders"]) == (1, 0)
    after = queue_store.get_reminder(naming.id)
    assert after is not None
    assert after.subject == "Follow up: pricing for (address erased)"
    assert after.details == (
        "Email with: (address erased), joe.hank@globex.example.au\nSubject: Pricing"
    )
    assert after.updated_at > before.updated_at
    untouched = queue_store.get_reminder(other.id)
    assert untouched is not None
    assert (untouched.subject, untouched.updated_at) == ("Call Ann", other.updated_at)
    assert _json(run_relay("forget", "hank@globex.example", "--json"))["found"] is False


def test_forget_refuses_what_is_not_an_address(run_relay: RunRelay) -> None:
    """A usage error, exit 2, and nothing is opened or changed."""
    result = run_relay("forget", "not-an-address")
    assert result.returncode == 2
    assert "not an email address" in result.stderr


def test_forget_dry_run_says_nothing_was_logged(queue_store: SqlStore, run_relay: RunRelay) -> None:
    """A dry run changes and logs nothing: its hash line must not read "logged as"; the
    real run's does (its address_forgotten log line carries that hash)."""
    _message(queue_store, "Quote", to=HANK)
    dry = run_relay("forget", HANK, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would remove 1 message(s)" in dry.stdout
    assert dry.stdout.splitlines()[-1] == f"address_hash={address_hash(HANK)}"
    assert "logged as" not in dry.stdout
    done = run_relay("forget", HANK)
    assert done.stdout.splitlines()[-1] == f"logged as address_hash={address_hash(HANK)}"


def test_queue_show_of_an_unknown_id_ends_its_error_with_a_newline(
    queue_store: SqlStore, run_relay: RunRelay
) -> None:
    for args in (("NOPE",), ("NOPE", "--json"), ("NOPE", "--raw")):
        result = run_relay("queue", "show", *args)
        assert result.returncode == 1
        assert result.stderr.endswith("`relay queue list --state all` shows them\n"), args
