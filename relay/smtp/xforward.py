"""Postfix's XFORWARD command: parse one request into attributes. Pure, no I/O.

http://www.postfix.org/XFORWARD_README.html: a trusted MTA in front of Relay (Postfix with
``smtp_send_xforward_command = yes``) reports the original client with
``XFORWARD attribute=value ...``, attribute names case-insensitive, values xtext
(RFC 3461 §4), at most 255 characters each. ``[UNAVAILABLE]`` (and ``[TEMPUNAVAIL]`` for
NAME, a DNS lookup that failed for now) means "not known": such attributes are dropped,
so a consumer sees only what the MTA knew. Decoded values must not contain control
characters, non-ASCII characters or whitespace (the README's note 1).
"""

from __future__ import annotations

import re

from relay.smtp import replies

ATTRIBUTES = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE")
"""What Relay accepts, in the order Postfix advertises them in EHLO."""
EHLO_KEYWORD = "XFORWARD " + " ".join(ATTRIBUTES)

_NOT_KNOWN = frozenset({"[UNAVAILABLE]", "[TEMPUNAVAIL]"})
_MAX_VALUE = 255
_XTEXT_HEX = re.compile(r"\+([0-9A-F]{2})")
_PRINTABLE = re.compile(r"[!-~]+")  # ASCII without controls and space


def xtext_decode(text: str) -> str | None:
    """RFC 3461 §4: ``+XX`` (upper-case hex) stands for one octet; None if malformed."""
    if "+" in _XTEXT_HEX.sub("", text):
        return None  # a "+" that does not start +XX
    return _XTEXT_HEX.sub(lambda m: chr(int(m.group(1), 16)), text)


def parse_xforward(arg: str | None) -> dict[str, str | None] | str:
    """The attributes of one request (lower-case names; None for "not known"), or the
    error reply to send. Applied all or nothing, as Postfix does."""
    items = (arg or "").split()
    if not items:
        return replies.XFORWARD_SYNTAX
    attributes: dict[str, str | None] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not raw:
            return replies.XFORWARD_SYNTAX
        if name.upper() not in ATTRIBUTES:
            return replies.xforward_bad_attribute(name)
        if len(raw) > _MAX_VALUE:
            return replies.XFORWARD_TOO_LONG
        if raw.upper() in _NOT_KNOWN:
            attributes[name.lower()] = None
            continue
        value = xtext_decode(raw)
        if value is None or _PRINTABLE.fullmatch(value) is None:
            return replies.xforward_bad_value(name)
        attributes[name.lower()] = value
    return attributes


def merged(current: dict[str, str] | None, update: dict[str, str | None]) -> dict[str, str]:
    """The attributes after ``update``: XFORWARD sends them incrementally (the README), and
    a later "not known" withdraws an earlier value."""
    result = dict(current or {})
    for name, value in update.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result
