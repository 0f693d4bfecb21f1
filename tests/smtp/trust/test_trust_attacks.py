"""Attacks on the sender checks, through `relay serve`, the local org and the loopback
DNS server: each must end refused at the edge, held, or logged for nobody but the
rep it truly belongs to."""

from __future__ import annotations

import functools
import json
import smtplib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.smtp.trust.trust_serve_helpers import CUSTOMER, SAFE_DEFAULTS, queued
from tests.support.dns_zone import DkimKey, ZoneServer, dkim_sign
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, wait_for
from tests.support.serve import DOMAIN, LOG, RelayServe

SECRET = "inbound-test-secret-0123456789abcdef"
INBOUND = {"RELAY_SMTP_INBOUND_NETWORKS": "127.0.0.1/32", "RELAY_SMTP_INBOUND_SECRET": SECRET}
INBOUND_RCPT = f"log+inbound-{SECRET}@{DOMAIN}"


def start(
    path: Path, org: RunningOrg, wait: str = "reps_synced", **env: str
) -> Iterator[RelayServe]:
    process = RelayServe(path, env=org.env() | env).start()
    try:
        wait_for(lambda: process.events(wait), timeout=90, what=wait)
        yield process
    finally:
        process.stop()


def message(sender: str, to: str, subject: str, before: str = "", after: str = "") -> bytes:
    """A message; ``before`` and ``after`` are header lines put before From / after Date."""
    return (
        f"{before}From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Sun, 06 Dec 2026 00:00:00 +0000\r\n{after}"
        f"Message-ID: <{uuid.uuid4().hex}@acme-widgets.example>\r\n\r\nHello Hank.\r\n"
    ).encode()


def send(
    serve: RelayServe, mail_from: str, raw: bytes, rcpt: str = LOG, xforward: str | None = None
) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", serve.smtp_port, timeout=60) as client:
        client.ehlo("mx.relay-host.example")
        if xforward is not None:
            assert client.docmd("XFORWARD", xforward)[0] == 250
        client.mail(mail_from)
        code, reply = client.rcpt(rcpt)
        if code != 250:
            return code, reply.decode()
        code, reply = client.data(raw)
        return code, reply.decode()


def owners(org: RunningOrg, subject: str) -> set[str]:
    return {t["OwnerId"] for t in org.tasks(f"Subject = 'Email: {subject}'")}


def test_an_inbound_copy_is_never_logged_as_its_forged_senders(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer
) -> None:
    """A stranger mails a rep's mailbox with From: alice@ and Cc: a customer; the inbound
    source (recipient_bcc_maps, journaling) copies it to Relay. The source proves the
    copy, not its sender: no rep among the recipients, so it is held, never alice's, and
    the re-check (every second here) does not release it for the From either."""
    settings = SAFE_DEFAULTS | INBOUND | {"RELAY_DNS_NAMESERVERS": dns.nameserver}
    settings["RELAY_PIPELINE_HELD_RECHECK_SECONDS"] = "1"
    for serve in start(tmp_path / "relay", org, **settings):
        raw = message(REP, CUSTOMER, "Forged via the inbound source")
        code, reply = send(serve, "mallory@evil.example", raw, rcpt=INBOUND_RCPT)
        assert code == 250, reply
        shown = queued(serve, reply)
        assert shown["envelope"]["auth"] == "source:network"  # type: ignore[index]
        assert shown["state"] == "held", shown
        assert str(shown["reason"]).startswith("unknown_sender")
        time.sleep(4)
        assert serve.events("held_released") == []
        assert owners(org, "Forged via the inbound source") == set()


def test_a_journal_reports_sender_line_is_not_believed(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer
) -> None:
    """The journal-report form of the same attack: anyone can write X-MS-Journal-Report
    and a Sender: line naming alice in the body; still nobody's."""
    settings = SAFE_DEFAULTS | INBOUND | {"RELAY_DNS_NAMESERVERS": dns.nameserver}
    report = (
        "From: mallory@evil.example\r\nTo: " + INBOUND_RCPT + "\r\n"
        "Subject: Forged journal report\r\nX-MS-Journal-Report:\r\n"
        "Date: Sun, 06 Dec 2026 00:00:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@evil.example>\r\n\r\n"
        f"Sender: {REP}\r\nSubject: Forged journal report\r\nTo: {CUSTOMER}\r\n"
    ).encode()
    for serve in start(tmp_path / "relay", org, **settings):
        code, reply = send(serve, "mallory@evil.example", report, rcpt=INBOUND_RCPT)
        assert code == 250, reply
        shown = queued(serve, reply)
        assert shown["state"] == "held", shown
        assert owners(org, "Forged journal report") == set()


def test_a_made_up_personal_address_waits_for_the_first_rep_sync(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer
) -> None:
    """Salesforce unreachable since Relay started: log+zzzz@ names nobody Relay knows, so
    the edge asks the client to retry (451) instead of letting anyone through."""
    org.admin("/_localorg/faults", {"503": 1.0})
    try:
        settings = SAFE_DEFAULTS | {"RELAY_DNS_NAMESERVERS": dns.nameserver}
        for serve in start(tmp_path / "relay", org, wait="daemon_ready", **settings):
            failed = functools.partial(serve.events, "reps_sync_failed")
            wait_for(failed, timeout=120, what="the first rep sync failing")
            raw = message(REP, CUSTOMER, "Before the first sync")
            code, reply = send(serve, "mallory@evil.example", raw, rcpt=f"log+zzzz@{DOMAIN}")
            assert code == 451, reply
            assert reply.startswith("4.7.0")
            listed = json.loads(serve.cli("queue", "list", "--state", "all", "--json").stdout)
            assert listed == []
    finally:
        org.admin("/_localorg/faults", {})


def test_unsigned_fields_put_in_front_of_a_signed_message_are_refused(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer, key: DkimKey
) -> None:
    """DKIM replay: a genuine mail alice signed, with a new Subject, To and Message-ID put
    in front. The verifier checks the signed (bottom) fields, a parser shows the new
    ones: RFC 5322 §3.6 allows one of each, so the edge refuses it."""
    genuine = dkim_sign(
        message(REP, "mallory@evil.example", "Re: your question"), "acme-widgets.example",
        "sel", key,
    )  # fmt: skip
    injected = (
        f"Subject: Injected subject\r\nTo: {CUSTOMER}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@evil.example>\r\n"
    ).encode() + genuine
    settings = SAFE_DEFAULTS | {"RELAY_DNS_NAMESERVERS": dns.nameserver}
    for serve in start(tmp_path / "relay", org, **settings):
        code, reply = send(serve, "mallory@evil.example", injected)
        assert code == 550, reply
        assert reply.startswith("5.7.1 The message has more than one To header field")
        assert owners(org, "Injected subject") == set()
        # The same message as alice's server sent it is still accepted as hers.
        code, reply = send(serve, REP, genuine)
        assert code == 250, reply
        shown = queued(serve, reply)
        assert shown["envelope"]["auth"] == f"dmarc:{REP}"  # type: ignore[index]


def test_a_bare_cr_cannot_hide_a_second_from(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer, key: DkimKey
) -> None:
    """intern@ (no rep) signs with acme's key; "X-Note: hi<CR>From: alice@" reads as one
    field to the DMARC check and as a From to a mail parser: refused, never alice's."""
    hidden = "X-Note: hi\rFrom: " + REP + "\r\n"
    raw = dkim_sign(
        message("intern@acme-widgets.example", CUSTOMER, "Hidden From", before=hidden),
        "acme-widgets.example", "sel", key,
    )  # fmt: skip
    settings = SAFE_DEFAULTS | {"RELAY_DNS_NAMESERVERS": dns.nameserver}
    for serve in start(tmp_path / "relay", org, **settings):
        code, reply = send(serve, "intern@acme-widgets.example", raw)
        assert code == 550, reply
        assert reply.startswith("5.7.1 The message's header holds a bare CR")
        nul = message(REP, CUSTOMER, "NUL in header", before="X-Note: a\x00b\r\n")
        code, reply = send(serve, REP, dkim_sign(nul, "acme-widgets.example", "sel", key))
        assert code == 550, reply
        assert reply.startswith("5.7.1 The message's header holds a NUL")
        assert owners(org, "Hidden From") == set()


def test_a_reported_pass_for_another_domain_proves_nothing(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer
) -> None:
    """Behind a trusted hop with RELAY_SMTP_AUTHSERV_ID: "dmarc=pass header.from=
    evil.example" on mail From: alice@acme is a pass for evil.example, not for acme
    (RFC 8601 §2.7.2): refused, never alice's."""
    settings = SAFE_DEFAULTS | {
        "RELAY_SMTP_TRUSTED_NETWORKS": "127.0.0.1/32",
        "RELAY_DNS_NAMESERVERS": dns.nameserver,
        "RELAY_SMTP_AUTHSERV_ID": "mx.relay-host.example",
    }
    results = (
        "Authentication-Results: mx.relay-host.example; dmarc=pass header.from=evil.example\r\n"
    )
    for serve in start(tmp_path / "relay", org, **settings):
        raw = message(REP, CUSTOMER, "Pass for another domain", before=results)
        code, reply = send(serve, "mallory@evil.example", raw)
        assert code == 550, reply
        assert owners(org, "Pass for another domain") == set()


def test_a_clients_authentication_results_are_not_stored(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer, key: DkimKey
) -> None:
    """RFC 8601 §5: a direct client's Authentication-Results claiming any id are removed
    before the message is stored; the rest of the message is kept byte for byte."""
    claim = (
        "Authentication-Results: mx.relay-host.example; dmarc=pass "
        "header.from=acme-widgets.example\r\n"
    )
    signed = dkim_sign(message(REP, CUSTOMER, "Kept without claims"), "acme-widgets.example",
                       "sel", key)  # fmt: skip
    settings = SAFE_DEFAULTS | {
        "RELAY_DNS_NAMESERVERS": dns.nameserver,
        "RELAY_SMTP_AUTHSERV_ID": "mx.relay-host.example",
    }
    for serve in start(tmp_path / "relay", org, **settings):
        code, reply = send(serve, REP, claim.encode() + signed)
        assert code == 250, reply
        queue_id = reply.rsplit(" ", 1)[-1]
        stored = serve.cli("queue", "show", queue_id, "--raw")
        assert stored.returncode == 0, stored.stderr
        # The CLI's output is read as text here (universal newlines: CRLF reads as LF).
        assert stored.stdout == signed.decode().replace("\r\n", "\n")


def test_nobody_proven_is_held_even_before_the_first_rep_sync(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer, key: DkimKey
) -> None:
    """Salesforce unreachable since Relay started: intern@ (no rep) signs with acme's key
    and claims MAIL FROM:<alice@>. The edge proves only intern@; the runners find no rep
    for it and hold it, instead of letting the matcher guess alice from the envelope."""
    raw = dkim_sign(
        message("intern@acme-widgets.example", CUSTOMER, "Guess the rep"),
        "acme-widgets.example", "sel", key,
    )  # fmt: skip
    org.admin("/_localorg/faults", {"503": 1.0})
    try:
        settings = SAFE_DEFAULTS | {
            "RELAY_DNS_NAMESERVERS": dns.nameserver,
            "RELAY_PIPELINE_BACKOFF_INITIAL_SECONDS": "3",
        }
        for serve in start(tmp_path / "relay", org, wait="daemon_ready", **settings):
            failed = functools.partial(serve.events, "reps_sync_failed")
            wait_for(failed, timeout=120, what="the first rep sync failing")
            code, reply = send(serve, REP, raw)
            assert code == 250, reply
            org.admin("/_localorg/faults", {})
            shown = queued(serve, reply)
            assert shown["envelope"]["auth"] == "dmarc:intern@acme-widgets.example"  # type: ignore[index]
            assert shown["state"] == "held", shown
            assert str(shown["reason"]).startswith("unknown_sender")
            assert owners(org, "Guess the rep") == set()
    finally:
        org.admin("/_localorg/faults", {})


def test_the_inbound_secret_is_never_printed_by_the_cli(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer
) -> None:
    """A Microsoft 365 journal report is addressed To: log+inbound-SECRET@: the stored
    bytes keep it, but `relay queue show` (plain, --json, --raw), `queue list` and
    `explain` print log+inbound-[redacted]@."""
    settings = SAFE_DEFAULTS | INBOUND | {"RELAY_DNS_NAMESERVERS": dns.nameserver}
    for serve in start(tmp_path / "relay", org, **settings):
        raw = message(CUSTOMER, INBOUND_RCPT, "Secret in To", after=f"Cc: {REP}\r\n")
        code, reply = send(serve, CUSTOMER, raw, rcpt=INBOUND_RCPT)
        assert code == 250, reply
        queue_id = reply.rsplit(" ", 1)[-1]
        queued(serve, reply)
        commands = (
            ("queue", "show", queue_id, "--json"),
            ("queue", "show", queue_id),
            ("queue", "show", queue_id, "--raw"),
            ("queue", "list", "--state", "all", "--json"),
            ("explain", queue_id),
        )
        for command in commands:
            out = serve.cli(*command)
            assert SECRET not in out.stdout + out.stderr, command
        shown = json.loads(serve.cli("queue", "show", queue_id, "--json").stdout)
        assert shown["headers"]["to"] == f"log+inbound-[redacted]@{DOMAIN}"
