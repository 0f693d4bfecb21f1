"""Literal values: string escapes, LIKE patterns, record ids and relative date ranges.

Pure functions, cached where the same literal text recurs across requests.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache

# SOQL and SOSL Reference, "Quoted String Escape Sequences": \n \r \t \b \f (either case),
# \" \' \\, \uXXXX, and \_ \% (meaningful in LIKE only). "If you use a backslash character
# in any other context, an error occurs." The reference calls \b "Bell", but SOQL is Java
# based and simple_salesforce.format_soql writes \b for U+0008 (backspace), so that is
# what we decode it to; that keeps client escaping and our unescaping in agreement.
_SIMPLE_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
# Guess: outside LIKE, \_ and \% decode to the plain character. The reference only says
# they are "LIKE expression only"; no client we know writes them elsewhere.
_LIKE_ESCAPES = {"_": "_", "%": "%"}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)", re.DOTALL)


class BadEscape(ValueError):
    """A backslash sequence SOQL does not define; ``offset`` indexes the backslash in
    the raw string body."""

    def __init__(self, sequence: str, offset: int) -> None:
        super().__init__(sequence)
        self.sequence = sequence
        self.offset = offset


def _decode_escape(body: str, offset: int, *, like: bool) -> str:
    """What one escape sequence (the text after the backslash) stands for."""
    if body[0] == "u" and len(body) == 5:
        return chr(int(body[1:], 16))
    key = body.lower()
    if key in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[key]
    if body in _LIKE_ESCAPES:
        return re.escape(body) if like else _LIKE_ESCAPES[body]
    raise BadEscape("\\" + body, offset)


@lru_cache(maxsize=4096)
def unescape(raw: str) -> str:
    """The value of a quoted string's body ``raw``; raises BadEscape on a stray backslash."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    last = 0
    for match in _ESCAPE.finditer(raw):
        out.append(raw[last : match.start()])
        out.append(_decode_escape(match.group(1), match.start(), like=False))
        last = match.end()
    out.append(raw[last:])
    return "".join(out)


@lru_cache(maxsize=1024)
def like_pattern(raw: str) -> re.Pattern[str]:
    """A compiled, case-insensitive full-match regex for a LIKE pattern body ``raw``:
    ``%`` is any run of characters, ``_`` exactly one, and ``\\%``/``\\_`` the literal
    characters (SOQL and SOSL Reference, "Comparison Operators", LIKE)."""
    parts: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\":
            match = _ESCAPE.match(raw, index)
            if match is None:  # a trailing backslash cannot survive the grammar
                raise BadEscape("\\", index)
            decoded = _decode_escape(match.group(1), index, like=True)
            parts.append(decoded if match.group(1) in _LIKE_ESCAPES else re.escape(decoded))
            index = match.end()
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


# Record ids (SOAP API Developer Guide, "Field Types", ID): 15 case-sensitive characters,
# or 18 with a case-safe suffix. For each 5-character chunk, bit i is set when character i
# is an upper-case letter, and the 5-bit number indexes this alphabet.
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_CHARS = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?")


def case_safe_suffix(id15: str) -> str:
    """The three suffix characters that make a 15-character id case-safe."""
    suffix = []
    for chunk in range(3):
        bits = 0
        for bit, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << bit
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


@lru_cache(maxsize=8192)
def normalize_id(value: str) -> str | None:
    """The canonical 18-character form of a 15- or 18-character id, or None if ``value``
    is not an id. An 18-character id may arrive in any case: its suffix restores the case
    of the first 15 characters, which is what makes it case-safe."""
    if not _ID_CHARS.fullmatch(value):
        return None
    if len(value) == 15:
        return value + case_safe_suffix(value)
    restored = []
    for chunk in range(3):
        bits = _SUFFIX_ALPHABET.index(value[15 + chunk].upper())
        for bit, char in enumerate(value[chunk * 5 : chunk * 5 + 5]):
            upper = bool(bits & (1 << bit))
            if upper and not char.isalpha():
                return None
            restored.append(char.upper() if upper else char.lower())
    id15 = "".join(restored)
    return id15 + case_safe_suffix(id15)


def date_range(name: str, n: int | None, today: date) -> tuple[date, date]:
    """The days [start, end) a relative date literal stands for, relative to ``today``
    (SOQL and SOSL Reference, "Date Formats and Date Literals in WHERE"). Weeks start on
    Sunday: Salesforce takes the first day of the week from the user's locale, and we
    assume en_US (a guess for an org with no locale settings)."""
    if name == "TODAY":
        return today, today + timedelta(days=1)
    if name == "YESTERDAY":
        return today - timedelta(days=1), today
    if name == "TOMORROW":
        return today + timedelta(days=1), today + timedelta(days=2)
    if name == "LAST_N_DAYS":
        # "starts with the current day and continues for the past n days"; it includes
        # today, so LAST_N_DAYS:1 is yesterday and today.
        return today - timedelta(days=n or 0), today + timedelta(days=1)
    if name == "NEXT_N_DAYS":
        # "starts 00:00:00 of the next day and continues for the next n days".
        return today + timedelta(days=1), today + timedelta(days=1 + (n or 0))
    week_start = today - timedelta(days=(today.weekday() + 1) % 7)  # Sunday
    if name == "THIS_WEEK":
        return week_start, week_start + timedelta(days=7)
    if name == "LAST_WEEK":
        return week_start - timedelta(days=7), week_start
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    if name == "THIS_MONTH":
        return month_start, next_month
    if name == "LAST_MONTH":
        return (month_start - timedelta(days=1)).replace(day=1), month_start
    raise ValueError(f"unknown date literal {name}")


DATE_RANGE_NAMES = frozenset(
    {
        "TODAY",
        "YESTERDAY",
        "TOMORROW",
        "LAST_N_DAYS",
        "NEXT_N_DAYS",
        "THIS_WEEK",
        "LAST_WEEK",
        "THIS_MONTH",
        "LAST_MONTH",
    }
)
