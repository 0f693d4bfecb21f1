"""Hostile text from email and from the org in `relay doctor`, `senders list`, `settings
show`, `address` and `explain` on a real terminal: shown as text, never read as rich
markup, never acted on as terminal controls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import pytest

from relay.envelope import Envelope
from relay.store import SqlStore, open_store
from relay.store.model import Rep
from tests.support.localorg import RunningOrg
from tests.support.terminal_output import EVERYTHING, HOSTILE, assert_shown_inert, run_on_terminal

ALICE = "alice@acme-widgets.example"
# An address holds no space: every hostile value, end to end.
HOSTILE_ADDRESS = "".join(HOSTILE.values()) + "@evil.example"
NO_OSC8 = tuple(name for name in HOSTILE if name != "osc8_link")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "relay-home"


@pytest.fixture
def store(home: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{home / 'relay.db'}")
    try:
        yield opened
    finally:
        opened.close()


def hostile_email() -> EmailMessage:
    """From Alice to Hank, with every hostile value in the Subject and display names."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(display_name=EVERYTHING, addr_spec=ALICE)
    message["To"] = Address(display_name=EVERYTHING, addr_spec="hank@globex.example")
    message["Subject"] = EVERYTHING
    message["Message-ID"] = "<hostile@mail.acme-widgets.example>"
    message.set_content("Hello")
    return message


def hold_hostile(store: SqlStore, problem: str = "held by an admin") -> str:
    """A message from Alice held with a hostile subject and reason."""
    envelope = Envelope(ALICE, ("log@relay.acme-widgets.example",), "192.0.2.7:4000", "mx")
    queue_id = store.enqueue(hostile_email().as_bytes(), envelope, datetime.now(UTC))
    store.hold(queue_id, f"{problem}: {EVERYTHING}")
    return queue_id


def test_doctor_shows_hold_reasons_and_aliases_as_text(
    sample_org: RunningOrg, home: Path, store: SqlStore
) -> None:
    """A held message's reason and a rep's alias are shown escaped; doctor exits 0."""
    hold_hostile(store)
    store.add_sender(HOSTILE_ADDRESS, sample_org.sample.users[ALICE], ALICE)
    shown = run_on_terminal("doctor", env=sample_org.relay_env(home))
    assert shown.returncode == 0, shown.output + shown.stderr
    assert "held messages: 1 message(s) held" in shown.output
    assert_shown_inert(shown.output)


def test_senders_list_shows_aliases_and_usernames_as_text(
    sample_org: RunningOrg, home: Path, store: SqlStore
) -> None:
    """`senders list --reps`: hostile alias, username and rep email shown escaped."""
    store.add_sender(HOSTILE_ADDRESS, "005000000000009AAA", EVERYTHING)
    rep = Rep("005000000000009AAA", EVERYTHING, HOSTILE_ADDRESS, name=EVERYTHING)
    store.replace_reps([rep], datetime.now(UTC))
    shown = run_on_terminal("senders", "list", "--reps", env=sample_org.relay_env(home))
    assert shown.returncode == 0, shown.output + shown.stderr
    assert_shown_inert(shown.output)


def test_settings_show_shows_values_as_text(
    sample_org: RunningOrg, home: Path, store: SqlStore
) -> None:
    """`settings show --user`: a stored hostile value is shown escaped, and each value's
    source tag ([config], [user]) is shown, not taken for markup."""
    user_id = sample_org.sample.users[ALICE]
    store.replace_reps([Rep(user_id, ALICE, ALICE, name="Alice")], datetime.now(UTC))
    store.set_setting(user_id, "e2s_address", HOSTILE_ADDRESS)
    shown = run_on_terminal("settings", "show", "--user", ALICE, env=sample_org.relay_env(home))
    assert shown.returncode == 0, shown.output + shown.stderr
    assert "[user]" in shown.output
    assert "[config]" in shown.output
    assert_shown_inert(shown.output)


def test_address_shows_rep_name_and_held_subject_as_text(
    sample_org: RunningOrg, home: Path, store: SqlStore
) -> None:
    """`address`: a hostile rep name and a held message's subject and reason shown
    escaped; exit 1 because a message is held (the command's own rule)."""
    user_id = sample_org.sample.users[ALICE]
    store.replace_reps([Rep(user_id, ALICE, ALICE, name=EVERYTHING)], datetime.now(UTC))
    queue_id = hold_hostile(store, "e2s_address_missing")  # a problem `address` shows
    shown = run_on_terminal("address", ALICE, env=sample_org.relay_env(home))
    assert shown.returncode == 1, shown.output + shown.stderr
    assert f"held {queue_id}" in shown.output
    assert "Traceback" not in shown.stderr
    assert_shown_inert(shown.output)


def test_explain_shows_the_email_as_text(
    sample_org: RunningOrg, home: Path, tmp_path: Path
) -> None:
    """`explain`: a hostile subject and display names shown escaped; exit 0. (The subject
    is shown as a Python literal, which doubles the OSC 8 example's backslashes.)"""
    message = tmp_path / "hostile.eml"
    message.write_bytes(hostile_email().as_bytes())
    shown = run_on_terminal("explain", str(message), env=sample_org.relay_env(home))
    assert shown.returncode == 0, shown.output + shown.stderr
    assert "outcome:" in shown.output
    assert_shown_inert(shown.output, NO_OSC8)
    assert "\\x1b]8;;http://evil" in shown.output
