"""The store's import part: each `relay import`'s state, and the messages it queues in
the import lane. Mixed into ``SqlStore``; like retention and erasure it is not part of
``Store``: only `relay import` and the console read it, on a SqlStore.

- An import is named by its source's identity and the rep (``ux_imports_source_rep``):
  running the same command again finds the row and goes on after its ``cursor``.
- ``enqueue_imported`` stores a chunk of messages (lane ``IMPORTED``, tables.py) AND the
  cursor after them in ONE transaction: a killed import neither loses a message nor
  queues one twice when it resumes (docs/design.md §11).
- What became of the queued messages is read from the queue itself
  (``import_outcomes``): nothing is counted twice, and the counts stay true when the
  workers of another process deliver them.
- A ``running`` row is only as true as its process: the `relay import` running it
  refreshes ``heartbeat_at`` every ``HEARTBEAT_SECONDS`` (``beat_import``), and
  ``shown_state`` reports a running import whose process is gone as ``stopped`` (a
  SIGKILL, a reboot or a lost host leaves no end recorded; docs/design.md §11).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Index,
    String,
    Table,
    Text,
    case,
    func,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from ulid import ULID

from relay.envelope import Envelope
from relay.store.errors import unavailable_on_failure
from relay.store.group_commit import PendingWrite
from relay.store.history import store_log, utc_now
from relay.store.leases import owner_gone, this_host
from relay.store.model import State
from relay.store.tables import IMPORTED, UTCDateTime, messages, metadata
from relay.store.wakeup import WorkSignal

RUNNING, STOPPED, DONE, FAILED = "running", "stopped", "done", "failed"

HEARTBEAT_SECONDS = 5.0
"""How often a running `relay import` refreshes its row's ``heartbeat_at``."""
STALE_AFTER = timedelta(seconds=30)
"""A running import whose heartbeat is older than this has lost its process: six
heartbeats missed, so a store that is slow for a moment (a long SQLite write lock, a
PostgreSQL failover) does not make a live import look stopped. Hosts sharing a store
keep their clocks in step (NTP) for this, as for leases (relay/store/leases.py)."""
GONE = "the import process is gone (killed?); run the same command again to resume"

imports = Table(
    "imports",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("source", Text, nullable=False),
    Column("rep", String(320), nullable=False),
    Column("filters", JSON, nullable=False),
    Column("cursor", Text),
    Column("counts", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("error", Text),
    Column("owner", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("heartbeat_at", UTCDateTime()),  # revision 0011
    Index("ux_imports_source_rep", "source", "rep", unique=True),
)


@dataclass(frozen=True)
class ImportRecord:
    id: str
    source: str
    rep: str
    filters: Mapping[str, Any]
    cursor: str | None
    counts: Mapping[str, int]
    """What happened before the queue: ``read``, ``filtered``, ``skipped``, ``queued``."""
    state: str
    error: str | None
    owner: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    heartbeat_at: datetime | None = None
    """When its `relay import` last said it was alive (None: before revision 0011)."""


def shown_state(
    record: ImportRecord, now: datetime | None = None, host: str | None = None
) -> tuple[str, str | None]:
    """The import's state as it truly is, and why when that differs from the row: a
    ``running`` import whose process is proved dead on this host (relay/store/leases.py)
    or whose heartbeat is older than ``STALE_AFTER`` (any host) is ``stopped``. Every
    reader (`relay import list`, the console) shows this, not the raw column."""
    if record.state != RUNNING:
        return record.state, None
    beat = record.heartbeat_at or record.updated_at
    now = now or utc_now()
    if now - beat > STALE_AFTER or owner_gone(record.owner, beat, host or this_host()):
        return STOPPED, GONE
    return RUNNING, None


@dataclass(frozen=True)
class ImportedMessage:
    raw: bytes
    envelope: Envelope


@dataclass
class ImportOutcomes:
    """What the queue did with an import's messages so far."""

    logged: int = 0
    duplicate: int = 0
    """Logged before: live, or by an earlier import (the ledger's exactly-once keys)."""
    unresolved: int = 0
    skipped: int = 0
    """Rejected: nothing to log (machine mail, unmatched under --only-matched, ...)."""
    failed: int = 0
    """Held or quarantined: a person must look (``relay queue list``)."""
    pending: int = 0
    """Not delivered yet: queued, processing or deferred."""
    by_reason: dict[str, int] = field(default_factory=dict)


class ImportStore:
    """Mixin for SqlStore: needs ``_write_engine``, ``_signal``, and intake.py's
    ``_pending_write`` and ``_write_batch``."""

    _write_engine: Engine

    _signal: WorkSignal

    if TYPE_CHECKING:  # intake.py's, which SqlStore puts before this mixin

        def _pending_write(
            self,
            raw: bytes,
            envelope: Envelope,
            received_at: datetime,
            log_fields: Mapping[str, Any] | None = None,
        ) -> PendingWrite: ...

        def _write_batch(self, connection: Connection, batch: Sequence[PendingWrite]) -> None: ...

    @unavailable_on_failure
    def start_import(
        self, source: str, rep: str, filters: Mapping[str, Any], owner: str
    ) -> ImportRecord:
        """The import of ``source`` for ``rep``: the earlier one (to resume; its state
        set back to running, its filters to these) or a new one."""
        now = utc_now()
        rep = rep.lower()
        for _ in range(2):  # a concurrent start may insert between our read and insert
            with self._write_engine.begin() as connection:
                found = connection.execute(
                    select(imports.c.id).where(imports.c.source == source, imports.c.rep == rep)
                ).scalar()
                values = {
                    "state": RUNNING,
                    "owner": owner,
                    "error": None,
                    "updated_at": now,
                    "heartbeat_at": now,
                }
                if found is not None:
                    connection.execute(
                        update(imports)
                        .where(imports.c.id == found)
                        .values(filters=dict(filters), finished_at=None, **values)
                    )
                    return _record(_one(connection, found))
                try:
                    new_id = str(ULID())
                    connection.execute(
                        imports.insert().values(
                            id=new_id,
                            source=source,
                            rep=rep,
                            filters=dict(filters),
                            cursor=None,
                            counts={},
                            created_at=now,
                            **values,
                        )
                    )
                    return _record(_one(connection, new_id))
                except IntegrityError:
                    continue
        raise RuntimeError("the import row could not be created")  # pragma: no cover

    @unavailable_on_failure
    def enqueue_imported(
        self,
        import_id: str,
        items: Sequence[ImportedMessage],
        cursor: str | None,
        counts: Mapping[str, int],
    ) -> list[str]:
        """Queue ``items`` in the import lane and record ``cursor`` and ``counts`` (the
        import's running totals) in the same transaction. Returns the queue ids."""
        now = utc_now()
        batch = []
        for item in items:
            pending = self._pending_write(item.raw, item.envelope, now, {"import_id": import_id})
            row = pending.rows[messages.name][0]
            row["lane"], row["import_id"] = IMPORTED, import_id
            batch.append(pending)
        with self._write_engine.begin() as connection:
            if batch:
                self._write_batch(connection, batch)
            connection.execute(
                update(imports)
                .where(imports.c.id == import_id)
                .values(cursor=cursor, counts=dict(counts), updated_at=now, heartbeat_at=now)
            )
        queue_ids = [pending.queue_id for pending in batch]
        if batch:
            # One event per chunk, not one ``message_queued`` per message: an import of a
            # mailbox would otherwise flood the log (each message's own events follow
            # when a worker claims it).
            self._signal.notify()
            store_log().info(
                "import_queued", import_id=import_id, messages=len(batch), cursor=cursor
            )
        return queue_ids

    @unavailable_on_failure
    def beat_import(self, import_id: str, owner: str) -> bool:
        """The running import's heartbeat (``shown_state``). False when the row is no
        longer this owner's running import (ended, or taken over after it went stale)."""
        with self._write_engine.begin() as connection:
            done = connection.execute(
                update(imports)
                .where(
                    imports.c.id == import_id,
                    imports.c.owner == owner,
                    imports.c.state == RUNNING,
                )
                .values(heartbeat_at=utc_now())
            )
        return bool(done.rowcount)

    @unavailable_on_failure
    def end_import(
        self,
        import_id: str,
        state: str,
        counts: Mapping[str, int] | None = None,
        error: str | None = None,
    ) -> None:
        """Record that the import stopped (``stopped``, ``done`` or ``failed``)."""
        now = utc_now()
        values: dict[str, Any] = {"state": state, "error": error, "updated_at": now}
        if counts is not None:
            values["counts"] = dict(counts)
        if state == DONE:
            values["finished_at"] = now
        with self._write_engine.begin() as connection:
            connection.execute(update(imports).where(imports.c.id == import_id).values(**values))

    @unavailable_on_failure
    def get_import(self, import_id: str) -> ImportRecord | None:
        with self._write_engine.connect() as connection:
            row = connection.execute(select(imports).where(imports.c.id == import_id)).first()
        return None if row is None else _record(row)

    @unavailable_on_failure
    def list_imports(self, reps: Collection[str] | None = None) -> list[ImportRecord]:
        """The imports, oldest first; only those of ``reps`` (addresses) when given."""
        query = select(imports).order_by(imports.c.id)
        if reps is not None:
            query = query.where(imports.c.rep.in_(sorted({r.lower() for r in reps})))
        with self._write_engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_record(row) for row in rows]

    def import_summaries(self, reps: Collection[str] | None = None) -> list[dict[str, Any]]:
        """``import_summary`` of each import (only those of ``reps`` when given), oldest
        first: what `relay import list` prints and the console's imports page shows."""
        now, host = utc_now(), this_host()
        return [
            import_summary(record, self.import_outcomes(record.id), now, host)
            for record in self.list_imports(reps)
        ]

    def summarize_import(self, import_id: str) -> dict[str, Any] | None:
        """``import_summary`` of one import, or None when there is no such import."""
        record = self.get_import(import_id)
        if record is None:
            return None
        return import_summary(record, self.import_outcomes(import_id))

    @unavailable_on_failure
    def import_pending(self, import_ids: Collection[str]) -> int:
        """How many messages of these imports are not delivered yet (queued, deferred or
        processing): the import lane gathers a write for Bulk API 2.0 only from as many
        as its bulk threshold (relay/runners/import_lane.py). One count on
        ``ix_messages_import``."""
        if not import_ids:
            return 0
        query = select(func.count()).where(
            messages.c.import_id.in_(sorted(set(import_ids))),
            messages.c.state.in_([State.QUEUED, State.DEFERRED, State.PROCESSING]),
        )
        with self._write_engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)

    @unavailable_on_failure
    def import_outcomes(self, import_id: str) -> ImportOutcomes:
        """The states of the import's messages in the queue, counted by outcome."""
        duplicate = messages.c.reason.startswith("already logged")
        query = (
            select(
                messages.c.state,
                case((duplicate, 1), else_=0).label("duplicate"),
                func.count().label("n"),
            )
            .where(messages.c.import_id == import_id)
            .group_by(messages.c.state, "duplicate")
        )
        with self._write_engine.connect() as connection:
            rows = connection.execute(query).all()
        outcomes = ImportOutcomes()
        for state, is_duplicate, n in rows:
            outcomes.by_reason[f"{state}{'(duplicate)' if is_duplicate else ''}"] = n
            if state == State.LOGGED.value:
                if is_duplicate:
                    outcomes.duplicate += n
                else:
                    outcomes.logged += n
            elif state == State.UNRESOLVED.value:
                outcomes.unresolved += n
            elif state == State.REJECTED.value:
                outcomes.skipped += n
            elif state in (State.HELD.value, State.QUARANTINED.value):
                outcomes.failed += n
            else:
                outcomes.pending += n
        return outcomes


def import_summary(
    record: ImportRecord,
    outcomes: ImportOutcomes,
    now: datetime | None = None,
    host: str | None = None,
) -> dict[str, Any]:
    """One import as `relay import list --json` prints it (the console shows the same):
    the counts before the queue from the row, the outcomes from the queue, and the
    state as ``shown_state`` judges it, with ``note`` saying why when that differs
    from the row (``error`` is the reason a failed import recorded)."""
    counts = record.counts
    state, note = shown_state(record, now, host)
    return {
        "id": record.id,
        "source": record.source,
        "user": record.rep,
        "state": state,
        "error": record.error,
        "note": note,
        "filters": dict(record.filters),
        "read": counts.get("read", 0),
        "queued": counts.get("queued", 0),
        "filtered": counts.get("filtered", 0),
        "logged": outcomes.logged,
        "duplicate": outcomes.duplicate,
        "unresolved": outcomes.unresolved,
        "skipped": counts.get("skipped", 0) + outcomes.skipped,
        "failed": outcomes.failed,
        "pending": outcomes.pending,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
    }


def _one(connection: Connection, import_id: str) -> Row[Any]:
    return connection.execute(select(imports).where(imports.c.id == import_id)).one()


def _record(row: Row[Any]) -> ImportRecord:
    return ImportRecord(
        id=row.id,
        source=row.source,
        rep=row.rep,
        filters=dict(row.filters or {}),
        cursor=row.cursor,
        counts={str(k): int(v) for k, v in dict(row.counts or {}).items()},
        state=row.state,
        error=row.error,
        owner=row.owner,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
    )
