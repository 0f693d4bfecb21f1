"""``(ref: ID, ID…)`` tags: records a rep names explicitly in the body.

Email-to-Salesforce reads these tags from the first 5,000 characters of the body and
accepts 15-character ids; Relay accepts 15 and 18. Every id is returned in its
18-character form (the case-insensitive form the REST API returns), so one record named
both ways is one ref. An 18-character id whose suffix does not match its first 15
characters is not an id and is dropped with a defect.
"""

from __future__ import annotations

import re

REF_SCAN_LIMIT = 5_000
_REF_TAG = re.compile(r"\(\s*ref\s*:\s*([^()]*)\)", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def id18(id15: str) -> str:
    """The 18-character form of a 15-character Salesforce id.

    The suffix encodes which of the 15 characters are upper case, five at a time: bit i
    of chunk k is set when character 5k+i is A-Z (Salesforce's documented checksum).
    """
    suffix = ""
    for start in range(0, 15, 5):
        bits = 0
        for offset, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << offset
        suffix += _SUFFIX_ALPHABET[bits]
    return id15 + suffix


def record_refs(body: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ids named in ref tags (18-character form, first occurrence first) and defects."""
    refs: list[str] = []
    defects: list[str] = []
    for tag in _REF_TAG.finditer(body[:REF_SCAN_LIMIT]):
        for token in _TOKEN.findall(tag.group(1)):
            if len(token) == 15:
                full = id18(token)
            elif len(token) == 18:
                full = id18(token[:15])
                if full[15:] != token[15:].upper():
                    defects.append(f"ref tag: {token} has a wrong 18-character checksum")
                    continue
            else:
                defects.append(f"ref tag: {token!r} is not a 15- or 18-character id")
                continue
            if full not in refs:
                refs.append(full)
    return tuple(refs), tuple(defects)
