"""End to end through `relay serve` and the local org, with the real SPF/DKIM/DMARC
checks against a DNS server on loopback: a rep's real mail is logged, spoofed mail is
refused in the session, and the README's quick start still logs its example."""

from __future__ import annotations

import json
import re
import smtplib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.smtp.trust.trust_serve_helpers import (
    ACME_MTA,
    CUSTOMER,
    POSTFIX,
    SAFE_DEFAULTS,
    STRANGER,
    queued,
)
from tests.support.dns_zone import DkimKey, ZoneServer, dkim_sign
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, wait_for
from tests.support.serve import LOG, RelayServe

_TESTS = Path(__file__).resolve().parents[2]


def start(path: Path, org: RunningOrg, **env: str) -> Iterator[RelayServe]:
    process = RelayServe(path, env=org.env() | env).start()
    try:
        wait_for(lambda: process.events("reps_synced"), what="the first rep sync")
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def behind_postfix(
    tmp_path_factory: pytest.TempPathFactory, org: RunningOrg, dns: ZoneServer
) -> Iterator[RelayServe]:
    """deploy/postfix's settings: Postfix on this host is trusted for what it reports
    (XFORWARD), everything else is checked; sender_auth is the default."""
    yield from start(
        tmp_path_factory.mktemp("postfix"),
        org,
        **SAFE_DEFAULTS | {"RELAY_SMTP_TRUSTED_NETWORKS": f"{POSTFIX}/32"},
        RELAY_DNS_NAMESERVERS=dns.nameserver,
    )


def message(sender: str, to: str, subject: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "Date: Sun, 06 Dec 2026 00:00:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@acme-widgets.example>\r\n\r\nHello Hank.\r\n"
    ).encode()


def send(
    serve: RelayServe, mail_from: str, raw: bytes, xforward: str | None = None
) -> tuple[int, str]:
    """One transaction, as Postfix hands it over (XFORWARD first) or as a client would."""
    with smtplib.SMTP("127.0.0.1", serve.smtp_port, timeout=30) as client:
        client.ehlo("mx.relay-host.example")
        if xforward is not None:
            assert client.docmd("XFORWARD", xforward)[0] == 250
        client.mail(mail_from)
        code, reply = client.rcpt(LOG)
        if code != 250:
            return code, reply.decode()
        code, reply = client.data(raw)
        return code, reply.decode()


def test_a_reps_real_mail_through_postfix_is_logged(
    behind_postfix: RelayServe, org: RunningOrg, key: DkimKey
) -> None:
    """Signed by acme-widgets.example and sent from its MTA (XFORWARD): logged as Alice's."""
    raw = dkim_sign(message(REP, CUSTOMER, "Signed renewal"), "acme-widgets.example", "sel", key)
    code, reply = send(behind_postfix, REP, raw, f"ADDR={ACME_MTA} HELO=mx.acme-widgets.example")
    assert code == 250, reply
    shown = queued(behind_postfix, reply)
    assert shown["state"] == "logged"
    assert shown["envelope"]["auth"] == "dmarc:alice@acme-widgets.example"  # type: ignore[index]
    tasks = org.tasks("Subject = 'Email: Signed renewal'")
    assert tasks
    assert {t["OwnerId"] for t in tasks} == {org.seeded.sample.users[REP]}


def test_a_forged_reps_mail_through_postfix_is_refused(
    behind_postfix: RelayServe, org: RunningOrg
) -> None:
    """From: alice@ from a stranger's server, unsigned: DMARC fail, 550 5.7.26, nothing kept."""
    raw = message(REP, CUSTOMER, "Forged renewal")
    code, reply = send(behind_postfix, REP, raw, f"ADDR={STRANGER} HELO=spoof.example")
    assert code == 550
    assert reply.startswith("5.7.26 <alice@acme-widgets.example> failed DMARC")
    assert org.tasks("Subject = 'Email: Forged renewal'") == []


def test_the_internets_mail_from_the_postfix_in_front_is_not_a_reps(
    behind_postfix: RelayServe, org: RunningOrg
) -> None:
    """Envelope mallory@evil.example, From hank@, To alice@, handed over by the Postfix on
    127.0.0.1: refused, never logged as Alice's."""
    raw = message(CUSTOMER, REP, "Spoofed inbound")
    code, reply = send(behind_postfix, "mallory@evil.example", raw)
    assert code == 550, reply
    assert "5.7.26 <hank@globex.example>" in reply
    listed = json.loads(behind_postfix.cli("queue", "list", "--state", "all", "--json").stdout)
    assert [m for m in listed if m["subject"] == "Spoofed inbound"] == []
    assert org.tasks("Subject = 'Email: Spoofed inbound'") == []


def test_a_clients_xforward_is_not_believed_from_an_untrusted_peer(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer, key: DkimKey
) -> None:
    """No trusted network (the default): XFORWARD naming acme's MTA changes nothing, so
    an unsigned From: alice@ from here fails SPF and DMARC; a DKIM-signed one passes."""
    for serve in start(
        tmp_path / "relay", org, RELAY_DNS_NAMESERVERS=dns.nameserver, **SAFE_DEFAULTS
    ):
        code, reply = send(serve, REP, message(REP, CUSTOMER, "Direct unsigned"))
        assert (code, reply[:6]) == (550, "5.7.26")
        signed = dkim_sign(message(REP, CUSTOMER, "Direct signed"), "acme-widgets.example",
                           "sel", key)  # fmt: skip
        code, reply = send(serve, REP, signed)
        assert code == 250, reply
        assert queued(serve, reply)["state"] == "logged"


def test_a_dns_outage_asks_the_sender_to_retry(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer
) -> None:
    """SERVFAIL for the From domain's records: 451 4.7.0, so the sending MTA retries."""
    dns.servfail.update({"_dmarc.acme-widgets.example", "acme-widgets.example"})
    try:
        for serve in start(
            tmp_path / "relay", org, RELAY_DNS_NAMESERVERS=dns.nameserver, **SAFE_DEFAULTS
        ):
            code, reply = send(serve, REP, message(REP, CUSTOMER, "During an outage"))
            assert code == 451, reply
            assert reply.startswith("4.7.0")
    finally:
        dns.servfail.clear()


def trial_settings() -> dict[str, str]:
    """The Makefile's TRIAL variables, read from the Makefile (README: `make run`)."""
    makefile = (_TESTS.parent / "Makefile").read_text()
    (line,) = re.findall(r"^TRIAL := (.*)$", makefile, re.MULTILINE)
    return dict(item.split("=", 1) for item in line.split())


def test_the_readmes_quick_start_logs_its_example(tmp_path: Path, org: RunningOrg) -> None:
    """`make run`'s trial settings and the README's Python example: logged on Hank."""
    settings = trial_settings()
    assert settings["RELAY_SF_LOCAL"] == "1"
    trial = {k: v for k, v in settings.items() if k != "RELAY_SF_LOCAL"}
    for serve in start(tmp_path / "relay", org, **trial):
        with smtplib.SMTP("127.0.0.1", serve.smtp_port) as smtp:
            raw = message(REP, CUSTOMER, "Pricing follow-up trial")
            smtp.sendmail(REP, [LOG], raw)
        wait_for(lambda: org.tasks("Subject = 'Email: Pricing follow-up trial'"), what="Task")


def test_the_safe_defaults_refuse_the_quick_start_example(
    tmp_path: Path, org: RunningOrg, dns: ZoneServer
) -> None:
    """Without the trial settings, localhost claiming alice@ proves nothing: refused."""
    for serve in start(
        tmp_path / "relay", org, RELAY_DNS_NAMESERVERS=dns.nameserver, **SAFE_DEFAULTS
    ):
        code, reply = send(serve, REP, message(REP, CUSTOMER, "Pricing follow-up default"))
        assert code == 550, reply
        assert reply.startswith("5.7.26 <alice@acme-widgets.example> failed DMARC")
