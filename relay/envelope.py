"""The SMTP envelope: what actually reached Relay, as opposed to what the headers claim."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Envelope:
    """The envelope of one SMTP transaction (RFC 5321 §2.3.1).

    ``mail_from`` is ``""`` for the null reverse-path ``<>`` (bounces, DSNs).
    ``rcpt_tos`` keeps the order the client gave. ``peer`` is ``host:port`` of the client.
    ``auth`` is what the SMTP edge proved about the sender (relay/smtp/sender_checks.py):
    ``dmarc:ADDRESS`` (the From address whose domain passed; ``dmarc:DOMAIN`` in mail
    stored before the address was kept), ``personal_address``, ``trusted:envelope``,
    ``source:NAME`` (a named
    inbound source), ``none`` (an acceptable From only), or ``unverified`` (accepted by a
    release that recorded nothing). The runners attribute only what it proved. Mail read
    by `relay import --user EMAIL` never crossed the edge: its ``auth`` is
    ``import:EMAIL``, the admin's word that it comes from that rep's mailbox
    (docs/design.md §11).
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    peer: str = ""
    helo: str = ""
    auth: str = "none"
