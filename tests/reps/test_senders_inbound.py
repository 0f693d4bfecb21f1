"""Reps.attribute on inbound copies: a customer's email to a rep, copied to Relay by a
mail server (Postfix recipient_bcc_maps, Exchange journaling). The recipient rep owns
it only when a named inbound source sent the copy, as the SMTP edge recorded it
(Envelope.auth ``source:NAME``); a trusted peer's address alone proves nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from relay.config import Config, SmtpConfig
from relay.delivery.decide import Decider
from relay.delivery.fallback import EmailToSalesforce
from relay.delivery.notices import Notifier
from relay.delivery.reps import Attribution, Reps
from relay.delivery.route import Routed
from relay.envelope import Envelope
from relay.outbound import Outbound
from relay.parsing import parse
from relay.reps.directory import SenderDirectory
from relay.reps.settings import SyncSettings
from relay.smtp.senders import SenderPolicy
from relay.store import open_store
from relay.store.model import Outcome, Rep, State

ALICE = Rep("0055g0000000002AAA", "alice@acme-widgets.example", "alice@acme-widgets.example")
CUSTOMER = "hank@globex.example"
NOW = datetime(2026, 11, 28, tzinfo=UTC)
TRUSTED = ("10.0.0.0/8", "::1/128")

INBOUND = (
    f"From: Hank <{CUSTOMER}>\r\nTo: Alice <{ALICE.email}>\r\nSubject: Re: quote\r\n"
    "Message-ID: <in-1@globex.example>\r\n\r\nLooks good.\r\n"
).encode()


def _reps(tmp_path: Path) -> Reps:
    config = Config(
        home=tmp_path, domain="relay.example", smtp=SmtpConfig(trusted_networks=TRUSTED)
    )
    return Reps(SenderPolicy(config, SenderDirectory.build([ALICE])), tmp_path)


def _attribute(tmp_path: Path, auth: str, peer: str = "10.1.2.3:25000") -> Attribution:
    reps = _reps(tmp_path)
    envelope = Envelope(CUSTOMER, ("log@relay.example",), peer=peer, auth=auth)
    return reps.attribute(parse(INBOUND, envelope, NOW), auth)


@pytest.mark.parametrize("auth", ["source:network", "source:auth:journal", "source:cert:ab12"])
def test_a_copy_from_a_named_inbound_source_belongs_to_the_rep_it_was_sent_to(
    tmp_path: Path, auth: str
) -> None:
    assert _attribute(tmp_path, auth) == Attribution(ALICE, inbound=True)


@pytest.mark.parametrize(
    "auth",
    [
        "trusted:envelope",
        "none",
        "unverified",
        "dmarc:globex.example",
        "dmarc:hank@globex.example",
        "personal_address",
    ],
)
def test_a_copy_from_anywhere_else_belongs_to_nobody(tmp_path: Path, auth: str) -> None:
    """Even from a trusted network's address: only a named source proves an inbound copy."""
    assert _attribute(tmp_path, auth) == Attribution(None, inbound=False)
    assert _attribute(tmp_path, auth, peer="::1:25000") == Attribution(None, inbound=False)


@pytest.mark.parametrize("auth", ["source:network", "source:auth:journal", "source:cert:ab12"])
def test_a_named_source_never_proves_a_sender(tmp_path: Path, auth: str) -> None:
    """A copy channel proves who delivered the copy, not who wrote it: a stranger's mail
    to a rep's mailbox saying From: alice@ and Sender: alice@ (or a journal report's
    Sender line) is nobody's when no rep is among its recipients."""
    reps = _reps(tmp_path)
    raw = (
        f"From: {ALICE.email}\r\nSender: {ALICE.email}\r\nTo: {CUSTOMER}\r\n"
        "Subject: quote\r\n\r\nHi\r\n"
    ).encode()
    envelope = Envelope(ALICE.email, ("log+inbound@relay.example",), peer="192.0.2.7:1")
    email = parse(raw, envelope, NOW)
    assert reps.attribute(email, auth) == Attribution(None, inbound=False)


def test_a_dmarc_proof_names_exactly_the_address_it_proved(tmp_path: Path) -> None:
    """``dmarc:ADDRESS`` attributes that address's rep, whatever the parser shows."""
    reps = _reps(tmp_path)
    envelope = Envelope(CUSTOMER, ("log@relay.example",), peer="192.0.2.7:1")
    email = parse(INBOUND, envelope, NOW)  # From: hank@
    assert reps.attribute(email, f"dmarc:{ALICE.email}") == Attribution(ALICE, inbound=False)
    assert reps.attribute(email, "dmarc:hank@globex.example") == Attribution(None, False)


def test_an_inbound_copy_never_goes_to_email_to_salesforce(tmp_path: Path) -> None:
    """E2S accepts only the rep's own addresses: a customer's email to a rep whose
    logging is email_to_salesforce (or whose org refuses the API) is not forwarded."""

    config = Config(
        home=tmp_path, domain="relay.example", smtp=SmtpConfig(trusted_networks=TRUSTED)
    )
    store = open_store(config.effective_store_url)
    try:
        reps = _reps(tmp_path)
        notifier = Notifier(store, Outbound(config), config.pipeline.notice_interval_seconds)
        router = Decider(reps, EmailToSalesforce(store, reps, Outbound(config), notifier))
        envelope = Envelope(CUSTOMER, ("log@relay.example",), peer="10.1.2.3:25")
        queue_id = store.enqueue(INBOUND, envelope, NOW)
        message = store.get(queue_id)
        assert message is not None
        email = parse(INBOUND, envelope, NOW)
        settings = SyncSettings(logging="email_to_salesforce")
        routed = Routed(message, email, ALICE, settings, vouched=True, inbound=True)
        for outcome in (router.decide(routed), router.after_api_disabled(routed)):
            assert isinstance(outcome, Outcome)
            assert outcome.state is State.REJECTED
            assert "Email to Salesforce logs only the rep's own mail" in (outcome.reason or "")
    finally:
        store.close()


def test_a_failed_rep_refresh_keeps_the_snapshot_and_does_not_raise(tmp_path: Path) -> None:
    """The router's refresh before an unknown-sender hold is best effort: a store that
    cannot be read (here: its file is gone) leaves the current reps, once per interval."""
    reps = _reps(tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'gone.db'}")
    store.close()
    (tmp_path / "gone.db").unlink()
    assert reps.refresh_if_older(store, 0.0) is False
    assert reps.directory.rep_for(ALICE.email) == ALICE
    assert reps.refresh_if_older(store, 3600.0) is False  # not retried within the interval
