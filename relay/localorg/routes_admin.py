"""Admin controls of the local org (docs/localorg.md), all behind the org's access token.

- ``GET``/``PUT /_localorg/settings``: org switches (``api_enabled``,
  ``email_to_salesforce_active``, ``shared_activities``, ``daily_api_limit``), JSON.
- ``GET``/``PUT /_localorg/faults``: KIND -> RATE, JSON; ``{}`` turns faults off.
- ``POST /_localorg/convertLead``: convert a lead (REST has no convert resource; this is
  what an admin does in Setup or Apex ``Database.convertLead``).
- ``PUT /_localorg/connected-app``: register the connected app's JWT certificate (PEM
  body), as "Use digital signatures" does in Setup.

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


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_localorg/settings", settings)
    app.router.add_put("/_localorg/settings", settings)
    app.router.add_get("/_localorg/faults", faults)
    app.router.add_put("/_localorg/faults", faults)
    app.router.add_post("/_localorg/convertLead", convert_lead)
    app.router.add_put("/_localorg/connected-app", connected_app)
