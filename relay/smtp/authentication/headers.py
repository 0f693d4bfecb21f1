"""The header block of a raw message as byte spans, and its one RFC 5322.From domain.

Only the header block is read: the checks need the From domain and the Authentication-Results
fields, never the parsed body. Spans keep every byte, so a field can be removed without touching
the rest of the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

# RFC 5322 §2.2: a header ends at the first empty line (a bare LF is accepted, as MTAs do).
_HEADER_END = re.compile(rb"\r?\n\r?\n")
# One field: its first line (name up to the colon), then every line that starts with white
# space, which continues it (RFC 5322 §2.2.3).
_FIELD = re.compile(rb"([^:\r\n]*)[^\n]*(?:\n|\Z)(?:[ \t][^\n]*(?:\n|\Z))*")
# The common From forms, read without the full RFC 5322 address parser: a bare address, or an
# optional simple or quoted display name and <address>. Anything else takes the full parser.
_SIMPLE_FROM = re.compile(
    r'\s*(?:(?:"[^"\\]*"|[^<>",;:@\\"]*)\s*<([^<>@\s,;"]+@[^<>@\s,;"]+)>|([^<>@\s,;"()]+@[^<>@\s,;"()]+))\s*'
)


@dataclass(frozen=True)
class HeaderField:
    """One header field: its lowercased name, and where its bytes start and end in the message."""

    name: str
    start: int
    end: int

    def value(self, raw: bytes) -> str:
        """The unfolded field body (RFC 5322 §2.2.3), decoded leniently."""
        text = raw[self.start : self.end].decode("utf-8", "replace")
        body = text.partition(":")[2]
        return re.sub(r"\r?\n(?=[ \t])", "", body).strip()


# The last message's header block: the edge reads one message's header several times
# (the stray-control and From checks, the sender checks, the Authentication-Results
# fields), and the message is the same object each time. One slot, compared by identity
# (no hashing of the bytes); a tuple swap, so a reader on another thread sees either
# the old pair or the new one.
_last: tuple[bytes, tuple[HeaderField, ...], int] = (b"", (), 0)


def header_fields(raw: bytes) -> tuple[list[HeaderField], int]:
    """The fields of the header block, top first, and the offset where the rest begins."""
    global _last
    last = _last
    if last[0] is raw:
        return list(last[1]), last[2]
    fields, header_end = _header_fields(raw)
    _last = (raw, tuple(fields), header_end)
    return fields, header_end


def _header_fields(raw: bytes) -> tuple[list[HeaderField], int]:
    match = _HEADER_END.search(raw)
    header_end = match.start() + (2 if raw[match.start()] == 13 else 1) if match else len(raw)
    fields: list[HeaderField] = []
    position = 0
    while position < header_end:
        match = _FIELD.match(raw, position, header_end)
        if match is None or match.end() == position:
            break
        name = match.group(1).strip().decode("ascii", "replace").lower()
        fields.append(HeaderField(name, position, match.end()))
        position = match.end()
    return fields, header_end


def from_address(raw: bytes, fields: list[HeaderField] | None = None) -> str | None:
    """The one RFC 5322.From address with a domain; None if absent, several, or malformed.

    The edge reads the rep's address and the DMARC domain from this one parse, so the
    address it attributes is the address whose domain was checked.
    """
    if fields is None:
        fields = header_fields(raw)[0]
    from_fields = [f for f in fields if f.name == "from"]
    if len(from_fields) != 1:
        return None
    value = from_fields[0].value(raw)
    simple = _SIMPLE_FROM.fullmatch(value)
    if simple:
        addresses = [simple.group(1) or simple.group(2)]
    else:
        addresses = [a for _, a in getaddresses([value]) if a]
    if len(addresses) != 1:
        return None
    local, at, domain = addresses[0].rpartition("@")
    domain = domain.strip().rstrip(".").lower()
    if not at or not local or not domain or not _looks_like_domain(domain):
        return None
    return f"{local}@{domain}"


def from_domain(raw: bytes, fields: list[HeaderField] | None = None) -> str | None:
    """The domain of the one RFC 5322.From address, lowercased; None if absent or several.

    RFC 7489 §6.6.1: a message with no From or several From addresses has no domain to check.
    """
    address = from_address(raw, fields)
    return address.rpartition("@")[2] if address else None


def _looks_like_domain(domain: str) -> bool:
    return "." in domain and all(0 < len(label) < 64 for label in domain.split("."))
