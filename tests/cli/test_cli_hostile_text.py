"""Email text in `relay queue list|show` and `relay unresolved list` on a real terminal:
shown as text, never read as rich markup, never acted on as terminal controls; JSON keeps
every character."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import pytest

from relay.envelope import Envelope
from relay.store import SqlStore, State
from relay.store.model import Outcome, new_unresolved
from tests.support.terminal_output import EVERYTHING, HOSTILE, assert_shown_inert, run_on_terminal


def hostile_message(store: SqlStore, subject: str, sender: str = "rep@example.com") -> str:
    """Queue a message whose Subject, From name and HELO carry ``subject`` (RFC 2047
    encoded, as a mail client sends it); return its queue id."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(display_name=subject, addr_spec="rep@example.com")
    message["To"] = "buyer@customer.example"
    message["Subject"] = subject
    message["Message-ID"] = "<hostile@mail.example.com>"
    message.set_content("Hello")
    envelope = Envelope(sender, ("log@relay.localhost",), "192.0.2.7:4000", subject)
    return store.enqueue(message.as_bytes(), envelope, datetime.now(UTC))


def terminal_env(relay_home: Path) -> dict[str, str]:
    return {"RELAY_HOME": str(relay_home)}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_queue_list_shows_each_hostile_subject_as_text(
    name: str, relay_home: Path, queue_store: SqlStore
) -> None:
    """Each hostile subject alone: exit 0, the text shown escaped, nothing acts on the
    terminal (was: MarkupError exit 1, a hyperlink, raw ESC and bidi characters)."""
    hostile_message(queue_store, f"Re: {HOSTILE[name]}", sender=f'"{HOSTILE[name]}"@evil.example')
    shown = run_on_terminal("queue", "list", env=terminal_env(relay_home))
    assert shown.returncode == 0, shown.stderr
    assert "1 message(s)" in shown.output
    assert_shown_inert(shown.output, (name,))


def test_queue_show_shows_every_field_as_text(relay_home: Path, queue_store: SqlStore) -> None:
    """`queue show`: subject, From name, envelope sender, HELO and hold reason shown
    escaped, exit 0."""
    queue_id = hostile_message(queue_store, EVERYTHING, sender=f'"{EVERYTHING}"@evil.example')
    queue_store.hold(queue_id, f"held by an admin: {EVERYTHING}")
    shown = run_on_terminal("queue", "show", queue_id, env=terminal_env(relay_home))
    assert shown.returncode == 0, shown.stderr
    assert "Subject" in shown.output
    assert "HELO" in shown.output
    assert_shown_inert(shown.output)
    assert shown.output.count("\\u202eevil") >= 4  # subject, sender, HELO, reason (and From)


def test_json_keeps_every_character(relay_home: Path, queue_store: SqlStore) -> None:
    """`--json` is exact: the same characters as received, escaped only by JSON itself."""
    hostile_message(queue_store, EVERYTHING)
    shown = run_on_terminal("queue", "list", "--json", env=terminal_env(relay_home))
    assert shown.returncode == 0, shown.stderr
    [item] = json.loads(shown.output)
    assert item["subject"] == EVERYTHING
    assert "\x1b" not in shown.output  # json.dumps wrote it as \u001b


def test_unresolved_list_shows_subject_and_sender_as_text(
    relay_home: Path, queue_store: SqlStore
) -> None:
    """`unresolved list`: a hostile subject and sender shown escaped, exit 0."""
    queue_id = hostile_message(queue_store, EVERYTHING)
    queue_store.claim(1, "w", 60)
    item = new_unresolved(
        queue_id=queue_id,
        message_key="<hostile@mail.example.com>",
        relay_key="k1",
        task_id="00T000000000001AAA",
        owner_id="005000000000001AAA",
        subject=EVERYTHING,
        mail_from=f'"{EVERYTHING}"@evil.example',
        reason="no record matched",
    )
    queue_store.finish_many(
        [Outcome(queue_id, State.UNRESOLVED, "unresolved: no record matched")],
        unresolved_items=[item],
    )
    shown = run_on_terminal("unresolved", "list", env=terminal_env(relay_home))
    assert shown.returncode == 0, shown.stderr
    assert_shown_inert(shown.output)
