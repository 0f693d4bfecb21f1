"""Admin controls of the local org (docs/localorg.md), all behind the org's access token.

- ``GET``/``PUT /_localorg/settings``: org switches (``api_enabled``,
  ``email_to_salesforce_active``, ``shared_activities``, ``daily_api_limit``), JSON.
- ``GET``/``PUT /_localorg/faults``: KIND -> RATE, JSON; ``{}`` turns faults off.
- ``POST /_localorg/convertLead``: convert a lead (REST has no convert resource; this is
  what an admin does in Setup or Apex ``Database.convertLead``).
- ``PUT /_localorg/connected-app``: register the connected app's JWT certificate (PEM
  body), as "Use digital signatures" does in Setup.
- ``GET``/``PUT /_localorg/clock``: the org's clock, ``{"now": ISO-8601}``; PUT
  ``{"offset_seconds": N}`` moves it N seconds from real time (0 resets it).
- ``POST /_localorg/undelete``: ``{"ids": [...]}``, SOAP undelete() (REST has none).
- ``POST /_localorg/recycleBin/empty``: ``{"ids": [...]}`` or ``{}`` for the whole bin,
  SOAP emptyRecycleBin() (what Setup's "Empty Recycle Bin" does).
- ``POST /_localorg/archiveActivities``: run Salesforce's activity archival job now.
- ``POST /_localorg/picklistValues/{TaskStatus|TaskPriority}``: add a task status or
  priority value, as Setup does (``{"MasterLabel", "IsClosed"|"IsHighPriority",
  "IsDefault"}``).

They are never counted against API limits and never faulted.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from relay.localorg.auth import register_jwt_certificate
from relay.localorg.errors import SalesforceApiError
from relay.localorg.faults import FaultSpecError, fault_spec_from_mapping
from relay.localorg.responses import invalid_session, session_of
from relay.localorg.state import state_of


def _admin_json(status: int, body: Any) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body).encode(), content_type="application/json"
    )


def _bad_request(message: str) -> web.Response:
    return _admin_json(400, [{"message": message, "errorCode": "INVALID_INPUT"}])


async def _authorized(request: web.Request) -> web.Response | None:
    state = state_of(request)
    if session_of(state, request) is None:
        return invalid_session(state)
    return None


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = json.loads(await request.read() or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _bad_request(f"request body is not JSON: {exc}")
    if not isinstance(body, dict):
        return _bad_request("request body must be a JSON object")
    return body


async def settings(request: web.Request) -> web.Response:
    if (denied := await _authorized(request)) is not None:
        return denied
    data = state_of(request).data
    if request.method == "PUT":
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        try:
            data.put_settings(body)
        except (ValueError, SalesforceApiError) as exc:
            return _bad_request(str(exc))
    return _admin_json(200, data.get_settings())


async def faults(request: web.Request) -> web.Response:
    if (denied := await _authorized(request)) is not None:
        return denied
    state = state_of(request)
    if request.method == "PUT":
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        try:
            state.faults.spec = fault_spec_from_mapping(body)
        except FaultSpecError as exc:
            return _bad_request(str(exc))
    return _admin_json(200, state.faults.spec.as_dict())


async def convert_lead(request: web.Request) -> web.Response:
    """Body: ``{"leadId", "accountId"?, "contactId"?}`` (LeadConvert's names); answers
    the LeadConvertResult. No opportunity is created."""
    state = state_of(request)
    session = session_of(state, request)
    if session is None:
        return invalid_session(state)
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    if not isinstance(body.get("leadId"), str):
        return _bad_request("leadId is required")
    try:
        result = state.data.convert_lead(
            body["leadId"],
            user_id=session.user_id,
            contact_id=body.get("contactId"),
            account_id=body.get("accountId"),
        )
    except SalesforceApiError as error:
        return _admin_json(error.status, error.body())
    return _admin_json(200, result)


async def connected_app(request: web.Request) -> web.Response:
    if (denied := await _authorized(request)) is not None:
        return denied
    try:
        register_jwt_certificate(state_of(request).data_dir, await request.read())
    except ValueError as exc:
        return _bad_request(f"not a PEM certificate or public key: {exc}")
    return _admin_json(200, {"registered": True})


async def clock(request: web.Request) -> web.Response:
    """The org's idea of now, which stamps every record it writes (docs/localorg.md,
    "The org's clock")."""
    if (denied := await _authorized(request)) is not None:
        return denied
    data = state_of(request).data
    if request.method == "PUT":
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        offset = body.get("offset_seconds")
        if isinstance(offset, bool) or not isinstance(offset, int | float):
            return _bad_request("offset_seconds must be a number of seconds")
        data.set_clock_offset(float(offset))
    now = data.now()
    return _admin_json(200, {"now": now.isoformat(), "offset_seconds": data.clock_offset()})


async def _ids_body(request: web.Request, *, required: bool) -> list[str] | web.Response | None:
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    ids = body.get("ids")
    if ids is None and not required:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return _bad_request("ids must be a list of record ids")
    return ids


async def undelete(request: web.Request) -> web.Response:
    """Body ``{"ids": [...]}``; answers one UndeleteResult per id (SOAP API)."""
    state = state_of(request)
    session = session_of(state, request)
    if session is None:
        return invalid_session(state)
    ids = await _ids_body(request, required=True)
    if isinstance(ids, web.Response):
        return ids
    assert ids is not None
    return _admin_json(200, state.data.undelete(ids, user_id=session.user_id))


async def empty_recycle_bin(request: web.Request) -> web.Response:
    """Body ``{"ids": [...]}`` or ``{}`` (everything); answers one
    EmptyRecycleBinResult per record purged or refused (SOAP API)."""
    if (denied := await _authorized(request)) is not None:
        return denied
    ids = await _ids_body(request, required=False)
    if isinstance(ids, web.Response):
        return ids
    return _admin_json(200, state_of(request).data.empty_recycle_bin(ids))


async def archive_activities(request: web.Request) -> web.Response:
    """Answers ``{"archived": [ids]}``: the tasks this run archived."""
    if (denied := await _authorized(request)) is not None:
        return denied
    return _admin_json(200, {"archived": state_of(request).data.archive_activities()})


async def picklist_value(request: web.Request) -> web.Response:
    if (denied := await _authorized(request)) is not None:
        return denied
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    try:
        row = state_of(request).data.add_picklist_value(request.match_info["sobject"], body)
    except (ValueError, SalesforceApiError) as exc:
        return _bad_request(str(exc))
    return _admin_json(200, row)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_localorg/settings", settings)
    app.router.add_put("/_localorg/settings", settings)
    app.router.add_get("/_localorg/faults", faults)
    app.router.add_put("/_localorg/faults", faults)
    app.router.add_post("/_localorg/convertLead", convert_lead)
    app.router.add_put("/_localorg/connected-app", connected_app)
    app.router.add_get("/_localorg/clock", clock)
    app.router.add_put("/_localorg/clock", clock)
    app.router.add_post("/_localorg/undelete", undelete)
    app.router.add_post("/_localorg/recycleBin/empty", empty_recycle_bin)
    app.router.add_post("/_localorg/archiveActivities", archive_activities)
    app.router.add_post("/_localorg/picklistValues/{sobject}", picklist_value)
