"""The local org's HTTPS app: routes, the per-call pipeline, and Salesforce's error shapes.

Every data call (``/services/data/vXX.X/...``) runs one pipeline, in this order:

1. the version must be one the org serves (52.0-66.0), else 404 ``NOT_FOUND``;
2. the ``Authorization: Bearer`` (or ``OAuth``) token must be a live session, else 401
   ``INVALID_SESSION_ID`` "Session expired or invalid";
3. the org switch ``api_enabled`` must be on, else 403 ``API_DISABLED_FOR_ORG``;
4. the daily API limit must not be spent, else 403 ``REQUEST_LIMIT_EXCEEDED``;
5. the call is counted (one per HTTP request: a composite is one call);
6. latency, then at most one request-level fault (faults.py);
7. the resource runs (rest.py / composite.py).

Every answer carries ``Sforce-Limit-Info: api-usage=N/M`` (REST API Developer Guide,
"Limit Info Header"). The versions list (``/services/data/``) needs no session and is
not counted ("calls to the Versions URI ... do not count towards your org's limit").
Admin routes (``/_localorg/...``) need a session but are never counted or faulted.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from relay.localorg import routes_admin, routes_auth, routes_identity, routes_web_login
from relay.localorg.errors import SalesforceApiError, not_found
from relay.localorg.responses import invalid_session, json_response, session_of
from relay.localorg.rest import RestCall, RestResult, dispatch, versions_body
from relay.localorg.state import API_VERSIONS, STATE_KEY, OrgState, state_of
from relay.logs import get_logger

# REST API Developer Guide, "Status Codes and Error Responses": 414 when the URI is over
# 16,384 bytes.
MAX_URI_BYTES = 16_384
_log = get_logger("relay.localorg")
TIMEOUT_FAULT_SECONDS = 120.0
_VERSIONS = frozenset(API_VERSIONS)

LIMIT_EXCEEDED = [
    {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
]
API_DISABLED = [
    {
        "message": "The REST API is not enabled for this Organization.",
        "errorCode": "API_DISABLED_FOR_ORG",
    }
]
# Message wording for these two is a guess; the codes and statuses are Salesforce's.
SERVER_UNAVAILABLE = [
    {"message": "Server temporarily unavailable", "errorCode": "SERVER_UNAVAILABLE"}
]
UNKNOWN_EXCEPTION = [
    {
        "message": "An unexpected error occurred. Please include this ErrorId if you contact "
        "support: 0000000000-00000 (0000000000)",
        "errorCode": "UNKNOWN_EXCEPTION",
    }
]


async def data_call(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    raw_path = request.rel_url.raw_path
    if len(raw_path) + len(request.rel_url.raw_query_string) > MAX_URI_BYTES:
        body = [{"errorCode": "URI_TOO_LONG", "message": "The request URI is too long"}]
        return json_response(state, 414, body)  # body shape is a guess (414 is documented)
    segments = [unquote(s) for s in raw_path.split("/")[3:]]  # after /services/data/
    while segments and segments[-1] == "":
        segments.pop()
    if not segments:
        return json_response(state, 200, versions_body())
    version = segments[0][1:] if segments[0].startswith("v") else ""
    if version not in _VERSIONS:
        return json_response(state, 404, not_found().body())
    session = session_of(state, request)
    if session is None:
        return invalid_session(state)
    settings = state.data.get_settings()
    if not settings.get("api_enabled", True):
        return json_response(state, 403, API_DISABLED)
    used, maximum = state.data.api_usage()
    if used >= maximum:
        return json_response(state, 403, LIMIT_EXCEEDED, usage=(used, maximum))
    usage = state.data.record_api_call()
    if state.latency_ms:
        await asyncio.sleep(state.latency_ms / 1000)
    fault = state.faults.draw_request_fault()
    if fault is not None:
        return await _fault_response(state, request, fault)
    call = RestCall(
        method=request.method,
        version=version,
        path="/".join(segments[1:]),
        query=dict(request.query),
        body=await request.read() if request.body_exists else b"",
        headers=request.headers,
        user_id=session.user_id,
    )
    try:
        result: RestResult = dispatch(state, call)
    except SalesforceApiError as error:
        return json_response(state, error.status, error.body(), usage=usage)
    return json_response(state, result.status, result.body, result.headers, usage=usage)


async def _fault_response(state: OrgState, request: web.Request, fault: str) -> web.StreamResponse:
    if fault in ("503", "SERVER_UNAVAILABLE"):
        return json_response(state, 503, SERVER_UNAVAILABLE)
    if fault == "500":
        return json_response(state, 500, UNKNOWN_EXCEPTION)
    if fault == "INVALID_SESSION_ID":
        return invalid_session(state)
    if fault == "REQUEST_LIMIT_EXCEEDED":
        return json_response(state, 403, LIMIT_EXCEEDED)
    if fault == "timeout":
        # Never answer: hang past any client read timeout, or until the org stops.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), TIMEOUT_FAULT_SECONDS)
    _reset_connection(request)
    raise asyncio.CancelledError  # nothing more to send on a connection that is gone


def _reset_connection(request: web.Request) -> None:
    """Close the TCP connection abruptly: SO_LINGER 0 makes close() send an RST."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


@web.middleware
async def _errors_as_salesforce(request: web.Request, handler: Any) -> web.StreamResponse:
    """Unexpected failures answer 500 UNKNOWN_EXCEPTION, never an HTML page."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPNotFound:
        return json_response(state_of(request), 404, not_found().body())
    except web.HTTPMethodNotAllowed as exc:
        body = [
            {
                "errorCode": "METHOD_NOT_ALLOWED",
                "message": f"HTTP Method '{request.method}' not allowed. "
                f"Allowed are {','.join(sorted(exc.allowed_methods))}",
            }
        ]
        return json_response(state_of(request), 405, body)
    except (web.HTTPException, asyncio.CancelledError):
        raise
    except SalesforceApiError as error:
        return json_response(state_of(request), error.status, error.body())
    except Exception:
        _log.exception("localorg_unexpected_error", method=request.method, path=request.path)
        return json_response(state_of(request), 500, UNKNOWN_EXCEPTION)


def build_app(state: OrgState) -> web.Application:
    # Room for a Bulk API 2.0 upload at its limit (bulk_ingest.py), so the org answers
    # the oversize error itself rather than aiohttp's 413.
    app = web.Application(middlewares=[_errors_as_salesforce], client_max_size=160 * 1024 * 1024)
    app[STATE_KEY] = state
    app.router.add_route("*", "/services/data", data_call)
    app.router.add_route("*", "/services/data/{tail:.*}", data_call)
    app.router.add_post("/services/oauth2/token", routes_auth.token)
    app.router.add_get("/services/oauth2/authorize", routes_web_login.authorize)
    app.router.add_post("/services/oauth2/authorize", routes_web_login.authorize)
    app.router.add_get("/services/oauth2/authorize/deny", routes_web_login.deny)
    app.router.add_post("/services/oauth2/revoke", routes_web_login.revoke)
    app.router.add_get("/services/oauth2/userinfo", routes_identity.userinfo)
    app.router.add_get("/id/{org_id}/{user_id}", routes_identity.identity)
    app.router.add_get("/lightning/r/{sobject}/{record_id}/view", routes_identity.record_page)
    app.router.add_post("/services/Soap/u/{version}", routes_auth.soap_login)
    routes_admin.add_routes(app)
    return app
