"""`relay queue list|show|retry|hold|release|delete` through the real console script."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from relay.store import SqlStore, State

RunRelay = Callable[..., subprocess.CompletedProcess[str]]
CONTRACT_KEYS = {
    "id",
    "state",
    "received_at",
    "mail_from",
    "rcpt_tos",
    "message_id",
    "subject",
    "attempts",
    "reason",
}


def listed(run_relay: RunRelay, *args: str) -> list[dict[str, Any]]:
    result = run_relay("queue", "list", "--json", *args)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, list)
    return document


def test_list_json_has_the_contract_keys(
    run_relay: RunRelay, add_message: Callable[..., str]
) -> None:
    """`list --json` prints one JSON list whose objects carry the contract's keys."""
    queue_id = add_message("Renewal")
    [item] = listed(run_relay)
    assert set(item) >= CONTRACT_KEYS
    assert item["id"] == queue_id
    assert item["state"] == "queued"
    assert item["mail_from"] == "rep@example.com"
    assert item["rcpt_tos"] == ["log@relay.localhost"]
    assert item["message_id"] == "<Renewal@mail.example.com>"
    assert item["subject"] == "Renewal"
    assert item["attempts"] == 0
    assert item["reason"] is None
    received = datetime.fromisoformat(item["received_at"])
    assert received.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - received) < timedelta(minutes=5)


def test_list_defaults_to_unfinished_and_state_all_shows_everything(
    run_relay: RunRelay, add_message: Callable[..., str], queue_store: SqlStore
) -> None:
    """Default: queued/processing/deferred/held; --state S filters; --state all is everything."""
    queued, logged, held = add_message("a"), add_message("b"), add_message("c")
    queue_store.claim(1, "w", 60)  # the oldest: `queued`
    queue_store.finish(queued, State.LOGGED)
    queued, logged = logged, queued
    queue_store.hold(held, "check the sender")
    assert {m["id"] for m in listed(run_relay)} == {queued, held}
    assert [m["id"] for m in listed(run_relay, "--state", "held")] == [held]
    assert [m["id"] for m in listed(run_relay, "--state", "logged")] == [logged]
    assert [m["id"] for m in listed(run_relay, "--state", "all")] == [logged, queued, held]


def test_list_on_an_empty_store_is_an_empty_list(run_relay: RunRelay) -> None:
    """A fresh RELAY_HOME lists [] and exits 0 (the store is created on first use)."""
    assert listed(run_relay) == []


def test_human_list_is_a_table_with_whole_ids(
    run_relay: RunRelay, add_message: Callable[..., str]
) -> None:
    """The human output shows every id in full, with state and subject."""
    ids = [add_message("Quarterly review"), add_message("Contract")]
    result = run_relay("queue", "list")
    assert result.returncode == 0, result.stderr
    for queue_id in ids:
        assert queue_id in result.stdout
    assert "Quarterly review" in result.stdout
    assert "2 message(s)" in result.stdout


def test_show_raw_writes_the_message_exactly_as_received(
    run_relay: RunRelay, add_message: Callable[..., str], queue_store: SqlStore
) -> None:
    """`show --raw` is the accepted bytes, ready for `relay explain`."""
    queue_id = add_message("Raw please")
    result = run_relay("queue", "show", queue_id, "--raw", binary=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == queue_store.raw(queue_id)  # CRLF and all
    both = run_relay("queue", "show", queue_id, "--raw", "--json")
    assert both.returncode == 2
    assert "cannot be combined" in both.stderr


def test_show_json_has_envelope_headers_and_history(
    run_relay: RunRelay, add_message: Callable[..., str], queue_store: SqlStore
) -> None:
    """`show --json` gives the envelope, a header summary, attempts and the transitions."""
    queue_id = add_message("Demo follow-up")
    queue_store.claim(1, "w", 60)
    queue_store.defer(queue_id, datetime.now(UTC) + timedelta(minutes=5), "Salesforce 503")
    result = run_relay("queue", "show", queue_id, "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert set(shown) >= CONTRACT_KEYS
    assert shown["envelope"] == {
        "mail_from": "rep@example.com",
        "rcpt_tos": ["log@relay.localhost"],
        "peer": "127.0.0.1:4000",
        "helo": "mx.example.com",
        "auth": "none",
    }
    assert shown["headers"]["from"] == "Rep <rep@example.com>"
    assert shown["headers"]["subject"] == "Demo follow-up"
    assert (shown["state"], shown["attempts"], shown["reason"]) == ("deferred", 1, "Salesforce 503")
    assert [(t["from"], t["to"]) for t in shown["transitions"]] == [
        (None, "queued"),
        ("queued", "processing"),
        ("processing", "deferred"),
    ]
    human = run_relay("queue", "show", queue_id)
    assert human.returncode == 0
    assert "Salesforce 503" in human.stdout
    assert "<rep@example.com>" in human.stdout


def test_hold_release_retry_and_delete(
    run_relay: RunRelay, add_message: Callable[..., str], queue_store: SqlStore
) -> None:
    """Each admin command changes the state as it says and exits 0."""
    queue_id = add_message()
    assert run_relay("queue", "hold", queue_id, "--reason", "ask the rep").returncode == 0
    message = queue_store.get(queue_id)
    assert message is not None
    assert (message.state, message.reason) == (State.HELD, "ask the rep")
    assert run_relay("queue", "release", queue_id).returncode == 0
    assert queue_store.get(queue_id).state is State.QUEUED  # type: ignore[union-attr]
    queue_store.claim(1, "w", 60)
    queue_store.finish(queue_id, State.QUARANTINED, "MIME cannot be parsed")
    assert run_relay("queue", "retry", queue_id).returncode == 0
    assert queue_store.get(queue_id).state is State.QUEUED  # type: ignore[union-attr]
    result = run_relay("queue", "delete", queue_id, "--yes")
    assert result.returncode == 0, result.stderr
    assert queue_store.get(queue_id) is None


def test_retry_all_requeues_every_deferred_message(
    run_relay: RunRelay, add_message: Callable[..., str], queue_store: SqlStore
) -> None:
    """`retry --all` flushes the deferred messages (like `postqueue -f`) and nothing else."""
    deferred = [add_message("one"), add_message("two")]
    held = add_message("three")
    queue_store.claim(2, "w", 60)
    for queue_id in deferred:
        queue_store.defer(queue_id, datetime.now(UTC) + timedelta(hours=1), "503")
    queue_store.hold(held, "person")
    result = run_relay("queue", "retry", "--all")
    assert result.returncode == 0, result.stderr
    assert "requeued 2 message(s)" in result.stdout
    states = {m.id: m.state for m in queue_store.list()}
    assert states == {deferred[0]: State.QUEUED, deferred[1]: State.QUEUED, held: State.HELD}


def test_delete_asks_before_deleting(
    run_relay: RunRelay, add_message: Callable[..., str], queue_store: SqlStore
) -> None:
    """Without --yes, delete asks; answering no keeps the message and exits 1."""
    queue_id = add_message()
    refused = run_relay("queue", "delete", queue_id, input_text="n\n")
    assert refused.returncode == 1
    assert queue_store.get(queue_id) is not None
    accepted = run_relay("queue", "delete", queue_id, input_text="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert queue_store.get(queue_id) is None


def test_problems_exit_1_with_a_readable_reason(
    run_relay: RunRelay, add_message: Callable[..., str]
) -> None:
    """Unknown ids and invalid transitions exit 1 and say what was wrong."""
    queue_id = add_message()
    for args in (
        ("show", "01J0000000000000000000NONE"),
        ("hold", "01J0000000000000000000NONE"),
        ("delete", "01J0000000000000000000NONE", "--yes"),
    ):
        result = run_relay("queue", *args)
        assert result.returncode == 1
        assert "no message with queue id '01J0000000000000000000NONE'" in result.stderr
    result = run_relay("queue", "release", queue_id)
    assert result.returncode == 1
    assert "cannot release" in result.stderr
    assert "it is queued" in result.stderr


def test_usage_errors_exit_2(run_relay: RunRelay) -> None:
    """A bad state name, or retry with neither/both of ID and --all, is a usage error."""
    assert run_relay("queue", "list", "--state", "bogus").returncode == 2
    assert run_relay("queue", "retry").returncode == 2
    assert run_relay("queue", "retry", "01J0000000000000000000NONE", "--all").returncode == 2
