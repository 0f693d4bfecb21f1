"""The store's ledger part: the delivery ledger and unresolved items, mixed into ``SqlStore``.

Owns the tables ``deliveries`` and ``unresolved`` (migration 0002) and implements
``DeliveryRecords`` (parts.py). It also finishes a batch of messages (``finish_many``),
so it writes ``messages`` and ``transitions`` rows too, built by history.py.

The ledger makes Task writes exactly-once from Relay's side (docs/delivery-guarantees.md):

- ``record_intents`` commits a row per Task *before* Salesforce is called (state
  ``intent``); an intent that survives a crash tells the next attempt to reconcile first;
- ``finish_many(..., written=...)`` marks them ``written`` with the Task id, in the same
  transaction that records the messages' outcomes, so one fsync finishes a whole batch;
- ``deliveries_for_keys`` is the dedup check (a second copy of an email has the same keys)
  and ``known_threads`` feeds thread matching (a reply inherits its parent's records).

Every method is one transaction, synchronous and thread-safe (the engine's pool).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Index,
    String,
    Table,
    Text,
    bindparam,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row

from relay.store.errors import LeaseLost, UnknownMessage
from relay.store.history import log_change, store_log, transition_row
from relay.store.lifecycle import check_lease, check_transition
from relay.store.model import (
    INTENT,
    WRITTEN,
    Delivery,
    Outcome,
    Reminder,
    State,
    UnresolvedItem,
)
from relay.store.parts import DeliveryRecords
from relay.store.reminders import insert_reminders
from relay.store.tables import UTCDateTime, messages, metadata, transitions

deliveries = Table(
    "deliveries",
    metadata,
    Column("relay_key", String(80), primary_key=True),
    Column("message_key", Text, nullable=False),
    Column("record_id", String(18)),
    Column("records", JSON, nullable=False),
    Column("queue_id", String(26), nullable=False),
    Column("owner_id", String(18)),
    Column("task_id", String(18)),
    Column("state", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_deliveries_message_key", "message_key"),
    Index("ix_deliveries_state", "state"),
    Index("ix_deliveries_queue_id", "queue_id"),  # 0009: the console's Activity page
)

unresolved = Table(
    "unresolved",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("queue_id", String(26), nullable=False),
    Column("task_id", String(18)),
    Column("relay_key", String(80)),
    Column("owner_id", String(18)),
    Column("message_key", Text, nullable=False),
    Column("subject", Text),
    Column("mail_from", Text),
    Column("reason", Text),
    Column("state", String(16), nullable=False),
    Column("assigned_record", String(18)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    Index("ix_unresolved_state", "state", "created_at"),
    Index("ix_unresolved_message_key", "message_key"),
    Index("ix_unresolved_relay_key", "relay_key", unique=True),
    Index("ix_unresolved_owner", "owner_id", "state", "created_at"),  # 0009: Activity
)


class DeliveryLedger(DeliveryRecords):
    """Mixin for SqlStore: needs ``engine``, ``_write_engine`` and ``_changes_channel``."""

    engine: Engine
    _write_engine: Engine
    _changes_channel: str

    # --- finishing a batch ---------------------------------------------------------------

    def finish_many(
        self,
        outcomes: Sequence[Outcome],
        *,
        written: Mapping[str, str] | None = None,
        unresolved_items: Sequence[UnresolvedItem] = (),
        worker: str | None = None,
        reminders: Sequence[Reminder] = (),
    ) -> None:
        """Record every outcome, mark ``written`` (relay key -> Task id) and add the
        unresolved items and the new reminders (reminders.py ``insert_reminders``), in
        ONE transaction (one fsync per batch, not per message): a reminder exists exactly
        when its email's outcome does.
        A message no longer in ``processing`` (an admin acted, a lease expired and
        another node took it) raises InvalidTransition and nothing is recorded.

        With ``worker`` (the runner's lease owner id), a message still ``processing``
        but under another worker's lease raises LeaseLost (an InvalidTransition) and
        nothing is recorded: the lease expired and the other worker claimed it, so the
        outcome is the new owner's to record. Tasks stay exactly-once either way: they
        are in the ledger (``record_intents``/``mark_written``), which the new owner
        reads before writing."""
        now = datetime.now(UTC)
        changes: list[tuple[str, State, State, str | None]] = []
        with self._write_engine.begin() as connection:
            # One locking SELECT and one executemany UPDATE for the whole batch, not two
            # statements per message: on PostgreSQL each statement is a round trip, and
            # per-message statements made finishing cost more than the work
            # (docs/benchmarks.md, "Fewer PostgreSQL round trips per message").
            locked = _locked_states(connection, [outcome.queue_id for outcome in outcomes])
            states = {queue_id: state for queue_id, (state, _) in locked.items()}
            for outcome in outcomes:
                current = states.get(outcome.queue_id)
                if current is None:
                    raise UnknownMessage(outcome.queue_id)
                operation = "defer" if outcome.state is State.DEFERRED else "finish"
                owner = locked[outcome.queue_id][1]
                try:
                    check_lease(outcome.queue_id, operation, current, owner, worker)
                except LeaseLost:
                    store_log().warning(
                        "lease_lost", queue_id=outcome.queue_id, worker=worker, owner=owner
                    )
                    raise
                check_transition(outcome.queue_id, operation, current)
                # A queue id listed twice meets the state its first outcome set, as it
                # did when each outcome was its own UPDATE.
                states[outcome.queue_id] = outcome.state
                changes.append((outcome.queue_id, current, outcome.state, outcome.reason))
            if changes:
                connection.execute(
                    _FINISH_ONE,
                    [
                        {
                            "b_id": outcome.queue_id,
                            "b_state": outcome.state.value,
                            "b_reason": outcome.reason,
                            "b_not_before": outcome.not_before,
                            "b_now": now,
                        }
                        for outcome in outcomes
                    ],
                )
                connection.execute(
                    transitions.insert(),
                    [transition_row(q, now, old, new, why) for q, old, new, why in changes],
                )
            self._mark_written(connection, written or {}, now)
            self._insert_unresolved(connection, unresolved_items)
            insert_reminders(connection, reminders, self._changes_channel)
        for queue_id, old, new, why in changes:
            log_change(queue_id, old, new, why)

    # --- the ledger ----------------------------------------------------------------------

    def record_intents(self, intents: Sequence[Delivery]) -> None:
        """Commit an ``intent`` row per Task about to be written. Keys already in the
        ledger are left as they are (an earlier attempt's intent, or a written Task)."""
        if not intents:
            return
        now = datetime.now(UTC)
        # A transaction per LEDGER_CHUNK keys: a Bulk API 2.0 write of an import holds
        # thousands (relay/runners/import_lane.py), and one transaction for them all
        # would hold the store's write lock while live mail waits. Each key's intent is
        # a fact of its own, and all of them are committed before the write starts.
        for start in range(0, len(intents), LEDGER_CHUNK):
            with self._write_engine.begin() as connection:
                _insert_new(
                    connection,
                    deliveries,
                    [
                        {
                            "relay_key": d.relay_key,
                            "message_key": d.message_key,
                            "record_id": d.record_id,
                            "records": list(d.records),
                            "queue_id": d.queue_id,
                            "owner_id": d.owner_id,
                            "task_id": None,
                            "state": INTENT,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for d in intents[start : start + LEDGER_CHUNK]
                    ],
                )

    def mark_written(self, written: Mapping[str, str]) -> None:
        """relay key -> Task id: these Tasks exist in Salesforce (a transaction per
        LEDGER_CHUNK keys, as ``record_intents``)."""
        items = list(written.items())
        now = datetime.now(UTC)
        for start in range(0, len(items), LEDGER_CHUNK):
            with self._write_engine.begin() as connection:
                self._mark_written(connection, dict(items[start : start + LEDGER_CHUNK]), now)

    def record_delivery(self, delivery: Delivery) -> None:
        """Insert or replace one written delivery (``relay unresolved assign``)."""
        now = datetime.now(UTC)
        with self._write_engine.begin() as connection:
            connection.execute(
                deliveries.delete().where(deliveries.c.relay_key == delivery.relay_key)
            )
            connection.execute(
                deliveries.insert().values(
                    relay_key=delivery.relay_key,
                    message_key=delivery.message_key,
                    record_id=delivery.record_id,
                    records=list(delivery.records),
                    queue_id=delivery.queue_id,
                    owner_id=delivery.owner_id,
                    task_id=delivery.task_id,
                    state=delivery.state,
                    created_at=now,
                    updated_at=now,
                )
            )

    def deliveries_for_keys(self, relay_keys: Collection[str]) -> dict[str, Delivery]:
        """The ledger rows for these relay keys (absent keys: never attempted)."""
        found: dict[str, Delivery] = {}
        keys = list(dict.fromkeys(relay_keys))
        with self.engine.connect() as connection:
            for start in range(0, len(keys), 500):
                query = select(deliveries).where(
                    deliveries.c.relay_key.in_(keys[start : start + 500])
                )
                for row in connection.execute(query):
                    found[row.relay_key] = delivery_from_row(row)
        return found

    def deliveries_for_messages(self, message_keys: Collection[str]) -> list[Delivery]:
        """Every ledger row of these emails (intents included)."""
        keys = list(dict.fromkeys(message_keys))
        rows: list[Delivery] = []
        with self.engine.connect() as connection:
            for start in range(0, len(keys), 500):
                query = select(deliveries).where(
                    deliveries.c.message_key.in_(keys[start : start + 500])
                )
                rows.extend(delivery_from_row(row) for row in connection.execute(query))
        return rows

    def known_threads(self, message_keys: Collection[str]) -> dict[str, tuple[str, ...]]:
        """message key -> every record id its written Tasks show on (thread matching)."""
        threads: dict[str, dict[str, None]] = {}
        for delivery in self.deliveries_for_messages(message_keys):
            if delivery.state == WRITTEN:
                records = threads.setdefault(delivery.message_key, {})
                records.update(dict.fromkeys(delivery.records))
        return {key: tuple(records) for key, records in threads.items() if records}

    # --- unresolved items ----------------------------------------------------------------

    def list_unresolved(self, states: Collection[str] | None = ("open",)) -> list[UnresolvedItem]:
        query = select(unresolved).order_by(unresolved.c.created_at, unresolved.c.id)
        if states is not None:
            query = query.where(unresolved.c.state.in_(list(states)))
        with self.engine.connect() as connection:
            return [unresolved_from_row(row) for row in connection.execute(query)]

    def get_unresolved(self, item_id: str) -> UnresolvedItem | None:
        query = select(unresolved).where(unresolved.c.id == item_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else unresolved_from_row(row)

    def resolve_unresolved(self, item_id: str, state: str, record_id: str | None = None) -> None:
        """Close an item: ``assigned`` (to ``record_id``) or ``discarded``. KeyError if
        unknown."""
        if state not in ("assigned", "discarded"):
            raise ValueError(f"an unresolved item is closed as assigned or discarded, not {state}")
        with self._write_engine.begin() as connection:
            result = connection.execute(
                update(unresolved)
                .where(unresolved.c.id == item_id)
                .values(state=state, assigned_record=record_id, resolved_at=datetime.now(UTC))
            )
            if result.rowcount == 0:
                raise KeyError(item_id)

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    def _mark_written(connection: Connection, written: Mapping[str, str], now: datetime) -> None:
        if not written:
            return
        # One executemany, not one execute per key (psycopg 3 pipelines executemany).
        connection.execute(
            _MARK_WRITTEN,
            [
                {"b_key": key, "b_task_id": task_id, "b_now": now}
                for key, task_id in written.items()
            ],
        )

    @staticmethod
    def _insert_unresolved(connection: Connection, items: Sequence[UnresolvedItem]) -> None:
        if not items:
            return
        _insert_new(
            connection,
            unresolved,
            [
                {
                    "id": item.id,
                    "queue_id": item.queue_id,
                    "task_id": item.task_id,
                    "relay_key": item.relay_key,
                    "owner_id": item.owner_id,
                    "message_key": item.message_key,
                    "subject": item.subject,
                    "mail_from": item.mail_from,
                    "reason": item.reason,
                    "state": item.state,
                    "assigned_record": item.assigned_record,
                    "created_at": item.created_at,
                    "resolved_at": item.resolved_at,
                }
                for item in items
            ],
        )


def _insert_new(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose ``relay_key`` is not in ``table`` yet; leave the others.

    ``ON CONFLICT DO NOTHING`` (PostgreSQL "INSERT", SQLite "UPSERT") decides in the
    database, atomically: two nodes inserting one key at the same moment both succeed,
    where a check-then-insert made one of them fail on the unique index.
    """
    if not rows:
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(index_elements=[table.c.relay_key])
    connection.execute(statement, rows)


_FINISH_ONE = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        reason=bindparam("b_reason"),
        updated_at=bindparam("b_now"),
        not_before=bindparam("b_not_before"),
        lease_owner=None,
        lease_expires_at=None,
    )
)
_MARK_WRITTEN = (
    update(deliveries)
    .where(deliveries.c.relay_key == bindparam("b_key"))
    .values(state=WRITTEN, task_id=bindparam("b_task_id"), updated_at=bindparam("b_now"))
)
LEDGER_CHUNK = 500
"""Ledger keys per transaction in ``record_intents`` and ``mark_written``."""
LOCK_CHUNK = 500
"""Ids per locking SELECT: well under SQLite's bound-parameter limit."""


def _locked_states(
    connection: Connection, queue_ids: Sequence[str]
) -> dict[str, tuple[State, str | None]]:
    """Lock these messages' rows (FOR UPDATE; in id order, so two finishers cannot
    deadlock) and return their states and lease owners; absent ids are missing."""
    ids = sorted(set(queue_ids))
    found: dict[str, tuple[State, str | None]] = {}
    for start in range(0, len(ids), LOCK_CHUNK):
        query = (
            select(messages.c.id, messages.c.state, messages.c.lease_owner)
            .where(messages.c.id.in_(ids[start : start + LOCK_CHUNK]))
            .order_by(messages.c.id)
            .with_for_update()
        )
        found.update(
            {row.id: (State(row.state), row.lease_owner) for row in connection.execute(query)}
        )
    return found


def delivery_from_row(row: Row[Any]) -> Delivery:
    return Delivery(
        relay_key=row.relay_key,
        message_key=row.message_key,
        record_id=row.record_id,
        records=tuple(row.records or ()),
        queue_id=row.queue_id,
        owner_id=row.owner_id,
        task_id=row.task_id,
        state=row.state,
        created_at=row.created_at,
    )


def unresolved_from_row(row: Row[Any]) -> UnresolvedItem:
    return UnresolvedItem(
        id=row.id,
        queue_id=row.queue_id,
        message_key=row.message_key,
        relay_key=row.relay_key,
        task_id=row.task_id,
        owner_id=row.owner_id,
        subject=row.subject,
        mail_from=row.mail_from,
        reason=row.reason,
        state=row.state,
        created_at=row.created_at,
        assigned_record=row.assigned_record,
        resolved_at=row.resolved_at,
    )
