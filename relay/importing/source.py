"""What every import source gives: raw messages in a stable order, each with a cursor
to resume after it.

A source is a mbox file, a Maildir, a folder of ``.eml`` files, a ``.zip`` of those, or
an IMAP folder. The import records the cursor of the last message it stored; running
the same import again asks the source for the messages after that cursor. Cursors are
opaque to the import: each source defines and parses its own (an IMAP cursor names the
folder's UIDVALIDITY, so a cursor from a rebuilt folder is refused rather than skipping
mail, RFC 3501 §2.3.1.1). Duplicates are stopped later by the exactly-once keys, so a
source that re-yields a message after a crash costs work, never a second Task.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


class SourceError(Exception):
    """The source cannot be read: one line a person can act on (a wrong password, a
    missing folder, a TLS failure, an unreadable file). The import stops and can be
    resumed once it is fixed."""


@dataclass(frozen=True)
class SourceMessage:
    raw: bytes
    cursor: str
    """Resume after this message by passing this value to ``messages(after=...)``."""
    folder: str | None = None
    """Where the message was found (a Maildir subfolder, an IMAP folder, a zip member)."""


class Source(Protocol):
    @property
    def identity(self) -> str:
        """A stable name for this source (a resolved path, or ``imap://user@host:port/folder``);
        running the same import again finds its earlier state by this name and the rep."""
        ...

    def messages(self, after: str | None = None) -> Iterator[SourceMessage]:
        """Every message after the cursor ``after`` (all of them when None), streamed:
        never the whole source in memory. Raises ``SourceError``."""
        ...

    def close(self) -> None: ...
