"""The REST data resources under ``/services/data/vXX.X/``, as one dispatcher.

``dispatch(state, call)`` maps a method and a path (relative to the version root) to the
resource and returns a ``RestResult``; errors are raised as ``SalesforceApiError``. The
HTTP layer (``server.py``) and the Composite resource (``composite.py``, which runs its
subrequests through the same dispatcher) both call it, so a subrequest behaves exactly
like the call it stands for.

Resource shapes follow the REST API Developer Guide: "Versions", "Resources by Version",
"sObject Basic Information", "sObject Describe", "sObject Rows", "sObject Rows by
External ID", "Query", "QueryAll", "Limits", "sObject Get Updated", "sObject Get
Deleted"; Bulk API 2.0 ingest jobs (``jobs/ingest``) are in bulk_ingest.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relay.localorg.cursors import batch_size_from_header
from relay.localorg.errors import SalesforceApiError, data_error, not_found
from relay.localorg.faults import LOCK_ROW
from relay.localorg.state import API_VERSIONS, OrgState
from relay.localorg.values import parse_datetime

# REST API Developer Guide, "Valid Date and DateTime Formats": yyyy-MM-ddTHH:mm:ss, an
# optional fraction, then Z or +hh:mm / -hh:mm (a zone is required).
_REPLICATION_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$"
)

# "Versions" resource labels: the release that introduced each API version.
RELEASE_LABELS = {
    "52.0": "Summer '21",
    "53.0": "Winter '22",
    "54.0": "Spring '22",
    "55.0": "Summer '22",
    "56.0": "Winter '23",
    "57.0": "Spring '23",
    "58.0": "Summer '23",
    "59.0": "Winter '24",
    "60.0": "Spring '24",
    "61.0": "Summer '24",
    "62.0": "Winter '25",
    "63.0": "Spring '25",
    "64.0": "Summer '25",
    "65.0": "Winter '26",
    "66.0": "Spring '26",
}


@dataclass(frozen=True)
class RestCall:
    method: str
    version: str
    path: str  # relative to /services/data/vXX.X/, no leading or trailing slash
    query: Mapping[str, str]
    body: bytes
    headers: Mapping[str, str]
    user_id: str


@dataclass
class RestResult:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def versions_body() -> list[dict[str, str]]:
    return [
        {"label": RELEASE_LABELS[v], "url": f"/services/data/v{v}", "version": v}
        for v in API_VERSIONS
    ]


def parse_json(body: bytes) -> Any:
    """The request body as JSON, or Salesforce's 400 JSON_PARSER_ERROR."""
    try:
        return json.loads(body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line, column = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
        # Salesforce's message comes from its JSON parser (Jackson); this keeps its
        # shape "... at [line:L, column:C]" (the wording before it is a guess).
        raise data_error(
            "JSON_PARSER_ERROR",
            f"Unexpected character in request body at [line:{line}, column:{column}]",
        ) from None


def method_not_allowed(method: str, allowed: str) -> SalesforceApiError:
    return SalesforceApiError(
        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}"
    )


def write_lock_fault(state: OrgState, record_id: str | None) -> None:
    """The UNABLE_TO_LOCK_ROW fault for one write, if drawn (see faults.py)."""
    if state.faults.draw_lock_failure():
        raise data_error(
            LOCK_ROW,
            f"unable to obtain exclusive access to this record or 1 records: {record_id or ''}",
        )


def dispatch(state: OrgState, call: RestCall) -> RestResult:
    parts = call.path.split("/") if call.path else []
    if not parts:
        return _only(call, "GET", lambda: RestResult(200, _resources(call.version)))
    head = parts[0]
    if head == "sobjects":
        return _sobjects(state, call, parts[1:])
    if head in ("query", "queryAll"):
        return _query(state, call, head, parts[1:])
    if head == "limits" and len(parts) == 1:
        return _only(call, "GET", lambda: RestResult(200, limits_body(state)))
    if head == "composite":
        from relay.localorg.composite import composite_dispatch

        return composite_dispatch(state, call, parts[1:])
    if head == "jobs" and len(parts) >= 2 and parts[1] == "ingest":
        from relay.localorg.bulk_ingest import ingest_dispatch

        return ingest_dispatch(state, call, parts[2:])
    raise not_found()


def _only(call: RestCall, method: str, handler: Callable[[], RestResult]) -> RestResult:
    if call.method != method:
        raise method_not_allowed(call.method, method)
    return handler()


def _resources(version: str) -> dict[str, str]:
    base = f"/services/data/v{version}"
    return {
        "sobjects": f"{base}/sobjects",
        "query": f"{base}/query",
        "queryAll": f"{base}/queryAll",
        "limits": f"{base}/limits",
        "composite": f"{base}/composite",
        "jobs": f"{base}/jobs",
    }


def _sobjects(state: OrgState, call: RestCall, parts: list[str]) -> RestResult:
    data = state.data
    if not parts:
        return _only(call, "GET", lambda: RestResult(200, data.describe_global(call.version)))
    sobject = _canonical_object(state, parts[0])
    if len(parts) == 1:
        if call.method == "GET":
            return RestResult(200, _basic_info(state, sobject, call.version))
        if call.method == "POST":
            fields = _record_body(call)
            write_lock_fault(state, None)
            record_id = data.create(sobject, fields, user_id=call.user_id)
            return RestResult(201, {"id": record_id, "success": True, "errors": []})
        raise method_not_allowed(call.method, "GET,HEAD,POST")
    if len(parts) == 2:
        action = parts[1]
        if action == "describe":
            return _only(call, "GET", lambda: RestResult(200, data.describe(sobject, call.version)))
        if action in ("updated", "deleted"):
            start, end = _replication_date(call, "start"), _replication_date(call, "end")
            lister = data.updated if action == "updated" else data.deleted
            return _only(call, "GET", lambda: RestResult(200, lister(sobject, start, end)))
        return _row(state, call, sobject, action)
    if len(parts) == 3:
        if call.method == "GET" and (sobject, parts[2]) == ("ContentVersion", "VersionData"):
            # REST API Developer Guide, "Get Blob Data": the file's bytes, not JSON.
            blob = data.version_data(parts[1])
            return RestResult(200, blob, {"Content-Type": "application/octetstream"})
        if (sobject, parts[2]) == ("User", "password"):
            return _user_password(state, call, parts[1])
        return _row_by_external_id(state, call, sobject, parts[1], parts[2])
    raise not_found()


def _user_password(state: OrgState, call: RestCall, user_id: str) -> RestResult:
    """REST API Developer Guide, "sObject User Password": GET answers ``isExpired``; POST
    ``{"NewPassword": ...}`` sets it (204). The local org never expires passwords."""
    row = state.data.row("User", user_id)
    if row is None or row.get("IsDeleted"):
        raise not_found()
    if call.method == "GET":
        return RestResult(200, {"isExpired": False})
    if call.method != "POST":
        raise method_not_allowed(call.method, "GET,POST")
    body = _record_body(call)
    password = body.get("NewPassword")
    if not isinstance(password, str) or len(password) < 8:
        # Salesforce's default password policy: at least 8 characters (Setup > Password
        # Policies); the error code is a guess.
        raise data_error(
            "INVALID_NEW_PASSWORD", "Your password must be at least 8 characters long."
        )
    state.user_passwords.set(str(row["Id"]), password)
    return RestResult(204, None)


def _replication_date(call: RestCall, name: str) -> datetime:
    """``start``/``end`` of Get Updated/Deleted: a dateTime "formatted as described in
    Valid Date and DateTime Formats", e.g. ``2013-05-05T00:00:00+00:00`` (REST API
    Developer Guide, "sObject Get Updated"): date, time and a zone (``Z`` or an
    offset). The query string's ``+`` arrives as a space when the client did not
    encode it. A missing or bad value's error code is a guess: the docs name the format,
    not the error."""
    text = call.query.get(name)
    if not text:
        raise SalesforceApiError(400, "MISSING_ARGUMENT", f"Missing parameter: {name}")
    text = text.strip().replace(" ", "+")
    if not _REPLICATION_DATE.match(text):
        raise data_error("INVALID_REPLICATION_DATE", f"Invalid {name} date: {text}")
    when = parse_datetime(text)
    if when is None:
        raise data_error("INVALID_REPLICATION_DATE", f"Invalid {name} date: {text}")
    return when


def _canonical_object(state: OrgState, name: str) -> str:
    canonical = state.data.object_name(name)
    if canonical is None:
        raise not_found()
    return canonical


def _basic_info(state: OrgState, sobject: str, version: str) -> dict[str, Any]:
    describe = state.data.describe(sobject, version)
    skip = {"fields", "childRelationships", "recordTypeInfos", "supportedScopes", "actionOverrides"}
    return {
        "objectDescribe": {k: v for k, v in describe.items() if k not in skip},
        "recentItems": [],
    }


def _record_body(call: RestCall) -> dict[str, Any]:
    body = parse_json(call.body)
    if not isinstance(body, dict):
        raise data_error(
            "JSON_PARSER_ERROR", "Cannot deserialize instance of SObject from a non-object value"
        )
    body.pop("attributes", None)
    return body


def _row(state: OrgState, call: RestCall, sobject: str, record_id: str) -> RestResult:
    data = state.data
    if call.method == "GET":
        fields = call.query.get("fields")
        names = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
        return RestResult(200, data.get(sobject, record_id, names, api_version=call.version))
    if call.method == "PATCH":
        values = _record_body(call)
        write_lock_fault(state, record_id)
        data.update(sobject, record_id, values, user_id=call.user_id)
        return RestResult(204, None)
    if call.method == "DELETE":
        write_lock_fault(state, record_id)
        data.delete(sobject, record_id, user_id=call.user_id)
        return RestResult(204, None)
    raise method_not_allowed(call.method, "GET,HEAD,PATCH,DELETE")


def _row_by_external_id(
    state: OrgState, call: RestCall, sobject: str, field_name: str, value: str
) -> RestResult:
    """Upsert by external id. Since API 46.0 an update answers 200 with ``created: false``
    and an insert 201 with ``created: true`` (REST API Developer Guide, "Insert or Update
    (Upsert) a Record Using an External ID")."""
    if call.method not in ("PATCH", "POST"):
        raise method_not_allowed(call.method, "PATCH,POST")
    values = _record_body(call)
    write_lock_fault(state, None)
    record_id, created = state.data.upsert(sobject, field_name, value, values, user_id=call.user_id)
    body = {"id": record_id, "success": True, "errors": [], "created": created}
    return RestResult(201 if created else 200, body)


def _query(state: OrgState, call: RestCall, endpoint: str, parts: list[str]) -> RestResult:
    if call.method != "GET":
        raise method_not_allowed(call.method, "GET,HEAD")
    if parts:
        page = state.cursors.next_page(parts[0], call.version)
        if page is None:
            raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return RestResult(200, page)
    soql = call.query.get("q")
    if soql is None:
        raise SalesforceApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    return RestResult(200, run_query(state, soql, endpoint, call.version, call.headers))


def run_query(
    state: OrgState, soql: str, endpoint: str, version: str, headers: Mapping[str, str]
) -> dict[str, Any]:
    """Run SOQL and return the first page (shared with Composite's query subrequests)."""
    result = state.data.query(soql, include_deleted=endpoint == "queryAll", api_version=version)
    batch_size = batch_size_from_header(headers.get("Sforce-Query-Options"))
    return state.cursors.first_page(
        result.records, result.total_size, batch_size, version, endpoint
    )


def limits_body(state: OrgState) -> dict[str, Any]:
    """The Limits resource: DailyApiRequests from the org's real count; the others are
    the defaults the docs' example shows (REST API Developer Guide, "List Org Limits")."""
    used, maximum = state.data.api_usage()
    return {
        "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        "ConcurrentSyncReportRuns": {"Max": 20, "Remaining": 20},
        "DailyApiRequests": {"Max": maximum, "Remaining": max(0, maximum - used)},
        "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
        "DailyBulkApiRequests": {"Max": 5000, "Remaining": 5000},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        "DataStorageMB": {"Max": 1073, "Remaining": 1073},
        "FileStorageMB": {"Max": 1073, "Remaining": 1073},
        "SingleEmail": {"Max": 5000, "Remaining": 5000},
    }
