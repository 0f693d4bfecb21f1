"""``import:EMAIL`` (relay/delivery/reps.py): the admin running `relay import --user`
vouches that the mail is from that rep's mailbox. Mail from the rep is theirs; any other
mail in it is a copy the rep received, logged only if it matches (an inbound copy)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from relay.config import Config
from relay.delivery.reps import Attribution, Reps
from relay.envelope import Envelope
from relay.parsing import parse
from relay.reps.directory import SenderDirectory
from relay.smtp.senders import SenderPolicy
from relay.store.model import Rep

ALICE = Rep("0055g0000000002AAA", "alice@acme-widgets.example", "alice@acme-widgets.example")
BOB = Rep("0055g0000000003AAA", "bob@acme-widgets.example", "bob@acme-widgets.example")
NOW = datetime(2026, 11, 28, tzinfo=UTC)


def attribute(tmp_path: Path, sender: str, to: str, user: str = ALICE.email) -> Attribution:
    config = Config(home=tmp_path, domain="relay.example")
    reps = Reps(SenderPolicy(config, SenderDirectory.build([ALICE, BOB])), tmp_path)
    raw = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: old\r\nMessage-ID: <old@x>\r\n\r\nHi\r\n"
    ).encode()
    auth = f"import:{user}"
    email = parse(raw, Envelope("", (), peer="import:01X", auth=auth), NOW)
    return reps.attribute(email, auth)


def test_mail_the_rep_sent_is_theirs_outgoing(tmp_path: Path) -> None:
    assert attribute(tmp_path, ALICE.email, "hank@globex.example") == Attribution(ALICE, False)


def test_mail_to_the_rep_is_their_inbound_copy(tmp_path: Path) -> None:
    assert attribute(tmp_path, "hank@globex.example", ALICE.email) == Attribution(ALICE, True)


def test_another_reps_mail_in_the_mailbox_is_the_importing_reps_copy(tmp_path: Path) -> None:
    # Bob wrote to Alice: imported from Alice's mailbox, it is never logged as Bob's.
    assert attribute(tmp_path, BOB.email, ALICE.email) == Attribution(ALICE, True)


def test_an_import_for_someone_who_is_not_a_rep_attributes_nothing(tmp_path: Path) -> None:
    found = attribute(tmp_path, "eve@evil.example", ALICE.email, user="eve@evil.example")
    assert found == Attribution(None, False)
