"""Salesforce failures mapped to Relay's error tree (pure: no I/O).

Inputs are what a REST call leaves behind: an HTTP status with its error body, a
per-record error of an sObject Collections result, or the ``requests`` exception of a
call that never got an answer. The output is a ``RelayError`` whose class says what the
caller does (docs/design.md §3) and whose reason says, for a person, what is wrong
and what to do:

=================  ==============================  =====================================
class              Salesforce says                 the caller
=================  ==============================  =====================================
TemporaryError     connection errors, timeouts,    retry with backoff, then defer
                   5xx, SERVER_UNAVAILABLE,
                   UNABLE_TO_LOCK_ROW
OutcomeUnknown     read timeout, reset, 500 on a   reconcile (look the Tasks up) first
                   non-idempotent write
RateLimited        REQUEST_LIMIT_EXCEEDED          pause writes; SMTP keeps accepting
RecordChanged      ENTITY_IS_DELETED,              re-match once
                   INVALID_CROSS_REFERENCE_KEY,
                   CANNOT_UPDATE_CONVERTED_LEAD
NeedsAttention     API_DISABLED_FOR_ORG,           hold with the reason
                   INSUFFICIENT_ACCESS_*, a
                   missing field or picklist value
Unprocessable      anything else                   quarantine with the error body
=================  ==============================  =====================================

Body shapes (REST API Developer Guide, "Status Codes and Error Responses" and "sObject
Collections"): a REST error is ``[{"errorCode", "message", "fields"?}]``; a per-record
error is ``{"statusCode", "message", "fields"}``; the OAuth token endpoint answers
``{"error", "error_description"}``; a proxy in front may answer text or HTML.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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

# How long writes pause after REQUEST_LIMIT_EXCEEDED. The daily limit is a rolling
# 24-hour window (Salesforce Developer Limits and Allocations Quick Reference, "API
# Request Limits and Allocations"), so capacity returns gradually: check again in 15
# minutes. The concurrent long-running request limit frees within seconds.
DAILY_LIMIT_PAUSE_SECONDS = 15 * 60.0
CONCURRENT_LIMIT_PAUSE_SECONDS = 30.0

# Longest error text copied into a reason (a proxy may answer with a whole HTML page).
_MAX_BODY_CHARS = 1000


@dataclass(frozen=True)
class SalesforceFault:
    """One error Salesforce reported: its code, message and the fields it names."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        where = f" (fields: {', '.join(self.fields)})" if self.fields else ""
        return f"{self.code}: {self.message}{where}"


def parse_faults(body: Any) -> tuple[SalesforceFault, ...]:
    """The errors in a REST error body, a per-record error list, or an OAuth error."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return ()
    if isinstance(body, Mapping):
        if "error" in body:  # OAuth 2.0 token endpoint (RFC 6749 §5.2)
            return (SalesforceFault(str(body["error"]), str(body.get("error_description", ""))),)
        body = [body]
    if not isinstance(body, Sequence):
        return ()
    faults = []
    for item in body:
        if not isinstance(item, Mapping):
            continue
        code = item.get("errorCode") or item.get("statusCode")
        if not code:
            continue
        fields = item.get("fields") or ()
        faults.append(
            SalesforceFault(
                str(code),
                str(item.get("message", "")),
                tuple(str(f) for f in fields) if isinstance(fields, Sequence) else (),
            )
        )
    return tuple(faults)


# --- the table: error code -> how to build the error ------------------------------------

_Build = Callable[[SalesforceFault], RelayError]


def _transient(fault: SalesforceFault) -> RelayError:
    return TemporaryError(
        f"Salesforce could not do this right now ({fault.describe()}); Relay retries later"
    )


def _rate_limited(fault: SalesforceFault) -> RelayError:
    # "TotalRequests Limit exceeded." is the daily allocation; "ConcurrentPerOrgLongTxn
    # Limit exceeded." is the concurrent long-running request limit.
    daily = "totalrequests" in fault.message.lower() or "concurrent" not in fault.message.lower()
    pause = DAILY_LIMIT_PAUSE_SECONDS if daily else CONCURRENT_LIMIT_PAUSE_SECONDS
    what = "the org's daily API request limit" if daily else "the concurrent request limit"
    return RateLimited(
        f"Salesforce refused the call: {what} is used up ({fault.describe()}). Relay "
        "pauses writes (RELAY_PIPELINE_RATE_LIMIT_PAUSE_SECONDS) and keeps accepting mail; "
        "to avoid this, lower "
        "the share of the daily API allocation other integrations use, or buy more API "
        "calls (Setup > Company Information shows the allocation)",
        retry_after=pause,
    )


def _record_changed(fault: SalesforceFault) -> RelayError:
    return RecordChanged(
        f"a record the Task points at changed since it was matched ({fault.describe()}); "
        "Relay matches the message again"
    )


def _hold(advice: str) -> _Build:
    def build(fault: SalesforceFault) -> RelayError:
        return NeedsAttention(f"{advice} (Salesforce said {fault.describe()})")

    return build


def _api_disabled(fault: SalesforceFault) -> RelayError:
    # Its own class (a NeedsAttention): the runners fall back to Email to Salesforce.
    return ApiDisabled(f"{_API_DISABLED} (Salesforce said {fault.describe()})")


_API_DISABLED = (
    "This org has no API access: logging through the API requires Salesforce Enterprise, "
    "Unlimited, Performance or Developer Edition, or Professional Edition with the API "
    'add-on, and the integration user needs the "API Enabled" permission. Enable it, or '
    "use Salesforce's own Email-to-Salesforce address instead"
)
_INSUFFICIENT_ACCESS = (
    "The integration user is not allowed to do this. Give its profile or a permission set "
    "Create/Edit on Task and Read on Contact, Lead, Opportunity and Account, and access "
    "to the records it logs to (sharing)"
)
_MISSING_FIELD = (
    "A field Relay writes or reads is missing or not visible to the integration user. "
    "Deploy the fields in deploy/salesforce/ and grant field-level security on them to "
    "the integration user"
)
_MISSING_PICKLIST_VALUE = (
    "A picklist value Relay writes is not allowed on Task. Add the value to the picklist "
    "(Setup > Object Manager > Task), or change the value Relay is configured to use"
)
_MISSING_OBJECT = (
    "An object or resource Relay uses does not exist or is not visible to the integration "
    "user. Check the API version (RELAY_SF_API_VERSION) and the user's object permissions"
)
_DUPLICATE_EXTERNAL_ID = (
    "More than one Task already carries this Relay key, so Salesforce cannot tell which to "
    "update. Mark the Relay key field as Unique and External ID (deploy/salesforce/) and "
    "delete the duplicate Tasks"
)
_STORAGE_FULL = (
    "The org's data storage is full, so no Task can be created. Free or buy storage "
    "(Setup > Storage Usage)"
)
_ORG_RULE = (
    "A validation rule, flow or trigger in the org rejected the Task. Change the rule to "
    "let Relay's Tasks through, or change what Relay writes"
)
_REQUIRED_FIELD = (
    "The org requires a field on Task that Relay does not fill. Give the field a default "
    "value, or make it optional for the integration user's record type"
)
_INACTIVE_OWNER = (
    "The Task's owner (the rep) is inactive in Salesforce. Reactivate the user, or send "
    "their mail from an active user's address"
)

_BY_CODE: dict[str, _Build] = {
    "SERVER_UNAVAILABLE": _transient,
    "UNABLE_TO_LOCK_ROW": _transient,
    "REQUEST_RUNNING_TOO_LONG": _transient,
    "QUERY_TIMEOUT": _transient,
    "INVALID_SESSION_ID": _transient,  # the client re-authenticates before this surfaces
    "REQUEST_LIMIT_EXCEEDED": _rate_limited,
    "ENTITY_IS_DELETED": _record_changed,
    "INVALID_CROSS_REFERENCE_KEY": _record_changed,
    "CANNOT_UPDATE_CONVERTED_LEAD": _record_changed,
    "API_DISABLED_FOR_ORG": _api_disabled,
    "API_CURRENTLY_DISABLED": _api_disabled,
    "INVALID_FIELD": _hold(_MISSING_FIELD),
    "INVALID_FIELD_FOR_INSERT_UPDATE": _hold(_MISSING_FIELD),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": _hold(_MISSING_PICKLIST_VALUE),
    "INVALID_TYPE": _hold(_MISSING_OBJECT),
    "NOT_FOUND": _hold(_MISSING_OBJECT),
    "DUPLICATE_EXTERNAL_ID": _hold(_DUPLICATE_EXTERNAL_ID),
    "STORAGE_LIMIT_EXCEEDED": _hold(_STORAGE_FULL),
    # Held because only an admin can fix these (a guess that holding beats
    # quarantining: the message itself is fine).
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": _hold(_ORG_RULE),
    "CANNOT_EXECUTE_FLOW_TRIGGER": _hold(_ORG_RULE),
    "REQUIRED_FIELD_MISSING": _hold(_REQUIRED_FIELD),
    "INACTIVE_OWNER_OR_USER": _hold(_INACTIVE_OWNER),
}


def classify_fault(fault: SalesforceFault) -> RelayError:
    """The error for one Salesforce error code; unknown codes quarantine."""
    build = _BY_CODE.get(fault.code)
    if build is None and fault.code.startswith("INSUFFICIENT_ACCESS"):
        build = _hold(_INSUFFICIENT_ACCESS)
    if build is None:
        error: RelayError = Unprocessable(
            f"Salesforce refused the Task ({fault.describe()}); the message is quarantined "
            "with this error: fix the cause, then retry it with `relay queue retry`"
        )
    else:
        error = build(fault)
    return _saying(error, fault.describe(), fault.code)


def _saying(error: RelayError, said: str, code: str | None = None) -> RelayError:
    """Keep Salesforce's own words beside the pipeline's reason (``RelayError.said``)."""
    error.said = said
    error.code = code
    return error


def classify_record_errors(errors: Sequence[Mapping[str, Any]]) -> RelayError:
    """The error of one failed record in an sObject Collections result.

    Salesforce may list several errors for one record; the most actionable one decides
    (a person's fix before a retry before a quarantine), and every one is in the reason.
    """
    faults = parse_faults(list(errors))
    if not faults:
        return Unprocessable(f"Salesforce rejected the record without a reason: {errors!r}")
    return _most_actionable([classify_fault(f) for f in faults], faults)


def classify_response(status: int, body: Any) -> RelayError:
    """The error for a failed REST call (``status`` >= 300) and its body."""
    faults = parse_faults(body)
    if faults:
        error = _most_actionable([classify_fault(f) for f in faults], faults)
        if status >= 500 and isinstance(error, Unprocessable):
            # An unknown code on a 5xx is Salesforce's failure, not the message's.
            return _saying(_server_error(status, faults[0].describe()), str(error.said), error.code)
        return error
    text = _clip(body)
    said = f"HTTP {status}: {text}"
    if status >= 500 or status == 429:
        return _saying(_server_error(status, text), said)
    if status == 401:
        return _saying(
            TemporaryError(f"Salesforce answered 401 without an error code: {text}"), said
        )
    if status == 403:
        return _saying(
            NeedsAttention(
                f"Salesforce refused the call (403): {text}. Check that the integration user "
                "has API access and the permissions in deploy/salesforce/"
            ),
            said,
        )
    if status == 404:
        return _saying(NeedsAttention(f"{_MISSING_OBJECT} (HTTP 404: {text})"), said)
    return _saying(Unprocessable(f"Salesforce answered HTTP {status}: {text}"), said)


def _server_error(status: int, text: str) -> RelayError:
    reason = f"Salesforce failed (HTTP {status}: {text}); Relay retries later"
    if status in (500, 502, 504):
        # The request reached Salesforce and may have been applied before it failed.
        return OutcomeUnknown(reason)
    return TemporaryError(reason)


def classify_exception(exc: BaseException) -> RelayError:
    """The error for a call that got no HTTP answer (``requests`` raised)."""
    return _saying(_exception_error(exc), f"{type(exc).__name__}: {_clip(str(exc))}")


def _exception_error(exc: BaseException) -> RelayError:
    name = type(exc).__name__
    if isinstance(exc, requests.exceptions.SSLError) and _certificate_refused(exc):
        return NeedsAttention(
            f"the TLS handshake with Salesforce failed ({exc}); if it uses a private CA, "
            "set RELAY_SF_CA_FILE to that CA's bundle"
        )
    if isinstance(exc, requests.ConnectTimeout) or _never_connected(exc):
        return TemporaryError(f"cannot connect to Salesforce ({name}: {exc}); Relay retries later")
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        # The request may have been sent and processed before the answer was lost.
        return OutcomeUnknown(
            f"Salesforce did not answer in time or dropped the connection ({name}); "
            "Relay checks what was written before writing again"
        )
    return TemporaryError(f"the call to Salesforce failed ({name}: {exc}); Relay retries later")


def _certificate_refused(exc: BaseException) -> bool:
    """True when TLS failed because the server's certificate is not trusted (a setting to
    fix), not because the connection broke (an EOF or reset, which is transient)."""
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "certificate verify failed" in str(exc)


def _never_connected(exc: BaseException) -> bool:
    """True for connection errors raised before any byte of the request was sent.

    requests wraps urllib3's ``MaxRetryError``, whose ``reason`` is a
    ``NewConnectionError`` (refused, unreachable, DNS) when no connection was made.
    """
    current: object = exc
    for _ in range(4):
        if isinstance(current, urllib3.exceptions.NewConnectionError):
            return True
        if isinstance(current, urllib3.exceptions.MaxRetryError):
            current = current.reason
        elif isinstance(current, BaseException) and current.args:
            current = current.args[0]
        else:
            return False
    return False


_PRECEDENCE: tuple[type[RelayError], ...] = (
    NeedsAttention,
    RecordChanged,
    RateLimited,
    TemporaryError,
    Unprocessable,
)


def _most_actionable(errors: Sequence[RelayError], faults: Sequence[SalesforceFault]) -> RelayError:
    best = min(errors, key=lambda e: next(i for i, c in enumerate(_PRECEDENCE) if isinstance(e, c)))
    if len(faults) > 1:
        others = "; ".join(f.describe() for f in faults)
        best.reason = f"{best.reason} [all errors: {others}]"
        best.args = (best.reason,)
        best.said = others
    return best


def _clip(body: Any) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_BODY_CHARS else text[:_MAX_BODY_CHARS] + "…"
