"""What each failure means for a message: the error tree (relay/errors.py) as outcomes.

Pure except for the clock and the jitter. The table (the error classes of
docs/design.md §3)::

    TemporaryError (5xx, timeouts, UNABLE_TO_LOCK_ROW, OutcomeUnknown)  -> deferred, backoff
    RateLimited (REQUEST_LIMIT_EXCEEDED)                       -> deferred, and writes pause
    RecordChanged (deleted, converted lead, bad reference)     -> re-match once, then held
    NeedsAttention (API disabled, permissions, missing field)  -> held, with its reason
    anything else (Unprocessable, unexpected bodies)           -> quarantined, with the body
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from relay.config import PipelineConfig
from relay.errors import (
    NeedsAttention,
    RateLimited,
    RecordChanged,
    RelayError,
    TemporaryError,
)
from relay.store.model import Outcome, State


def backoff_seconds(attempts: int, pipeline: PipelineConfig, retry_after: float | None) -> float:
    """Exponential in the attempts so far, capped, with +/-20% jitter (so messages that
    failed together do not come back together), and never before ``retry_after``."""
    exponent = max(attempts - 1, 0)
    base = min(
        pipeline.backoff_initial_seconds * (2 ** min(exponent, 30)), pipeline.backoff_max_seconds
    )
    jittered = base * random.uniform(0.8, 1.2)  # spreading load, not security
    return float(max(jittered, retry_after or 0.0))


def backoff_until(
    attempts: int, pipeline: PipelineConfig, retry_after: float | None = None
) -> datetime:
    seconds = backoff_seconds(attempts, pipeline, retry_after)
    return datetime.now(UTC) + timedelta(seconds=seconds)


def outcome_for_error(
    queue_id: str, attempts: int, error: RelayError, pipeline: PipelineConfig
) -> Outcome:
    """The outcome of a message whose processing failed with ``error`` (RecordChanged
    lands here only after the one re-match: it is then held for a person)."""
    if isinstance(error, RateLimited):
        # The configured pause, not the error's guess: Salesforce sends no Retry-After
        # for REQUEST_LIMIT_EXCEEDED, and the admin knows the org's rolling window.
        until = backoff_until(attempts, pipeline, pipeline.rate_limit_pause_seconds)
        return Outcome(queue_id, State.DEFERRED, f"Salesforce API limit: {error.reason}", until)
    if isinstance(error, TemporaryError):
        until = backoff_until(attempts, pipeline, error.retry_after)
        return Outcome(queue_id, State.DEFERRED, error.reason, until)
    if isinstance(error, RecordChanged):
        reason = (
            f"{error.reason}; it still failed after matching again with fresh records: "
            "check the records this email points at (threads, ref: ids), then "
            "`relay queue release`"
        )
        return Outcome(queue_id, State.HELD, reason)
    if isinstance(error, NeedsAttention):
        return Outcome(queue_id, State.HELD, error.reason)
    return Outcome(queue_id, State.QUARANTINED, error.reason)


def worst(errors: list[RelayError]) -> RelayError | None:
    """The error that decides a message's fate when several of its Tasks failed: a
    transient one first (retrying may fix everything), then a record change (re-match),
    then a person's action, then the rest."""
    for kind in (TemporaryError, RecordChanged, NeedsAttention):
        for error in errors:
            if isinstance(error, kind):
                return error
    return errors[0] if errors else None
