"""Feeding one import into the queue's import lane, and counting what became of it.

``Importer.run`` reads the source after the import's cursor, filters each message
(relay/importing/filters.py: dates, the store's size limit), and stores admitted ones in
chunks with ``enqueue_imported`` (relay/store/imports.py: the messages and the cursor
after them in one transaction). The workers of `relay serve` deliver them through the
same parse, match and write as live mail, taking live mail first (relay/store/claims.py).

At most ``window`` of the import's messages wait in the queue at a time: the import
reads on only as fast as they are delivered, so a stop (Ctrl-C, a kill) leaves little
behind, the queue never holds a whole mailbox, and the rate and ETA are the delivery's.
Counts: ``read``, ``filtered`` (outside --since/--until), ``skipped`` (bad input and
mail the pipeline rejected: machine mail, unmatched under --only-matched), ``queued``,
and the outcomes from the queue (``logged``, ``duplicate``, ``unresolved``, ``failed``
held or quarantined, ``pending``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from relay.config import PipelineConfig
from relay.envelope import Envelope
from relay.importing.filters import Filters, Verdict, admit, envelope_sender
from relay.importing.source import Source, SourceError
from relay.store.imports import DONE, FAILED, STOPPED, ImportedMessage, ImportOutcomes, ImportStore

CHUNK = 100
"""Messages per enqueue transaction: short, so live intake never waits long for the
store's write lock (SQLite has one writer)."""
WINDOW = 1000
"""The import's messages waiting in the queue at most, beyond what the workers gather
for one write (``import_window``)."""
FLUSH_SECONDS = 1.0
POLL_SECONDS = 0.25


def import_window(pipeline: PipelineConfig) -> int:
    """The import's messages waiting in the queue at most: what the import lane gathers
    for one Bulk API 2.0 job (relay/runners/import_lane.py) and ``WINDOW`` more, so the
    workers can gather a whole job while the next chunks are read (docs/design.md §11)."""
    return pipeline.import_bulk_rows + WINDOW


def imported_envelope(import_id: str, user: str, raw: bytes) -> Envelope:
    """The envelope of an imported message: no SMTP transaction to Relay happened, so
    the sender is the one its mail server recorded (``envelope_sender``: the machine-mail
    rules read it as they read a live one) and there are no recipients. ``auth``
    ``import:EMAIL`` records that the admin running `relay import --user EMAIL` vouched
    that the mail comes from that rep's mailbox (relay/delivery/reps.py ``attribute``)."""
    return Envelope(
        mail_from=envelope_sender(raw),
        rcpt_tos=(),
        peer=f"import:{import_id}",
        auth=f"import:{user}",
    )


@dataclass
class Snapshot:
    """The import's counts at one moment, for the progress bar and ``--json``."""

    counts: dict[str, int]
    outcomes: ImportOutcomes
    total: int | None
    started: float
    read_at_start: int
    state: str = "running"

    def as_dict(self) -> dict[str, Any]:
        read = self.counts.get("read", 0)
        o = self.outcomes
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = (read - self.read_at_start) / elapsed
        eta = None
        if self.total is not None and rate > 0:
            eta = round(max(self.total - read, 0) / rate, 1)
        return {
            "state": self.state,
            "read": read,
            "queued": self.counts.get("queued", 0),
            "matched": o.logged + o.duplicate,
            "logged": o.logged,
            "duplicate": o.duplicate,
            "unresolved": o.unresolved,
            "skipped": self.counts.get("skipped", 0) + o.skipped,
            "failed": o.failed,
            "filtered": self.counts.get("filtered", 0),
            "pending": o.pending,
            "total": self.total,
            "rate": round(rate, 1),
            "eta_seconds": eta,
        }


@dataclass
class Importer:
    store: ImportStore
    source: Source
    import_id: str
    user: str
    cursor: str | None
    counts: dict[str, int]
    filters: Filters
    report: Callable[[str], None]
    """One readable line per input that was skipped (bad input, too big)."""
    stop: threading.Event = field(default_factory=threading.Event)
    chunk_size: int = CHUNK
    window: int = WINDOW
    _outcomes: ImportOutcomes = field(default_factory=ImportOutcomes)

    def skipped(self, where: str, why: str) -> None:
        """A source's ``on_skip``: counted, reported, and the import goes on."""
        self.counts["skipped"] = self.counts.get("skipped", 0) + 1
        self.report(f"skipped {where}: {why}")

    def outcomes(self) -> ImportOutcomes:
        return self._outcomes

    def run(self, tick: Callable[[], None] = lambda: None) -> str:
        """Feed the source into the queue, then wait for the queued messages to be
        delivered. Returns the import's end state (``done``, ``stopped``); a
        SourceError ends it ``failed`` and is raised again."""
        try:
            finished = self._feed(tick)
            if finished:
                self._drain(tick)
        except SourceError as error:
            self._end(FAILED, str(error))
            raise
        except BaseException:
            self._end(STOPPED)
            raise
        state = DONE if finished and self._outcomes.pending == 0 else STOPPED
        self.store.end_import(self.import_id, state, self.counts)
        return state

    def _end(self, state: str, error: str | None = None) -> None:
        """Record the end on the way out of a failure; best effort, as the store may be
        what failed (the row then stays ``running`` and the next run resumes anyway)."""
        try:
            self.store.end_import(self.import_id, state, self.counts, error)
        except Exception:  # the original error is the one worth reporting
            return

    def _feed(self, tick: Callable[[], None]) -> bool:
        """True if the source was read to its end; False if stopped first."""
        chunk: list[ImportedMessage] = []
        flushed = time.monotonic()
        read_after = self.cursor
        for message in self._messages(read_after):
            self._count("read")
            verdict = admit(message.raw, self.filters)
            if verdict is Verdict.ADMIT:
                envelope = imported_envelope(self.import_id, self.user, message.raw)
                chunk.append(ImportedMessage(message.raw, envelope))
            elif verdict is Verdict.FILTERED:
                self._count("filtered")
            elif verdict is Verdict.TOO_BIG:
                limit = self.filters.max_bytes
                self.skipped(
                    where(self.source.identity, message.cursor),
                    f"{len(message.raw)} bytes, over the store's limit of {limit} "
                    "(RELAY_SMTP_MAX_MESSAGE_BYTES)",
                )
            else:
                self.skipped(where(self.source.identity, message.cursor), "an empty message")
            self.cursor = message.cursor
            if len(chunk) >= self.chunk_size or time.monotonic() - flushed >= FLUSH_SECONDS:
                self._flush(chunk)
                chunk, flushed = [], time.monotonic()
                self._wait_for_room(tick)
                tick()
            if self.stop.is_set():
                self._flush(chunk)
                return False
        self._flush(chunk)
        return True

    def _messages(self, after: str | None) -> Iterator[Any]:
        yield from self.source.messages(after)

    def _flush(self, chunk: list[ImportedMessage]) -> None:
        self._count("queued", len(chunk))
        self.store.enqueue_imported(self.import_id, chunk, self.cursor, self.counts)

    def _wait_for_room(self, tick: Callable[[], None]) -> None:
        while not self.stop.is_set():
            self._outcomes = self.store.import_outcomes(self.import_id)
            if self._outcomes.pending < self.window:
                return
            tick()
            self.stop.wait(POLL_SECONDS)

    def _drain(self, tick: Callable[[], None]) -> None:
        while True:
            self._outcomes = self.store.import_outcomes(self.import_id)
            tick()
            if self._outcomes.pending == 0 or self.stop.is_set():
                return
            self.stop.wait(POLL_SECONDS)

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def where(identity: str, cursor: str) -> str:
    """A message's place for a person: an mbox's byte offset, a zip member (and its
    offset), a Maildir folder and key, a file's path; else the source's own cursor."""
    if cursor.isdigit():
        return f"{identity} at byte {cursor}"
    try:
        parts = json.loads(cursor)
    except ValueError:
        return f"{identity}/{cursor}"
    if isinstance(parts, list):
        named = [str(p) for p in parts if p not in (None, "")]
        if len(named) == 2 and named[1].isdigit():  # a zip's mbox member and offset
            return f"{identity}:{named[0]} at byte {named[1]}"
        return f"{identity}:" + "/".join(named) if named else identity
    return f"{identity} ({cursor})"
