"""The Task sync's own texts for a failed cycle (relay/tasksync/wording.py): transient ->
"will retry", a rate limit -> "paused until", a configuration problem -> the fix; never
the email pipeline's wording (a quarantined message, `relay queue retry`, mail still
accepted, the message matched again). Pure examples from Salesforce's error bodies, then
the stored text against the local org's real faults, as `relay doctor` shows it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from relay.doctor import check_task_sync
from relay.errors import NeedsAttention, RelayError
from relay.salesforce.classify import classify_exception, classify_response
from relay.tasksync.engine import TaskSyncEngine
from relay.tasksync.wording import describe, error_kind, fix_for
from tests.tasksync.harness import Harness

ALICE = "alice@acme-widgets.example"
PIPELINE_WORDS = ("quarantine", "relay queue", "accepting mail", "the message", "their mail")


def _body(code: str, message: str, fields: list[str] | None = None) -> list[dict[str, object]]:
    return [{"errorCode": code, "message": message, "fields": fields or []}]


def _plain(text: str) -> None:
    for words in PIPELINE_WORDS:
        assert words not in text.lower(), (words, text)


@pytest.mark.parametrize(
    ("error", "kind", "says"),
    [
        (classify_response(503, _body("SERVER_UNAVAILABLE", "down for maintenance")),
         "transient", "SERVER_UNAVAILABLE: down for maintenance"),
        (classify_response(500, "<html>Bad gateway</html>"), "transient", "HTTP 500"),
        (classify_exception(requests.ConnectTimeout("connect timed out")), "transient",
         "ConnectTimeout: connect timed out"),
        (classify_response(400, _body("UNABLE_TO_LOCK_ROW", "row locked")), "transient",
         "UNABLE_TO_LOCK_ROW"),
    ],
)  # fmt: skip
def test_a_transient_error_will_retry(error: RelayError, kind: str, says: str) -> None:
    assert error_kind(error) == kind
    text = describe(error)
    assert says in text
    assert "will retry at its next cycle" in text
    _plain(text)


def test_a_rate_limit_says_until_when_the_sync_is_paused() -> None:
    error = classify_response(403, _body("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
    assert error_kind(error) == "rate_limited"
    assert "accepting mail" in error.reason  # the pipeline's words, not the sync's
    text = describe(error, datetime(2026, 12, 6, 10, 15, tzinfo=UTC))
    assert "paused until 2026-12-06 10:15:00 UTC" in text
    assert "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded." in text
    _plain(text)


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        (classify_response(400, _body("INVALID_FIELD", "No such column 'Relay_Key__c'")),
         "deploy the Relay key field on Task"),
        (classify_response(403, _body("INSUFFICIENT_ACCESS_OR_READONLY", "no access")),
         "give the integration user Read, Create, Edit and Delete on Task"),
        (classify_response(400, _body("INACTIVE_OWNER_OR_USER", "owner is inactive")),
         "reactivate them, or turn their sync off"),
        (classify_response(400, _body("DUPLICATE_EXTERNAL_ID", "two Tasks")),
         "Unique and External ID"),
        # A code Relay has no rule for: the pipeline would quarantine "the message".
        (classify_response(400, _body("MALFORMED_QUERY", "unexpected token")),
         "an admin should read Salesforce's message"),
        (classify_response(403, "Forbidden by a proxy"),
         "Check that the integration user has API access"),
        (classify_response(418, "I'm a teapot"), "an admin should read"),
        (NeedsAttention("set the Task external-id field (RELAY_PIPELINE_EXTERNAL_ID_FIELD)"),
         "set the Task external-id field"),
    ],
)  # fmt: skip
def test_a_configuration_problem_names_the_fix(error: RelayError, fix: str) -> None:
    assert error_kind(error) == "needs_attention"
    text = describe(error)
    assert text.startswith("The sync needs a fix: ")
    assert fix in text
    assert text.endswith("It tries again every cycle.")
    if fix_for(error) is None:
        assert error.reason.rstrip(". ") in text  # Relay's own reason is the fix already
    else:
        assert f"(Salesforce said {error.said})" in text
    _plain(text)


def test_the_stored_texts_of_real_faults(harness: Harness) -> None:
    """Against the local org: a 503 is stored as "will retry", a spent limit as "paused
    until" its time, a field the org lacks as the fix; `relay doctor` shows each."""
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.org.set_faults({"503": 1.0})
    harness.cycle()
    harness.org.set_faults({})
    state = harness.store.task_sync_state()
    assert state.error is not None
    assert "SERVER_UNAVAILABLE" in state.error
    assert "will retry at its next cycle" in state.error
    _plain(state.error)
    assert state.error in check_task_sync(1, state).detail

    harness.org.set_faults({"REQUEST_LIMIT_EXCEEDED": 1.0})
    harness.cycle()
    harness.org.set_faults({})
    state = harness.store.task_sync_state()
    assert state.paused_until is not None
    assert state.error is not None
    until = state.paused_until.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"paused until {until}" in state.error
    _plain(state.error)

    harness.store.record_task_sync_state(
        type(state)(cursor_modstamp=state.cursor_modstamp)  # the pause waited out
    )
    engine = TaskSyncEngine(
        harness.store, harness.client, harness.config.sync, key_field="Missing_Key__c"
    )
    assert engine.cycle().error is not None
    state = harness.store.task_sync_state()
    assert state.error_kind == "needs_attention"
    assert state.error is not None
    assert "deploy the Relay key field on Task" in state.error
    assert "INVALID_FIELD" in state.error
    _plain(state.error)
    check = check_task_sync(1, state)
    assert (check.status, check.detail.endswith(state.error)) == ("fail", True)
