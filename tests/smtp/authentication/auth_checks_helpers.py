"""Helpers for the sender-check tests: a loopback DNS zone with SPF, DKIM and DMARC records,
messages, and a checker. A module of its own (not conftest.py), so that imports of it never
resolve to another folder's conftest."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from relay.smtp.authentication import AuthVerdict, SenderVerifier
from tests.support.dns_zone import DkimKey, dkim_sign

# 127.0.0.0/8 stands for the internet here: .10 is acme's mail server, .66 is anyone else.
ACME_MTA = "127.0.0.10"
STRANGER = "127.0.0.66"


def acme_zone(key: DkimKey) -> dict[str, dict[str, list[str]]]:
    """acme.example: SPF for its MTA, a DKIM key, DMARC p=reject; a few variants beside it."""
    return {
        "acme.example": {"TXT": [f"v=spf1 ip4:{ACME_MTA} -all"], "A": [ACME_MTA]},
        "soft.example": {"TXT": [f"v=spf1 ip4:{ACME_MTA} ~all"]},
        # SPF through include:, mx and a: mechanisms (A and MX answers through pyspf's hook).
        "globex.example": {
            "TXT": ["v=spf1 include:_spf.provider.example mx a:out.globex.example -all"],
            "MX": ["10 mx.globex.example."],
        },
        "mx.globex.example": {"A": ["127.0.0.20"]},
        "out.globex.example": {"A": ["127.0.0.21"]},
        "_spf.provider.example": {"TXT": ["v=spf1 ip4:127.0.0.22 ip6:2001:db8::/32 -all"]},
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
        # Over 512 bytes: the UDP answer is truncated and fetched again over TCP.
        "big.example": {
            "TXT": [
                "v=spf1 "
                + " ".join(f"ip4:192.0.2.{host}" for host in range(1, 60))
                + f" ip4:{ACME_MTA} -all"
            ]
        },
        "_dmarc.slow.example": {"TXT": ["v=DMARC1; p=reject"]},
    }


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
