"""The store's state changes of one message, mixed into ``SqlStore``: a runner's outcome
(``finish``, ``defer``) and a person's action (``retry``, ``hold``, ``release``,
``delete``).

Each is one checked change (``_change``) in one write transaction: the message's row is
locked, the operation checked against the state table and, for a runner naming itself,
against its lease (lifecycle.py, docs/design.md §3); then the row is updated, a
``transitions`` row added (history.py) and, when the message is queued again, the idle
runners of every node are woken (wakeup.py). A person's actions also bump the ``queue``
change version in the same transaction (changes.py), so every process can tell; a
runner's do not (changes.py says why). A whole batch of outcomes is the ledger's
``finish_many`` (ledger.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from relay.store.body_cache import BodyCache
from relay.store.changes import QUEUE, bump
from relay.store.errors import LeaseLost, UnknownMessage, unavailable_on_failure
from relay.store.history import log_change, store_log, transition_row, utc_now
from relay.store.lifecycle import FINISH_STATES, check_lease, check_transition
from relay.store.model import State
from relay.store.tables import NO_LEASE, messages, transitions
from relay.store.wakeup import WorkSignal, notify_nodes


class StateChanges:
    """Mixin for SqlStore: needs ``_write_engine``, ``_channel``, ``_changes_channel``,
    ``_signal``, ``_bodies`` and ``_require_body`` (retention.py: a purged message cannot
    be queued again)."""

    _write_engine: Engine
    _channel: str
    _changes_channel: str
    _signal: WorkSignal
    _bodies: BodyCache
    _require_body: Callable[[Connection, str, str], None]

    # --- a runner's outcome --------------------------------------------------------------

    def finish(
        self,
        queue_id: str,
        state: State,
        reason: str | None = None,
        *,
        worker: str | None = None,
    ) -> None:
        if State(state) not in FINISH_STATES:
            names = ", ".join(sorted(s.value for s in FINISH_STATES))
            raise ValueError(f"finish records an outcome ({names}), not {state}")
        self._change(queue_id, "finish", State(state), reason, worker=worker)

    def defer(
        self, queue_id: str, not_before: datetime, reason: str, *, worker: str | None = None
    ) -> None:
        self._change(
            queue_id, "defer", State.DEFERRED, reason, worker=worker, not_before=not_before
        )

    # --- a person's action ---------------------------------------------------------------

    # retry, hold, release and delete bump the ``queue`` change version (changes.py).

    def retry(self, queue_id: str) -> None:
        self._change(queue_id, "retry", State.QUEUED, "retry requested", topic=QUEUE)

    def hold(self, queue_id: str, reason: str) -> None:
        self._change(queue_id, "hold", State.HELD, reason, topic=QUEUE)

    def release(self, queue_id: str) -> None:
        self._change(queue_id, "release", State.QUEUED, "released", topic=QUEUE)

    @unavailable_on_failure
    def delete(self, queue_id: str) -> None:
        self._bodies.forget([queue_id])
        with self._write_engine.begin() as connection:
            current, _ = self._locked_state(connection, queue_id)
            check_transition(queue_id, "delete", current)
            # message_bodies and transitions go with it (ON DELETE CASCADE).
            connection.execute(delete(messages).where(messages.c.id == queue_id))
            bump(connection, QUEUE, self._changes_channel)
        store_log().info("message_deleted", queue_id=queue_id, **{"from": current.value})

    # --- the one checked change ----------------------------------------------------------

    @unavailable_on_failure
    def _change(
        self,
        queue_id: str,
        operation: str,
        to_state: State,
        reason: str | None,
        *,
        worker: str | None = None,
        topic: str | None = None,
        **values: Any,
    ) -> None:
        """One checked state change: update, transition row, the ``topic``'s change
        version and NOTIFY in one transaction. With ``worker``, the message must still be
        under that worker's lease (LeaseLost otherwise, lifecycle.check_lease)."""
        self._bodies.forget([queue_id])
        now = utc_now()
        with self._write_engine.begin() as connection:
            current, owner = self._locked_state(connection, queue_id)
            try:
                check_lease(queue_id, operation, current, owner, worker)
            except LeaseLost:
                store_log().warning("lease_lost", queue_id=queue_id, worker=worker, owner=owner)
                raise
            check_transition(queue_id, operation, current)
            if to_state is State.QUEUED:
                self._require_body(connection, queue_id, operation)
            fields = {"not_before": None, **NO_LEASE, **values}
            connection.execute(
                update(messages)
                .where(messages.c.id == queue_id)
                .values(state=to_state.value, reason=reason, updated_at=now, **fields)
            )
            connection.execute(
                transitions.insert().values(
                    transition_row(queue_id, now, current, to_state, reason)
                )
            )
            if to_state is State.QUEUED:
                notify_nodes(connection, self._channel)
            if topic is not None:
                bump(connection, topic, self._changes_channel)
        if to_state is State.QUEUED:
            self._signal.notify()
        log_change(queue_id, current, to_state, reason)

    @staticmethod
    def _locked_state(connection: Connection, queue_id: str) -> tuple[State, str | None]:
        """The message's state and lease owner, its row locked until the transaction ends."""
        query = (
            select(messages.c.state, messages.c.lease_owner)
            .where(messages.c.id == queue_id)
            .with_for_update()
        )
        row = connection.execute(query).first()
        if row is None:
            raise UnknownMessage(queue_id)
        return State(row.state), row.lease_owner
