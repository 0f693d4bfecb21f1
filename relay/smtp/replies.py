"""Every SMTP reply Relay sends on purpose, named once.

Codes follow RFC 5321 §4.2; the enhanced status codes follow RFC 3463 (classes
2/4/5, subjects .1 address, .3 mail system, .4 network/routing, .5 protocol, .7 security).
A 4xx tells the client to try again later; a 5xx tells it to give up and bounce.
"""

from __future__ import annotations

from typing import Final

from relay.reps.reminders import GRAMMAR


def queued(queue_id: str) -> str:
    """The only 250 after DATA: the message is committed to the store."""
    return f"250 2.0.0 Ok: queued as {queue_id}"


OK: Final = "250 2.1.0 Ok"
RCPT_OK: Final = "250 2.1.5 Ok"

# RFC 3463 §3.2 X.1.1 "Bad destination mailbox address": our domain, not our mailbox.
UNKNOWN_MAILBOX: Final = "550 5.1.1 No such mailbox here: use log@ or log+<tag>@ this domain"
# RFC 3463 §3.2 X.1.3 "Bad destination mailbox address syntax": a reminder address
# (relay/reps/reminders.py) whose SPEC is malformed or past; the text shows the grammar.
BAD_REMINDER_PREFIX: Final = "550 5.1.3 "


def bad_reminder(why: str) -> str:
    """The refusal of a reminder address, saying why and what the grammar is."""
    # ``why`` quotes the client's SPEC: printable ASCII only, and short (RFC 5321
    # §4.5.3.1.5 bounds a reply line at 512 octets).
    shown = "".join(c if " " <= c <= "~" else "?" for c in why[:96])
    return f"{BAD_REMINDER_PREFIX}{shown}; use {GRAMMAR}"


# RFC 3463 §3.8 X.7.1 "Delivery not authorized": we are never an open relay.
RELAY_DENIED: Final = "550 5.7.1 Relay access denied: this server only accepts its own domain"
# RFC 3463 §3.6 X.5.3 "Too many recipients"; RFC 5321 §4.5.3.1.10 says use 452.
TOO_MANY_RECIPIENTS: Final = "452 4.5.3 Too many recipients"
# RFC 3463 §3.4 X.3.4 "Message too big for system"; RFC 1870 §6.1 says 552.
MESSAGE_TOO_BIG: Final = "552 5.3.4 Message size exceeds fixed maximum message size"
# RFC 5321 §4.5.3.1.6: the line limit is a floor; ours is far above it, and above it we
# refuse the whole message rather than rewrap it.
LINE_TOO_LONG: Final = "500 5.5.2 Line too long"
# RFC 3463 §3.4 X.3.0 "Other or undefined mail system status": the store failed.
LOCAL_ERROR: Final = "451 4.3.0 Local error in processing, try again later"
# RFC 3463 §3.4 X.3.1 "Mail system full": not enough free disk space.
INSUFFICIENT_STORAGE: Final = "452 4.3.1 Insufficient system storage, try again later"
# RFC 3463 §3.4 X.3.2 "System not accepting network messages": back-pressure and shutdown.
BUSY: Final = "451 4.3.2 Too many messages in progress, try again later"
SHUTTING_DOWN: Final = "421 4.3.2 Service shutting down, try again later"
# RFC 3463 §3.8 X.7.0 "Other or undefined security status": connection caps.
TOO_MANY_CONNECTIONS: Final = "421 4.7.0 Too many connections, try again later"
# RFC 3207 §4: with smtp.require_tls, any command but EHLO/NOOP/QUIT/STARTTLS before TLS.
STARTTLS_REQUIRED: Final = "530 5.7.0 Must issue a STARTTLS command first"
# RFC 3463 §3.8 X.7.0: one client (an address, an IPv6 /64) holds its share of DATA slots.
CLIENT_BUSY: Final = "451 4.7.0 Too many messages in progress from your network, try again later"
# RFC 5321 §4.5.3.2.7 (5 minutes for a command) and §4.5.3.2.6 (3 minutes per DATA chunk);
# §3.8 lets a server close with 421; RFC 3463 §3.5 X.4.2 "Bad connection".
TIMEOUT: Final = "421 4.4.2 Timeout exceeded, closing connection"
# A client that keeps naming mailboxes we refuse is guessing addresses: stop listening
# (RFC 5321 §3.8: 421 may be sent at any time). RFC 3463 §3.8 X.7.0.
TOO_MANY_REFUSED_RECIPIENTS: Final = "421 4.7.0 Too many refused recipients, closing connection"

# --- SMTP AUTH (RFC 4954) ------------------------------------------------------------
# RFC 4954 §6: 235 2.7.0 on success, 535 5.7.8 for bad credentials.
AUTH_FAILED: Final = "535 5.7.8 Authentication credentials invalid"
# AUTH not offered (no users configured): what Postfix answers, RFC 3463 §3.6 X.5.1.
AUTH_NOT_ENABLED: Final = "503 5.5.1 Error: authentication not enabled"
# RFC 4954 §4 lets a server close after repeated failures; RFC 3463 §3.8 X.7.0.
TOO_MANY_AUTH_FAILURES: Final = "421 4.7.0 Too many failed authentication attempts"

# --- XFORWARD (www.postfix.org/XFORWARD_README.html), Postfix's own replies ------------
XFORWARD_DENIED: Final = "550 5.7.0 Error: insufficient authorization"
XFORWARD_IN_TRANSACTION: Final = "503 5.5.1 Error: MAIL transaction in progress"
XFORWARD_SYNTAX: Final = "501 5.5.4 Syntax: XFORWARD attribute=value..."
XFORWARD_TOO_LONG: Final = "501 5.5.4 Error: attribute value too long"
XFORWARD_OK: Final = "250 2.0.0 Ok"


def xforward_bad_attribute(name: str) -> str:
    return f"501 5.5.4 Bad XFORWARD attribute name: {_printable(name)}"


def xforward_bad_value(name: str) -> str:
    return f"501 5.5.4 Bad XFORWARD {_printable(name)} syntax"


def _printable(text: str) -> str:
    # Echoed client text: printable ASCII only, and short (RFC 5321 §4.5.3.1.5).
    return "".join(c if " " < c <= "~" else "?" for c in text[:64])


# aiosmtpd's own replies carry no enhanced status code (RFC 3463) and some carry an
# exception's text; the protocol translates these exact strings (aiosmtpd 1.4 smtp.py).
AIOSMTPD_TRANSLATIONS: Final[dict[str, str]] = {
    "552 Error: message size exceeds fixed maximum message size": MESSAGE_TOO_BIG,
    "552 Error: Too much mail data": MESSAGE_TOO_BIG,
    "500 Line too long (see RFC5321 4.5.3.1.6)": LINE_TOO_LONG,
    "530 Must issue a STARTTLS command first": STARTTLS_REQUIRED,
}
