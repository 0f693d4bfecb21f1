"""The client against the local org's injected faults: retried, then the right error."""

from __future__ import annotations

import time
from typing import Any

import pytest
from structlog.testing import capture_logs

from relay.errors import NeedsAttention, OutcomeUnknown, RateLimited, TemporaryError
from relay.salesforce.client import SalesforceClient
from tests.salesforce.sfclient_helpers import FAST_RETRY, admin, client_for, password_config

SOQL = "SELECT Id FROM User"


def _retries(logs: list[dict[str, Any]]) -> int:
    return [e["event"] for e in logs].count("salesforce_call_retry")


def test_503_is_retried_then_deferred_and_recovers(org: Any, client: SalesforceClient) -> None:
    """SERVER_UNAVAILABLE on every call: bounded retries, then TemporaryError with a
    not-before time; once the fault clears, calls succeed again."""
    client.query(SOQL)  # log in before the fault
    admin(org, "PUT", "/_localorg/faults", {"503": 1.0})
    with capture_logs() as logs, pytest.raises(TemporaryError) as caught:
        client.query(SOQL)
    assert type(caught.value) is TemporaryError
    assert caught.value.retry_after == FAST_RETRY.defer_seconds
    assert "SERVER_UNAVAILABLE" in caught.value.reason
    assert _retries(logs) == FAST_RETRY.attempts - 1
    admin(org, "PUT", "/_localorg/faults", {})
    assert client.query(SOQL)["totalSize"] >= 1


def test_unable_to_lock_row_is_retried(org: Any, client: SalesforceClient) -> None:
    """UNABLE_TO_LOCK_ROW on a single write is retried, then deferred."""
    task_id = client.create("Task", {"Subject": "fault target"})
    admin(org, "PUT", "/_localorg/faults", {"UNABLE_TO_LOCK_ROW": 1.0})
    with capture_logs() as logs, pytest.raises(TemporaryError, match="UNABLE_TO_LOCK_ROW"):
        client.update("Task", task_id, {"Subject": "locked"})
    assert _retries(logs) == FAST_RETRY.attempts - 1


def test_timeout_on_a_read_is_retried_then_deferred(org: Any) -> None:
    """A server that never answers trips the read timeout; reads retry, then defer."""
    with client_for(password_config(org, read_timeout_seconds=0.3)) as client:
        client.query(SOQL)
        admin(org, "PUT", "/_localorg/faults", {"timeout": 1.0})
        started = time.monotonic()
        with capture_logs() as logs, pytest.raises(TemporaryError) as caught:
            client.query(SOQL)
        elapsed = time.monotonic() - started
    assert type(caught.value) is TemporaryError
    assert _retries(logs) == FAST_RETRY.attempts - 1
    assert elapsed >= FAST_RETRY.attempts * 0.3  # the read timeout ended every attempt


def test_timeout_on_a_create_is_an_unknown_outcome(org: Any) -> None:
    """A create whose answer never came is not retried blindly: OutcomeUnknown at once."""
    with client_for(password_config(org, read_timeout_seconds=0.3)) as client:
        client.query(SOQL)
        admin(org, "PUT", "/_localorg/faults", {"timeout": 1.0})
        with capture_logs() as logs, pytest.raises(OutcomeUnknown):
            client.create_collection("Task", [{"Subject": "maybe written"}])
    assert _retries(logs) == 0


def test_connection_reset_is_retried_for_reads(org: Any, client: SalesforceClient) -> None:
    """A reset connection on a read is retried, then deferred."""
    client.query(SOQL)
    admin(org, "PUT", "/_localorg/faults", {"reset": 1.0})
    with capture_logs() as logs, pytest.raises(TemporaryError):
        client.query(SOQL)
    assert _retries(logs) == FAST_RETRY.attempts - 1


def test_connection_reset_on_create_is_an_unknown_outcome(
    org: Any, client: SalesforceClient
) -> None:
    """A reset during a create may have lost the answer to a commit: OutcomeUnknown."""
    client.query(SOQL)
    admin(org, "PUT", "/_localorg/faults", {"reset": 1.0})
    with pytest.raises(OutcomeUnknown):
        client.create("Task", {"Subject": "maybe written"})


def test_revoked_sessions_are_renewed_then_deferred(org: Any, client: SalesforceClient) -> None:
    """INVALID_SESSION_ID on every call: each attempt logs in again once and replays;
    a session rejected right after login is a temporary failure, not a hold."""
    client.query(SOQL)
    admin(org, "PUT", "/_localorg/faults", {"INVALID_SESSION_ID": 1.0})
    with capture_logs() as logs, pytest.raises(TemporaryError) as caught:
        client.query(SOQL)
    assert type(caught.value) is TemporaryError
    assert "just issued" in caught.value.reason
    events = [e["event"] for e in logs]
    assert events.count("salesforce_session_expired") == FAST_RETRY.attempts
    admin(org, "PUT", "/_localorg/faults", {})
    assert client.query(SOQL)["totalSize"] >= 1


def test_rate_limit_pauses_without_retrying(org: Any, client: SalesforceClient) -> None:
    """REQUEST_LIMIT_EXCEEDED is not hammered: RateLimited with a pause, no retries."""
    client.query(SOQL)
    admin(org, "PUT", "/_localorg/faults", {"REQUEST_LIMIT_EXCEEDED": 1.0})
    with capture_logs() as logs, pytest.raises(RateLimited) as caught:
        client.query(SOQL)
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 0
    assert _retries(logs) == 0


def test_api_disabled_is_held_with_the_editions(org: Any, client: SalesforceClient) -> None:
    """An org without API access holds with what to buy or enable."""
    admin(org, "PUT", "/_localorg/settings", {"api_enabled": False})
    with pytest.raises(NeedsAttention) as caught:
        client.query(SOQL)
    assert "API_DISABLED_FOR_ORG" in caught.value.reason
    assert "Enterprise" in caught.value.reason


def test_budget_reads_the_real_header(org: Any, client: SalesforceClient) -> None:
    """Every response's Sforce-Limit-Info updates the budget."""
    client.query(SOQL)
    first = client.budget.latest.org
    client.query(SOQL)
    second = client.budget.latest.org
    assert first is not None
    assert second is not None
    assert second.limit == 100_000
    assert second.used > first.used


def test_budget_pauses_near_a_small_allocation(org: Any, client: SalesforceClient) -> None:
    """With the org's allocation nearly spent the budget says pause, and an exhausted
    allocation raises RateLimited."""
    client.query(SOQL)
    used = client.budget.latest.org.used  # type: ignore[union-attr]
    admin(org, "PUT", "/_localorg/settings", {"daily_api_limit": used + 2})
    client.query(SOQL)
    assert client.budget.should_pause()
    client.query(SOQL)  # the last call the allocation allows
    with pytest.raises(RateLimited):
        client.query(SOQL)


def test_composite_returns_each_subresponse(org: Any, client: SalesforceClient) -> None:
    """A composite call answers one parsed subresponse per subrequest."""
    del org
    version = client.api_version
    responses = client.composite(
        [
            {"method": "GET", "url": f"/services/data/v{version}/limits", "referenceId": "limits"},
            {
                "method": "GET",
                "url": f"/services/data/v{version}/query?q=SELECT+Id+FROM+User",
                "referenceId": "users",
            },
        ]
    )
    assert [r["referenceId"] for r in responses] == ["limits", "users"]
    assert all(r["httpStatusCode"] == 200 for r in responses)
