"""Addresses: normalise for comparison, keep display names, drop duplicates and garbage.

Comparison is case-insensitive on the whole address, as Email-to-Salesforce matches
Contact/Lead ``Email`` case-insensitively (strictly RFC 5321 §2.4 lets a local part be
case-sensitive, but no mail system we talk to relies on it). IDNA domains
(``xn--`` A-labels, RFC 5890) are shown as Unicode so that one mailbox has one key
whatever form a client wrote it in.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable
from email.header import Header

from mailparser.utils import decode_header_part, get_addresses

from relay.parsing.model import Address

# Characters that cannot appear unquoted in an addr-spec (RFC 5322 §3.2.3 specials,
# minus "." and "@") or anywhere in a domain we would look up.
_BAD_LOCAL = re.compile(r'[\s<>(),;:\\"\[\]]')
_BAD_DOMAIN = re.compile(r"[\s<>(),;:\\\"@!#$%&'*+/=?^`{|}~]")
_MAX_ADDRESS = 254  # RFC 5321 §4.5.3.1.3 path limit, minus the angle brackets


def normalise_email(raw: str) -> str | None:
    """Return the comparison form of one addr-spec, or None if it is not an address.

    Lower-cases the whole address and turns ``xn--`` domain labels into Unicode.
    """
    addr = raw.strip().strip("<>").strip()
    if addr.lower().startswith("mailto:"):
        addr = addr[7:]
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or len(addr) > _MAX_ADDRESS:
        return None
    quoted = len(local) > 1 and local[0] == '"' and local[-1] == '"'
    if not quoted and (_BAD_LOCAL.search(local) or "@" in local):
        return None
    domain = domain.rstrip(".").lower()
    if domain.startswith("[") and domain.endswith("]"):  # address literal, RFC 5321 §4.1.3
        return f"{local.lower()}@{domain}"
    if not domain or _BAD_DOMAIN.search(domain) or ".." in domain or domain[0] == ".":
        return None
    if "xn--" in domain:
        # A malformed A-label is still a stable key in its ASCII form.
        with contextlib.suppress(UnicodeError):
            domain = domain.encode("ascii").decode("idna").lower()
    else:
        domain = unicodedata.normalize("NFC", domain)
    return f"{local.lower()}@{domain}"


def clean_display_name(name: str) -> str:
    """Collapse whitespace and strip surrounding quotes from a display name."""
    name = " ".join(name.split())
    if len(name) > 1 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1].strip()
    return name


def make_address(display_name: str, raw_email: str) -> Address | None:
    """One Address from a (name, addr) pair, or None if the address is garbage."""
    email = normalise_email(raw_email)
    if email is None:
        return None
    name = clean_display_name(display_name)
    if normalise_email(name) == email:
        name = ""  # "a@b <a@b>" carries no name
    return Address(email=email, display_name=name)


def unique(addresses: Iterable[Address | None]) -> tuple[Address, ...]:
    """Drop Nones and repeated mailboxes, keeping the first occurrence (and its name)."""
    seen: set[str] = set()
    out: list[Address] = []
    for address in addresses:
        if address is None or address.email in seen:
            continue
        seen.add(address.email)
        out.append(address)
    return tuple(out)


def from_pairs(pairs: Iterable[tuple[str, str]] | None) -> tuple[Address, ...]:
    """Addresses from mail-parser's ``(display_name, address)`` tuples."""
    if not pairs:
        return ()
    return unique(make_address(name or "", addr or "") for name, addr in pairs)


def from_header(value: str | Header | None) -> tuple[Address, ...]:
    """Parse a raw address header (one we read ourselves, such as ``Sender``)."""
    if value is None:
        return ()
    return from_pairs(get_addresses(value, decode_names=True))


def decode_text(value: object) -> str:
    """A header value as text: RFC 2047 decoded, whitespace collapsed."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, Header):
        return " ".join(str(value).split())
    return " ".join(decode_header_part(str(value)).split())


# ---------------------------------------------------------------------------------------
# Free-text address lists (forwarded header blocks, journal reports)

# An angle-bracketed address, an Outlook "[mailto:addr]", or a bare addr-spec.
_ADDRESS_TOKEN = re.compile(
    r"<\s*(?:mailto:)?(?P<angle>[^<>\s]+@[^<>\s]+?)\s*>"
    r"|\[\s*mailto:(?P<mailto>[^\[\]\s]+@[^\[\]\s]+?)\s*\]"
    r"|(?P<bare>[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-\u0080-\uffff]+@"
    r"[A-Za-z0-9\-\u0080-\uffff]+(?:\.[A-Za-z0-9\-\u0080-\uffff]+)+)",
)
_SEPARATORS = " \t\r\n,;\u00a0"


def from_text(text: str) -> tuple[Address, ...]:
    """Addresses from a human-written list, as forward blocks and reports show them.

    Handles ``Name <a@b>``, bare ``a@b``, Outlook's ``Name [mailto:a@b]``, names with
    commas (``"Doe, John" <j@d>`` and Outlook's unquoted ``Doe, John <j@d>``), and the
    ``;`` separator Outlook uses. A name is the text between the previous address and
    this one; a bare address right before a bracketed one is that one's name.
    """
    matches = list(_ADDRESS_TOKEN.finditer(text))
    out: list[Address | None] = []
    position = 0
    pending_name = ""
    for index, match in enumerate(matches):
        addr = match.group("angle") or match.group("mailto") or match.group("bare") or ""
        between = text[position : match.start()]
        position = match.end()
        if match.group("bare") is not None and index + 1 < len(matches):
            following = matches[index + 1]
            gap = text[match.end() : following.start()]
            if following.group("bare") is None and not gap.strip(" \t\"'"):
                pending_name = addr  # "a@b <a@b>" (Gmail) or an address used as a name
                continue
        name = pending_name or between.strip(_SEPARATORS)
        pending_name = ""
        out.append(make_address(name, addr))
    return unique(out)
