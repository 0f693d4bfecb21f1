"""A message's history: the transition rows and the one log event per state change.

Every state change is recorded twice, in the same words (docs/design.md §3): a row in
``transitions`` (``relay queue show`` reads it) and a ``message_state_changed`` event
(what an operator greps for). Every writer of states builds both from here: the queue
(``intake.py``, ``claims.py``, ``state_changes.py``), the ledger's batch finish
(``ledger.py``) and retention's purge (``retention.py``). It lives below them all so
none of them imports another for it.

Owns no table of its own; it builds rows for ``transitions`` (``tables.py``). The time
of a change is ``utc_now()``: this process's clock, so nodes sharing PostgreSQL need NTP.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from structlog.stdlib import BoundLogger

from relay.logs import get_logger
from relay.store.model import State


def utc_now() -> datetime:
    """The time a change is recorded at (and a lease measured from): this process's clock."""
    return datetime.now(UTC)


def store_log() -> BoundLogger:
    # Fetched per event, not once per module: a logger cached under one structlog
    # configuration ignores later ones (structlog.testing.capture_logs in tests).
    return get_logger("relay.store")


def transition_row(
    queue_id: str, at: datetime, from_state: State | None, to_state: State, reason: str | None
) -> dict[str, Any]:
    """The ``transitions`` row of one change (``from_state`` None: the message arrived)."""
    return {
        "queue_id": queue_id,
        "at": at,
        "from_state": None if from_state is None else from_state.value,
        "to_state": to_state.value,
        "reason": reason,
    }


def log_change(
    queue_id: str, from_state: State, to_state: State, reason: str | None, **extra: Any
) -> None:
    """Log one committed change; call it after the transaction, never inside it."""
    store_log().info(
        "message_state_changed",
        queue_id=queue_id,
        to=to_state.value,
        reason=reason,
        **{"from": from_state.value},
        **extra,
    )
