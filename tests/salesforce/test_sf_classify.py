"""Table tests: Salesforce failures in, Relay error classes and readable reasons out."""

from __future__ import annotations

import pytest
import requests
import urllib3

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
from relay.salesforce.classify import (
    DAILY_LIMIT_PAUSE_SECONDS,
    classify_exception,
    classify_record_errors,
    classify_response,
    parse_faults,
)

# (HTTP status, errorCode, expected class, a phrase the reason must contain)
REST_ERRORS = [
    (503, "SERVER_UNAVAILABLE", TemporaryError, "retries"),
    (400, "UNABLE_TO_LOCK_ROW", TemporaryError, "retries"),
    (400, "QUERY_TIMEOUT", TemporaryError, "retries"),
    (403, "REQUEST_LIMIT_EXCEEDED", RateLimited, "daily API request limit"),
    (400, "ENTITY_IS_DELETED", RecordChanged, "matches the message again"),
    (400, "INVALID_CROSS_REFERENCE_KEY", RecordChanged, "matches the message again"),
    (400, "CANNOT_UPDATE_CONVERTED_LEAD", RecordChanged, "matches the message again"),
    (403, "API_DISABLED_FOR_ORG", ApiDisabled, "Professional Edition with the API"),
    (403, "INSUFFICIENT_ACCESS_OR_READONLY", NeedsAttention, "permission set"),
    (400, "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY", NeedsAttention, "permission set"),
    (400, "INVALID_FIELD", NeedsAttention, "deploy/salesforce/"),
    (400, "INVALID_FIELD_FOR_INSERT_UPDATE", NeedsAttention, "field-level security"),
    (400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", NeedsAttention, "picklist"),
    (404, "INVALID_TYPE", NeedsAttention, "object permissions"),
    (404, "NOT_FOUND", NeedsAttention, "object permissions"),
    (400, "DUPLICATE_EXTERNAL_ID", NeedsAttention, "Unique and External ID"),
    (400, "STORAGE_LIMIT_EXCEEDED", NeedsAttention, "Storage Usage"),
    (400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", NeedsAttention, "validation rule"),
    (400, "REQUIRED_FIELD_MISSING", NeedsAttention, "default value"),
    (400, "INACTIVE_OWNER_OR_USER", NeedsAttention, "Reactivate"),
    (400, "STRING_TOO_LONG", Unprocessable, "quarantined"),
    (400, "MALFORMED_QUERY", Unprocessable, "quarantined"),
    (400, "SOMETHING_NEW_FROM_SALESFORCE", Unprocessable, "SOMETHING_NEW_FROM_SALESFORCE"),
]


@pytest.mark.parametrize(("status", "code", "expected", "phrase"), REST_ERRORS)
def test_rest_error_codes(status: int, code: str, expected: type, phrase: str) -> None:
    """Each REST errorCode maps to the class that says what to do, with advice."""
    body = [{"errorCode": code, "message": "as Salesforce put it", "fields": ["Subject"]}]
    error = classify_response(status, body)
    assert type(error) is expected
    assert phrase in error.reason
    assert code in error.reason  # the person sees what Salesforce said
    assert "as Salesforce put it" in error.reason


@pytest.mark.parametrize(("status", "code", "expected", "phrase"), REST_ERRORS)
def test_record_error_codes(status: int, code: str, expected: type, phrase: str) -> None:
    """Per-record collection errors (statusCode) classify like REST errors."""
    del status
    error = classify_record_errors([{"statusCode": code, "message": "m", "fields": []}])
    assert type(error) is expected
    assert phrase in error.reason


def test_daily_limit_pauses_longer_than_concurrent_limit() -> None:
    """The daily limit pauses for the configured window; the concurrent one briefly."""
    daily = classify_response(
        403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
    )
    concurrent = classify_response(
        403,
        [
            {
                "errorCode": "REQUEST_LIMIT_EXCEEDED",
                "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
            }
        ],
    )
    assert isinstance(daily, RateLimited)
    assert isinstance(concurrent, RateLimited)
    assert daily.retry_after == DAILY_LIMIT_PAUSE_SECONDS
    assert concurrent.retry_after is not None
    assert concurrent.retry_after < DAILY_LIMIT_PAUSE_SECONDS


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (503, "<html>Service Unavailable</html>", TemporaryError),
        (502, "Bad Gateway", OutcomeUnknown),
        (500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "unexpected"}], OutcomeUnknown),
        (504, "", OutcomeUnknown),
        (429, "slow down", TemporaryError),
        (401, "", TemporaryError),
        (403, "Forbidden", NeedsAttention),
        (404, "nothing here", NeedsAttention),
        (400, "not json", Unprocessable),
    ],
)
def test_statuses_without_known_codes(status: int, body: object, expected: type) -> None:
    """Without a known code the HTTP status decides; a 5xx is never quarantined."""
    error = classify_response(status, body)
    assert type(error) is expected


def test_unknown_5xx_code_is_not_the_message_fault() -> None:
    """An unknown error code on a 500 is Salesforce's failure: retry, do not quarantine."""
    error = classify_response(500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "x"}])
    assert isinstance(error, TemporaryError)


def test_most_actionable_error_wins_and_all_are_reported() -> None:
    """Of several errors on one record, a person's fix outranks retry and quarantine."""
    error = classify_record_errors(
        [
            {"statusCode": "STRING_TOO_LONG", "message": "too long", "fields": ["Subject"]},
            {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked", "fields": []},
            {"statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE", "message": "fls", "fields": []},
        ]
    )
    assert isinstance(error, NeedsAttention)
    assert "STRING_TOO_LONG" in error.reason
    assert "UNABLE_TO_LOCK_ROW" in error.reason
    assert str(error) == error.reason


def test_huge_html_body_is_clipped() -> None:
    """A proxy's whole HTML page does not end up in a reason."""
    error = classify_response(400, "<p>" + "x" * 50_000 + "</p>")
    assert len(error.reason) < 1200


def test_parse_faults_shapes() -> None:
    """REST, per-record, OAuth and JSON-text bodies all parse; junk parses to nothing."""
    assert parse_faults([{"errorCode": "A", "message": "m", "fields": ["F"]}])[0].fields == ("F",)
    assert parse_faults({"statusCode": "B", "message": "m"})[0].code == "B"
    assert parse_faults({"error": "invalid_grant", "error_description": "d"})[0].code == (
        "invalid_grant"
    )
    assert parse_faults('[{"errorCode": "C", "message": "m"}]')[0].code == "C"
    assert parse_faults("<html/>") == ()
    assert parse_faults(None) == ()


def _refused() -> requests.ConnectionError:
    pool_error = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", pool_error))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (requests.ConnectTimeout("connect timed out"), TemporaryError),
        (_refused(), TemporaryError),
        (requests.ReadTimeout("read timed out"), OutcomeUnknown),
        (
            requests.ConnectionError(
                urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())
            ),
            OutcomeUnknown,
        ),
        (requests.exceptions.SSLError("certificate verify failed"), NeedsAttention),
        (requests.exceptions.SSLError("EOF occurred in violation of protocol"), OutcomeUnknown),
        (requests.exceptions.ChunkedEncodingError("broken"), TemporaryError),
    ],
)
def test_exceptions(exc: BaseException, expected: type[RelayError]) -> None:
    """No answer: never connected is a plain retry, a lost answer an unknown outcome."""
    error = classify_exception(exc)
    assert type(error) is expected
