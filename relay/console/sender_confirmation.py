"""Confirming a rep's new acceptable address by a link sent to it (docs/design.md §10).

Email to Salesforce's "My Acceptable Email Addresses" takes any address a rep types; Relay
would then log mail from that address as the rep's, so the console first proves the rep
reads it: the link carries the rep's User Id, the address and an expiry, signed with
HMAC-SHA256 under the console's session key, and it works only for that rep signed in.
Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

LINK_HOURS = 24
CONFIRM_PATH = "/settings/senders/confirm"


def _signature(key: bytes, user_id: str, address: str, expires: int) -> str:
    message = f"acceptable-address\n{user_id}\n{address.lower()}\n{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def confirmation_link(base_url: str, key: bytes, user_id: str, address: str, now: float) -> str:
    expires = int(now) + LINK_HOURS * 3600
    query = {"address": address.lower(), "expires": str(expires),
             "sig": _signature(key, user_id, address, expires)}  # fmt: skip
    return f"{base_url}{CONFIRM_PATH}?{urlencode(query)}"


def link_is_valid(
    key: bytes, user_id: str, address: str, expires_text: str, signature: str, now: float
) -> bool:
    """True if the link was made for this rep and address and has not expired."""
    try:
        expires = int(expires_text)
    except ValueError:
        return False
    expected = _signature(key, user_id, address, expires)
    return expires > now and hmac.compare_digest(expected, signature)


def message_text(rep_name: str, address: str, link: str) -> str:
    return (
        f"{rep_name} asked Relay to accept email from {address} as theirs, so that it is "
        "logged to Salesforce.\n\n"
        f"To confirm, open this link while signed in to the Relay console (within "
        f"{LINK_HOURS} hours):\n\n{link}\n\n"
        "If you did not ask for this, ignore this email: nothing changes."
    )
