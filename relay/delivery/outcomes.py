"""What happened to a message, mapped to its state and reason: the ONE outcome table.

Every step of the delivery stage (and the runner's crash path) reports what happened
as a ``Happening``; ``decided`` turns it into the message's ``Outcome`` through
``TABLE``. The states follow docs/design.md §3 (docs/delivery-guarantees.md says why
each one): ``rejected`` when Relay decided not to log and nobody needs to act,
``held`` when a person (or a fix the re-check sees) must act, ``quarantined`` when the
message itself is bad, ``deferred`` when trying again later may work. A reason in
``{braces}`` is filled in by the step; ``HOLD`` is the relay/delivery/holds.py format
``PROBLEM: guidance`` (plus `` (because)``), which the re-check reads back::

    happening               state        reason
    ----------------------  -----------  ---------------------------------------------
    logging_off             rejected     logging is off for {rep}
    unparseable             quarantined  cannot be parsed: {why}
    machine_mail            rejected     machine mail ({why}): never logged as a rep's
                                         email
    untrusted_inbound_copy  held         HOLD (untrusted_inbound_copy)
    inbound_unmatched       rejected     a customer's email to the rep that matched
                                         no record: not logged
    unmatched_drop          rejected     matched no record; unmatched policy is drop
    unmatched_hold          held         matched no record; unmatched policy is hold:
                                         add the customer ... or `relay queue delete` it
    unknown_sender          held         HOLD (unknown_sender)
    logged                  logged       logged to {records} record(s) in {tasks}
                                         Task(s){partly}
    already_logged          logged       already logged: a copy of this email was
                                         logged before (logged to ...)
    unresolved              unresolved   matched no record: open Task {task_id} on
                                         the rep's unresolved items; review with ...
    forwarded               logged       forwarded to Email-to-Salesforce {target}
    already_forwarded       logged       already forwarded to {target}
    forward_blocked         held         HOLD (no E2S address, E2S off, no smarthost)
    inbound_to_e2s_rep      rejected     a customer's email to the rep: Email to
                                         Salesforce logs only the rep's own mail ...
    temporary_error         deferred     {reason}, after a backoff
    rate_limited            deferred     Salesforce API limit: {reason}; writes pause
    record_changed          held         {reason}; it still failed after matching
                                         again with fresh records: ... (after the one
                                         re-match)
    needs_attention         held         {reason}
    other_error             quarantined  {reason} (Unprocessable, unexpected bodies)
    crashed                 deferred     processing crashed: {summary}
    crashed_too_often       quarantined  processing crashed {attempts} times; last:
                                         {summary}
    store_unavailable       deferred     store unavailable: {reason}

The error rows are the error tree of relay/errors.py (``happening_for_error``;
relay/salesforce/classify.py maps Salesforce's answers onto it). Pure except for the
clock and the jitter of the backoff.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from relay.config import PipelineConfig
from relay.delivery.holds import hold_reason
from relay.errors import (
    NeedsAttention,
    RateLimited,
    RecordChanged,
    RelayError,
    TemporaryError,
)
from relay.reps.guidance import Guidance
from relay.store.model import Outcome, Reminder, State, UnresolvedItem


class Happening(enum.Enum):
    """What a step saw happen to a message (the rows of ``TABLE``)."""

    LOGGING_OFF = "logging_off"
    UNPARSEABLE = "unparseable"
    MACHINE_MAIL = "machine_mail"
    UNTRUSTED_INBOUND_COPY = "untrusted_inbound_copy"
    INBOUND_UNMATCHED = "inbound_unmatched"
    UNMATCHED_DROP = "unmatched_drop"
    UNMATCHED_HOLD = "unmatched_hold"
    UNKNOWN_SENDER = "unknown_sender"
    LOGGED = "logged"
    ALREADY_LOGGED = "already_logged"
    UNRESOLVED = "unresolved"
    FORWARDED = "forwarded"
    ALREADY_FORWARDED = "already_forwarded"
    FORWARD_BLOCKED = "forward_blocked"
    INBOUND_TO_E2S_REP = "inbound_to_e2s_rep"
    TEMPORARY_ERROR = "temporary_error"
    RATE_LIMITED = "rate_limited"
    RECORD_CHANGED = "record_changed"
    NEEDS_ATTENTION = "needs_attention"
    OTHER_ERROR = "other_error"
    CRASHED = "crashed"
    CRASHED_TOO_OFTEN = "crashed_too_often"
    STORE_UNAVAILABLE = "store_unavailable"


class Row(NamedTuple):
    state: State
    reason: str
    """A ``str.format`` template of the step's details; ``HOLD``: the hold format."""


HOLD = "{hold}"
"""The reason is ``holds.hold_reason(guidance, because)``: ``PROBLEM: guidance``."""

_LOGGED = "logged to {records} record(s) in {tasks} Task(s)"

TABLE: dict[Happening, Row] = {
    Happening.LOGGING_OFF: Row(State.REJECTED, "logging is off for {rep}"),
    Happening.UNPARSEABLE: Row(State.QUARANTINED, "cannot be parsed: {why}"),
    Happening.MACHINE_MAIL: Row(
        State.REJECTED, "machine mail ({why}): never logged as a rep's email"
    ),
    Happening.UNTRUSTED_INBOUND_COPY: Row(State.HELD, HOLD),
    Happening.INBOUND_UNMATCHED: Row(
        State.REJECTED, "a customer's email to the rep that matched no record: not logged"
    ),
    Happening.UNMATCHED_DROP: Row(State.REJECTED, "matched no record; unmatched policy is drop"),
    Happening.UNMATCHED_HOLD: Row(
        State.HELD,
        "matched no record; unmatched policy is hold: add the customer to Salesforce "
        "and `relay queue release` it, or `relay queue delete` it",
    ),
    Happening.UNKNOWN_SENDER: Row(State.HELD, HOLD),
    Happening.LOGGED: Row(State.LOGGED, _LOGGED + "{partly}"),
    Happening.ALREADY_LOGGED: Row(
        State.LOGGED, "already logged: a copy of this email was logged before (" + _LOGGED + ")"
    ),
    Happening.UNRESOLVED: Row(
        State.UNRESOLVED,
        "matched no record: open Task {task_id} on the rep's unresolved items; "
        "review with `relay unresolved list`",
    ),
    Happening.FORWARDED: Row(State.LOGGED, "forwarded to Email-to-Salesforce {target}"),
    Happening.ALREADY_FORWARDED: Row(State.LOGGED, "already forwarded to {target}"),
    Happening.FORWARD_BLOCKED: Row(State.HELD, HOLD),
    Happening.INBOUND_TO_E2S_REP: Row(
        State.REJECTED,
        "a customer's email to the rep: Email to Salesforce logs only the rep's own "
        "mail, and the API is not used for this rep",
    ),
    Happening.TEMPORARY_ERROR: Row(State.DEFERRED, "{reason}"),
    Happening.RATE_LIMITED: Row(State.DEFERRED, "Salesforce API limit: {reason}"),
    Happening.RECORD_CHANGED: Row(
        State.HELD,
        "{reason}; it still failed after matching again with fresh records: "
        "check the records this email points at (threads, ref: ids), then "
        "`relay queue release`",
    ),
    Happening.NEEDS_ATTENTION: Row(State.HELD, "{reason}"),
    Happening.OTHER_ERROR: Row(State.QUARANTINED, "{reason}"),
    Happening.CRASHED: Row(State.DEFERRED, "processing crashed: {summary}"),
    Happening.CRASHED_TOO_OFTEN: Row(
        State.QUARANTINED, "processing crashed {attempts} times; last: {summary}"
    ),
    Happening.STORE_UNAVAILABLE: Row(State.DEFERRED, "store unavailable: {reason}"),
}


def decided(
    queue_id: str,
    happening: Happening,
    *,
    until: datetime | None = None,
    guidance: Guidance | None = None,
    because: str = "",
    **details: Any,
) -> Outcome:
    """The outcome of ``happening`` by the table: its state, and its reason filled in
    with ``details`` (or, for a HOLD row, the hold reason of ``guidance``)."""
    row = TABLE[happening]
    if row.reason == HOLD:
        assert guidance is not None, f"{happening.value} needs the guidance of its hold"
        reason = hold_reason(guidance, because)
    else:
        reason = row.reason.format(**details)
    return Outcome(queue_id, row.state, reason, until)


def happening_for_error(error: RelayError) -> Happening:
    """The row of an error class (the order matters: RateLimited is a TemporaryError)."""
    if isinstance(error, RateLimited):
        return Happening.RATE_LIMITED
    if isinstance(error, TemporaryError):
        return Happening.TEMPORARY_ERROR
    if isinstance(error, RecordChanged):
        return Happening.RECORD_CHANGED
    if isinstance(error, NeedsAttention):
        return Happening.NEEDS_ATTENTION
    return Happening.OTHER_ERROR


def outcome_for_error(
    queue_id: str, attempts: int, error: RelayError, pipeline: PipelineConfig
) -> Outcome:
    """The outcome of a message whose processing failed with ``error`` (RecordChanged
    lands here only after the one re-match: it is then held for a person)."""
    happening = happening_for_error(error)
    until = None
    if happening is Happening.RATE_LIMITED:
        # The configured pause, not the error's guess: Salesforce sends no Retry-After
        # for REQUEST_LIMIT_EXCEEDED, and the admin knows the org's rolling window.
        until = backoff_until(attempts, pipeline, pipeline.rate_limit_pause_seconds)
    elif happening is Happening.TEMPORARY_ERROR:
        assert isinstance(error, TemporaryError)
        until = backoff_until(attempts, pipeline, error.retry_after)
    return decided(queue_id, happening, until=until, reason=error.reason)


def worst(errors: list[RelayError]) -> RelayError | None:
    """The error that decides a message's fate when several of its Tasks failed: a
    transient one first (retrying may fix everything), then a record change (re-match),
    then a person's action, then the rest."""
    for kind in (TemporaryError, RecordChanged, NeedsAttention):
        for error in errors:
            if isinstance(error, kind):
                return error
    return errors[0] if errors else None


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


@dataclass
class BatchResult:
    """What a stage did with a batch: one outcome per message (in any order)."""

    outcomes: list[Outcome] = field(default_factory=list)
    unresolved_items: list[UnresolvedItem] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)
    """Reminders the emails asked for (relay/delivery/reminders.py): a side effect,
    stored with the outcomes, never a state of their own."""
    pause_seconds: float = 0.0
    """Stop claiming this long (RateLimited, API budget): mail waits in the queue."""
