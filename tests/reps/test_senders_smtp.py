"""Sender policy over real SMTP: Relay's SmtpServer on a real socket, smtplib as client,
a real SQLite store holding the rep snapshot and aliases.

These run the ``none`` and ``trusted_only`` rows of the sender table (an acceptable From;
a trusted server's envelope sender), which need no DNS; tests/smtp/trust runs the DMARC rows
against a DNS server."""

from __future__ import annotations

import asyncio
import smtplib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relay.config import Config, SmtpConfig
from relay.metrics import Metrics
from relay.reps.directory import load_address_secret, personal_address
from relay.smtp.senders import AuthChecks, SenderPolicy, Verdict
from relay.smtp.server import SmtpServer
from relay.store import SqlStore, open_store
from relay.store.model import ORG_SCOPE, Rep

DOMAIN = "relay.acme-widgets.example"
ALICE = Rep("0055g0000000002AAA", "alice@acme-widgets.example", "alice@acme-widgets.example")
BOB = Rep("0055g0000000003AAA", "bob@acme-widgets.example", "bob@acme-widgets.example")


@dataclass
class Edge:
    config: Config
    store: SqlStore
    policy: SenderPolicy
    port: int

    def send(self, mail_from: str, rcpt: str, header_from: str | None = None) -> str:
        """Send one message; the 250 reply text, or raise smtplib's refusal."""
        data = (
            f"From: {header_from or mail_from}\r\nTo: hank@globex.example\r\n"
            "Subject: Pricing\r\nMessage-ID: <p-1@acme-widgets.example>\r\n\r\nHello.\r\n"
        ).encode()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            client.ehlo("mx.acme-widgets.example")
            client.mail(mail_from)
            code, reply = client.rcpt(rcpt)
            if code != 250:
                raise smtplib.SMTPRecipientsRefused({rcpt: (code, reply)})
            code, reply = client.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
            return reply.decode()

    def personal(self, rep: Rep) -> str:
        return personal_address(rep.user_id, load_address_secret(self.config.home), DOMAIN)

    def refresh(self) -> None:
        self.policy.refresh(self.store)


async def no_dns(raw: bytes, client_ip: str, helo: str, mail_from: str) -> Verdict:
    raise AssertionError("the none and trusted_only rows never look up DNS")


NO_DNS = AuthChecks(verify=no_dns, reported=lambda raw, authserv_id: None)


def run_edge(
    tmp_path: Path, trusted: tuple[str, ...], synced: bool, sender_auth: str = "none"
) -> Iterator[Edge]:
    smtp = SmtpConfig(
        port=0, hostname=DOMAIN, min_free_bytes=0, trusted_networks=trusted,
        sender_auth=sender_auth,
    )  # fmt: skip
    config = Config(home=tmp_path, domain=DOMAIN, smtp=smtp)
    store = open_store(config.effective_store_url)
    if synced:
        store.replace_reps([ALICE, BOB], datetime.now(UTC))
    policy = SenderPolicy.from_store(config, store, NO_DNS)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = SmtpServer(config, store, Metrics())
    server.handler.sender_policy = policy
    _, port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield Edge(config, store, policy, port)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(5), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        store.close()


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    """Untrusted clients (no trusted networks), reps synced: Alice and Bob."""
    yield from run_edge(tmp_path, (), synced=True)


def test_unknown_sender_is_refused_with_guidance(edge: Edge) -> None:
    """A stranger BCCing log@ gets 550 5.7.1 saying how to become known; nothing is stored."""
    with pytest.raises(smtplib.SMTPDataError) as refused:
        edge.send("stranger@example.org", f"log@{DOMAIN}")
    assert refused.value.smtp_code == 550
    reply = refused.value.smtp_error.decode()
    assert reply.startswith("5.7.1 <stranger@example.org> is not a Salesforce user known to Relay")
    assert "relay senders add stranger@example.org --user <username>" in reply
    assert edge.store.list() == []


def test_rep_by_envelope_or_from_header_is_accepted(edge: Edge) -> None:
    """A rep's User Email counts as envelope sender or as the From header (bounce address)."""
    assert edge.send("alice@acme-widgets.example", f"log@{DOMAIN}").startswith("2.0.0")
    assert edge.send("bounces+123@esp.example", f"log@{DOMAIN}", "bob@acme-widgets.example")
    assert len(edge.store.list()) == 2


def test_alias_once_registered_is_accepted(edge: Edge) -> None:
    """Refused before `senders add`; accepted once the alias is stored and the view refreshed."""
    with pytest.raises(smtplib.SMTPDataError):
        edge.send("alice.home@example.org", f"log@{DOMAIN}")
    edge.store.add_sender("alice.home@example.org", ALICE.user_id, ALICE.username)
    edge.refresh()
    assert edge.send("Alice.Home@example.org", f"log@{DOMAIN}").startswith("2.0.0")


def test_personal_address_works_and_a_forged_token_is_refused(edge: Edge) -> None:
    """log+TOKEN@ is accepted from the rep (and their alias); a made-up token is 550 at RCPT."""
    address = edge.personal(ALICE)
    assert edge.send("alice@acme-widgets.example", address).startswith("2.0.0")
    edge.store.add_sender("alice.home@example.org", ALICE.user_id, ALICE.username)
    edge.refresh()
    assert edge.send("alice.home@example.org", address).startswith("2.0.0")
    forged = f"log+{'a' * 12}@{DOMAIN}"
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        edge.send("alice@acme-widgets.example", forged)
    code, reply = refused.value.recipients[forged]
    assert code == 550
    assert b"5.7.1" in reply
    assert b"not anyone's personal Relay address" in reply


def test_personal_address_of_another_rep_is_refused(edge: Edge) -> None:
    """Bob may not use Alice's personal address: the sender must be hers."""
    with pytest.raises(smtplib.SMTPDataError) as refused:
        edge.send("bob@acme-widgets.example", edge.personal(ALICE))
    assert b"may not use this personal Relay address" in refused.value.smtp_error
    assert b"alice" not in refused.value.smtp_error


def test_require_personal_address_refuses_the_shared_address(edge: Edge) -> None:
    """With require_personal_address, log@ is refused with how to get the personal one."""
    edge.store.set_setting(ORG_SCOPE, "require_personal_address", "true")
    edge.refresh()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        edge.send("alice@acme-widgets.example", f"log@{DOMAIN}")
    code, reply = refused.value.recipients[f"log@{DOMAIN}"]
    assert code == 550
    assert b"relay address YOUR-EMAIL" in reply
    assert edge.send("alice@acme-widgets.example", edge.personal(ALICE)).startswith("2.0.0")


def test_trusted_network_vouches_only_for_its_own_users(tmp_path: Path) -> None:
    """trusted_only: the server in front vouches for a rep's envelope sender, and for
    nobody else (a stranger is no longer accepted because of the peer's address)."""
    for edge in run_edge(tmp_path, ("127.0.0.0/8",), synced=True, sender_auth="trusted_only"):
        assert edge.send("alice@acme-widgets.example", f"log@{DOMAIN}").startswith("2.0.0")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            edge.send("stranger@example.org", f"log@{DOMAIN}", "alice@acme-widgets.example")
        assert refused.value.smtp_code == 550
        assert [m.envelope.auth for m in edge.store.list()] == ["trusted:envelope"]


def test_never_synced_snapshot_fails_open(tmp_path: Path) -> None:
    """Before the first rep sync, unknown senders are accepted (never lose mail)."""
    for edge in run_edge(tmp_path, (), synced=False):
        assert edge.send("stranger@example.org", f"log@{DOMAIN}").startswith("2.0.0")


def test_alias_added_a_moment_ago_is_accepted_without_a_refresh(edge: Edge) -> None:
    """`relay senders add` then an immediate send: the edge would refuse on its snapshot,
    sees the store's reps changed since, re-reads them, and accepts. A 550 on stale data
    would bounce the rep's copy for good."""
    edge.store.add_sender("alice.home@example.org", ALICE.user_id, ALICE.username)
    assert edge.send("alice.home@example.org", f"log@{DOMAIN}").startswith("2.0.0")
    assert edge.store.list()[0].envelope.mail_from == "alice.home@example.org"


def test_a_refusal_that_cannot_be_confirmed_is_temporary(edge: Edge) -> None:
    """When the store cannot say whether the reps changed, an unknown sender gets a 451
    (the sending server retries), not a 550; nothing is stored."""
    database = sqlite3.connect(edge.config.home / "relay.db")
    try:
        database.execute("ALTER TABLE change_versions RENAME TO change_versions_gone")
        database.commit()
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            edge.send("stranger@example.org", f"log@{DOMAIN}")
        assert deferred.value.smtp_code == 451
        assert deferred.value.smtp_error.startswith(b"4.3.0 <stranger@example.org>")
        database.execute("ALTER TABLE change_versions_gone RENAME TO change_versions")
        database.commit()
    finally:
        database.close()
    assert edge.store.list() == []
