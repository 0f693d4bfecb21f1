"""The SMTP envelope: what actually reached Relay, as opposed to what the headers claim."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Envelope:
    """The envelope of one SMTP transaction (RFC 5321 §2.3.1).

    ``mail_from`` is ``""`` for the null reverse-path ``<>`` (bounces, DSNs).
    ``rcpt_tos`` keeps the order the client gave. ``peer`` is ``host:port`` of the client.
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    peer: str = ""
    helo: str = ""
