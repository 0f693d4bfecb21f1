"""The sender table over real SMTP: each spoofing path is refused in the session, and
what the edge proved is stored with the message (Envelope.auth)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from relay.smtp.credentials import hash_password
from relay.smtp.senders import Arrival
from tests.smtp.trust.trust_edge import (
    ALICE,
    BOB,
    DOMAIN,
    INBOUND_SECRET,
    Edge,
    TableChecks,
    run_edge,
)
from tests.support.tls_certificates import make_certificate

LOG = f"log@{DOMAIN}"
LOOPBACK = ("127.0.0.0/8", "::1/128")


@pytest.fixture
def direct(tmp_path: Path) -> Iterator[Edge]:
    """The safe defaults: no trusted network, sender_auth=either."""
    yield from run_edge(tmp_path, TableChecks({"acme-widgets.example": "pass"}))


def test_loopback_is_no_blanket_pass(tmp_path: Path) -> None:
    """Postfix in front hands the internet's mail over from 127.0.0.1: envelope
    mallory@evil.example, From hank@, To alice@ is refused, not logged as Alice's."""
    for edge in run_edge(tmp_path, TableChecks(), trusted_networks=LOOPBACK):
        code, reply = edge.send("mallory@evil.example", LOG, "hank@globex.example", ALICE.email)
        assert code == 550
        assert reply.startswith("5.7.26 <hank@globex.example> is not authenticated")
        assert edge.store.list() == []


def test_a_forged_rep_from_is_refused_by_dmarc(tmp_path: Path) -> None:
    """From: alice@ from anywhere: DMARC fail is a certain 550 5.7.26 that says what to do."""
    checks = TableChecks({"acme-widgets.example": "fail"})
    for edge in run_edge(tmp_path, checks):
        code, reply = edge.send("alice@acme-widgets.example", LOG)
        assert code == 550
        assert reply.startswith("5.7.26 <alice@acme-widgets.example> failed DMARC")
        assert "personal Relay address" in reply
        assert edge.store.list() == []
        assert checks.calls == [("127.0.0.1", "mx.example.org", "alice@acme-widgets.example")]


def test_a_customers_mail_naming_a_rep_is_refused_from_an_unnamed_source(direct: Edge) -> None:
    """An inbound copy (hank@ writes to alice@) from a client that is no named source."""
    code, reply = direct.send("hank@globex.example", LOG, header_to=ALICE.email)
    assert (code, reply[:6]) == (550, "5.7.26")
    assert direct.store.list() == []


def test_a_dns_temperror_asks_the_client_to_retry(tmp_path: Path) -> None:
    """A temporary DNS failure is 451 4.7.0, never a 550 and never a silent accept."""
    for edge in run_edge(tmp_path, TableChecks({"acme-widgets.example": "temperror"})):
        code, reply = edge.send("alice@acme-widgets.example", LOG)
        assert code == 451
        assert reply.startswith("4.7.0 Could not check acme-widgets.example's SPF")
        assert edge.store.list() == []


def test_an_aligned_pass_for_a_rep_is_accepted_and_recorded(direct: Edge) -> None:
    with capture_logs() as logs:
        code, _ = direct.send("alice@acme-widgets.example", LOG)
    assert code == 250
    assert direct.auths() == ["dmarc:alice@acme-widgets.example"]
    queued = [e for e in logs if e["event"] == "message_queued"]
    assert [e["auth"] for e in queued] == ["dmarc:alice@acme-widgets.example"]


def test_an_aligned_pass_for_a_stranger_is_still_no_rep(direct: Edge) -> None:
    """DMARC proves the domain, not that its user is a rep."""
    direct.checks.results = {"acme-widgets.example": "pass"}
    code, reply = direct.send("carol@acme-widgets.example", LOG)
    assert code == 550
    assert "is not a Salesforce user known to Relay" in reply


def test_the_personal_address_with_an_acceptable_from_needs_no_dns(tmp_path: Path) -> None:
    """personal_address: log+TOKEN@ and the rep's From: accepted without a lookup; another
    rep's From or a forged token is refused."""
    checks = TableChecks()
    for edge in run_edge(tmp_path, checks, sender_auth="personal_address"):
        assert edge.send(ALICE.email, edge.personal(ALICE))[0] == 250
        assert edge.auths() == ["personal_address"]
        code, reply = edge.send(BOB.email, edge.personal(ALICE))
        assert code == 550
        assert "may not use this personal Relay address" in reply
        forged = f"log+{'a' * 12}@{DOMAIN}"
        assert edge.send(ALICE.email, forged)[0] == 550
        code, reply = edge.send(ALICE.email, LOG)
        assert code == 550
        assert "use your personal Relay address" in reply
        assert checks.calls == []


def test_either_accepts_the_personal_address_when_dmarc_gives_nothing(tmp_path: Path) -> None:
    for edge in run_edge(tmp_path, TableChecks()):
        assert edge.send(ALICE.email, LOG)[0] == 550
        assert edge.send(ALICE.email, edge.personal(ALICE))[0] == 250
        assert edge.auths() == ["personal_address"]


def test_trusted_only_refuses_every_direct_client(tmp_path: Path) -> None:
    for edge in run_edge(tmp_path, TableChecks(), sender_auth="trusted_only"):
        code, reply = edge.send(ALICE.email, LOG)
        assert code == 550
        assert "only from its own mail server" in reply


def test_dmarc_never_fails_open_before_the_first_rep_sync(tmp_path: Path) -> None:
    """The snapshot may fail open ("is a rep"), the authentication may not."""
    checks = TableChecks({"acme-widgets.example": "fail", "globex.example": "pass"})
    for edge in run_edge(tmp_path, checks, synced=False):
        assert edge.send(ALICE.email, LOG)[0] == 550
        assert edge.send("hank@globex.example", LOG)[0] == 250
        assert edge.auths() == ["dmarc:hank@globex.example"]


# --- inbound copies from a named network with the secret --------------------------------


def inbound_edge(tmp_path: Path, networks: tuple[str, ...]) -> Iterator[Edge]:
    return run_edge(
        tmp_path, TableChecks(), inbound_networks=networks, inbound_secret=INBOUND_SECRET
    )


def test_the_inbound_network_with_its_secret_is_a_named_source(tmp_path: Path) -> None:
    """Journaling's copy is accepted whoever wrote it, and the secret is stored nowhere."""
    for edge in inbound_edge(tmp_path, ("127.0.0.1/32",)):
        with capture_logs() as logs:
            rcpt = f"log+inbound-{INBOUND_SECRET}@{DOMAIN}"
            code, _ = edge.send("hank@globex.example", rcpt, header_to=ALICE.email)
        assert code == 250
        (message,) = edge.store.list()
        assert message.envelope.auth == "source:network"
        assert message.envelope.rcpt_tos == (f"log+inbound@{DOMAIN}",)
        assert INBOUND_SECRET.encode() not in edge.store.raw(message.id)
        assert INBOUND_SECRET not in repr(logs)
        assert edge.checks.calls == []


@pytest.mark.parametrize(
    ("networks", "secret"),
    [(("127.0.0.1/32",), "wrong-secret-0123456789"), (("192.0.2.0/24",), INBOUND_SECRET)],
)
def test_a_wrong_secret_or_another_network_is_refused(
    tmp_path: Path, networks: tuple[str, ...], secret: str
) -> None:
    for edge in inbound_edge(tmp_path, networks):
        with capture_logs() as logs:
            code, reply = edge.send("hank@globex.example", f"log+inbound-{secret}@{DOMAIN}")
        assert code == 550
        assert secret not in reply
        assert secret not in repr(logs)
        assert edge.store.list() == []


# --- what a trusted hop reports -----------------------------------------------------------


def test_a_trusted_hops_authentication_results_of_our_authserv_id_are_used(
    tmp_path: Path,
) -> None:
    """RFC 8601 §5: the configured authserv-id's verdict replaces Relay's own check."""
    checks = TableChecks(reported_results={"mx.acme-widgets.example": "pass"})
    for edge in run_edge(
        tmp_path, checks, trusted_networks=LOOPBACK, authserv_id="mx.acme-widgets.example"
    ):
        assert edge.send(ALICE.email, LOG)[0] == 250
        assert edge.auths() == ["dmarc:alice@acme-widgets.example"]
        assert checks.calls == []


def test_a_direct_clients_authentication_results_are_never_read(tmp_path: Path) -> None:
    """The same header from an untrusted client is ignored: Relay checks for itself."""
    checks = TableChecks(reported_results={"mx.acme-widgets.example": "pass"})
    for edge in run_edge(tmp_path, checks, authserv_id="mx.acme-widgets.example"):
        assert edge.send(ALICE.email, LOG)[0] == 550
        assert len(checks.calls) == 1


def test_xforward_names_the_client_checked_only_from_a_trusted_hop(tmp_path: Path) -> None:
    """Postfix XFORWARD: SPF is evaluated for the original client's IP and HELO."""
    checks = TableChecks({"acme-widgets.example": "pass"})
    raw = f"From: {ALICE.email}\r\nSubject: x\r\n\r\nHi\r\n".encode()
    xforward = {"addr": "IPV6:2001:db8::25", "helo": "mail.acme-widgets.example"}
    for edge in run_edge(tmp_path, checks, trusted_networks=("127.0.0.0/8",)):
        for peer in ("127.0.0.1", "192.0.2.9"):
            arrival = Arrival(peer, "mx.local", ALICE.email, (LOG,), xforward=xforward)
            refusal, auth = asyncio.run(edge.policy.check_data(arrival, raw))
            assert (refusal, auth) == (None, "dmarc:alice@acme-widgets.example")
    assert [call[:2] for call in checks.calls] == [
        ("2001:db8::25", "mail.acme-widgets.example"),
        ("192.0.2.9", "mx.local"),  # an untrusted peer's XFORWARD is not believed
    ]


def test_an_unknown_xforward_helo_is_checked_empty_not_as_the_hops(tmp_path: Path) -> None:
    """XFORWARD HELO=[UNAVAILABLE] (Postfix did not see one): SPF gets the client's IP with
    an empty HELO, never the trusted hop's own HELO, whose SPF may cover the IP."""
    checks = TableChecks({"acme-widgets.example": "pass"})
    raw = f"From: {ALICE.email}\r\nTo: hank@globex.example\r\nSubject: x\r\n\r\nHi\r\n".encode()
    for edge in run_edge(tmp_path, checks, trusted_networks=LOOPBACK):
        with smtplib.SMTP("127.0.0.1", edge.port, timeout=10) as client:
            client.ehlo("mx.relay-host.example")
            assert client.docmd("XFORWARD", "ADDR=192.0.2.25 HELO=[UNAVAILABLE]")[0] == 250
            client.sendmail(ALICE.email, [LOG], raw)
    assert [call[:2] for call in checks.calls] == [("192.0.2.25", "")]


# --- inbound copies from an SMTP AUTH user (relay/smtp/protocol.py names the source) ------


def test_an_authenticated_inbound_source_may_send_a_customers_mail(tmp_path: Path) -> None:
    """SMTP AUTH over TLS names the source: its copy of hank@'s mail to alice@ is accepted
    without DNS, recorded as ``source:auth:journal``; the same copy without AUTH is not."""
    certificate = make_certificate(tmp_path / "tls", DOMAIN)
    users = (("journal", hash_password("correct horse battery staple")),)
    for edge in run_edge(
        tmp_path / "home", TableChecks(), auth_users=users,
        tls_cert_file=certificate.cert_file, tls_key_file=certificate.key_file,
    ):  # fmt: skip
        context = ssl.create_default_context(cafile=str(certificate.cert_file))
        raw = f"From: hank@globex.example\r\nTo: {ALICE.email}\r\nSubject: Re\r\n\r\nOk\r\n"
        with smtplib.SMTP("127.0.0.1", edge.port, timeout=10) as client:
            client.starttls(context=context)
            client.login("journal", "correct horse battery staple")
            client.sendmail("hank@globex.example", [LOG], raw.encode())
        assert edge.auths() == ["source:auth:journal"]
        assert edge.checks.calls == []
        code, _ = edge.send("hank@globex.example", LOG, header_to=ALICE.email)
        assert code == 550
