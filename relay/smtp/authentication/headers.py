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


def header_fields(raw: bytes) -> tuple[list[HeaderField], int]:
    """The fields of the header block, top first, and the offset where the rest begins."""
    match = _HEADER_END.search(raw)
    header_end = match.start() + (2 if raw[match.start()] == 13 else 1) if match else len(raw)
    fields: list[HeaderField] = []
    position = 0
    for line in raw[:header_end].splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            # RFC 5322 §2.2.3: a line starting with white space continues the field above.
            last = fields[-1]
            fields[-1] = HeaderField(last.name, last.start, position + len(line))
        else:
            name = line.partition(b":")[0].strip().decode("ascii", "replace").lower()
            fields.append(HeaderField(name, position, position + len(line)))
        position += len(line)
    return fields, header_end


def from_domain(raw: bytes, fields: list[HeaderField] | None = None) -> str | None:
    """The domain of the one RFC 5322.From address, lowercased; None if absent or several.

    RFC 7489 §6.6.1: a message with no From or several From addresses has no domain to check.
    """
    if fields is None:
        fields = header_fields(raw)[0]
    from_fields = [f for f in fields if f.name == "from"]
    if len(from_fields) != 1:
        return None
    addresses = [a for _, a in getaddresses([from_fields[0].value(raw)]) if a]
    if len(addresses) != 1:
        return None
    local, at, domain = addresses[0].rpartition("@")
    domain = domain.strip().rstrip(".").lower()
    if not at or not local or not domain or not _looks_like_domain(domain):
        return None
    return domain


def _looks_like_domain(domain: str) -> bool:
    return "." in domain and all(0 < len(label) < 64 for label in domain.split("."))
