"""Forwarded email: find the original's From, To, Cc, subject and date.

Email-to-Salesforce treats a message as a forward when the relay address is the only
recipient in To and there is no Cc; it then matches the people of the *original*. The
original is looked for in an attached ``message/rfc822`` first, then in the header block
that mail clients write into the plain-text body, then in the HTML body.

Header blocks recognised (as written by the clients, labels in EN/FR/DE/ES):

- Gmail:   ``---------- Forwarded message ---------`` then ``From:``, ``Date:``,
  ``Subject:``, ``To:``, ``Cc:`` (French "Message transféré", ``De :``, ``Date :``,
  ``Objet :``, ``À :``; German ``Von:``, ``Datum:``, ``Betreff:``, ``An:``; Spanish
  ``De:``, ``Fecha:``, ``Asunto:``, ``Para:``).
- Outlook: ``-----Original Message-----`` or a rule line, then ``From:``, ``Sent:``,
  ``To:``, ``Cc:``, ``Subject:`` (``Envoyé :``, ``Gesendet:``, ``Enviado:``); addresses as
  ``Name <a@b>`` or ``Name [mailto:a@b]``, separated by ``;``; the HTML variant has bold
  labels, which read the same once converted to text.
- Apple Mail: ``Begin forwarded message:`` then ``From:``, ``Subject:``, ``Date:``,
  ``To:``, ``Cc:``.

A block starts at a From line and runs to the first blank line or the first line that
neither is a label nor continues the previous field (see ``_block_at``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from email.message import Message

from relay.parsing import addresses
from relay.parsing.headers import parse_date
from relay.parsing.model import Address, ForwardedOriginal

_LABELS: dict[str, tuple[str, ...]] = {
    "from": ("from", "de", "von"),
    "to": ("to", "à", "a", "an", "para"),
    "cc": ("cc", "kopie"),
    "bcc": ("bcc", "cci", "cco"),
    "date": (
        "date",
        "sent",
        "envoyé",
        "envoye",
        "gesendet",
        "enviado",
        "enviado el",
        "datum",
        "fecha",
    ),
    "subject": ("subject", "objet", "betreff", "asunto"),
    "reply_to": ("reply-to", "répondre à", "antwort an", "responder a"),
}
_KIND_OF = {label: kind for kind, labels in _LABELS.items() for label in labels}
_LABEL_ALTERNATION = "|".join(re.escape(label) for label in sorted(_KIND_OF, key=len, reverse=True))
# Optional quote marks and bold markers around the label; French puts a (narrow)
# no-break space before the colon; some CJK-aware clients use a full-width colon.
_FIELD_LINE = re.compile(
    rf"^[ \t>]*\**[ \t]*(?P<label>{_LABEL_ALTERNATION})[ \t\u00a0\u202f]*\**[ \t\u00a0\u202f]*"
    r"[:\uff1a]\**[ \t\u00a0\u202f]*(?P<value>.*)$",
    re.IGNORECASE,
)
_ADDRESS_KINDS = frozenset({"from", "to", "cc", "bcc", "reply_to"})
_MAX_BLOCK_LINES = 60


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t>"))


def _block_at(lines: list[str], start: int) -> dict[str, str] | None:
    """The header block starting at ``lines[start]`` (a From line), or None.

    A line that is not a label continues the previous field when it is indented deeper
    than that field's label (folded text) or, for address fields, names an address
    (wrapped To/Cc lists); any other line ends the block.
    """
    fields: dict[str, str] = {}
    current = ""
    label_indent = 0
    for line in lines[start : start + _MAX_BLOCK_LINES]:
        stripped = line.strip().lstrip(">").strip()
        if not stripped:
            if fields:
                break
            continue
        match = _FIELD_LINE.match(line)
        if match:
            kind = _KIND_OF[match.group("label").lower()]
            if kind in fields:
                break  # the next block, or prose that happens to look like a label
            fields[kind] = match.group("value").strip()
            current = kind
            label_indent = _indent(line)
        elif current and (
            _indent(line) > label_indent or (current in _ADDRESS_KINDS and "@" in stripped)
        ):
            fields[current] += " " + stripped
        else:
            break
    if "from" not in fields or not ({"to", "subject", "date"} & fields.keys()):
        return None
    return fields


def find_block(text: str) -> dict[str, str] | None:
    """The first forwarded-header block in ``text``."""
    if ":" not in text and "\uff1a" not in text:
        return None
    lines = text.split("\n")
    for index, line in enumerate(lines):
        match = _FIELD_LINE.match(line)
        if match and _KIND_OF[match.group("label").lower()] == "from":
            block = _block_at(lines, index)
            if block is not None:
                return block
    return None


# Dates as clients print them. Gmail: "Mon, Jan 6, 2025 at 10:15 AM"; Outlook:
# "Monday, January 6, 2025 10:15 AM"; Apple Mail: "6 January 2025 at 10:15:32 GMT+1".
_WEEKDAY_PREFIX = re.compile(r"^[A-Za-z]+,\s*")
_GMT_OFFSET = re.compile(r"\s*(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d{2}))?\s*$")
_TEXT_DATE_FORMATS = (
    "%b %d, %Y %I:%M %p",
    "%B %d, %Y %I:%M %p",
    "%b %d, %Y %I:%M:%S %p",
    "%B %d, %Y %I:%M:%S %p",
    "%d %B %Y %H:%M:%S",
    "%d %B %Y %H:%M",
    "%B %d, %Y %H:%M:%S",
    "%B %d, %Y %H:%M",
    "%d/%m/%Y %H:%M",
)


def parse_block_date(value: str, local_zone: tzinfo | None) -> datetime | None:
    """The date a client printed in a forward block, or None if it cannot be read.

    Clients print the original's date in the forwarder's local time and usually without
    a zone; Relay assumes the zone of the forwarding message's own Date header (a guess
    that holds when the rep forwards from the same machine). Month names in other
    languages are not read (None).
    """
    direct = parse_date(value)
    if direct is not None:
        return direct
    text = " ".join(value.replace(" at ", " ").replace("\u202f", " ").split())
    text = _WEEKDAY_PREFIX.sub("", text)
    zone = local_zone
    offset = _GMT_OFFSET.search(text)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3) or 0))
        zone = timezone(sign * delta)
        text = text[: offset.start()]
    for fmt in _TEXT_DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=zone) if zone is not None else None
    return None


def from_block(source: str, block: dict[str, str], local_zone: tzinfo | None) -> ForwardedOriginal:
    """A ForwardedOriginal from a parsed header block."""
    senders = addresses.from_text(block.get("from", ""))
    return ForwardedOriginal(
        source=source,
        from_=senders[0] if senders else None,
        to=addresses.from_text(block.get("to", "")),
        cc=addresses.from_text(block.get("cc", "")),
        subject=block.get("subject", ""),
        date=parse_block_date(block.get("date", ""), local_zone),
    )


def attached_message(message: Message) -> Message | None:
    """The first ``message/rfc822`` part below the top level, if any."""
    for part in message.walk():
        if part is not message and part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
    return None


def from_attached(inner: Message) -> ForwardedOriginal | None:
    """A ForwardedOriginal from an attached message's own headers."""
    senders = addresses.from_header(inner.get("from"))
    to = addresses.from_header(inner.get("to"))
    cc = addresses.from_header(inner.get("cc"))
    if not senders and not to and not cc:
        return None
    return ForwardedOriginal(
        source="rfc822",
        from_=senders[0] if senders else None,
        to=to,
        cc=cc,
        subject=addresses.decode_text(inner.get("subject")),
        date=parse_date(addresses.decode_text(inner.get("date"))),
    )


def find_original(
    message: Message,
    plain_text: str,
    html_text: Callable[[], str],
    local_zone: tzinfo | None,
) -> ForwardedOriginal | None:
    """The forwarded original, looked for in E2S order: rfc822, plain text, HTML.

    ``html_text`` is called only when the cheaper sources found nothing, because
    converting HTML is the expensive step.
    """
    inner = attached_message(message)
    if inner is not None:
        original = from_attached(inner)
        if original is not None:
            return original
    block = find_block(plain_text)
    if block is not None:
        return from_block("text", block, local_zone)
    block = find_block(html_text())
    if block is not None:
        return from_block("html", block, local_zone)
    return None


def is_forward(
    to: tuple[Address, ...], cc: tuple[Address, ...], is_relay: Callable[[str], bool]
) -> bool:
    """E2S's forward rule: a relay address is the only To recipient, and there is no Cc."""
    return len(to) == 1 and not cc and is_relay(to[0].email)
