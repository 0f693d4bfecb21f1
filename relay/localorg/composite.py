"""``composite/sobjects`` (sObject Collections) and ``composite`` (Composite).

sObject Collections (REST API Developer Guide, "sObject Collections"): up to 200 records
per call, 200 OK even when rows fail, one SaveResult per record in request order
(``{"id", "success", "errors": [{"statusCode", "message", "fields"}]}``). With
``allOrNone`` any failure rolls back every row, and the innocent rows report
``ALL_OR_NONE_OPERATION_ROLLED_BACK``. More than 200 records: 400 ``EXCEEDED_ID_LIMIT``
"record limit reached. cannot submit more than 200 records into this call" (the message
clients report, e.g. sorenkrabbe/Chrome-Salesforce-inspector#134).

Composite (REST API Developer Guide, "Composite", "Composite Subrequest Result"): up to
25 subrequests, at most 5 of them queries; ``@{ref.field}`` / ``@{ref.records[0].Id}``
references to earlier results; ``allOrNone``; the response is ``{"compositeResponse":
[{"body", "httpHeaders", "httpStatusCode", "referenceId"}]}``. The whole request is one
API call: subrequests run through ``rest.dispatch`` directly, not through the HTTP
middleware that counts calls.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from multidict import CIMultiDict

from relay.localorg.data import MultipleChoices
from relay.localorg.errors import SalesforceApiError, data_error, not_found
from relay.localorg.ids import normalize_id, object_for_id
from relay.localorg.rest import (
    RestCall,
    RestResult,
    dispatch,
    method_not_allowed,
    parse_json,
    write_lock_fault,
)
from relay.localorg.state import OrgState

MAX_COLLECTION_RECORDS = 200
MAX_SUBREQUESTS = 25
MAX_QUERY_SUBREQUESTS = 5

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}
# Composite, allOrNone: what the other subrequests report when one fails (REST API
# Developer Guide, "Composite": "all other subrequests return the 400 HTTP status code").
PROCESSING_HALTED = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same "
        "transaction failed.",
    }
]
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_URL_PREFIX = re.compile(r"^/services/data/v(\d+\.\d)/(.*)$")


class _RollBack(Exception):
    """Raised inside a transaction to undo it (allOrNone with a failure)."""


def composite_dispatch(state: OrgState, call: RestCall, parts: list[str]) -> RestResult:
    if not parts:
        if call.method != "POST":
            raise method_not_allowed(call.method, "POST")
        return _composite(state, call)
    if parts[0] == "sobjects":
        return _collections(state, call, parts[1:])
    raise not_found()


# --- sObject Collections ---------------------------------------------------------------


def _collections(state: OrgState, call: RestCall, parts: list[str]) -> RestResult:
    if len(parts) == 2 and call.method == "PATCH":
        return _upsert_collection(state, call, parts[0], parts[1])
    if parts:
        if len(parts) == 1 and call.method in ("GET", "POST"):
            return _retrieve(state, call, parts[0])
        raise not_found()
    if call.method == "DELETE":
        ids = [i for i in call.query.get("ids", "").split(",") if i]
        all_or_none = call.query.get("allOrNone", "false").lower() == "true"
        _check_count(len(ids))
        rows = [{"Id": i} for i in ids]
        return RestResult(200, _run_rows(state, call, "DELETE", rows, all_or_none))
    if call.method not in ("POST", "PATCH"):
        raise method_not_allowed(call.method, "POST,PATCH,DELETE")
    body = parse_json(call.body)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise data_error("JSON_PARSER_ERROR", "The request body must have a records array")
    records: list[Any] = body["records"]
    _check_count(len(records))
    all_or_none = bool(body.get("allOrNone", False))
    return RestResult(200, _run_rows(state, call, call.method, records, all_or_none))


def _upsert_collection(
    state: OrgState, call: RestCall, sobject_name: str, ext_field: str
) -> RestResult:
    """Upsert by external id (REST API Developer Guide, "Upsert Records Using sObject
    Collections", API 46.0+): each record carries its key in the body; one UpsertResult
    ``{id, success, errors, created}`` per record, in request order. Several records
    matching one key fail that row with DUPLICATE_EXTERNAL_ID (a guess at the code the
    collection reports where the single-record upsert answers 300)."""
    sobject = state.data.object_name(sobject_name)
    if sobject is None:
        raise not_found()
    body = parse_json(call.body)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise data_error("JSON_PARSER_ERROR", "The request body must have a records array")
    records: list[Any] = body["records"]
    _check_count(len(records))

    def one(record: Any) -> dict[str, Any]:
        try:
            if not isinstance(record, dict):
                raise data_error("JSON_PARSER_ERROR", "Each record must be a JSON object")
            fields = {k: v for k, v in record.items() if k != "attributes"}
            value = next((v for k, v in fields.items() if k.lower() == ext_field.lower()), None)
            if value in (None, ""):
                raise data_error(
                    "MISSING_ARGUMENT", f"{ext_field} not specified", [ext_field]
                )  # guess at the wording
            write_lock_fault(state, None)
            record_id, created = state.data.upsert(
                sobject, ext_field, str(value), fields, user_id=call.user_id
            )
            return {"id": record_id, "success": True, "errors": [], "created": created}
        except MultipleChoices as error:
            duplicate = data_error("DUPLICATE_EXTERNAL_ID", str(error.message), [ext_field])
            return {"success": False, "errors": [duplicate.collection_error()], "created": False}
        except SalesforceApiError as error:
            return {"success": False, "errors": [error.collection_error()], "created": False}

    if not body.get("allOrNone", False):
        return RestResult(200, [one(record) for record in records])
    results: list[dict[str, Any]] = []
    try:
        with state.data.transaction():
            results = [one(record) for record in records]
            if any(not r["success"] for r in results):
                raise _RollBack
    except _RollBack:
        results = [r if not r["success"] else _rolled_back(r) for r in results]
    return RestResult(200, results)


def _check_count(count: int) -> None:
    if count > MAX_COLLECTION_RECORDS:
        raise SalesforceApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )


def _run_rows(
    state: OrgState, call: RestCall, method: str, records: list[Any], all_or_none: bool
) -> list[dict[str, Any]]:
    user_id = call.user_id
    if not all_or_none:
        return [_one_row(state, user_id, method, record) for record in records]
    results: list[dict[str, Any]] = []
    try:
        with state.data.transaction():
            results = [_one_row(state, user_id, method, record) for record in records]
            if any(not r["success"] for r in results):
                raise _RollBack
    except _RollBack:
        return [r if not r["success"] else _rolled_back(r) for r in results]
    return results


def _rolled_back(result: dict[str, Any]) -> dict[str, Any]:
    """An innocent row of a failed allOrNone call: the docs' example shows no id."""
    return {"success": False, "errors": [dict(ROLLED_BACK)]}


def _one_row(state: OrgState, user_id: str, method: str, record: Any) -> dict[str, Any]:
    """One SaveResult. Failures are reported in the row, never raised."""
    data = state.data
    record_id: str | None = None
    try:
        if not isinstance(record, dict):
            raise data_error("JSON_PARSER_ERROR", "Each record must be a JSON object")
        fields = dict(record)
        attributes = fields.pop("attributes", None) or {}
        if method == "DELETE":
            record_id = str(fields["Id"])
            sobject = _object_for(state, record_id)
            write_lock_fault(state, record_id)
            data.delete(sobject, record_id, user_id=user_id)
            return {"id": normalize_id(record_id) or record_id, "success": True, "errors": []}
        sobject_name = attributes.get("type") if isinstance(attributes, dict) else None
        if not sobject_name:
            # SOAP API's message for a record without a type (a guess for REST).
            raise data_error("INVALID_TYPE", "Must send a concrete entity type.")
        canonical = data.object_name(str(sobject_name))
        if canonical is None:
            raise data_error("INVALID_TYPE", f"sObject type '{sobject_name}' is not supported.")
        sobject = canonical
        if method == "POST":
            if fields.get("Id") or fields.get("id"):
                raise data_error(
                    "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
                )
            write_lock_fault(state, None)
            new_id = data.create(sobject, fields, user_id=user_id)
            return {"id": new_id, "success": True, "errors": []}
        record_id = fields.pop("Id", None) or fields.pop("id", None)
        if not record_id:
            raise data_error("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        write_lock_fault(state, str(record_id))
        data.update(sobject, str(record_id), fields, user_id=user_id)
        return {"id": normalize_id(str(record_id)) or record_id, "success": True, "errors": []}
    except SalesforceApiError as error:
        failed: dict[str, Any] = {"success": False, "errors": [error.collection_error()]}
        if record_id:
            # Guess: update and delete results name the record even when they fail.
            failed = {"id": record_id, **failed}
        return failed


def _object_for(state: OrgState, record_id: str) -> str:
    canonical = normalize_id(record_id)
    sobject = object_for_id(canonical) if canonical else None
    if sobject is None:
        raise data_error("MALFORMED_ID", f"malformed id {record_id}")
    return sobject


def _retrieve(state: OrgState, call: RestCall, sobject_name: str) -> RestResult:
    sobject = state.data.object_name(sobject_name)
    if sobject is None:
        raise not_found()
    if call.method == "POST":
        body = parse_json(call.body)
        ids = list(body.get("ids", [])) if isinstance(body, dict) else []
        fields = list(body.get("fields", [])) if isinstance(body, dict) else []
    else:
        ids = [i for i in call.query.get("ids", "").split(",") if i]
        fields = [f for f in call.query.get("fields", "").split(",") if f]
        _check_count(len(ids))
    if not fields:
        raise SalesforceApiError(400, "MISSING_ARGUMENT", "Missing parameter: fields")
    records: list[Any] = []
    for record_id in ids:
        try:
            records.append(state.data.get(sobject, record_id, fields, api_version=call.version))
        except SalesforceApiError as error:
            if error.status != 404:
                raise
            records.append(None)  # the guide: a null entry for each id not found
    return RestResult(200, records)


# --- Composite -------------------------------------------------------------------------


def _composite(state: OrgState, call: RestCall) -> RestResult:
    body = parse_json(call.body)
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise data_error("JSON_PARSER_ERROR", "The request body must have a compositeRequest array")
    subrequests: list[Any] = body["compositeRequest"]
    if len(subrequests) > MAX_SUBREQUESTS:
        # Guess at the code; the limit itself is in the guide ("Composite" limits).
        raise SalesforceApiError(
            400, "LIMIT_EXCEEDED", "Composite request cannot have more than 25 subrequests"
        )
    queries = sum(1 for s in subrequests if _is_query(s))
    if queries > MAX_QUERY_SUBREQUESTS:
        raise SalesforceApiError(
            400, "LIMIT_EXCEEDED", "Composite request cannot have more than 5 query subrequests"
        )
    all_or_none = bool(body.get("allOrNone", False))
    if not all_or_none:
        return RestResult(200, {"compositeResponse": _run_subrequests(state, call, subrequests)})
    responses: list[dict[str, Any]] = []
    try:
        with state.data.transaction():
            responses = _run_subrequests(state, call, subrequests, stop_on_error=True)
            if any(r["httpStatusCode"] >= 400 for r in responses):
                raise _RollBack
    except _RollBack:
        failed_at = next(i for i, r in enumerate(responses) if r["httpStatusCode"] >= 400)
        for index, sub in enumerate(subrequests):
            if index == failed_at:
                continue
            halted = {
                "body": PROCESSING_HALTED,
                "httpHeaders": {},
                "httpStatusCode": 400,
                "referenceId": _reference_id(sub),
            }
            if index < len(responses):
                responses[index] = halted
            else:
                responses.append(halted)
    return RestResult(200, {"compositeResponse": responses})


def _is_query(sub: Any) -> bool:
    url = str(sub.get("url", "")) if isinstance(sub, dict) else ""
    match = _URL_PREFIX.match(url)
    if match is None:
        return False
    return match.group(2).split("?")[0].rstrip("/") in ("query", "queryAll")


def _reference_id(sub: Any) -> str | None:
    return sub.get("referenceId") if isinstance(sub, dict) else None


def _run_subrequests(
    state: OrgState, call: RestCall, subrequests: list[Any], stop_on_error: bool = False
) -> list[dict[str, Any]]:
    results: dict[str, Any] = {}
    responses: list[dict[str, Any]] = []
    for sub in subrequests:
        reference_id = _reference_id(sub)
        try:
            result = _run_one(state, call, sub, results)
        except SalesforceApiError as error:
            result = RestResult(error.status, error.body())
        responses.append(
            {
                "body": result.body,
                "httpHeaders": result.headers,
                "httpStatusCode": result.status,
                "referenceId": reference_id,
            }
        )
        if result.status < 400 and reference_id:
            results[reference_id] = result.body
        if result.status >= 400 and stop_on_error:
            break
    return responses


def _run_one(state: OrgState, call: RestCall, sub: Any, results: dict[str, Any]) -> RestResult:
    if not isinstance(sub, dict) or "method" not in sub or "url" not in sub:
        raise data_error("INVALID_INPUT", "Each subrequest needs a method and a url")
    url = _substitute_text(str(sub["url"]), results)
    match = _URL_PREFIX.match(url)
    if match is None:
        raise not_found()
    path, _, query_text = match.group(2).partition("?")
    body = sub.get("body")
    body_bytes = json.dumps(_substitute(body, results)).encode() if body is not None else b""
    # Header names are case-insensitive (RFC 9110 §5.1), inside a composite too.
    headers = CIMultiDict({str(k): str(v) for k, v in (sub.get("httpHeaders") or {}).items()})
    sub_call = RestCall(
        method=str(sub["method"]).upper(),
        version=match.group(1),
        path=path.strip("/"),
        query=dict(parse_qsl(query_text)),
        body=body_bytes,
        headers=headers,
        user_id=call.user_id,
    )
    result = dispatch(state, sub_call)
    if sub_call.method == "POST" and result.status == 201 and isinstance(result.body, dict):
        sobject = sub_call.path.split("/")[1] if "/" in sub_call.path else ""
        result.headers = {
            "Location": f"/services/data/v{sub_call.version}/sobjects/{sobject}/{result.body['id']}"
        }
    return result


def _substitute(value: Any, results: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _resolve(whole, results)
        return _substitute_text(value, results)
    if isinstance(value, list):
        return [_substitute(v, results) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, results) for k, v in value.items()}
    return value


def _substitute_text(text: str, results: dict[str, Any]) -> str:
    return _REFERENCE.sub(lambda m: str(_resolve(m, results)), text)


def _resolve(match: re.Match[str], results: dict[str, Any]) -> Any:
    reference = match.group(1)
    if reference not in results:
        raise data_error(
            "PROCESSING_HALTED",
            f"Invalid reference specified. No value for {match.group(0)[2:-1]} found in "
            f"{reference}. Provided referenceId ({reference}) must be defined before use.",
        )
    value: Any = results[reference]
    for step in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", match.group(2)):
        name, index = step
        try:
            value = value[int(index)] if index else _field(value, name)
        except (KeyError, IndexError, TypeError):
            raise data_error(
                "PROCESSING_HALTED",
                f"Invalid reference specified. No value for {match.group(0)[2:-1]} found in "
                f"{reference}.",
            ) from None
    return value


def _field(value: Any, name: str) -> Any:
    """Field names in references are matched case-insensitively (``@{ref.Id}`` finds
    ``id``), as Salesforce field names are."""
    if name in value:
        return value[name]
    for key in value:
        if key.lower() == name.lower():
            return value[key]
    raise KeyError(name)
