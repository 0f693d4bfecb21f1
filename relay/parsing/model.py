"""The frozen values that parsing produces and matching consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from relay.envelope import Envelope


@dataclass(frozen=True, order=True)
class Address:
    """A mailbox. ``email`` is normalised for comparison (lower-case, IDNA domain as
    Unicode lower-case); ``display_name`` is decoded (RFC 2047)."""

    email: str
    display_name: str = ""

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]

    @property
    def local_part(self) -> str:
        return self.email.rpartition("@")[0]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ForwardedOriginal:
    """The original message inside a forward (E2S forward rule), and where it was found:
    ``rfc822`` (attached message), ``text`` (plain-text header block) or ``html``."""

    source: str
    from_: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    date: datetime | None


@dataclass(frozen=True)
class JournalReport:
    """An Exchange envelope-journal report: the true sender and every recipient,
    Bcc included (the only place BCC'd customers are visible)."""

    sender: Address | None
    recipients: tuple[Address, ...]


@dataclass(frozen=True)
class Email:
    """One parsed email. Built only by ``relay.parsing.parse``; never raises on input."""

    envelope: Envelope
    from_: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    subject: str
    date: datetime
    """Timezone-aware; the receive time when the Date header is missing or invalid."""
    message_id: str | None
    """The Message-ID header, normalised (no angle brackets), or None if missing."""
    message_key: str
    """Stable dedup key: message_id, or a hash of headers and body when it is missing."""
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    text_body: str = ""
    attachments: tuple[Attachment, ...] = ()
    forwarded: ForwardedOriginal | None = None
    journal: JournalReport | None = None
    machine_reason: str | None = None
    """Why this is machine mail (null sender, Auto-Submitted, bulk, list, DSN), or None."""
    record_refs: tuple[str, ...] = ()
    """Salesforce ids named by ``(ref: ...)`` tags in the body."""
    defects: tuple[str, ...] = field(default=())
    reply_to: tuple[Address, ...] = ()
    sender: Address | None = None
    unparseable: str | None = None
    """Set when the message cannot be processed as it is (quarantine it): says why.
    The other fields then hold whatever could be read, often nothing."""
    message_id_header: str = ""
    """The Message-ID header as received (decoded, whitespace collapsed), for display."""
    is_forward: bool = False
    """E2S's forward rule fired (relay address the only To, no Cc); ``forwarded`` holds
    the original when one was found."""
