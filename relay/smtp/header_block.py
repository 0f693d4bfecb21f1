"""The header block checks every message passes at the edge, before any sender check.
Pure.

Relay reads a message's headers with three parsers (the DKIM verifier, the edge's own
reader in relay.smtp.authentication.headers, and the runners' mail parser). Where they
could disagree on which field is *the* From, Subject or To, a signature checked on one
field could vouch for another. So the edge refuses what RFC 5322 forbids and the parsers
read differently:

- a field RFC 5322 §3.6 allows at most once, given more than once (a DKIM verifier
  checks the bottom-most instance of a signed field, RFC 6376 §5.4.2, while a mail
  parser shows the first: new fields put in front of a genuine signed message would
  change what is logged without breaking the signature);
- a bare CR or a NUL in the header block (RFC 5322 §2.2 and §2.3: CR and LF occur only
  together, as CRLF; one parser splits fields on a bare CR, another does not).
"""

from __future__ import annotations

from relay.smtp.authentication.headers import header_fields

SINGLE_FIELDS = (
    "date",
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "message-id",
    "in-reply-to",
    "references",
    "subject",
)
"""RFC 5322 §3.6's table: the fields with a maximum of one per message."""


def repeated_field(raw: bytes) -> str | None:
    """The first field of ``SINGLE_FIELDS`` given more than once, or None."""
    fields, _ = header_fields(raw)
    seen: set[str] = set()
    for field in fields:
        if field.name in SINGLE_FIELDS:
            if field.name in seen:
                return field.name
            seen.add(field.name)
    return None


def stray_control(raw: bytes) -> str | None:
    """``"bare CR"`` or ``"NUL"`` if the header block holds one, else None."""
    _, header_end = header_fields(raw)
    block = raw[:header_end]
    if b"\x00" in block:
        return "NUL"
    if b"\r" in block.replace(b"\r\n", b""):
        return "bare CR"
    return None
