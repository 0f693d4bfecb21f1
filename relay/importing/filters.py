"""What the import decides about one raw message before the queue. Pure.

- ``message_date``: the Date header (RFC 5322 §3.6.1), read from the header block only;
  None when it is missing or unreadable.
- ``envelope_sender``: the sender an SMTP envelope would have had: the Return-Path
  the delivering server recorded (RFC 5321 §4.4), else the From address (mail the rep
  sent has no Return-Path in a Sent folder).
- ``admit``: whether a message passes ``--since``/``--until`` (dates are whole days in
  UTC, both ends included) and the store's size limit. A message with no readable Date
  is admitted: nothing says it is outside the range, and the pipeline logs it at its
  received time.
"""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.parser import BytesHeaderParser
from enum import Enum

from relay.store.headers import header_block

_DATE_PREFIX = b"\ndate:"


class Verdict(Enum):
    ADMIT = "admit"
    FILTERED = "filtered"
    TOO_BIG = "too_big"
    EMPTY = "empty"


@dataclass(frozen=True)
class Filters:
    since: date | None = None
    until: date | None = None
    max_bytes: int | None = None


def message_date(raw: bytes) -> datetime | None:
    """The Date header's time (aware, UTC), or None."""
    block = b"\n" + header_block(raw)
    start = block.lower().find(_DATE_PREFIX)
    if start < 0:
        return None
    end = start + len(_DATE_PREFIX)
    while True:  # the field and its folded continuation lines (RFC 5322 §2.2.3)
        newline = block.find(b"\n", end)
        if newline < 0 or block[newline + 1 : newline + 2] not in (b" ", b"\t"):
            end = len(block) if newline < 0 else newline
            break
        end = newline + 1
    text = block[start + len(_DATE_PREFIX) : end].decode("ascii", "replace").strip()
    try:
        parsed = email.utils.parsedate_to_datetime(" ".join(text.split()))
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def envelope_sender(raw: bytes) -> str:
    """Return-Path's address (``""`` for ``<>``: a bounce), else From's, else ``""``."""
    try:
        headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(header_block(raw))
    except Exception:  # never raise on a malformed header: the parser proper judges it
        return ""
    return_path = headers.get("Return-Path")
    if return_path is not None:
        return email.utils.parseaddr(str(return_path))[1]
    sender = headers.get("From")
    return email.utils.parseaddr(str(sender))[1] if sender is not None else ""


def admit(raw: bytes, filters: Filters) -> Verdict:
    if not raw.strip():
        return Verdict.EMPTY
    if filters.max_bytes is not None and len(raw) > filters.max_bytes:
        return Verdict.TOO_BIG
    if filters.since is None and filters.until is None:
        return Verdict.ADMIT
    when = message_date(raw)
    if when is None:
        return Verdict.ADMIT
    day = when.date()
    if filters.since is not None and day < filters.since:
        return Verdict.FILTERED
    if filters.until is not None and day > filters.until:
        return Verdict.FILTERED
    return Verdict.ADMIT
