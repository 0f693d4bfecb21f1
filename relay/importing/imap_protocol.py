"""The IMAP source's pure parts: the URL, the resume cursor, mailbox names, SEARCH
criteria, UID sets and FETCH replies. No I/O; ``relay/importing/imap.py`` does the
talking (docs/design.md, "Import: IMAP source").
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from relay.importing.source import SourceError
from relay.terminal_text import inert

STARTTLS_PORT = 143  # RFC 3501 §2.1 (then STARTTLS, §6.2.1)
IMPLICIT_TLS_PORT = 993  # RFC 8314 §3.3: implicit TLS, preferred over STARTTLS
DEFAULT_FOLDER = "INBOX"

# RFC 3501 §9 date-text: day "-" month "-" year with English month names, whatever the
# locale (strftime's %b would follow it).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class ImapUrl:
    """``imap://USER@HOST[:PORT]/FOLDER`` (STARTTLS) or ``imaps://…`` (implicit TLS).
    The user and the folder are percent-decoded, as in RFC 5092 §3."""

    implicit_tls: bool
    user: str
    host: str
    port: int
    folder: str

    @property
    def identity(self) -> str:
        """The same URL with its port spelled out, so ``…:993`` and the default match."""
        scheme = "imaps" if self.implicit_tls else "imap"
        host = f"[{self.host}]" if ":" in self.host else self.host
        user, folder = quote(self.user, safe=""), quote(self.folder, safe="/")
        return f"{scheme}://{user}@{host}:{self.port}/{folder}"

    @property
    def address(self) -> str:
        """``host:port`` for messages, made inert (the URL came from a command line)."""
        return inert(f"{self.host}:{self.port}")


def parse_url(url: str) -> ImapUrl:
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps"):
        raise SourceError(f"not an IMAP URL (imap://USER@HOST[:PORT]/FOLDER): {inert(url)}")
    if parts.password is not None:
        raise SourceError(
            "put no password in the IMAP URL: the import asks for it or reads RELAY_IMAP_PASSWORD"
        )
    if not parts.username or not parts.hostname:
        raise SourceError(
            f"the IMAP URL needs a user and a host (imap://USER@HOST/FOLDER): {inert(url)}"
        )
    if parts.query or parts.fragment:
        raise SourceError(f"the IMAP URL takes no query or fragment: {inert(url)}")
    try:
        port = parts.port
    except ValueError:
        raise SourceError(
            f"the IMAP URL's port is not a number from 1 to 65535: {inert(url)}"
        ) from None
    implicit_tls = parts.scheme == "imaps"
    return ImapUrl(
        implicit_tls=implicit_tls,
        user=unquote(parts.username),
        host=parts.hostname,
        port=port or (IMPLICIT_TLS_PORT if implicit_tls else STARTTLS_PORT),
        folder=checked_folder(unquote(parts.path.removeprefix("/")) or DEFAULT_FOLDER),
    )


def checked_folder(folder: str) -> str:
    """A folder name from the URL or ``--folder``: not empty, and no line break or NUL
    (a quoted string cannot carry them, RFC 3501 §4.3)."""
    if not folder:
        raise SourceError("the IMAP folder name is empty")
    if any(char in folder for char in "\r\n\0"):
        raise SourceError(f"the IMAP folder name has a line break or NUL: {inert(folder)}")
    return folder


@dataclass(frozen=True)
class Cursor:
    """Where an import stopped: the last UID stored, valid only while the folder's
    UIDVALIDITY is the same (RFC 3501 §2.3.1.1: a new UIDVALIDITY means the old UIDs
    name other messages, or none)."""

    folder: str
    uidvalidity: int
    uid: int

    def encode(self) -> str:
        return f"imap:1:{self.uidvalidity}:{self.uid}:{quote(self.folder, safe='')}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        match = re.fullmatch(r"imap:1:(\d+):(\d+):(.*)", text)
        if match is None:
            raise SourceError(f"this resume point was not made by the IMAP source: {inert(text)}")
        return cls(unquote(match.group(3)), int(match.group(1)), int(match.group(2)))


def check_resume(cursor: Cursor, folder: str, uidvalidity: int) -> None:
    """Refuse a cursor from another folder or from before the folder was rebuilt,
    rather than skip or repeat mail (RFC 3501 §2.3.1.1)."""
    if cursor.folder != folder:
        raise SourceError(
            f"the resume point is for folder {inert(cursor.folder)!r}, not {inert(folder)!r}"
        )
    if cursor.uidvalidity != uidvalidity:
        raise SourceError(
            f"folder {inert(folder)!r} was rebuilt on the server (UIDVALIDITY "
            f"{cursor.uidvalidity} is now {uidvalidity}), so its UIDs no longer name the "
            "same messages; start a new import of this folder (already logged mail "
            "is not logged twice)"
        )


def mailbox_name(folder: str) -> str:
    """``folder`` as an IMAP quoted string: modified UTF-7 for non-ASCII (RFC 3501
    §5.1.3), then quoted with ``\\`` and ``"`` escaped (RFC 3501 §4.3). imaplib sends
    arguments as they are, so a name with a space would otherwise split."""
    encoded = _modified_utf7(folder)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _modified_utf7(text: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in text:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


SEARCH_WINDOW = 50_000
"""UIDs one ``UID SEARCH`` covers. imaplib refuses a reply line over 1,000,000 bytes
(``imaplib._MAXLINE``), and a SEARCH reply is one line: 50,000 UIDs of at most 10
digits and a space each stay under half of that, whatever the folder's size."""


def search_windows(after_uid: int, uidnext: int | None, width: int = SEARCH_WINDOW) -> list[str]:
    """The UID ranges to search after the cursor, up to the folder's UIDNEXT as the
    EXAMINE reply gave it (RFC 3501 §6.3.1; mail that arrives later is the next run's).
    Without UIDNEXT, one open range, ``N:*``."""
    if uidnext is None:
        return [f"{after_uid + 1}:*"]
    return [
        f"{first}:{min(first + width - 1, uidnext - 1)}"
        for first in range(after_uid + 1, uidnext, width)
    ]


DATE_MARGIN = dt.timedelta(days=1)
"""How far the server's date search reaches past --since/--until: SEARCH compares
dates "disregarding time and timezone" (RFC 3501 §6.4.4), so a Date: header's own
local day, or the server's day of the internal date, can be a day off the UTC day the
import filters on (relay/importing/filters.py)."""


def search_criteria(uid_range: str, since: dt.date | None, until: dt.date | None) -> str:
    """``UID SEARCH`` criteria: the UIDs of ``uid_range`` that --since/--until may
    admit. The server only narrows; the import then applies the same Date: header filter
    as to a file (``filters.admit``), so an IMAP folder and its mbox export import the
    same mail. A superset of what ``admit`` keeps, each date ``DATE_MARGIN`` wider:

    - SENTSINCE/SENTBEFORE: the Date: header within the dates (mail copied into the
      folder long after it was sent has a late internal date but its own Date:);
    - SINCE/BEFORE: the internal date within them (a Date: the server cannot read);
    - ``NOT HEADER Date ""``: no Date: at all, which ``admit`` keeps whatever the dates
      (RFC 3501 §6.4.4: an empty string matches every message with the field).

    ``until`` is inclusive, so BEFORE the day after it (plus the margin)."""
    if since is None and until is None:
        return f"UID {uid_range}"
    internal: list[str] = []
    sent: list[str] = []
    if since is not None:
        day = imap_date(since - DATE_MARGIN)
        internal.append(f"SINCE {day}")
        sent.append(f"SENTSINCE {day}")
    if until is not None:
        day = imap_date(until + dt.timedelta(days=1) + DATE_MARGIN)
        internal.append(f"BEFORE {day}")
        sent.append(f"SENTBEFORE {day}")
    return f'UID {uid_range} OR OR ({" ".join(sent)}) ({" ".join(internal)}) NOT HEADER Date ""'


def imap_date(day: dt.date) -> str:
    return f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"


def parse_search(data: Sequence[bytes | None], after_uid: int) -> list[int]:
    """The UIDs of a ``UID SEARCH`` reply, ascending, all greater than ``after_uid``.
    ``N:*`` always matches the folder's last message, even when N is past it (RFC 3501
    §6.4.8: ``*`` is the largest UID in use), so the filter is needed, not cosmetic."""
    uids = {int(token) for line in data if line for token in line.split()}
    return sorted(uid for uid in uids if uid > after_uid)


def uid_set(uids: Sequence[int]) -> str:
    """Ascending UIDs as an RFC 3501 §9 sequence-set, runs joined: ``1:3,7,9:10``."""
    ranges: list[str] = []
    start = previous = uids[0]
    for uid in uids[1:]:
        if uid != previous + 1:
            ranges.append(_range(start, previous))
            start = uid
        previous = uid
    ranges.append(_range(start, previous))
    return ",".join(ranges)


def _range(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}:{last}"


def batches(uids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(uids), size):
        yield uids[start : start + size]


_FETCH_UID = re.compile(rb"\bUID (\d+)\b")


def size_batches(
    uids: Sequence[int], sizes: dict[int, int], max_count: int, max_bytes: int
) -> Iterator[list[int]]:
    """``uids`` in order, in batches of at most ``max_count`` messages and ``max_bytes``
    (RFC822.SIZE, RFC 3501 §2.3.4), so a folder of large attachments is fetched a few at
    a time; a message larger than ``max_bytes`` goes alone. A UID without a size was
    expunged since the search and is left out."""
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid)
        if size is None:
            continue
        if batch and (len(batch) == max_count or total + size > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


_FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)\b")


def parse_sizes(data: Sequence[object]) -> dict[int, int]:
    """RFC822.SIZE by UID from a ``UID FETCH … (UID RFC822.SIZE)`` reply."""
    sizes: dict[int, int] = {}
    for item in data:
        if isinstance(item, bytes):
            uid, size = _FETCH_UID.search(item), _FETCH_SIZE.search(item)
            if uid is not None and size is not None:
                sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


def parse_fetch(data: Sequence[object]) -> dict[int, bytes]:
    """The message bytes by UID from imaplib's ``UID FETCH … (UID BODY.PEEK[])`` reply:
    a ``(prefix, literal)`` pair per message, where the prefix names its UID (RFC 3501
    §7.4.2). A message expunged meanwhile is simply absent. A reply that holds UID
    but no body (a FLAGS update the server volunteers) is skipped, not yielded empty."""
    found: dict[int, bytes] = {}
    for item in data:
        if not isinstance(item, tuple) or len(item) != 2:
            continue
        prefix, literal = item
        if not isinstance(prefix, bytes) or not isinstance(literal, bytes):
            continue
        match = _FETCH_UID.search(prefix)
        if match is not None and b"BODY[]" in prefix:
            found[int(match.group(1))] = literal
    return found


def server_text(data: Sequence[object]) -> str:
    """The server's words from an imaplib reply or error, as one inert line."""
    pieces = [
        item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
        for item in data
        if item is not None
    ]
    return inert(" ".join(pieces).strip())
