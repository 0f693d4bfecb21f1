"""``parse``: raw bytes + envelope -> Email. Pure, and never raises.

mail-parser parses the MIME once; everything here reads its result (its decoded address
tuples, text parts and attachment list) or the ``email.message.Message`` it built. The
only second parse is of an Exchange journal report's attached original, which becomes
the email itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import mailparser
from mailparser.core import MailParser

from relay.envelope import Envelope
from relay.parsing import addresses, body, forward, journal
from relay.parsing.headers import machine_reason, message_id_list, normalise_message_id, parse_date
from relay.parsing.model import Address, Email, ForwardedOriginal, JournalReport
from relay.parsing.refs import record_refs

# The header fields read directly (first occurrence wins, as mail-parser does).
_WANTED = frozenset(
    {
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "sender",
        "auto-submitted",
        "precedence",
        "list-id",
        "x-autoreply",
        "x-autorespond",
        "x-ms-journal-report",
        "x-ms-exchange-organization-journal-report",
        "content-identifier",
    }
)


def parse(
    raw: bytes,
    envelope: Envelope,
    received_at: datetime,
    *,
    relay_addresses: Callable[[str], bool] | None = None,
) -> Email:
    """Parse one message. Never raises: a message that cannot be read comes back with
    ``unparseable`` set to the reason (quarantine it) and ``defects`` naming it.

    ``relay_addresses`` says whether a normalised address is one of Relay's own (for the
    forward rule); by default, the addresses the envelope was delivered to.
    ``received_at`` stands in for a missing or invalid Date header.
    """
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    try:
        if not raw or not bytes(raw).strip():
            return _unparseable(raw, envelope, received_at, "empty message")
        try:
            parsed = mailparser.parse_from_bytes(bytes(raw))
        except Exception as exc:  # mail-parser's own errors, RecursionError, codec bugs
            return _unparseable(
                raw, envelope, received_at, f"MIME could not be parsed: {_describe(exc)}"
            )
        message = parsed.message
        if message is None or len(message) == 0:
            return _unparseable(
                raw, envelope, received_at, "no header fields: not an email message"
            )
        return _build(parsed, envelope, received_at, relay_addresses)
    except Exception as exc:  # a bug here must not lose the message: quarantine it
        return _unparseable(raw, envelope, received_at, f"internal parse error: {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _unparseable(raw: bytes, envelope: Envelope, received_at: datetime, reason: str) -> Email:
    digest = hashlib.sha256(bytes(raw or b"")).hexdigest()
    return Email(
        envelope=envelope,
        from_=None,
        to=(),
        cc=(),
        bcc=(),
        subject="",
        date=received_at,
        message_id=None,
        message_key=f"derived:raw:{digest}",
        defects=(f"unparseable: {reason}",),
        unparseable=reason,
    )


def _wanted_headers(message: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in message.raw_items():
        key = name.lower()
        if key in _WANTED and key not in out:
            out[key] = str(value)
    return out


def _flat_defects(parsed: MailParser, where: str = "") -> list[str]:
    out: list[str] = []
    for group in parsed.defects or ():
        if not isinstance(group, dict):
            out.append(f"{where}{group}")
            continue
        for part, items in group.items():
            for item in items if isinstance(items, list) else [items]:
                out.append(f"{where}{part}: {item}")
    return out


def _pairs(parsed: MailParser, name: str) -> tuple[Address, ...]:
    value: Any = getattr(parsed, name)
    return addresses.from_pairs(value if isinstance(value, list) else None)


@dataclass
class _Effective:
    """The message whose people and content are logged: the email itself, or the
    original inside a journal report."""

    parsed: MailParser
    headers: dict[str, str]
    journal: JournalReport | None = None
    report_bcc: tuple[Address, ...] = ()
    defects: list[str] = field(default_factory=list)


def _effective(parsed: MailParser, headers: dict[str, str]) -> _Effective:
    outer = _Effective(parsed, headers, defects=_flat_defects(parsed))
    if not journal.is_journal_report(headers):
        return outer
    report, report_bcc = journal.parse_report(parsed.text_plain[0] if parsed.text_plain else "")
    inner_message = forward.attached_message(parsed.message)
    if inner_message is None:
        outer.defects.append("journal report without an attached original message")
        outer.journal = report
        return outer
    try:
        inner = MailParser(inner_message)
    except Exception as exc:  # the report itself is still usable for its recipient list
        outer.defects.append(f"journaled original could not be parsed: {_describe(exc)}")
        outer.journal = report
        return outer
    return _Effective(
        inner,
        _wanted_headers(inner_message),
        journal=report,
        report_bcc=report_bcc,
        defects=outer.defects + _flat_defects(inner, "journaled original: "),
    )


def _build(
    parsed: MailParser,
    envelope: Envelope,
    received_at: datetime,
    relay_addresses: Callable[[str], bool] | None,
) -> Email:
    eff = _effective(parsed, _wanted_headers(parsed.message))
    defects = eff.defects
    headers = eff.headers
    src = eff.parsed

    senders = _pairs(src, "from_")
    to = _pairs(src, "to")
    cc = _pairs(src, "cc")
    bcc = addresses.unique((*_pairs(src, "bcc"), *eff.report_bcc))
    subject = addresses.decode_text(src.subject)

    header_date = parse_date(addresses.decode_text(headers.get("date")))
    if header_date is None:
        problem = "invalid" if headers.get("date", "").strip() else "missing"
        defects.append(f"Date header {problem}: using the receive time")
    date = header_date or received_at

    message_id_header = addresses.decode_text(headers.get("message-id"))
    message_id = normalise_message_id(message_id_header) if message_id_header else None

    text, body_defects = body.text_body(src.text_plain, src.text_html)
    defects.extend(body_defects)
    from_html = not any(part.strip() for part in src.text_plain)

    def html_text() -> str:
        if from_html:
            return text
        return body.html_to_text(src.text_html[0])[0] if src.text_html else ""

    is_relay = relay_addresses or _envelope_predicate(envelope)
    is_forward = forward.is_forward(to, cc, is_relay)
    original: ForwardedOriginal | None = None
    if is_forward:
        original = forward.find_original(
            src.message, "" if from_html else text, html_text, date.tzinfo
        )
        if original is None:
            defects.append("forward without a recognisable original (no From/To block)")

    refs, ref_defects = record_refs(text)
    defects.extend(ref_defects)

    content_type = src.message.get_content_type()
    report_type = ""
    if content_type == "multipart/report":
        report_type = str(src.message.get_param("report-type", "") or "").lower()
    null_sender = envelope.mail_from == "" and eff.journal is None
    reason = machine_reason(
        "" if null_sender else envelope.mail_from or "-", headers, content_type, report_type
    )

    return Email(
        envelope=envelope,
        from_=senders[0] if senders else None,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        date=date,
        message_id=message_id,
        message_key=message_id or _derived_key(senders, to, cc, subject, header_date, text),
        in_reply_to=message_id_list(headers.get("in-reply-to", "")),
        references=message_id_list(headers.get("references", "")),
        text_body=text,
        attachments=body.attachments(src.attachments),
        forwarded=original,
        journal=eff.journal,
        machine_reason=reason,
        record_refs=refs,
        defects=tuple(dict.fromkeys(defects)),
        reply_to=_pairs(src, "reply_to"),
        sender=next(iter(addresses.from_header(headers.get("sender"))), None),
        message_id_header=message_id_header,
        is_forward=is_forward,
    )


def _envelope_predicate(envelope: Envelope) -> Callable[[str], bool]:
    ours = {addresses.normalise_email(rcpt) for rcpt in envelope.rcpt_tos}
    return lambda email: email in ours


def _derived_key(
    senders: tuple[Address, ...],
    to: tuple[Address, ...],
    cc: tuple[Address, ...],
    subject: str,
    date: datetime | None,
    text: str,
) -> str:
    """A stable key for a message without a Message-ID.

    Built only from what every copy of one email shares (never transport headers or
    the receive time), so a BCC copy and a journaled copy of one email get one key.
    """
    material = "\x1f".join(
        (
            ",".join(a.email for a in senders),
            ",".join(a.email for a in to),
            ",".join(a.email for a in cc),
            subject,
            date.isoformat() if date else "",
            text,
        )
    )
    return "derived:" + hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()
