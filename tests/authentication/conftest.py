"""Fixtures for the sender checks: a loopback DNS zone with SPF, DKIM and DMARC records."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from dns_zone import DkimKey, ZoneServer, dkim_sign, make_dkim_key, serve_zone

from relay.smtp.authentication import AuthVerdict, SenderVerifier

# 127.0.0.0/8 stands for the internet here: .10 is acme's mail server, .66 is anyone else.
ACME_MTA = "127.0.0.10"
STRANGER = "127.0.0.66"


@pytest.fixture(scope="session")
def acme_key() -> DkimKey:
    return make_dkim_key()


def acme_zone(key: DkimKey) -> dict[str, dict[str, list[str]]]:
    """acme.example: SPF for its MTA, a DKIM key, DMARC p=reject; a few variants beside it."""
    return {
        "acme.example": {"TXT": [f"v=spf1 ip4:{ACME_MTA} -all"], "A": [ACME_MTA]},
        "soft.example": {"TXT": [f"v=spf1 ip4:{ACME_MTA} ~all"]},
        "sel._domainkey.acme.example": {"TXT": [key.dns_txt]},
        "sel._domainkey.mail.acme.example": {"TXT": [key.dns_txt]},
        "_dmarc.acme.example": {"TXT": ["v=DMARC1; p=reject; rua=mailto:d@acme.example"]},
        "strict.example": {"TXT": [f"v=spf1 ip4:{ACME_MTA} -all"]},
        "bounces.strict.example": {"TXT": [f"v=spf1 ip4:{ACME_MTA} -all"]},
        "sel._domainkey.mail.strict.example": {"TXT": [key.dns_txt]},
        "_dmarc.strict.example": {"TXT": ["v=DMARC1; p=quarantine; adkim=s; aspf=s"]},
        "nodmarc.example": {"TXT": [f"v=spf1 ip4:{ACME_MTA} -all"]},
        "sel._domainkey.nodmarc.example": {"TXT": [key.dns_txt]},
        "broken.example": {"TXT": [f"v=spf1 ip4:{ACME_MTA} -all"]},
        "_dmarc.broken.example": {"TXT": ["v=DMARC1; p=reject"]},
        "slow.example": {"TXT": [f"v=spf1 ip4:{ACME_MTA} -all"]},
        "_dmarc.slow.example": {"TXT": ["v=DMARC1; p=reject"]},
    }


@pytest.fixture
def zone(acme_key: DkimKey) -> Iterator[ZoneServer]:
    with serve_zone(acme_zone(acme_key)) as server:
        yield server


def message(from_address: str = "alice@acme.example", body: str = "Hello Bob.\r\n") -> bytes:
    return (
        f"From: Alice <{from_address}>\r\n"
        "To: bob@customer.example\r\n"
        "Subject: Renewal\r\n"
        "Date: Sun, 06 Dec 2026 00:00:00 +0000\r\n"
        "Message-ID: <renewal-1@acme.example>\r\n"
        "\r\n"
        f"{body}"
    ).encode()


def signed(key: DkimKey, domain: str = "acme.example", **kwargs: str) -> bytes:
    return dkim_sign(message(**kwargs), domain, "sel", key)


@dataclass
class Checker:
    """Runs SenderVerifier.verify on a fresh event loop per call, as the SMTP edge would."""

    verifier: SenderVerifier

    def __call__(
        self,
        raw: bytes,
        client_ip: str = ACME_MTA,
        mail_from: str = "bounces@acme.example",
        helo: str = "mx.acme.example",
    ) -> AuthVerdict:
        return asyncio.run(self.verifier.verify(raw, client_ip, helo, mail_from))


@pytest.fixture
def check(zone: ZoneServer) -> Iterator[Checker]:
    verifier = SenderVerifier(nameservers=[zone.nameserver], timeout_seconds=1.0)
    yield Checker(verifier)
    verifier.close()
