"""relay/delivery/outcomes.py: the one table from what happened to a message to its
state and reason. The reasons are the texts the delivery stage wrote before the table
existed, byte for byte: operators, `relay queue show`, the docs and other tests read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.config import PipelineConfig
from relay.delivery.holds import FIXABLE, problem_of
from relay.delivery.outcomes import TABLE, Happening, decided, outcome_for_error
from relay.errors import (
    ApiDisabled,
    NeedsAttention,
    OutcomeUnknown,
    RateLimited,
    RecordChanged,
    RelayError,
    TemporaryError,
    Unprocessable,
)
from relay.reps.guidance import (
    e2s_address_missing,
    sending_disabled,
    unknown_sender,
    untrusted_inbound_copy,
)
from relay.store.model import State

H = Happening
CASES: list[tuple[Happening, dict[str, Any], State, str]] = [
    (H.LOGGING_OFF, {"rep": "alice@example.com"}, State.REJECTED,
     "logging is off for alice@example.com"),
    (H.UNPARSEABLE, {"why": "no header section"}, State.QUARANTINED,
     "cannot be parsed: no header section"),
    (H.MACHINE_MAIL, {"why": "Auto-Submitted: auto-replied"}, State.REJECTED,
     "machine mail (Auto-Submitted: auto-replied): never logged as a rep's email"),
    (H.INBOUND_UNMATCHED, {}, State.REJECTED,
     "a customer's email to the rep that matched no record: not logged"),
    (H.UNMATCHED_DROP, {}, State.REJECTED, "matched no record; unmatched policy is drop"),
    (H.UNMATCHED_HOLD, {}, State.HELD,
     "matched no record; unmatched policy is hold: add the customer to Salesforce and "
     "`relay queue release` it, or `relay queue delete` it"),
    (H.LOGGED, {"records": 2, "tasks": 1, "partly": ""}, State.LOGGED,
     "logged to 2 record(s) in 1 Task(s)"),
    (H.LOGGED, {"records": 3, "tasks": 2,
                "partly": "; 1 of them were already logged by an earlier copy"}, State.LOGGED,
     "logged to 3 record(s) in 2 Task(s); 1 of them were already logged by an earlier copy"),
    (H.ALREADY_LOGGED, {"records": 1, "tasks": 1}, State.LOGGED,
     "already logged: a copy of this email was logged before "
     "(logged to 1 record(s) in 1 Task(s))"),
    (H.UNRESOLVED, {"task_id": "00T000000000001AAA"}, State.UNRESOLVED,
     "matched no record: open Task 00T000000000001AAA on the rep's unresolved items; "
     "review with `relay unresolved list`"),
    (H.FORWARDED, {"target": "emailtosalesforce@x.example"}, State.LOGGED,
     "forwarded to Email-to-Salesforce emailtosalesforce@x.example"),
    (H.ALREADY_FORWARDED, {"target": "emailtosalesforce@x.example"}, State.LOGGED,
     "already forwarded to emailtosalesforce@x.example"),
    (H.INBOUND_TO_E2S_REP, {}, State.REJECTED,
     "a customer's email to the rep: Email to Salesforce logs only the rep's own mail, "
     "and the API is not used for this rep"),
    (H.TEMPORARY_ERROR, {"reason": "HTTP 503"}, State.DEFERRED, "HTTP 503"),
    (H.RATE_LIMITED, {"reason": "REQUEST_LIMIT_EXCEEDED"}, State.DEFERRED,
     "Salesforce API limit: REQUEST_LIMIT_EXCEEDED"),
    (H.RECORD_CHANGED, {"reason": "ENTITY_IS_DELETED"}, State.HELD,
     "ENTITY_IS_DELETED; it still failed after matching again with fresh records: check the "
     "records this email points at (threads, ref: ids), then `relay queue release`"),
    (H.NEEDS_ATTENTION, {"reason": "INSUFFICIENT_ACCESS"}, State.HELD, "INSUFFICIENT_ACCESS"),
    (H.OTHER_ERROR, {"reason": "bad body"}, State.QUARANTINED, "bad body"),
    (H.CRASHED, {"summary": "KeyError: 'x'"}, State.DEFERRED,
     "processing crashed: KeyError: 'x'"),
    (H.CRASHED_TOO_OFTEN, {"attempts": 5, "summary": "KeyError: 'x'"}, State.QUARANTINED,
     "processing crashed 5 times; last: KeyError: 'x'"),
    (H.STORE_UNAVAILABLE, {"reason": "database is locked"}, State.DEFERRED,
     "store unavailable: database is locked"),
]  # fmt: skip

# The held rows in the relay/delivery/holds.py format: the guidance's problem, its line,
# and why the API is not used (if it is not).
HOLDS: list[tuple[Happening, Any, str]] = [
    (H.UNKNOWN_SENDER, unknown_sender("stranger@example.org"), ""),
    (H.UNKNOWN_SENDER, unknown_sender("stranger@example.org"), "Relay has not read its reps"),
    (H.UNTRUSTED_INBOUND_COPY, untrusted_inbound_copy("customer@example.org"), ""),
    (H.FORWARD_BLOCKED, e2s_address_missing("alice"), "the org has no API access"),
    (H.FORWARD_BLOCKED, sending_disabled(), ""),
]


@pytest.mark.parametrize(("happening", "details", "state", "reason"), CASES)
def test_each_happening_has_its_state_and_reason(
    happening: Happening, details: dict[str, Any], state: State, reason: str
) -> None:
    until = datetime(2026, 1, 2, tzinfo=UTC)
    outcome = decided("q1", happening, until=until, **details)
    assert (outcome.queue_id, outcome.state, outcome.reason) == ("q1", state, reason)
    assert outcome.not_before == until


@pytest.mark.parametrize(("happening", "guidance", "because"), HOLDS)
def test_a_held_row_writes_the_hold_format_the_recheck_reads(
    happening: Happening, guidance: Any, because: str
) -> None:
    outcome = decided("q1", happening, guidance=guidance, because=because)
    line = f"{guidance.problem}: {guidance.one_line()}"
    assert outcome.state is State.HELD
    assert outcome.reason == (f"{line} ({because})" if because else line)
    fixable = guidance.problem in FIXABLE
    assert problem_of(outcome.reason) == (guidance.problem if fixable else None)


def test_every_happening_is_in_the_table_and_tested() -> None:
    assert set(TABLE) == set(Happening)
    assert {c[0] for c in CASES} | {h[0] for h in HOLDS} == set(Happening)


def test_the_table_reaches_every_state_a_message_can_end_a_pass_in() -> None:
    """Every state but the two the queue itself sets (queued on enqueue and release,
    processing on claim) is some happening's outcome."""
    reached = {row.state for row in TABLE.values()}
    assert reached == set(State) - {State.QUEUED, State.PROCESSING}


PIPELINE = PipelineConfig(backoff_initial_seconds=10.0, rate_limit_pause_seconds=900.0)


@pytest.mark.parametrize(
    ("error", "state", "reason"),
    [
        (TemporaryError("HTTP 503"), State.DEFERRED, "HTTP 503"),
        (OutcomeUnknown("read timed out"), State.DEFERRED, "read timed out"),
        (RateLimited("REQUEST_LIMIT_EXCEEDED"), State.DEFERRED,
         "Salesforce API limit: REQUEST_LIMIT_EXCEEDED"),
        (RecordChanged("ENTITY_IS_DELETED"), State.HELD,
         "ENTITY_IS_DELETED; it still failed after matching again with fresh records: check "
         "the records this email points at (threads, ref: ids), then `relay queue release`"),
        (NeedsAttention("INSUFFICIENT_ACCESS"), State.HELD, "INSUFFICIENT_ACCESS"),
        (ApiDisabled("API_DISABLED_FOR_ORG"), State.HELD, "API_DISABLED_FOR_ORG"),
        (Unprocessable("bad body"), State.QUARANTINED, "bad body"),
    ],
)  # fmt: skip
def test_each_error_class_maps_through_the_table(
    error: RelayError, state: State, reason: str
) -> None:
    before = datetime.now(UTC)
    outcome = outcome_for_error("q1", 1, error, PIPELINE)
    assert (outcome.state, outcome.reason) == (state, reason)
    if state is State.DEFERRED:
        assert outcome.not_before is not None
        # The first backoff (10 s, +/-20%); a rate limit waits the configured pause.
        least = 900.0 if isinstance(error, RateLimited) else 8.0
        assert outcome.not_before >= before + timedelta(seconds=least)
    else:
        assert outcome.not_before is None
