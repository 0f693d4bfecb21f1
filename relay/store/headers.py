"""The few header fields the queue shows (Message-ID, Subject), read cheaply and safely.

Only the header block is parsed (the bytes up to the first empty line, RFC 5322 §2.1);
the body is never touched. Nothing here raises: a malformed header gives ``None``.
"""

from __future__ import annotations

import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser

# A header block longer than this is not mail we can summarise cheaply; the parser
# proper (relay/parsing) still sees the whole message.
MAX_HEADER_BYTES = 256 * 1024

_HEADER_END = re.compile(rb"\r?\n\r?\n")
# RFC 5322 §2.2.3: unfolding removes each CRLF that is followed by whitespace.
_FOLD = re.compile(r"\r?\n(?=[ \t])")


@dataclass(frozen=True)
class HeaderSummary:
    """What the queue records about a message's headers."""

    message_id: str | None
    subject: str | None


@dataclass(frozen=True)
class HeaderDetails:
    """A little more, for `relay queue show`."""

    message_id: str | None
    subject: str | None
    from_: str | None
    to: str | None
    date: str | None


def clean_text(text: str) -> str:
    """Text every database accepts: undecodable bytes become U+FFFD, NULs are dropped."""
    if text.isascii() and "\x00" not in text:
        return text  # the usual envelope field: nothing to replace (surrogates are not ASCII)
    cleaned = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return cleaned.replace("\x00", "")


def header_block(raw: bytes) -> bytes:
    """The header section of a message (without the empty line that ends it)."""
    match = _HEADER_END.search(raw, 0, MAX_HEADER_BYTES)
    return raw[: match.start()] if match else raw[:MAX_HEADER_BYTES]


def summarize_headers(raw: bytes) -> HeaderSummary:
    """Message-ID exactly as received (unfolded, stripped) and the decoded Subject.

    On the SMTP path, so a plain header block (ASCII, CRLF or LF line ends, every line a
    field or a continuation) is scanned directly, ~4x cheaper than the email parser with
    the same result (tests/store compare them); anything else goes through the parser.
    """
    fields = _scan_plain_fields(header_block(raw), ("message-id", "subject"))
    if fields is not None:
        message_id = _unfolded(fields.get("message-id"))
        return HeaderSummary(
            message_id=message_id, subject=_decoded("Subject", fields.get("subject"))
        )
    headers = _parse(raw)
    if headers is None:
        return HeaderSummary(message_id=None, subject=None)
    return HeaderSummary(
        message_id=_raw_value(headers, "Message-ID"), subject=_decoded_value(headers, "Subject")
    )


# A header field's first line as the email parser recognises it (email.feedparser.headerRE
# without its "From " case): a name of printable ASCII but ":", then ":".
_FIELD_NAME = re.compile(r"([\041-\071\073-\176]*):")


def _scan_plain_fields(block: bytes, wanted: tuple[str, ...]) -> dict[str, str] | None:
    """The first value of each wanted field (lower-case names), or None if the block is
    not plain enough to be sure the email parser would read it the same way."""
    if not block.isascii() or b"\r" in block.replace(b"\r\n", b""):
        return None  # 8-bit headers (compat32 wraps them) or a lone CR (a line end there)
    found: dict[str, str] = {}
    target: str | None = None  # the wanted field the next continuation lines belong to
    seen_field = False
    lines = block.decode("ascii").replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()  # the block's last line end (when no body separator was found)
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not seen_field:
                return None  # a continuation before any field: a defect, let the parser judge
            if target is not None:
                found[target] += line  # unfolding (RFC 5322 §2.2.3) keeps the whitespace
            continue
        field = _FIELD_NAME.match(line)
        if field is None or not field.group(1):
            return None  # not a field (or no name): the parser's defect handling decides
        seen_field = True
        name = field.group(1).lower()
        target = None
        if name in wanted and name not in found:  # Message.get returns the first one
            found[name] = line[field.end() :].lstrip(" \t")
            target = name
    return found


def _unfolded(value: str | None) -> str | None:
    if value is None:
        return None
    return clean_text(value).strip() or None


def _decoded(name: str, value: str | None) -> str | None:
    raw_value = _unfolded(value)
    if raw_value is None or "=?" not in raw_value:
        return raw_value  # no encoded-word (RFC 2047 §2): nothing to decode
    try:
        decoded = str(email.policy.default.header_factory(name, raw_value))
    except Exception:  # malformed encoded-words: show the text as received
        return raw_value
    return clean_text(decoded).strip() or None


def header_details(raw: bytes) -> HeaderDetails:
    """Message-ID, Subject, From, To and Date, decoded for a person to read."""
    headers = _parse(raw)
    if headers is None:
        return HeaderDetails(None, None, None, None, None)
    return HeaderDetails(
        message_id=_raw_value(headers, "Message-ID"),
        subject=_decoded_value(headers, "Subject"),
        from_=_decoded_value(headers, "From"),
        to=_decoded_value(headers, "To"),
        date=_raw_value(headers, "Date"),
    )


def _parse(raw: bytes) -> Message | None:
    try:
        return BytesHeaderParser(policy=email.policy.compat32).parsebytes(header_block(raw))
    except Exception:  # never raise: the message is accepted whatever its headers
        return None


def _raw_value(headers: Message, name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    text = clean_text(_FOLD.sub("", str(value))).strip()
    return text or None


def _decoded_value(headers: Message, name: str) -> str | None:
    """Decode RFC 2047 encoded-words; fall back to the raw text if they are broken."""
    return _decoded(name, _raw_value(headers, name))
