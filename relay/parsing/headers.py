"""Header helpers: dates, message identifiers, and the machine-mail rules.

Message-ID normalisation (decided here, used for dedup and threading): angle brackets,
comments and folding whitespace are removed; the id-left keeps its case and the id-right
(the part after the last ``@``, which RFC 5322 §3.6.4 recommends be a domain name) is
lower-cased, because domains are case-insensitive and some gateways re-case them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

_MSG_ID = re.compile(r"<([^<>]*)>")
_COMMENT = re.compile(r"\([^()]*\)")


def normalise_message_id(raw: str) -> str | None:
    """One msg-id without brackets and whitespace, id-right lower-cased; None if empty."""
    found = _MSG_ID.search(raw)
    value = found.group(1) if found else _COMMENT.sub("", raw)
    value = "".join(value.split())
    if not found:
        value = value.strip("<>")
    if not value:
        return None
    left, at, right = value.rpartition("@")
    return f"{left}@{right.lower()}" if at else value


def from_addresses(raw: bytes) -> tuple[str, ...]:
    """The addresses of the From header(s) of a raw message; headers only, so it is cheap
    (the SMTP edge's checks and the held re-check read only the From)."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw, headersonly=True)
    return tuple(a for _, a in getaddresses([str(v) for v in headers.get_all("From", [])]) if a)


def message_id_list(raw: str) -> tuple[str, ...]:
    """Every msg-id in an In-Reply-To or References field, in order, without repeats.

    RFC 5322 §3.6.4 writes them as ``<id>`` separated by CFWS; when a client omitted
    the brackets, fall back to whitespace-separated tokens.
    """
    tokens = _MSG_ID.findall(raw)
    if not tokens:
        tokens = _COMMENT.sub("", raw).split()
    out: list[str] = []
    for token in tokens:
        normalised = normalise_message_id(f"<{token}>")
        if normalised is not None and normalised not in out:
            out.append(normalised)
    return tuple(out)


def parse_date(raw: str) -> datetime | None:
    """An RFC 5322 §3.3 date-time, timezone kept; None when missing or invalid.

    ``-0000`` ("UTC, local zone unknown", RFC 5322 §3.3) parses as naive in the
    standard library; it is UTC.
    """
    if not raw or not raw.strip():
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


# ---------------------------------------------------------------------------------------
# Machine mail: never logged as a rep's email, never answered.

_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})


def machine_reason(
    mail_from: str, headers: Mapping[str, str], content_type: str, report_type: str
) -> str | None:
    """Why this message was sent by a machine, or None for a person's mail.

    Sources: RFC 5321 §4.5.5 (null reverse-path: bounces and other notifications),
    RFC 3834 §5 (``Auto-Submitted`` other than ``no``) and §2 (do not answer
    ``Precedence: bulk|list|junk`` or list mail), RFC 2919 (``List-Id``), RFC 3462/6522
    (``multipart/report``: RFC 3464 DSNs, RFC 8098 MDNs). ``X-Autoreply`` and
    ``X-Autorespond`` are de-facto auto-reply markers (vacation programs, some ESPs).
    """
    if mail_from == "":
        return "null sender (MAIL FROM:<>): a bounce or notification, RFC 5321 §4.5.5"
    auto = headers.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto} (RFC 3834 §5)"
    if content_type == "multipart/report":
        kind = report_type or "unknown"
        names = {
            "delivery-status": "delivery status notification (RFC 3464)",
            "disposition-notification": "read receipt / MDN (RFC 8098)",
        }
        return f"multipart/report: {names.get(kind, kind + ' report')} (RFC 6522)"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence} (RFC 3834 §2)"
    if headers.get("list-id", "").strip():
        return "List-Id present: mailing-list mail (RFC 2919)"
    for name in ("x-autoreply", "x-autorespond"):
        value = headers.get(name, "").strip().lower()
        if value and value not in {"no", "false", "0", "off"}:
            return f"{name}: {value} (auto-reply)"
    return None
