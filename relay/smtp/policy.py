"""Recipient policy for the SMTP edge: pure functions, no I/O; the handler does the I/O.

Relay accepts only its own mailboxes, ``log@DOMAIN`` and ``log+<tag>@DOMAIN`` (later
stages read the tag). It is never an open relay: any other domain gets 550 5.7.1
(``replies.RELAY_DENIED``). A reminder address (``log+remind-SPEC@``,
``log+TOKEN+remind-SPEC@``, relay/reps/reminders.py) with a malformed or past SPEC gets
550 5.1.3 with the grammar (``replies.bad_reminder``), in the session, so the rep's own
server tells them at once; the sender checks still apply to the rest of the address.
"""

from __future__ import annotations

from datetime import datetime

from relay.reps.reminders import check_address
from relay.smtp import replies

MAILBOX = "log"


def check_recipient(address: str, domain: str, now: datetime | None = None) -> str | None:
    """Return the rejection reply for ``address``, or None if Relay accepts it.

    The domain compares case-insensitively (RFC 5321 §2.4). The local part is ours to
    interpret (same section); we also accept ``LOG@`` because some clients change case.
    """
    local, at, address_domain = address.rpartition("@")
    if not at:
        return replies.UNKNOWN_MAILBOX
    if address_domain.lower().rstrip(".") != domain.lower():
        return replies.RELAY_DENIED
    mailbox, plus, tag = local.partition("+")
    if mailbox.lower() != MAILBOX or (plus and not tag):
        return replies.UNKNOWN_MAILBOX
    wrong = check_address(address, now)
    return None if wrong is None else replies.bad_reminder(wrong)


def rejection_reason(reply: str) -> str:
    """A short stable label for a rejection reply (log field and metric label)."""
    if reply.startswith(replies.BAD_REMINDER_PREFIX):
        return "bad_reminder"
    return _REASONS.get(reply, "other")


_REASONS = {
    replies.UNKNOWN_MAILBOX: "unknown_mailbox",
    replies.RELAY_DENIED: "relay_denied",
    replies.TOO_MANY_RECIPIENTS: "too_many_recipients",
    replies.MESSAGE_TOO_BIG: "message_too_big",
    replies.LINE_TOO_LONG: "line_too_long",
    replies.LOCAL_ERROR: "local_error",
    replies.INSUFFICIENT_STORAGE: "insufficient_storage",
    replies.BUSY: "busy",
    replies.SHUTTING_DOWN: "shutting_down",
    replies.TOO_MANY_CONNECTIONS: "too_many_connections",
    replies.STARTTLS_REQUIRED: "starttls_required",
}
