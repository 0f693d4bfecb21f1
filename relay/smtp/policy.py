"""Recipient policy for the SMTP edge: pure functions, no I/O; the handler does the I/O.

Relay accepts only its own mailboxes, ``log@DOMAIN`` and ``log+<tag>@DOMAIN`` (later
stages read the tag). It is never an open relay: any other domain gets 550 5.7.1
(``replies.RELAY_DENIED``).
"""

from __future__ import annotations

from relay.smtp import replies

MAILBOX = "log"


def check_recipient(address: str, domain: str) -> str | None:
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
    return None


def rejection_reason(reply: str) -> str:
    """A short stable label for a rejection reply (log field and metric label)."""
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
