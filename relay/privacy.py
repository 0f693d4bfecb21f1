"""Relay's own addresses stay out of what other people read. Pure: no I/O.

A rep's personal address ``log+TOKEN@RELAY_DOMAIN`` is a credential: whoever knows it
can send mail that Relay logs as that rep's (relay/reps/directory.py). Everything Relay writes
where the rest of the company can read it must therefore leave Relay's addresses out
(docs/delivery-guarantees.md, "Relay's own addresses"):

- Task fields (relay/matching/drafts.py): address lists drop them (``without_own``),
  free text (subject, body, file names) shows ``OWN_ADDRESS_REMOVED`` instead
  (``redact_own``);
- the copy forwarded to Email to Salesforce (relay/outbound.py): the header fields that
  name recipients lose them (``strip_own_from_headers``), every other byte is kept;
- logs and `relay explain`: the token of any ``log+TOKEN@`` is masked (``mask_tokens``);
- `relay queue show`: the inbound source's secret (``log+inbound-SECRET@``, e.g. the To
  of a Microsoft 365 journal report) is masked in what it prints
  (``mask_inbound_secret``, ``mask_inbound_secret_bytes``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from email.header import decode_header, make_header
from email.utils import formataddr, getaddresses
from typing import TypeVar

IsOwn = Callable[[str], bool]
"""Whether a lower-cased address is one of Relay's own (relay_domain_predicate)."""

OWN_ADDRESS_REMOVED = "[Relay address removed]"
MASKED_TAG = "[redacted]"
INBOUND_TAG = "inbound"
"""The inbound source's tag (relay.smtp.senders.INBOUND_TAG): its name is no secret."""

# An addr-spec as it appears in free text (RFC 5322 §3.4.1, without quoted local parts,
# which a personal address never has). Wide on purpose: a match is only replaced when
# the predicate says it is Relay's own.
_ADDRESS_IN_TEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*)")
# ``log+TOKEN@``: the personal-address mailbox (relay/reps/directory.py MAILBOX) and its tag.
_PERSONAL_TOKEN = re.compile(r"(?i)(?<![A-Za-z0-9.+_-])(log\+)[^@\s<>\"',;()]+(?=@)")

# ``log+inbound-SECRET@``: the inbound source's address and its shared secret.
_INBOUND_SECRET = re.compile(r"(?i)(?<![A-Za-z0-9.+_-])(log\+inbound-)[^@\s<>\"',;()]+(?=@)")
_INBOUND_SECRET_BYTES = re.compile(rb"(?i)(?<![A-Za-z0-9.+_-])(log\+inbound-)[^@\s<>\"',;()]+(?=@)")

# Header fields that name recipients or envelope recipients (RFC 5322 §3.6.3 and
# §3.6.6; Delivered-To, X-Original-To and Envelope-To are added by Postfix, qmail and
# Exim). Email to Salesforce copies To and Cc into the Task it creates.
RECIPIENT_FIELDS = frozenset(
    {
        "to",
        "cc",
        "bcc",
        "resent-to",
        "resent-cc",
        "resent-bcc",
        "delivered-to",
        "x-original-to",
        "envelope-to",
        "x-envelope-to",
        "apparently-to",
    }
)
# A Received field's optional ``for <path>`` clause (RFC 5321 §4.4) names the envelope
# recipient: the personal address when it was the only one.
_RECEIVED_FOR = re.compile(rb"(?i)\s+for\s+<?([^\s<>;]+@[^\s<>;]+)>?")

T = TypeVar("T")


def without_own(addresses: Iterable[T], is_own: IsOwn, email_of: Callable[[T], str]) -> list[T]:
    """The addresses that are not Relay's own, in order."""
    return [a for a in addresses if not is_own(email_of(a).lower())]


def redact_own(text: str, is_own: IsOwn) -> str:
    """``text`` with every Relay address replaced by ``OWN_ADDRESS_REMOVED``."""
    if "@" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        local, _, domain = found.partition("@")
        labels = domain.split(".")
        # Text runs on after an address ("log@relay.test.", "log@relay.test.txt"): try
        # the longest domain first, then shorter ones, and keep what follows.
        for count in range(len(labels), 0, -1):
            address = f"{local}@{'.'.join(labels[:count])}"
            if labels[count - 1] and is_own(address.lower()):
                return OWN_ADDRESS_REMOVED + found[len(address) :]
        return found

    return _ADDRESS_IN_TEXT.sub(replace, text)


def mask_tokens(text: str) -> str:
    """``text`` with the tag of every ``log+TAG@`` masked: logs and `relay explain` may
    name the shared address, never a rep's personal one."""
    if "+" not in text:
        return text
    return _PERSONAL_TOKEN.sub(_masked_tag, text)


def mask_inbound_secret(text: str) -> str:
    """``text`` with every ``log+inbound-SECRET@`` shown as ``log+inbound-[redacted]@``."""
    if "+" not in text:
        return text
    return _INBOUND_SECRET.sub(lambda m: m.group(1) + MASKED_TAG, text)


def mask_inbound_secret_bytes(raw: bytes) -> bytes:
    """``mask_inbound_secret`` on a message's bytes (every other byte unchanged)."""
    if b"+" not in raw:
        return raw
    return _INBOUND_SECRET_BYTES.sub(lambda m: m.group(1) + MASKED_TAG.encode(), raw)


def _masked_tag(match: re.Match[str]) -> str:
    # The inbound source's address keeps its name, not its secret: ``log+inbound@`` (as
    # stored) is shown as is, ``log+inbound-SECRET@`` as ``log+inbound-[redacted]@``.
    tag = match.group(0)[len(match.group(1)) :]
    if tag.lower() == INBOUND_TAG:
        return match.group(0)
    if tag.lower().startswith(INBOUND_TAG + "-"):
        return match.group(1) + tag[: len(INBOUND_TAG) + 1] + MASKED_TAG
    return match.group(1) + MASKED_TAG


# --- the forwarded copy ------------------------------------------------------------------


def strip_own_from_headers(raw: bytes, is_own: IsOwn) -> bytes:
    """``raw`` with Relay's addresses taken out of its recipient header fields and
    Received ``for`` clauses; every other byte unchanged, and ``raw`` itself (the same
    object) when no field names one, which is the usual BCC copy.

    A recipient field left with no address is removed (RFC 5322 §3.6.3: To and Cc are
    optional). A rewritten field is one line in the message's own line ending.
    """
    end = _header_end(raw)
    fields = _split_fields(raw[:end])
    changed = False
    out: list[bytes] = []
    for field in fields:
        rewritten = _rewrite_field(field, is_own)
        changed = changed or rewritten is not field
        if rewritten:
            out.append(rewritten)
    if not changed:
        return raw
    return b"".join(out) + raw[end:]


def _header_end(raw: bytes) -> int:
    """Where the header section ends: the offset of the empty line that ends it, or the
    end of ``raw`` when there is none (RFC 5322 §2.1)."""
    offset = 0
    for line in raw.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            return offset
        offset += len(line)
    return len(raw)


def _split_fields(header: bytes) -> list[bytes]:
    """Each header field with its folded continuation lines and line endings."""
    fields: list[bytes] = []
    for line in header.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _rewrite_field(field: bytes, is_own: IsOwn) -> bytes:
    """The field unchanged (the same object), rewritten, or b"" to drop it."""
    name, colon, value = field.partition(b":")
    if not colon or b"@" not in value:
        return field
    lowered = name.strip().lower().decode("ascii", "replace")
    if lowered == "received":
        return _without_own_for_clause(field, is_own)
    if lowered not in RECIPIENT_FIELDS:
        return field
    text = value.decode("utf-8", "surrogateescape")
    pairs = getaddresses([" ".join(text.split())])
    kept = [(n, a) for n, a in pairs if a and not is_own(a.lower())]
    if len(kept) == len([a for _, a in pairs if a]):
        return field
    if not kept:
        return b""
    ending = b"\r\n" if field.endswith(b"\r\n") else b"\n"
    try:
        rendered = ", ".join(formataddr((_decoded(n), a)) for n, a in kept)
    except UnicodeError:  # a display name in bytes that are not UTF-8: keep the addresses
        rendered = ", ".join(kept_address for _, kept_address in kept)
    return name + b": " + rendered.encode("utf-8", "surrogateescape") + ending


def _without_own_for_clause(field: bytes, is_own: IsOwn) -> bytes:
    """A Received field without a ``for`` clause naming a Relay address."""

    def replace(match: re.Match[bytes]) -> bytes:
        return b"" if is_own(match.group(1).decode("ascii", "replace").lower()) else match.group(0)

    rewritten = _RECEIVED_FOR.sub(replace, field)
    return field if rewritten == field else rewritten


def _decoded(name: str) -> str:
    """A display name with RFC 2047 encoded words decoded (formataddr encodes again)."""
    if "=?" not in name:
        return name
    try:
        return str(make_header(decode_header(name)))
    except (ValueError, LookupError):
        return name
