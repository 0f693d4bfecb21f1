"""The store's claim side: the runners take due messages under a lease, keep the lease
alive, take back the leases of dead processes at start-up, and wait for work. Mixed into
``SqlStore``.

The lease rules (docs/design.md §2, §3):

- ``claim`` moves due messages to ``processing`` under the worker's lease: queued ones,
  deferred ones past their not-before time, and ``processing`` ones whose lease expired
  (their worker died mid-work). PostgreSQL locks the due rows with ``SELECT ... FOR
  UPDATE SKIP LOCKED`` so nodes never wait on each other; on SQLite the same statement
  runs inside ``BEGIN IMMEDIATE`` (``with_for_update`` renders nothing there), which
  serialises claimers.
- Lanes (``messages.lane``, docs/design.md §11): live mail first; mail read by `relay
  import` only when no live mail is due, at most ``IMPORT_CLAIM_LIMIT`` a claim. A claim
  names its ``lane``: ``any`` (live, else imported), ``live``, or ``imported``, which
  each worker's two delivery runners use.
- ``renew_leases`` keeps a running batch's leases alive; a lease it does not return is
  lost, and the worker's outcome for that message is refused (``LeaseLost``,
  lifecycle.py).
- ``recover()`` at start-up follows one rule on both backends, since several worker
  processes may share a SQLite file as nodes share PostgreSQL: requeue expired leases and
  those of processes of this host that are gone (leases.py), never a live one.

An outcome recorded under a lease (``finish``, ``defer``) is a state change of its own
(state_changes.py; a batch's, ledger.py). Idle runners sleep in ``wait_for_work``: woken
in this process by a ``WorkSignal`` and across PostgreSQL nodes by LISTEN/NOTIFY
(wakeup.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, and_, or_, select, update
from sqlalchemy.engine import Row

from relay.store.body_cache import BodyCache
from relay.store.errors import unavailable_on_failure
from relay.store.history import log_change, store_log, transition_row, utc_now
from relay.store.leases import owner_gone
from relay.store.model import State, StoredMessage
from relay.store.tables import (
    IMPORTED,
    LIVE,
    NO_LEASE,
    message_bodies,
    message_from_row,
    messages,
    transitions,
)
from relay.store.wakeup import PostgresListener, WorkSignal, notify_nodes

ANY_LANE, LIVE_LANE, IMPORTED_LANE = "any", "live", "imported"
"""What a claim may take (``lane``): live mail first, then imported mail; live mail only;
imported mail only, and only while no live mail is due (the delivery runners,
relay/runners/__init__.py)."""

IMPORT_CLAIM_LIMIT = 100
"""Imported messages per claim at most. The live runner never waits for such a batch
(it claims from its own lane), but a batch's parsing shares the worker's CPU with live
mail: 100 keeps a batch well under a second of work (docs/design.md §11)."""

LEASE_CHUNK = 500
"""Ids per lease-renewal UPDATE: well under SQLite's bound-parameter limit."""


class Claims:
    """Mixin for SqlStore: needs ``_write_engine``, ``_postgres``, ``_channel``,
    ``_signal``, ``_host``, ``_bodies`` and ``_listening`` (the store's one LISTEN
    connection, sql_store.py)."""

    engine: Engine
    _write_engine: Engine
    _postgres: bool
    _channel: str
    _signal: WorkSignal
    _host: str
    _bodies: BodyCache
    _listening: Callable[[], PostgresListener]

    @unavailable_on_failure
    def claim(
        self, limit: int, worker: str, lease_seconds: float, lane: str = ANY_LANE
    ) -> Sequence[StoredMessage]:
        now = utc_now()
        due = and_(
            # The explicit IN lets both planners use ix_messages_state_not_before and skip
            # the (many) finished messages.
            messages.c.state.in_([State.QUEUED, State.DEFERRED, State.PROCESSING]),
            or_(
                messages.c.state == State.QUEUED,
                and_(messages.c.state == State.DEFERRED, messages.c.not_before <= now),
                and_(messages.c.state == State.PROCESSING, messages.c.lease_expires_at < now),
            ),
        )
        imported = _due_in_lane(due, IMPORTED, min(limit, IMPORT_CLAIM_LIMIT))
        with self._write_engine.begin() as connection:
            # Live mail first; imported mail only when no live mail is due, in small
            # batches (docs/design.md §11, "The lane").
            rows: Sequence[Row[Any]] = []
            if lane != IMPORTED_LANE:
                rows = connection.execute(_due_in_lane(due, LIVE, limit)).all()
            if not rows and lane == ANY_LANE:
                rows = connection.execute(imported).all()
            if lane == IMPORTED_LANE:
                live_due = select(messages.c.id).where(due, messages.c.lane == LIVE).limit(1)
                if connection.execute(live_due).first() is None:
                    rows = connection.execute(imported).all()
            if not rows:
                return []
            connection.execute(
                update(messages)
                .where(messages.c.id.in_([row.id for row in rows]))
                .values(
                    state=State.PROCESSING.value,
                    attempts=messages.c.attempts + 1,
                    lease_owner=worker,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    updated_at=now,
                )
            )
            connection.execute(
                transitions.insert(),
                [
                    transition_row(row.id, now, State(row.state), State.PROCESSING, _why(row))
                    for row in rows
                ],
            )
            bodies = self._prefetch_bodies(connection, rows)
        self._bodies.put_all(bodies)
        claimed = []
        for row in rows:
            message = replace(
                message_from_row(row),
                state=State.PROCESSING,
                attempts=row.attempts + 1,
                updated_at=now,
            )
            claimed.append(message)
            store_log().info(
                "message_claimed",
                queue_id=row.id,
                worker=worker,
                attempts=message.attempts,
                **{"from": row.state},
            )
        return claimed

    @unavailable_on_failure
    def renew_leases(
        self, queue_ids: Collection[str], worker: str, lease_seconds: float
    ) -> frozenset[str]:
        """Extend ``worker``'s leases on these messages to ``lease_seconds`` from now and
        return the ids it still holds: those still ``processing`` under its name. An id
        missing from the result is lost (an admin held it, or another worker claimed it
        after the lease expired): stop working on it; ``finish_many`` with ``worker``
        refuses its outcome.

        A lease that expired but that nobody claimed yet is renewed: no one else acted on
        the message, so the worker still holds it. One short write transaction, not one
        per message; call it every third of the lease while a batch runs (docs/design.md
        §2), so one late or failed renewal does not lose the lease.
        """
        ids = sorted(set(queue_ids))
        if not ids:
            return frozenset()
        now = utc_now()
        held: set[str] = set()
        with self._write_engine.begin() as connection:
            for start in range(0, len(ids), LEASE_CHUNK):
                renewed = connection.execute(
                    update(messages)
                    .where(
                        messages.c.id.in_(ids[start : start + LEASE_CHUNK]),
                        messages.c.state == State.PROCESSING.value,
                        messages.c.lease_owner == worker,
                    )
                    .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
                    .returning(messages.c.id)
                )
                held.update(str(queue_id) for queue_id in renewed.scalars())
        lost = [queue_id for queue_id in ids if queue_id not in held]
        if lost:
            store_log().warning("lease_lost", worker=worker, queue_ids=lost)
        return frozenset(held)

    @unavailable_on_failure
    def recover(self) -> int:
        """At start-up, before this process claims anything: requeue the ``processing``
        messages whose owner is gone. Returns how many were requeued.

        The rule, the same on both backends: a lease is taken back if it expired (its
        owner stopped renewing it: anyone may claim it anyway), or if its owner is a
        process of this host that is provably gone (relay/store/leases.py: no such PID,
        a zombie, or a PID reused by a process that started after the claim). A lease
        of a live process, on this host or another, is never taken: several worker
        processes share one SQLite file or one PostgreSQL schema, and a restarted one
        must not steal the batches its siblings are working on. A crashed single daemon
        is still recovered at once at its next start (its PID is dead, or reused by the
        new daemon itself, which started after the claim); a dead node elsewhere is
        taken over when its lease expires (``claim``).
        """
        now = utc_now()
        # Only the rows that can qualify are locked: expired leases and this host's.
        # Live leases of other hosts are not touched, so their owners never wait on this.
        candidates = and_(
            messages.c.state == State.PROCESSING,
            or_(
                messages.c.lease_expires_at < now,
                messages.c.lease_owner.startswith(f"{self._host}:", autoescape=True),
            ),
        )
        query = select(
            messages.c.id,
            messages.c.lease_owner,
            messages.c.lease_expires_at,
            messages.c.updated_at,
        ).where(candidates)
        with self._write_engine.begin() as connection:
            rows = [
                row
                for row in connection.execute(query.with_for_update(skip_locked=True)).all()
                if row.lease_expires_at is None
                or row.lease_expires_at < now
                or owner_gone(row.lease_owner, row.updated_at, self._host)
            ]
            if not rows:
                return 0
            reason = "recovered at start-up: processing was interrupted"
            connection.execute(
                update(messages)
                .where(messages.c.id.in_([row.id for row in rows]))
                .values(state=State.QUEUED.value, reason=reason, updated_at=now, **NO_LEASE)
            )
            connection.execute(
                transitions.insert(),
                [
                    transition_row(row.id, now, State.PROCESSING, State.QUEUED, reason)
                    for row in rows
                ],
            )
            notify_nodes(connection, self._channel)
        self._signal.notify()
        for row in rows:
            log_change(row.id, State.PROCESSING, State.QUEUED, reason, owner=row.lease_owner)
        return len(rows)

    @unavailable_on_failure
    def live_in_flight(self) -> bool:
        """Live mail due (queued, or deferred past its time) or ``processing``, on any
        worker or node: the import lane's gathered write waits between its steps while
        there is (docs/design.md §11, "The lane gives way"). A read on the reading engine
        of one row at most, on ``ix_messages_state_not_before``."""
        now = utc_now()
        query = (
            select(messages.c.id)
            .where(
                messages.c.state.in_([State.QUEUED, State.DEFERRED, State.PROCESSING]),
                messages.c.lane == LIVE,
                or_(
                    messages.c.state != State.DEFERRED,
                    messages.c.not_before <= now,
                ),
            )
            .limit(1)
        )
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def wait_for_work(self, timeout: float) -> None:
        started = time.monotonic()
        if self._postgres:
            # The first wait returns once LISTEN is active, so no NOTIFY after it is lost.
            self._listening().listening.wait(timeout)
        self._signal.wait(timeout - (time.monotonic() - started))

    def notify_work(self) -> None:
        self._signal.notify()

    def _prefetch_bodies(
        self, connection: Connection, rows: Sequence[Row[Any]]
    ) -> dict[str, bytes]:
        """The claimed messages' bodies, oldest first, as many as the cache has room for
        (one SELECT for the batch instead of one ``raw()`` query per message)."""
        room, ids = self._bodies.room(), []
        for row in rows:
            if row.size > room:
                break
            room -= row.size
            ids.append(row.id)
        if not ids:
            return {}
        query = select(message_bodies.c.queue_id, message_bodies.c.raw).where(
            message_bodies.c.queue_id.in_(ids)
        )
        return {queue_id: bytes(raw) for queue_id, raw in connection.execute(query)}


def _due_in_lane(due: ColumnElement[bool], lane: int, limit: int) -> Select[Any]:
    """The oldest due messages of one lane, locked (SKIP LOCKED on PostgreSQL)."""
    query = select(messages).where(due, messages.c.lane == lane)
    return query.order_by(messages.c.id).limit(limit).with_for_update(skip_locked=True)


def _why(row: Row[Any]) -> str | None:
    if row.state == State.PROCESSING:
        return f"lease of {row.lease_owner} expired"
    return None
