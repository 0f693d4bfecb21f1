"""Which operation may move a message from which state: the queue's state machine as a table.

Pure data and one check (no I/O), in the manner of h11's state tables. docs/design.md §3::

    operation  from                                to
    ---------  ----------------------------------  -----------------------------------
    enqueue    (none)                              queued
    claim      queued, deferred (due),             processing
               processing (lease expired)
    finish     processing                          logged|unresolved|held|quarantined|rejected
    defer      processing                          deferred
    recover    processing                          queued
    retry      any state but processing            queued
    hold       queued, deferred, processing        held
    release    held                                queued
    delete     any state but processing            (gone)

``retry`` and ``release`` also need the raw bytes: a message whose bytes were purged
(retention, relay/store/retention.py) cannot be queued again.

``processing`` is excluded from the admin operations because a runner owns the message
under a lease; it becomes eligible again when the lease expires (``claim``/``recover``).

``finish`` and ``defer`` by a runner that names itself also need the lease: a worker
whose lease expired and whose message another worker then claimed must not record an
outcome over the new owner's work (``check_lease``, docs/design.md §2).
"""

from __future__ import annotations

from relay.store.errors import InvalidTransition, LeaseLost
from relay.store.model import State

ALL_STATES = frozenset(State)
NOT_PROCESSING = ALL_STATES - {State.PROCESSING}

ALLOWED_FROM: dict[str, frozenset[State]] = {
    "claim": frozenset({State.QUEUED, State.DEFERRED, State.PROCESSING}),
    "finish": frozenset({State.PROCESSING}),
    "defer": frozenset({State.PROCESSING}),
    "recover": frozenset({State.PROCESSING}),
    "retry": NOT_PROCESSING,
    "hold": frozenset({State.QUEUED, State.DEFERRED, State.PROCESSING}),
    "release": frozenset({State.HELD}),
    "delete": NOT_PROCESSING,
}

FINISH_STATES = frozenset(
    {State.LOGGED, State.UNRESOLVED, State.HELD, State.QUARANTINED, State.REJECTED}
)
"""The outcomes a runner may record with ``finish``."""

NOT_FINAL = frozenset({State.QUEUED, State.PROCESSING, State.DEFERRED, State.HELD})
"""What `relay queue list` shows by default: everything still waiting for something."""


def check_transition(queue_id: str, operation: str, current: State) -> None:
    """Raise InvalidTransition unless ``operation`` applies to a message in ``current``."""
    allowed = ALLOWED_FROM[operation]
    if current not in allowed:
        names = ", ".join(sorted(state.value for state in allowed))
        raise InvalidTransition(queue_id, operation, current.value, names)


def check_lease(
    queue_id: str, operation: str, current: State, owner: str | None, worker: str | None
) -> None:
    """Raise LeaseLost if ``worker`` (None: not checked, an admin acting) records an
    outcome for a message that is ``processing`` under another worker's lease. A message
    no longer processing at all is ``check_transition``'s to refuse."""
    if worker is not None and current is State.PROCESSING and owner != worker:
        raise LeaseLost(queue_id, operation, worker, owner)
