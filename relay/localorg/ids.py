"""Salesforce record ids: key prefixes, the 18-character case-safe form, and generation.

An id is 15 case-sensitive base-62 characters: a 3-character key prefix naming the
object, then an instance part and a counter. The 18-character form appends three
characters that encode, for each 5-character chunk, which letters are upper case, so the
id survives case-insensitive tools (SOAP API Developer Guide, "Core Data Types", ID
field type; Object Reference, "Salesforce Object IDs"). The API accepts either form and
always returns 18 characters.
"""

from __future__ import annotations

import string
import threading

# Object Reference, "Standard Field Record ID Prefix Decoder" (Salesforce Help).
KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Lead": "00Q",
    "Task": "00T",
    "Organization": "00D",
    "Profile": "00e",
    "OpportunityContactRole": "00k",
    "ContentVersion": "068",
    "ContentDocument": "069",
    "ContentDocumentLink": "06A",
    "EmailServicesFunction": "091",
    "EmailServicesAddress": "093",
    "TaskRelation": "0RT",
    # Guess: Salesforce's picklist value rows (TaskStatus, TaskPriority, CaseStatus...)
    # share the prefix 01J; the local org gives each object its own so an id always
    # names one object.
    "TaskStatus": "01J",
    "TaskPriority": "01K",
}
OBJECT_BY_PREFIX: dict[str, str] = {prefix: name for name, prefix in KEY_PREFIXES.items()}

_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
# Base 62 in ASCII order, so generated ids of one object sort in creation order.
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ID_CHARS = frozenset(_BASE62)
# Characters 4-5 name the server instance (pod) and character 6 is reserved; the rest
# is the counter. "5g" is an arbitrary local instance; a guess at nothing in particular.
_INSTANCE = "5g0"
_COUNTER_WIDTH = 9


def case_safe_suffix(id15: str) -> str:
    """The 3-character suffix of a 15-character id: one character per 5-char chunk whose
    bit i is set when character i of the chunk is an upper-case letter."""
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for i, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << i
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def _restore_case(id18: str) -> str | None:
    """The 15-character id whose case the suffix of ``id18`` encodes, or None if the
    suffix is not made of suffix characters. Letters in the first 15 characters may come
    in any case: restoring it is the point of the suffix."""
    chars = list(id18[:15])
    for chunk, flag in enumerate(id18[15:].upper()):
        bits = _SUFFIX_ALPHABET.find(flag)
        if bits < 0:
            return None
        for i in range(5):
            pos = chunk * 5 + i
            chars[pos] = chars[pos].upper() if bits & (1 << i) else chars[pos].lower()
    return "".join(chars)


def normalize_id(value: object) -> str | None:
    """The canonical 18-character id for a 15- or 18-character id, or None if ill-formed.

    An 18-character id is accepted in any letter case when its suffix is consistent (the
    suffix restores the case); this is what the case-safe form is for. Guess: Salesforce
    rejects an 18-character id whose suffix does not match as MALFORMED_ID.
    """
    if not isinstance(value, str) or len(value) not in (15, 18):
        return None
    if not _ID_CHARS.issuperset(value):
        return None
    if len(value) == 15:
        return value + case_safe_suffix(value)
    restored = _restore_case(value)
    if restored is None or restored[:15] == "000000000000000":
        return None
    canonical = restored + case_safe_suffix(restored)
    if canonical.upper() != value.upper():
        return None
    return canonical


def object_for_id(record_id: str) -> str | None:
    """The object whose key prefix begins ``record_id``, or None."""
    return OBJECT_BY_PREFIX.get(record_id[:3])


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    text = "".join(reversed(digits))
    if len(text) > width:
        raise OverflowError("id counter exhausted")
    return text.rjust(width, "0")


def _counter_of(record_id: str) -> int:
    number = 0
    for char in record_id[6:15]:
        number = number * 62 + _BASE62.index(char)
    return number


class IdGenerator:
    """Unique, monotonic ids per key prefix. Seed it with the ids already stored so a
    restart never reissues one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}

    def observe(self, record_id: str) -> None:
        """Note an existing id so later ones sort after it."""
        if record_id[3:6] != _INSTANCE:
            return
        prefix, counter = record_id[:3], _counter_of(record_id)
        with self._lock:
            if counter > self._last.get(prefix, 0):
                self._last[prefix] = counter

    def new_id(self, sobject: str) -> str:
        """A fresh 18-character id for ``sobject``."""
        prefix = KEY_PREFIXES[sobject]
        with self._lock:
            counter = self._last.get(prefix, 0) + 1
            self._last[prefix] = counter
        id15 = prefix + _INSTANCE + _base62(counter, _COUNTER_WIDTH)
        return id15 + case_safe_suffix(id15)
